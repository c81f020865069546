/**
 * `netclaim run`: the node daemon, composed from the layers below it.
 *
 *   start   /healthz /readyz /metrics → host netns → claim store (journal
 *           replay) → inventory watcher → ResourceSlice publisher (watch +
 *           drift repair; its API start runs beside what follows) → kubelet
 *           plugin server (instance lock, registration, DRA v1/v1beta1,
 *           health): registered with the kubelet early, its calls wait (start
 *           gate) → NRI plugin (pod hooks: attach, detach), waited for until
 *           the runtime has registered and synchronized it (Synchronize
 *           finishes what a crash interrupted) → the gate opens
 *   stop    plugin server first (its sockets go, the kubelet stops calling),
 *           then publisher, events, watcher, store, HTTP. Slices stay: a
 *           restarting daemon finds them up to date and writes nothing.
 *
 * The daemon composes and instruments only: every decision (what to
 * prepare, when to refuse, what Events and claim status say, whom to evict)
 * lives in the driver, behind the ports the kube surface implements.
 */
import { join } from 'node:path';
import { isDriverError, StateError, type DriverError } from '../common/errors.ts';
import { SubInterfaces } from '../driver/sub-interface/sub-interfaces.ts';
import { ClaimDriver, type DriverObserver } from '../driver/claim-driver.ts';
import { claimPodsPort } from './claim-pods-port.ts';
import { DeviceHealthView, healthTransitions } from '../driver/device-health.ts';
import { PodHealthWatch } from '../driver/pod-health.ts';
import { registerPodCounterMetrics } from '../driver/pod-health-metrics.ts';
import { podHealthEvents } from '../driver/pod-health-events.ts';
import { metadataStatusSink, sweepClaimMetadata } from '../driver/claim-metadata.ts';
import { hostReads } from '../driver/host-reads.ts';
import { ClaimStore } from '../driver/state/claim-store.ts';
import type { Inventory } from '../inventory/model.ts';
import { InventoryWatcher } from '../inventory/watcher.ts';
import { heldDevicesFile } from '../driver/state/held-devices-file.ts';
import { type CloudProvider, cloudProviderFromFlag } from '../inventory/cloud/index.ts';
import { linkGetByName } from '../kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { ObserveServer } from '../observe/http-server.ts';
import { withContext, type Logger } from '../observe/logger.ts';
import { createMetrics, observeSteps, type Metrics } from '../observe/metrics.ts';
import { roundSteps } from '../observe/steps.ts';
import { KubeClaimSource } from '../surfaces/kube/claim-source.ts';
import { KubeIpam } from '../surfaces/kube/ipam-client.ts';
import { KubeEventSink } from '../surfaces/kube/event-sink.ts';
import { kubeScrapeAuthorizer } from '../surfaces/kube/scrape-auth.ts';
import { SlicePublisher } from '../surfaces/kube/slice-publisher.ts';
import { publishable, unknownTopologyLogger } from './inventory-publish.ts';
import { SHARING_UNSUPPORTED_REASON } from '../surfaces/kube/sharing-fallback.ts';
import { nodeWarning } from '../surfaces/kube/node-event.ts';
import { KubeletPluginServer } from '../surfaces/kubelet/plugin-server.ts';
import { FileLock } from '../surfaces/kubelet/file-lock.ts';
import { ClaimStatusWriter } from '../surfaces/kube/claim-status.ts';
import { pooledConnections } from '../surfaces/kube/kube-connections.ts';
import { KubePodEvictor } from '../surfaces/kube/pod-evictor.ts';
import { NriPlugin } from '../surfaces/nri/nri-plugin.ts';
import { SandboxWatch } from '../surfaces/containerd/sandbox-watch.ts';
import { NetnsPins } from '../driver/netns-pins.ts';
import { PodDriver, type PodObserver } from '../driver/pod-driver.ts';
import type { ClaimRecord } from '../driver/record-model.ts';
import { gateCalls } from '../driver/start-gate.ts';
import { instrumentDriver } from './instrument.ts';
import type { DaemonOptions } from './daemon-options.ts';

export type { DaemonOptions } from './daemon-options.ts';

export class Daemon {
  readonly #o: DaemonOptions;
  readonly metrics: Metrics;
  #host: NetnsHandle | undefined;
  #watcher: InventoryWatcher | undefined;
  #store: ClaimStore | undefined;
  #publisher: SlicePublisher | undefined;
  #events: KubeEventSink | undefined;
  #health: DeviceHealthView | undefined;
  #podHealth: PodHealthWatch | undefined;
  #healthEventsOff: (() => void) | undefined;
  #cloud: CloudProvider | undefined;
  #server: KubeletPluginServer | undefined;
  #nri: NriPlugin | undefined;
  #pods: PodDriver | undefined;
  #sandboxWatch: SandboxWatch | undefined;
  #sharedLock: FileLock | undefined;
  #status: ClaimStatusWriter | undefined;
  #http: ObserveServer | undefined;
  #ipamTimer: NodeJS.Timeout | undefined;
  #ipam: KubeIpam | undefined;
  #slicesPublished = false;
  #started = false;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  /** Settles when stop() is called: a start step that waits on the outside world (the runtime) gives up. */
  readonly #stopRequested = Promise.withResolvers<void>();

  constructor(o: DaemonOptions) {
    this.#o = o;
    this.metrics = createMetrics();
    // One kept connection pool for every API client the daemon makes (kube-connections.ts: the client opens one per request otherwise).
    pooledConnections(o.kubeConfig);
  }

  get pluginServer(): KubeletPluginServer | undefined {
    return this.#server;
  }

  get httpAddress(): { readonly host: string; readonly port: number } | undefined {
    return this.#http?.address();
  }

  /**
   * Starts everything; /readyz fails until the whole start is done. A stop() that comes
   * in the middle (SIGTERM right after the container starts) waits for the start step in
   * flight, and start() then rejects with DAEMON_STOPPED instead of touching closed parts.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  /** True once stop() was called: a start() that rejects then is not a failure. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  #ensureNotStopping(): void {
    if (this.#stopping !== undefined) throw new StateError('netclaim was stopped while starting');
  }

  async #start(): Promise<void> {
    const o = this.#o;
    const log = o.log;
    // The start's timeline, in ms since the process began (performance's time origin): what the
    // registration time is made of (docs/benchmarks.md, daemon). The first mark is the imports.
    const marks: Record<string, number> = {};
    const mark = (step: string): void => { marks[step] = round(performance.now()); };
    mark('imported');
    log.info({ sinceProcessStartMs: marks['imported'] }, 'netclaim starting');
    const onError = (what: string) => (err: DriverError): void => {
      this.metrics.countError(err);
      if (what === 'slice-publisher') this.metrics.slicePublishes.inc({ outcome: 'error' });
      log.warn({ err, component: what }, `${what}: ${err.message}`);
    };
    // In rolling-update mode the old instance still runs beside this one: the port, the store and the pod hooks are shared.
    const shared = o.instance !== undefined;
    this.#http = new ObserveServer({
      bindAddress: o.metricsAddress, metrics: this.metrics.registry, log, reusePort: shared,
      ...(o.metricsTls ? { tls: o.metricsTls } : {}),
      ...(o.metricsAuth ? { authorizeScrape: kubeScrapeAuthorizer({ kubeConfig: o.kubeConfig }) } : {}),
    });
    await this.#http.listen();
    this.#ensureNotStopping();
    mark('http');
    // Until the start is complete the other readiness checks are not registered yet.
    this.#http.addCheck('readiness', 'started', () => this.#started);

    const host = this.#host = o.hostNetns === undefined ? NetnsHandle.current({ libc: o.libc }) : NetnsHandle.open(o.hostNetns, { libc: o.libc });
    this.#http.addCheck('liveness', 'kernel', () => linkGetByName(host, 'lo') !== undefined);

    // Journal replay: every record, with the attach journals of devices in pods.
    const store = this.#store = ClaimStore.open(o.stateDir, { shared });
    for (const p of store.problems) onError('claim-store')(p);
    this.metrics.claimsPrepared.set(store.size);
    // Device metadata of claims the store does not have (a crash between writing it and the record): removed.
    if (!shared) sweepClaimMetadata({ dir: this.#metadataDir(), cdiDir: o.cdiDir }, new Set(store.list().map((r) => r.claim.uid)));

    mark('store');
    const watcher = this.#startInventory(host, store);
    mark('inventory');
    // The publisher's start (the Node's UID, the slices' list and watch: API round trips) runs
    // beside the kubelet registration and the NRI wait below: the kubelet does not need it, only
    // what it publishes does. A failed start still fails the daemon's.
    const publishing = this.#startPublisher(watcher, onError).then(() => mark('publisher'));
    publishing.catch(() => { /* awaited below */ });

    this.#events = new KubeEventSink({ kubeConfig: o.kubeConfig, nodeName: o.nodeName, onError: onError('events') });
    // A device in a pod turning unhealthy: a Warning on its claim (and what its taint does).
    const tainting = o.taintUnhealthy || o.taintUnhealthyNoExecute === true;
    this.#healthEventsOff = podHealthEvents({
      pods: this.#podHealth!, store, events: this.#events,
      ...(tainting ? { taint: { key: `${o.driverName}/unhealthy`, effect: o.taintUnhealthyNoExecute === true ? 'NoExecute' : 'NoSchedule' } } : {}),
    });
    // The kubelet side is built now (its paths name the cross-instance lock) and starts before the NRI
    // plugin: its instance lock stops a second daemon here, before its NRI plugin touches any pod.
    let pods: PodDriver | undefined;
    const subInterfaces = new SubInterfaces(host, o.stateDir);
    for (const p of subInterfaces.ledger.problems) onError('sub-interfaces')(p);
    // Address pools (docs/ipam.md): IPPool and IPAllocation objects in the API; the pools are watched, not read per Prepare.
    const ipam = this.#ipam = new KubeIpam({
      kubeConfig: o.kubeConfig, nodeName: o.nodeName, watchPools: true,
      onError: (err) => log.warn({ err }, 'IPPool watch failed; pools are read from the API server until it is back'),
    });
    void ipam.start();
    const driver = new ClaimDriver({
      driverName: o.driverName, poolName: o.nodeName,
      claims: new KubeClaimSource({ kubeConfig: o.kubeConfig }), store, inventory: watcher,
      kernel: hostReads(host, o.sysfsRoot), cdiDir: o.cdiDir, events: this.#events,
      ...(o.deviceMetadata === false ? {} : { metadataDir: this.#metadataDir() }),
      resolve: { dranetCompat: o.dranetConfigs }, health: () => this.#health!, sharedStore: shared,
      cloudDefaults: this.#cloud !== undefined && o.cloudDefaults !== false,
      // NodeUnprepareResources gives a claim's devices back from its pod first; Prepare waits for the runtime.
      ...(o.nriSocket === undefined ? {} : {
        pods: claimPodsPort(() => pods, { host, store, log }),
        podsNotReady: () => (pods === undefined ? 'netclaim\'s NRI plugin is starting' : pods.runtimeProblem()),
      }),
      observer: this.#claimObserver(store),
      // Per-claim sub-interfaces of shareable parents (docs/sharing.md); their intent ledger lives beside the claim store.
      subInterfaces,
      ipam: { port: ipam, node: o.nodeName },
    });
    // The kubelet registers the daemon on its plugin manager's next 1 s tick; its calls wait for the
    // runtime's first Synchronize (start-gate.ts: I1/I4 at start-up, docs/pods.md), or for a stop.
    const synchronized = Promise.withResolvers<void>();
    const server = this.#server = new KubeletPluginServer({
      driverName: o.driverName, driver: gateCalls(instrumentDriver(driver, this.metrics), Promise.race([synchronized.promise, this.#stopRequested.promise])),
      registryDir: join(o.kubeletRootDir, 'plugins_registry'), pluginDir: join(o.kubeletRootDir, 'plugins', o.driverName),
      ...(o.instance === undefined ? {} : { instance: o.instance }), libc: o.libc,
    });
    server.lockInstance();
    await server.start();
    this.#ensureNotStopping();
    mark('pluginServer');
    this.#http.addCheck('readiness', 'kubelet-registered', () => server.registrationStatus?.registered === true);
    void server.registered.then(() => log.info({ socket: server.paths.registrationSocket, sinceProcessStartMs: round(performance.now()) }, 'registered with the kubelet'), () => {});

    if (o.nriSocket !== undefined) {
      // The pod hooks take the lock the kubelet calls take across instances (the plugin server's serialize.lock).
      const lock = shared ? FileLock.open(server.paths.serializeLock, o.libc) : undefined;
      this.#sharedLock = lock;
      pods = this.#startNri(o.nriSocket, host, store, watcher, onError, lock);
      // The runtime's Synchronize finishes or undoes what a crash interrupted before the kubelet's calls go through.
      log.info({ socket: o.nriSocket }, 'waiting for the container runtime to register and synchronize the NRI plugin; the kubelet\'s calls wait for it');
      const nriReady = this.#nri!.ready().then(() => { mark('nriSynchronized'); synchronized.resolve(); server.markStarted(); });
      await Promise.race([Promise.all([nriReady, publishing]), this.#stopRequested.promise]);
      this.#ensureNotStopping();
    } else {
      log.warn('--no-nri: no NRI plugin; claims are prepared but devices are never moved into pods, and nothing keeps a pod from starting without them');
      synchronized.resolve();
      server.markStarted();
    }
    await Promise.race([publishing, this.#stopRequested.promise]);
    this.#ensureNotStopping();

    this.#http.addCheck('readiness', 'slices-published', () => this.#slicesPublished);
    this.#startAddressReconcile(driver);
    this.#started = true;
    log.info({ registration: server.paths.registrationSocket, dra: server.paths.draSocket, http: this.#http.address(), sinceProcessStartMs: marks }, 'netclaim running');
  }

  /** Leaked address allocations of this node (a crash between create and store, a failed release) are deleted now and every few minutes. */
  #startAddressReconcile(driver: ClaimDriver): void {
    const log = this.#o.log;
    const run = (): void => {
      void driver.reconcileAddresses().then((gone) => {
        if (gone.length > 0) log.info({ allocations: gone }, 'address allocations no claim record names were released');
      }, (err: unknown) => log.warn({ err }, 'address allocation reconcile failed; retried later'));
    };
    run();
    this.#ipamTimer = setInterval(run, ADDRESS_RECONCILE_MS).unref();
  }

  /** The inventory watcher, with the devices of stored claims held before its first snapshot (the first slice still offers them). */
  #startInventory(host: NetnsHandle, store: ClaimStore): InventoryWatcher {
    const o = this.#o;
    const log = o.log;
    const heldStore = heldDevicesFile(o.stateDir, { onProblem: (what, err) => log.warn({ err }, `held devices: ${what}`) });
    const cloud = this.#cloud = cloudProviderFromFlag(o.cloudProvider ?? 'none', {
      sysfsRoot: o.sysfsRoot,
      onEvent: (e) => {
        if (e.kind === 'failed') log.warn({ err: e.error, cloud: e.cloud, failures: e.failures, retryInMs: e.retryInMs }, `cloud metadata (${e.cloud}) unavailable; topology attributes wait`);
        else if (e.changed) log.info({ cloud: e.cloud, nics: e.nics }, `cloud metadata (${e.cloud}) read`);
      },
    });
    if (cloud) log.info({ origin: cloud.origin }, 'cloud topology attributes on');
    cloud?.start();
    const watcher = this.#watcher = new InventoryWatcher(host, { sysfsRoot: o.sysfsRoot }, o.inventory, {
      libc: o.libc, heldStore, ...(cloud ? { provider: cloud } : {}),
      onError: (err) => {
        if (isDriverError(err)) this.metrics.countError(err);
        log.warn({ err }, 'inventory rebuild failed; the last inventory stays published, retrying');
      },
    });
    for (const r of store.list()) for (const d of r.devices) watcher.hold(d.device, d.identity);
    const first = watcher.start();
    const puzzling = unknownTopologyLogger(log);
    puzzling(first);
    watcher.subscribe(puzzling);
    log.info({ devices: first.devices.length, excluded: first.exclusions.length, held: watcher.held.length }, 'inventory ready');
    // Devices in pods: read through their pods' namespaces (link events, RDMA port polls).
    this.#podHealth = new PodHealthWatch({
      store, host, libc: o.libc, rdmaExclusive: () => watcher.current.rdmaNetnsMode === 'exclusive', sysfsRoot: o.sysfsRoot,
      onError: (err, claimUid) => log.debug({ err, claimUid }, 'pod device health: cannot read the pod\'s namespace'),
    });
    registerPodCounterMetrics(this.metrics.registry, this.#podHealth);
    this.#health = new DeviceHealthView(watcher, o.nodeName, o.attributeDomain, undefined, this.#podHealth);
    return watcher;
  }

  /** The ResourceSlice publisher, fed by the inventory and device health. */
  async #startPublisher(watcher: InventoryWatcher, onError: (what: string) => (err: DriverError) => void): Promise<void> {
    const o = this.#o;
    const publisher = this.#publisher = new SlicePublisher({
      kubeConfig: o.kubeConfig, nodeName: o.nodeName, driver: o.driverName, taintUnhealthy: o.taintUnhealthy || o.taintUnhealthyNoExecute === true, onError: onError('slice-publisher'),
      ...(o.sliceWriteBudget !== undefined && { writeBudget: o.sliceWriteBudget }),
      // Once per daemon: the cluster has no consumable capacity, shareable parents are withdrawn (docs/sharing.md).
      onSharingUnsupported: (message) => {
        o.log.warn({ reason: SHARING_UNSUPPORTED_REASON }, message);
        nodeWarning(o.kubeConfig, o.nodeName, SHARING_UNSUPPORTED_REASON, message).catch(onError('node-event'));
      },
    });
    await publisher.start();
    const health = this.#health!;
    const publish = (inv: Inventory): void => {
      this.metrics.inventoryRebuilds.inc();
      this.metrics.devicesPublished.set(inv.devices.length);
      this.metrics.devicesExcluded.set(inv.exclusions.length);
      publisher.update(publishable(inv, health, o.taintUnhealthyNoExecute === true ? (d) => this.#podHealth?.get(d)?.health === 'unhealthy' : undefined));
      void publisher.synced().then(() => this.metrics.slicePublishes.inc({ outcome: 'ok' }), () => {});
    };
    publish(watcher.current);
    watcher.subscribe(publish);
    let told = health.devices;
    health.onChange(() => {
      this.metrics.healthUpdates.inc();
      // What the kubelet is told now, per device: it re-syncs each pod a change concerns.
      for (const t of healthTransitions(told, health.devices)) o.log.info(t, 'device health changed');
      told = health.devices;
      if (o.taintUnhealthy || o.taintUnhealthyNoExecute === true) publish(watcher.current);
    });
    void publisher.synced().then(() => {
      this.#slicesPublished = true;
      o.log.info({ slices: publisher.slices, devices: publisher.devices }, 'ResourceSlices published');
    }, () => {});
  }

  /** Claim driver instrumentation: metrics and logs. */
  #claimObserver(store: ClaimStore): DriverObserver {
    const log = this.#o.log;
    return {
      claimPrepared: (r, ms, fromStore, steps = {}) => {
        this.metrics.claimPrepareSeconds.observe({ outcome: 'ok' }, ms / 1000);
        this.metrics.claimsPrepared.set(store.size);
        observeSteps(this.metrics, 'prepare', steps);
        withContext(log, { claim: r.claim, claimUid: r.claim.uid, podUid: r.podUid })
          .info({ ms: round(ms), steps: roundSteps(steps), fromStore, devices: r.devices.map((d) => d.device) }, 'claim prepared');
      },
      adminPrepared: (r, ms, fromStore) => {
        withContext(log, { claim: r.claim, claimUid: r.claim.uid })
          .info({ ms: round(ms), fromStore, adminAccess: r.access.map((d) => ({ device: d.device, owner: d.ownerNamespace ?? null })) }, 'admin claim prepared (nothing moved)');
      },
      claimFailed: (ref, op, err, ms) => {
        if (op === 'prepare') this.metrics.claimPrepareSeconds.observe({ outcome: 'error' }, ms / 1000);
        this.metrics.countError(err);
        withContext(log, { claim: ref, claimUid: ref.uid }).warn({ err, op, ms: round(ms) }, `claim ${op} failed`);
      },
      claimUnprepared: (ref, existed) => {
        this.metrics.claimsPrepared.set(store.size);
        withContext(log, { claim: ref, claimUid: ref.uid }).info({ existed }, 'claim unprepared');
      },
      cdiRestored: (claimUid, paths, err) => {
        if (err === undefined) log.info({ claimUid, paths }, 'CDI spec of a stored claim was missing (node reboot?): written again from its record');
        else {
          this.metrics.countError(err);
          log.warn({ claimUid, err }, 'CDI spec of a stored claim is missing and cannot be written again; its next prepare fails with this error');
        }
      },
      cloudDefaultRefused: (ref, device, problems) => {
        withContext(log, { claim: ref, claimUid: ref.uid }).warn({ device, problems }, 'cloud metadata is not a valid config for this device; prepared without the cloud default');
      },
    };
  }

  /**
   * The pod side: NRI hooks → PodDriver → attach engine. The PodDriver decides
   * claim status, Events and eviction (through the kube surface's sinks); the
   * daemon only counts and logs. Readiness includes the runtime's Synchronize.
   */
  #startNri(
    socket: string, host: NetnsHandle, store: ClaimStore, watcher: InventoryWatcher, onError: (what: string) => (err: DriverError) => void,
    lock: FileLock | undefined,
  ): PodDriver {
    const o = this.#o;
    const log = o.log;
    this.#status = new ClaimStatusWriter({ kubeConfig: o.kubeConfig, driverName: o.driverName, onError: onError('claim-status') });
    const pins = this.#pins(join(o.stateDir, 'netns'));
    const pods = this.#pods = new PodDriver({
      store, host, libc: o.libc,
      status: o.deviceMetadata === false ? this.#status
        : metadataStatusSink(this.#status, this.#metadataDir(), (err) => log.warn({ err }, 'device metadata: cannot record the attached network data')),
      ...(this.#events === undefined ? {} : { events: this.#events }),
      ...(o.evictUnreconciled === true ? { evictor: new KubePodEvictor({ kubeConfig: o.kubeConfig }) } : {}),
      ...(o.deviceReturnTimeoutMs === undefined ? {} : { returnTimeoutMs: o.deviceReturnTimeoutMs }),
      ...(pins === undefined ? {} : { pins }),
      ...(lock === undefined ? {} : { shared: { lock: () => lock.lock(), unlock: () => lock.unlock() } }),
      rdmaExclusive: () => watcher.current.rdmaNetnsMode === 'exclusive',
      // The attach off the sandbox's path; CreateContainer is the gate (docs/pods.md, "Off the sandbox path").
      attachAfterAnswer: true,
      earlySandboxNews: () => this.#sandboxWatch?.connected === true,
      observer: this.#podObserver(onError),
    });
    this.#http!.addCheck('readiness', 'nri-synchronized', () => {
      const problem = pods.runtimeProblem();
      if (problem !== undefined) throw new Error(problem);
      return true;
    });
    this.#nri = new NriPlugin({
      port: pods, socketPath: socket, pluginName: o.driverName, ...(o.nriPluginIndex === undefined ? {} : { pluginIdx: o.nriPluginIndex }),
      ...(o.containerGate === undefined ? {} : { containerGate: o.containerGate }),
      log: withContext(log, { component: 'nri' }),
    });
    this.#nri.on('state', (to) => log.info({ state: to }, `nri plugin ${to}`));
    this.#nri.start();
    if (o.containerdSocket !== undefined) this.#startSandboxWatch(o.containerdSocket, pods);
    return pods;
  }

  /**
   * The early attach: containerd's news of a pod's sandbox (its sandbox
   * container created, before the NRI RunPodSandbox hook) goes to the pod
   * driver, which decides. Unreachable, nothing changes: RunPodSandbox attaches.
   */
  #startSandboxWatch(socketPath: string, pods: PodDriver): void {
    const log = withContext(this.#o.log, { component: 'containerd' });
    this.#sandboxWatch = new SandboxWatch({ socketPath, log, onSandbox: (s) => pods.sandboxCreated(s) });
    // The watch logs its own transitions (once each, not per retry).
    this.#sandboxWatch.on('state', (to) => this.metrics.containerdEventsConnected.set(to === 'connected' ? 1 : 0));
    this.#sandboxWatch.start();
  }

  /** Device metadata files (KEP-5304): in the kubelet plugin directory, a host path at the same place in the container. */
  #metadataDir(): string {
    return join(this.#o.kubeletRootDir, 'plugins', this.#o.driverName, 'metadata');
  }

  /** Pod namespace pins under the state directory, when this host lets the daemon mount (docs/pods.md, "Namespace pins"). */
  #pins(dir: string): NetnsPins | undefined {
    const log = this.#o.log;
    const pins = new NetnsPins(dir, this.#o.libc);
    const probe = pins.probe();
    this.metrics.netnsPinningAvailable.set(probe.problem === undefined ? 1 : 0);
    if (probe.problem !== undefined) {
      log.error({ dir, reason: probe.problem }, 'cannot pin pod network namespaces (mount needs CAP_SYS_ADMIN and no AppArmor "deny mount"); a pod deleted while netclaim is down takes its virtual devices with it');
      return undefined;
    }
    if (probe.propagation !== 'shared') {
      log.warn({ dir, propagation: probe.propagation }, 'pod namespace pins stay in this mount namespace (the state directory is not a shared mount): in a container they die with it; mount the state directory with mountPropagation: Bidirectional');
    }
    return pins;
  }

  /** Pod driver instrumentation: metrics and logs only (the driver decides Events, status and eviction). */
  #podObserver(onError: (what: string) => (err: DriverError) => void): PodObserver {
    const log = this.#o.log;
    const claimLog = (r: ClaimRecord): Logger => withContext(log, { claim: r.claim, claimUid: r.claim.uid, podUid: r.podUid });
    return {
      hook: (hook, pod, ms, err, steps = {}) => {
        // Watch (or stop watching) the pod's devices' health once the hook is done, off its path.
        setImmediate(() => this.#podHealth?.sync());
        const outcome = err === undefined ? 'ok' : 'error';
        this.metrics.nriHooks.inc({ hook, outcome });
        this.metrics.nriHookSeconds.observe({ hook, outcome }, ms / 1000);
        observeSteps(this.metrics, hook, steps);
        const l = pod === undefined ? log : withContext(log, { podUid: pod.uid, component: 'nri' });
        // A hook that did work for our claims (more than queueing) is logged at info with its steps: one line per such pod event.
        const ours = Object.keys(steps).some((k) => k !== 'queue' && k !== 'lock' && k !== 'refresh');
        // The early attach is no NRI hook (containerd's event started it), but it is timed and counted as one.
        const what = hook === 'early' ? 'early attach' : `nri ${hook}`;
        if (err === undefined) (ours ? l.info.bind(l) : l.debug.bind(l))({ hook, ms: round(ms), steps: roundSteps(steps), pod: pod && `${pod.namespace}/${pod.name}` }, what);
        else {
          this.metrics.countError(err);
          l.warn({ hook, ms: round(ms), err, pod: pod && `${pod.namespace}/${pod.name}` }, `${what} failed`);
        }
      },
      earlyDown: (r, downed, ms, problems) => {
        const l = claimLog(r);
        if (problems.length === 0) l.debug({ downed, ms: round(ms) }, 'devices down on the host ahead of the pod');
        else l.warn({ downed, ms: round(ms), problems }, 'devices not taken down ahead of the pod (the attach takes them down)');
      },
      // Its `attached` journal is written after the hooks (off the pod's path): watch its devices from then.
      attached: () => setImmediate(() => this.#podHealth?.sync()),
      detachProblems: (r, problems) => {
        this.metrics.detachProblems.inc();
        claimLog(r).warn({ problems }, 'devices given back with problems');
      },
      unreconciled: (r, err) => {
        this.metrics.podsUnreconciled.inc();
        this.metrics.countError(err);
        claimLog(r).error({ err }, 'pod devices could not be put right');
      },
      evicted: (r, err) => {
        this.metrics.podsEvicted.inc({ outcome: err === undefined ? 'ok' : 'error' });
        if (err === undefined) claimLog(r).warn({ pod: `${r.claim.namespace}/${r.podName}` }, 'pod evicted: its devices could not be put right');
        else onError('evict')(err as DriverError);
      },
      runtime: (ready, reason) => {
        this.metrics.nriConnected.set(ready ? 1 : 0);
        if (ready) log.info('the container runtime synchronized the NRI plugin: pods are served, Prepare is open');
        else {
          this.metrics.nriDisconnects.inc();
          log.warn({ reason }, 'the container runtime dropped the NRI plugin: not ready, Prepare refused until it synchronizes again');
        }
      },
      pins: (count) => this.metrics.netnsPins.set(count),
    };
  }

  /** Graceful stop; idempotent. */
  stop(): Promise<void> {
    this.#stopRequested.resolve();
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // Let the start step in flight finish first (bounded), so nothing is closed under it.
    if (this.#starting !== undefined && !this.#started) {
      const settled = this.#starting.then(() => 'ok', () => 'ok');
      await Promise.race([settled, new Promise((r) => setTimeout(r, STOP_STEP_MS).unref())]);
    }
    const steps: [string, () => Promise<unknown> | unknown][] = [
      ['kubelet plugin server', () => { clearInterval(this.#ipamTimer); this.#ipam?.close(); return this.#server?.close(); }],
      ['containerd events', () => this.#sandboxWatch?.close()],
      ['nri plugin', () => { this.#pods?.close(); return this.#nri?.close(); }],
      ['claim status', () => this.#status?.close()],
      ['health', () => { this.#healthEventsOff?.(); this.#podHealth?.close(); this.#health?.close(); }],
      ['slice publisher', () => this.#publisher?.close()],
      ['events', () => this.#events?.close()],
      ['inventory watcher', () => this.#watcher?.close()],
      ['cloud metadata', () => this.#cloud?.close()],
      ['claim store', () => this.#store?.close()],
      ['shared lock', () => this.#sharedLock?.close()],
      ['host netns', () => this.#host?.close()],
      ['api connections', () => pooledConnections(this.#o.kubeConfig).close()],
      ['http', () => this.#http?.close()],
    ];
    for (const [what, step] of steps) {
      // A step that hangs (an API server that does not answer) must not keep the node's daemon from stopping.
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_STEP_MS).unref());
      const outcome = await Promise.race([Promise.resolve().then(step).then(() => 'ok' as const, (err: unknown) => err), timeout]);
      if (outcome === 'timeout') this.#o.log.warn({ step: what }, `stop: ${what} did not finish within ${STOP_STEP_MS} ms; going on`);
      else if (outcome !== 'ok') this.#o.log.warn({ step: what, err: outcome }, `stop: ${what} failed`);
    }
    this.#o.log.info('netclaim stopped');
  }
}

/** How long each shutdown step may take. */
const STOP_STEP_MS = 5_000;
/** How often leaked address allocations are looked for (docs/ipam.md). */
const ADDRESS_RECONCILE_MS = 5 * 60_000;

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
