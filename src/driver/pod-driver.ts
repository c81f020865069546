/**
 * The driver behind the NRI surface (PodPort): the moment a pod gets its
 * devices, and the moment it gives them back.
 *
 * RunPodSandbox   the pod's prepared claims (store, by pod UID) → journal
 *                 `attaching` → attach every device (attach/) → journal
 *                 `attached` → claim status (in the background). Any device
 *                 failing rolls back the devices this call attached and fails
 *                 the sandbox; the kubelet retries. A repeated hook converges.
 * CreateContainer fail-closed: every device must be in the pod's netns (it is
 *                 attached now if RunPodSandbox was missed); otherwise the
 *                 container fails.
 * StopPodSandbox  RDMA back, netdev back under its host name, host state
 *                 restored; never throws, never blocks shutdown.
 * RemovePodSandbox the same, for a pod whose stop was missed.
 * Synchronize     after a (re)connect or a driver restart: finish or undo
 *                 what a crash interrupted, re-attach running pods that lack
 *                 their devices, give back devices of pods that are gone.
 * returnDevices   the same give-back for NodeUnprepareResources (ClaimDriver),
 *                 which must not drop the record of a device still in a pod.
 *
 * The runtime connection is part of the driver's state: until the runtime
 * has synchronized the plugin (and again from the moment it drops it),
 * `runtimeProblem()` says why pods cannot be served, and the claim driver
 * refuses Prepare (docs/pods.md, invariant I1).
 *
 * With pins (netns-pins.ts), each attached claim holds its pod's namespace:
 * the journal names the pin before it is made, detach goes through it, and
 * it is released after the journal is cleared (invariants I2, I4).
 *
 * What users see and what is done about a pod that cannot be put right
 * (claim status, Events, eviction by policy) is decided here too, through
 * pod-reports.ts; the observer only hears about it.
 *
 * A claim's journal is cleared only when every device is settled: back on
 * the host and restored, or proven gone (a virtual device destroyed with its
 * namespace) — invariant I2 of docs/pods.md. A physical device missing from
 * both namespaces after an unpinned namespace died is awaited back on the
 * host (return-wait.ts); the journal stays until it is restored.
 *
 * Pod hooks run one at a time (kernel work is synchronous anyway), so two
 * hooks for the same pod never interleave.
 *
 * DHCP leases (`interface.dhcp`, docs/dhcp.md) are acquired by the attach
 * (step `dhcp`), recorded in the journal with their device, kept renewed by
 * DhcpLeases (tracked at attach and again by Synchronize after a restart),
 * and released (DHCPRELEASE) at detach before the device leaves the pod.
 */
import { DriverError } from '../common/errors.ts';
import { KernelError } from '../kernel/errors.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { linkGetByName } from '../kernel/netlink/route/link-ops.ts';
import type { DhcpLease } from '../kernel/dhcp/dhcp-types.ts';
import { attachDevice, backOnHost, detachDevice, type DetachResult } from './attach/attach-device.ts';
import { podDhcpRelease } from './attach/pod-dhcp.ts';
import { DhcpLeases } from './dhcp-leases.ts';
import { assertNotHostNetns, isNamespace, sameNetns } from './attach/netns-guard.ts';
import type { ClaimStatusSink, EventSink, PodEvictor } from './claim.ts';
import type { DeviceReturner, NotReturned } from './claim-driver.ts';
import type { NetnsPins } from './netns-pins.ts';
import { attachableProblem, notInPlace } from './pod-checks.ts';
import { PodReports, type PodObserver } from './pod-reports.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './record-model.ts';
import type { NriContainer, NriContainerAdjustment, NriPod, PodPort } from './pod-port.ts';
import type { ClaimStore } from './state/claim-store.ts';
import { ReturnWait } from './return-wait.ts';
import { crashPoint } from './state/crash-points.ts';
import { addStep, newSteps, timed, type Steps } from '../observe/steps.ts';
import { gidEntriesFor } from '../kernel/sysfs/rdma-gids.ts';
import { gidIndexEnv, subInterfaceGids, type GidLookup } from './sub-interface/sub-rdma.ts';

/** How long CreateContainer waits for a sub-interface's GID entry: 20 × 50 ms. */
const GID_WAIT_TRIES = 20;
const GID_WAIT_MS = 50;

export type { PodObserver } from './pod-reports.ts';

export interface PodDriverOptions {
  readonly store: ClaimStore;
  readonly host: NetnsHandle;
  readonly libc: Libc;
  /** RDMA devices move with the netdev (RDMA netns mode `exclusive`). */
  readonly rdmaExclusive: () => boolean;
  /**
   * Reads RoCE GID entries of the parents' RDMA devices, for the GID index
   * hints of sub-interfaces with RDMA (sub-interface/sub-rdma.ts) added at
   * CreateContainer. Default: the host's sysfs.
   */
  readonly gidLookup?: GidLookup;
  /** Claim status (`status.devices` conditions and networkData). */
  readonly status?: ClaimStatusSink;
  /** Warnings for users (Kubernetes Events on the claim). */
  readonly events?: EventSink;
  /** Present: evict a running pod whose devices cannot be put right (policy `--evict-unreconciled`). */
  readonly evictor?: PodEvictor;
  /** Pod namespaces held while a device is in them; absent: not pinned (a host that cannot mount). */
  readonly pins?: NetnsPins;
  readonly observer?: PodObserver;
  /**
   * Another daemon instance may share the store (rolling update): each hook
   * then holds this cross-process lock and re-reads the store first, so two
   * instances handling the same pod run one after the other and the second
   * converges.
   */
  readonly shared?: { lock(): Promise<void>; unlock(): void };
  /**
   * RunPodSandbox answers the runtime at once and the attach runs right after,
   * first in the hook queue, overlapping what the runtime does between the
   * sandbox and the first container (docs/pods.md, "Off the sandbox path").
   * CreateContainer waits for it in the queue and stays the gate (I1): it
   * attaches again what is missing, and fails the container otherwise. A
   * failed attach then fails the container, not the sandbox; the kubelet
   * retries either. Default false: the attach inside RunPodSandbox.
   */
  readonly attachAfterAnswer?: boolean;
  /** Fault injection for tests: called before each device's attach. */
  readonly fault?: (step: string) => void;
  readonly now?: () => Date;
  /**
   * How long a physical device may take to come back to the host after its
   * pod's namespace died before that is reported (default 30 s). Its journal
   * stays either way.
   */
  readonly returnTimeoutMs?: number;
  /** How often the host is checked for such a device meanwhile (default 250 ms). */
  readonly returnPollMs?: number;
  /** How long one DHCP renew or rebind attempt waits for the server (default 2 s). */
  readonly dhcpAttemptMs?: number;
}

const ENOENT = 2;
const NOT_SYNCHRONIZED = 'the container runtime has not connected and synchronized netclaim\'s NRI plugin yet';

export class PodDriver implements PodPort, DeviceReturner {
  readonly #o: PodDriverOptions;
  readonly #reports: PodReports;
  #queue: Promise<unknown> = Promise.resolve();
  /** Why the runtime connection cannot serve pods now; undefined while it is synchronized. */
  #runtime: string | undefined = NOT_SYNCHRONIZED;
  /** Bumped on every lost connection, so a Synchronize of an older connection does not count. */
  #connection = 0;
  /** Physical devices awaited back on the host from a namespace that died. */
  readonly #returns: ReturnWait;
  /** The DHCP leases of attached interfaces, kept renewed; keyed `claimUid/device`. */
  readonly #leases: DhcpLeases;
  #closed = false;
  /** The running hook's step timings (hooks run one at a time), reported with it to the observer. */
  #steps: Steps | undefined;
  /**
   * `attached` journals of a RunPodSandbox that has answered, written right
   * after it (off the sandbox's path) and before anything else reads the
   * store: the next queued job, every hook, returnDevices, close. A crash
   * before the write leaves the journal `attaching` with the devices in the
   * pod: the state a crash after the last device's attach leaves anyway
   * (crash points `attach.after-device`, `attach.after-answer`), which
   * Synchronize finishes (I4); and
   * until it is written CreateContainer finds the journal not `attached`
   * and attaches again, so no container starts on it unwritten (I1).
   */
  #pendingAttached: Array<{ record: ClaimRecord; pod: NriPod; devices: readonly AttachedDevice[] }> = [];

  constructor(o: PodDriverOptions) {
    this.#o = o;
    this.#reports = new PodReports(o);
    this.#returns = new ReturnWait({
      ...(o.returnTimeoutMs === undefined ? {} : { timeoutMs: o.returnTimeoutMs }),
      ...(o.returnPollMs === undefined ? {} : { pollMs: o.returnPollMs }),
      run: (fn) => this.#enqueue(fn),
    });
    this.#leases = new DhcpLeases({
      libc: o.libc,
      ...(o.dhcpAttemptMs === undefined ? {} : { attemptMs: o.dhcpAttemptMs }),
      onRenewed: (key, lease) => void this.#enqueue(() => this.#recordLease(key, lease)).catch(() => {}),
      onLost: (key, reason) => this.#leaseLost(key, reason),
    });
    // Shared with another instance (rolling update): under the cross-instance lock, after a re-read, so a pin
    // the other instance is making right now (its journal already names it) is never taken for a leftover.
    if (o.shared === undefined) this.#sweepPins();
    else void this.#enqueue(() => this.#sweepPins());
  }

  /**
   * Why pods cannot be served now (the runtime has not synchronized the NRI
   * plugin, or dropped it); undefined once it has. The claim driver refuses
   * Prepare meanwhile, and the daemon is not ready.
   */
  runtimeProblem(): string | undefined {
    return this.#runtime;
  }

  /** The runtime dropped the plugin (its restart, a hook past its timeout, a protocol error): not ready until the next Synchronize. */
  runtimeDisconnected(reason: string): void {
    this.#connection += 1;
    if (this.#runtime !== undefined) {
      // Never synchronized on this connection (registration failed, the socket went): still not connected.
      this.#runtime = `${NOT_SYNCHRONIZED} (last attempt: ${reason})`;
      return;
    }
    this.#runtime = `the container runtime dropped netclaim's NRI plugin (${reason}); waiting for it to connect and synchronize again`;
    if (!this.#closed) this.#reports.observer?.runtime?.(false, reason);
  }

  runPodSandbox(pod: NriPod): Promise<void> {
    if (this.#o.attachAfterAnswer !== true || this.#o.store.byPod(pod.uid).length === 0) return this.#serial('run', pod, () => this.#attachPod(pod, true));
    // Queued now, so CreateContainer (sent only after this answer) runs after it; but started only on the
    // next turn of the event loop: the attach is synchronous kernel work, and the answer must be on the
    // socket before it begins. Its failure is reported by the observer (and CreateContainer tries again).
    // Off the path already: its `attached` journal is written in the same job (deferred, CreateContainer would pay for it).
    const answered = new Promise<void>((resolve) => setImmediate(resolve));
    this.#serial('run', pod, () => this.#attachPod(pod), true, answered).catch(() => {});
    return Promise.resolve();
  }

  stopPodSandbox(pod: NriPod): Promise<void> {
    return this.#serial('stop', pod, () => this.#detachPod(pod), false);
  }

  removePodSandbox(pod: NriPod): Promise<void> {
    return this.#serial('remove', pod, () => this.#detachPod(pod), false);
  }

  createContainer(pod: NriPod, _container: NriContainer): Promise<NriContainerAdjustment> {
    return this.#serial('create', pod, () => {
      const records = this.#o.store.byPod(pod.uid);
      if (records.length === 0) return {};
      if (timed(this.#steps, 'check', () => records.every((r) => this.#notInPlace(r).length === 0))) return this.#subRdmaEnv(pod);
      this.#attachPod(pod);
      // Fail-closed: the container starts only if every device of every claim is now in place.
      const missing = this.#o.store.byPod(pod.uid).flatMap((r) => this.#notInPlace(r).map((m) => `${r.claim.namespace}/${r.claim.name}: ${m}`));
      if (missing.length > 0) {
        throw new DriverError('ATTACH_NOT_IN_PLACE', `pod ${pod.namespace}/${pod.name}: not in place after attaching: ${missing.join('; ')}`, { context: { missing } });
      }
      return this.#subRdmaEnv(pod);
    });
  }

  /**
   * NCCL_IB_GID_INDEX/UCX_IB_GID_INDEX for the pod's sub-interfaces with RDMA:
   * the parent's GID entry for a child's address exists only once the child
   * has it in the pod, so the hint cannot be in the CDI spec written at
   * Prepare (docs/sharing.md). None for any other pod (no read).
   */
  #subRdmaEnv(pod: NriPod): NriContainerAdjustment {
    const records = this.#o.store.byPod(pod.uid);
    if (!records.some((r) => r.devices.some((d) => d.subInterface !== undefined && d.rdma !== undefined))) return {};
    const lookup = this.#o.gidLookup ?? ((dev, port, gid) => gidEntriesFor(dev, port, gid));
    let gids = subInterfaceGids(records, lookup);
    // The kernel adds the entries from a work queue after the address: wait for them a little (this path only).
    for (let i = 0; i < GID_WAIT_TRIES && gids.some((g) => g.index === undefined && g.addressed); i++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, GID_WAIT_MS);
      gids = subInterfaceGids(records, lookup);
    }
    const env = gidIndexEnv(gids);
    return env.length === 0 ? {} : { env };
  }

  /**
   * Gives a claim's devices back as for a pod that is gone (NodeUnprepareResources
   * of a claim whose journal says they are in a pod); returns those not back on
   * the host yet, whose journal stays. Synchronous, so it runs between two
   * hooks, never inside one (and never waits for the cross-instance lock, which
   * the kubelet call already holds).
   */
  returnDevices(uid: string): readonly NotReturned[] {
    this.#flushAttached();
    const r = this.#o.store.get(uid);
    if (r?.attachment === undefined) return [];
    return this.#detachFrom(r, r.attachment.netns);
  }

  /** Resolves once everything queued so far has run, the `attached` journals of answered RunPodSandbox calls included. */
  async idle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.#enqueue(() => undefined);
  }

  /** Stops waiting for devices to come back (their journals stay); idempotent. */
  close(): void {
    this.#flushAttached();
    this.#closed = true;
    this.#returns.close();
    this.#leases.close();
  }

  /** The DHCP lease keeper (tests drive a renewal with `renewAll()`). */
  get dhcpLeases(): DhcpLeases {
    return this.#leases;
  }

  synchronize(pods: readonly NriPod[], _containers: readonly NriContainer[]): Promise<void> {
    const connection = this.#connection;
    return this.#serial('sync', undefined, () => {
      const running = new Map(pods.map((p) => [p.uid, p]));
      for (const r of this.#o.store.list()) {
        const pod = running.get(r.podUid);
        try {
          if (pod === undefined) {
            // The pod is gone (stopped, or deleted while we were away; its pinned namespace still holds the devices): give them back.
            if (r.attachment !== undefined) this.#detachFrom(r, r.attachment.netns);
          } else if (pod.netns !== undefined && this.#notInPlace(r).length > 0) {
            this.#attachPod(pod);
          } else if (r.attachment?.state === 'attached') {
            // In place: state its claim status again, which a crash may have kept from being written (the writer skips what the claim already says).
            this.#reports.devicesReady(r, r.attachment.devices.filter((d) => d.kind === undefined));
            // And keep its DHCP leases renewed again (a restarted daemon re-adopts them from the journal).
            this.#trackLeases(r, r.attachment.devices);
          }
        } catch (err) {
          this.#reports.unreconciled(r, err);
        }
      }
    }, false).finally(() => {
      if (connection !== this.#connection || this.#runtime === undefined) return;
      this.#runtime = undefined;
      this.#reports.observer?.runtime?.(true);
    });
  }

  /** Runs hooks one at a time; `rethrow` false swallows errors (after reporting them). */
  #serial<T>(hook: 'run' | 'stop' | 'remove' | 'create' | 'sync', pod: NriPod | undefined, fn: () => T, rethrow = true, after?: Promise<void>): Promise<T> {
    const steps = newSteps();
    const queued = performance.now();
    return this.#enqueue(() => {
      const start = performance.now();
      // Waiting behind earlier hooks (and for the cross-instance lock, timed apart in #enqueue) is part of the hook's time too.
      addStep(steps, 'queue', start - queued - (steps['lock'] ?? 0) - (steps['refresh'] ?? 0) - (steps['journalAfter'] ?? 0));
      this.#steps = steps;
      try {
        const r = fn();
        this.#reports.observer?.hook?.(hook, pod, performance.now() - queued, undefined, steps);
        return r;
      } catch (err) {
        this.#reports.observer?.hook?.(hook, pod, performance.now() - queued, err, steps);
        if (rethrow) throw err;
        return undefined as T;
      } finally {
        this.#steps = undefined;
      }
    }, steps, after);
  }

  /** Runs `fn` after everything queued, holding the cross-instance lock (store re-read) when shared. */
  #enqueue<T>(fn: () => T, steps?: Steps, after?: Promise<void>): Promise<T> {
    const run = async (): Promise<T> => {
      if (after !== undefined) await after;
      const shared = this.#o.shared;
      if (shared !== undefined) {
        const start = performance.now();
        await shared.lock();
        addStep(steps, 'lock', performance.now() - start);
      }
      try {
        if (shared !== undefined) timed(steps, 'refresh', () => this.#o.store.refresh());
        this.#flushAttached(steps);
        return fn();
      } finally {
        shared?.unlock();
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** `defer`: RunPodSandbox, whose `attached` journals are written right after it answers (#pendingAttached). */
  #attachPod(pod: NriPod, defer = false): void {
    const records = this.#o.store.byPod(pod.uid);
    if (records.length === 0) return; // not a pod of ours
    const what = `pod ${pod.namespace}/${pod.name}`;
    if (pod.netns === undefined || pod.netns === '') {
      throw new DriverError('ATTACH_FAILED', `${what} has netclaim devices but no network namespace (hostNetwork pods cannot take network devices)`);
    }
    const exclusive = this.#o.rdmaExclusive();
    for (const record of records) {
      for (const plan of record.devices) {
        const problem = attachableProblem(plan, exclusive);
        if (problem !== undefined) {
          throw new DriverError('ATTACH_DEVICE_EMPTY', `${what}, claim ${record.claim.namespace}/${record.claim.name}: device ${plan.device} ${problem}`, {
            context: { device: plan.device, claim: record.claim.uid },
          });
        }
      }
    }
    const target = timed(this.#steps, 'netns', () => NetnsHandle.open(pod.netns!, { libc: this.#o.libc }));
    try {
      assertNotHostNetns(this.#o.host, target, what);
      // Devices still held in another namespace of this pod (an earlier sandbox, kept alive by its pin) come back first.
      timed(this.#steps, 'netns', () => { for (const record of records) this.#releaseElsewhere(record, target, what); });
    } catch (err) {
      target.close();
      throw err;
    }
    const done: { record: ClaimRecord }[] = [];
    const attachedNow: Array<{ record: ClaimRecord; devices: readonly AttachedDevice[] }> = [];
    try {
      for (const record of this.#o.store.byPod(pod.uid)) {
        const journal = this.#journal(record, pod, 'attaching', record.attachment?.devices ?? []);
        done.push({ record: journal });
        crashPoint('attach.after-journal');
        if (journal.attachment?.pin !== undefined) {
          timed(this.#steps, 'pin', () => this.#pin(journal, pod.netns!, what));
          crashPoint('attach.after-pin');
        }
        const devices: AttachedDevice[] = [];
        for (const plan of record.devices) {
          devices.push(timed(this.#steps, 'attach', () => this.#attachOne(plan, target, exclusive)));
          this.#trackLeases(journal, devices.slice(-1));
          crashPoint('attach.after-device');
        }
        if (defer) {
          this.#journalRecord(record, pod, 'attached', devices); // the completeness check, now: never `attached` with a device missing
          attachedNow.push({ record, devices });
        } else {
          const attached = this.#journal(record, pod, 'attached', devices);
          timed(this.#steps, 'status', () => this.#reports.devicesReady(attached, devices.filter((d) => d.kind === undefined)));
        }
      }
      if (attachedNow.length > 0) {
        this.#pendingAttached.push(...attachedNow.map((a) => ({ ...a, pod })));
        // Written as soon as the hook has answered: the next turn of the event loop, behind whatever is queued.
        setImmediate(() => void this.#enqueue(() => undefined));
      }
    } catch (err) {
      // All or nothing for the pod: give back what this call (or an earlier try) attached.
      for (const { record } of done.reverse()) this.#detachRecord(record, target);
      throw err;
    } finally {
      target.close();
    }
  }

  /**
   * A record whose journal says its devices are in another namespace than
   * `target` (a sandbox of the same pod made again while the old one's
   * namespace lives on in its pin): give them back from there first, so the
   * attach finds them on the host. Throws when they are not all back.
   */
  #releaseElsewhere(record: ClaimRecord, target: NetnsHandle, what: string): void {
    const a = record.attachment;
    if (a === undefined) return;
    const from = this.#open(a.pin !== undefined && this.#o.pins?.held(a.pin) === true ? a.pin : a.netns);
    const same = from !== undefined && sameNetns(from, target);
    from?.close();
    if (same) return;
    const left = this.#detachFrom(record, a.netns);
    if (left.length > 0) {
      throw new DriverError('ATTACH_FAILED', `${what}: ${left.map((d) => `device ${d.device} ${d.reason}`).join('; ')} (from the pod's earlier network namespace ${a.netns}); the attach is retried`, {
        context: { claim: record.claim.uid, devices: left },
      });
    }
  }

  /** Pins the pod's namespace for a claim (its journal already names the pin). */
  #pin(record: ClaimRecord, netns: string, what: string): void {
    try {
      this.#o.pins!.pin(record.claim.uid, netns);
    } catch (err) {
      throw new DriverError('ATTACH_FAILED', `${what}: cannot pin the pod's network namespace ${netns} at ${record.attachment!.pin!}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err, context: { claim: record.claim.uid, step: 'pin' },
      });
    }
    this.#countPins();
  }

  /** A namespace handle for `path`, or undefined when it cannot be opened. */
  #open(path: string): NetnsHandle | undefined {
    try {
      return NetnsHandle.open(path, { libc: this.#o.libc });
    } catch {
      return undefined;
    }
  }

  /** Attaches one device (a netdev, or an RDMA device in exclusive mode); an RDMA-only device in shared mode is handed over by CDI alone. */
  #attachOne(plan: DevicePlan, target: NetnsHandle, exclusive: boolean): AttachedDevice {
    if (plan.pod === undefined && !exclusive) return { device: plan.device, kind: 'rdma', ifIndex: 0, name: plan.rdma!.device, mac: '', ips: [] };
    this.#o.fault?.(`attach:${plan.device}`);
    const r = attachDevice({ host: this.#o.host, pod: target, libc: this.#o.libc, rdmaExclusive: exclusive }, plan);
    if (plan.pod === undefined) return { device: plan.device, kind: 'rdma', ifIndex: 0, name: r.name, mac: '', ips: [] };
    return { device: plan.device, ifIndex: r.ifIndex, name: r.name, mac: r.mac, ips: r.ips, ...(r.lease === undefined ? {} : { dhcp: r.lease }) };
  }

  #detachPod(pod: NriPod): void {
    for (const r of this.#o.store.byPod(pod.uid)) {
      if (r.attachment === undefined) continue;
      // The devices are in another sandbox of this pod: the kubelet made a newer one (the old one
      // broke), and the old one's stop or removal (its garbage collection) comes after. Not this
      // hook's to give back: it would take them out of the running sandbox, or, found in neither
      // namespace, clear the journal and leave the pod's CreateContainer failing for good. The
      // newer sandbox's own stop, Synchronize (a pod gone) and unprepare give them back.
      if (r.attachment.sandboxId !== pod.id) continue;
      this.#detachFrom(r, pod.netns !== undefined && pod.netns !== '' ? pod.netns : r.attachment.netns);
    }
  }

  /**
   * Detaches a record's devices from its pinned namespace, else the netns at
   * `path`, or, when that is gone (or no longer a namespace), from wherever
   * they are now. Returns the devices not back yet.
   */
  #detachFrom(r: ClaimRecord, runtimePath: string): NotReturned[] {
    const pin = r.attachment?.pin;
    const path = pin !== undefined && this.#o.pins?.held(pin) === true ? pin : runtimePath;
    let target: NetnsHandle | undefined;
    try {
      target = NetnsHandle.open(path, { libc: this.#o.libc });
    } catch (err) {
      // The runtime deleted the netns first: find the devices on the host. Any other
      // failure leaves them unsearched in a namespace that may still hold them.
      if (!(err instanceof KernelError && err.errno === ENOENT)) return this.#unsearchable(r, path, err);
    }
    if (target !== undefined && (!isNamespace(target, this.#o.host) || sameNetns(target, this.#o.host))) {
      target.close(); // a file left where the namespace was mounted, or the host's own: nothing to search there
      target = undefined;
    }
    try {
      return this.#detachRecord(r, target);
    } finally {
      target?.close();
    }
  }

  /** The pod's namespace cannot be opened (not because it is gone): nothing is touched, the journal stays. */
  #unsearchable(r: ClaimRecord, path: string, err: unknown): NotReturned[] {
    const reason = `the pod's network namespace ${path} cannot be opened: ${err instanceof Error ? err.message : String(err)}`;
    this.#reports.detachProblems(r, [reason]);
    return r.devices.map((d) => ({ device: d.device, reason }));
  }

  /**
   * Detaches every device of a record (RDMA first, inside detachDevice) and
   * clears its journal when all are settled; otherwise the journal stays, and
   * devices on their way back from a dead namespace are awaited.
   */
  #detachRecord(record: ClaimRecord, pod: NetnsHandle | undefined): NotReturned[] {
    const problems: string[] = [];
    const left: NotReturned[] = [];
    const pending: DevicePlan[] = [];
    for (const plan of [...record.devices].reverse()) {
      this.#releaseLease(record, plan, pod, problems);
      const r = timed(this.#steps, 'detach', () => detachDevice({ host: this.#o.host, ...(pod === undefined ? {} : { pod }), libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() }, plan));
      problems.push(...r.problems.map((p) => `${plan.device}: ${p.step}: ${p.message}`));
      if (r.found === 'gone' && r.settled && plan.pod !== undefined) problems.push(`${plan.device}: not found in the pod or on the host (a virtual device dies with its namespace)`);
      if (!r.settled) left.push({ device: plan.device, reason: notBackReason(r) });
      if (!r.settled && (r.found === 'pending' || r.rdmaFound === 'pending')) pending.push(plan);
      crashPoint('detach.after-device');
    }
    const current = this.#o.store.get(record.claim.uid) ?? record;
    if (left.length === 0 && current.attachment !== undefined) {
      const { attachment, ...rest } = current;
      timed(this.#steps, 'journal', () => this.#o.store.put(rest));
      this.#returns.settled(record.claim.uid);
      // The pin goes only now: every device is back and restored (or gone), and the journal no longer names it.
      if (attachment.pin !== undefined) timed(this.#steps, 'unpin', () => this.#releasePin(record, attachment.pin!));
    }
    if (problems.length > 0) this.#reports.detachProblems(record, problems);
    if (pending.length > 0) this.#returns.await(record.claim.uid, (deadline, late) => this.#returnTick(record.claim.uid, pending, deadline, late));
    return left;
  }

  /** One poll for devices on their way back (return-wait.ts): gives the claim's devices back once all are there; true to poll again. */
  #returnTick(uid: string, plans: readonly DevicePlan[], deadline: number, late: () => boolean): boolean {
    const r = this.#o.store.get(uid);
    if (r?.attachment === undefined) return false;
    const exclusive = this.#o.rdmaExclusive();
    const missing = plans.filter((p) => !backOnHost(this.#o.host, p, exclusive));
    if (missing.length === 0 && this.#detachFrom(r, r.attachment.netns).length === 0) return false;
    if (performance.now() < deadline) return true;
    if (missing.length > 0 && late()) {
      const s = this.#returns.timeoutMs / 1000;
      this.#reports.detachProblems(r, missing.map((p) => `${p.device}: did not come back to the host within ${s} s after its pod's network namespace died; its host snapshot and journal are kept, and it is restored when a later StopPodSandbox, Synchronize or NodeUnprepareResources finds it back`));
    }
    return false;
  }

  #journal(record: ClaimRecord, pod: NriPod, state: 'attaching' | 'attached', devices: readonly AttachedDevice[]): ClaimRecord {
    const next = this.#journalRecord(record, pod, state, devices);
    timed(this.#steps, 'journal', () => this.#o.store.put(next));
    return next;
  }

  /** Writes the `attached` journals of RunPodSandbox calls that have answered, then their claim status. */
  #flushAttached(steps?: Steps): void {
    const pending = this.#pendingAttached;
    if (pending.length === 0) return;
    this.#pendingAttached = [];
    for (const { record, pod, devices } of pending) {
      const start = performance.now();
      try {
        // Only over the `attaching` journal of the same sandbox: anything since (a detach, another sandbox) wins.
        const current = this.#o.store.get(record.claim.uid);
        if (current?.attachment?.state !== 'attaching' || current.attachment.sandboxId !== pod.id) continue;
        crashPoint('attach.after-answer');
        const next = this.#journalRecord(current, pod, 'attached', devices);
        this.#o.store.put(next);
        addStep(steps, 'journalAfter', performance.now() - start);
        this.#reports.devicesReady(next, devices.filter((d) => d.kind === undefined));
      } catch (err) {
        // The journal stays `attaching`: CreateContainer attaches again (and writes it) or fails the container.
        this.#reports.observer?.hook?.('run', pod, performance.now() - start, err, { journalAfter: performance.now() - start });
      }
    }
  }

  #journalRecord(record: ClaimRecord, pod: NriPod, state: 'attaching' | 'attached', devices: readonly AttachedDevice[]): ClaimRecord {
    const unlisted = record.devices.filter((p) => !devices.some((d) => d.device === p.device)).map((p) => p.device);
    if (state === 'attached' && (record.devices.length === 0 || unlisted.length > 0)) {
      // Never `attached` with a device of the claim unaccounted for (or with none at all).
      throw new DriverError('ATTACH_NOT_IN_PLACE', `claim ${record.claim.namespace}/${record.claim.name}: not journaled as attached: ${record.devices.length === 0 ? 'it has no devices' : `nothing attached for ${unlisted.join(', ')}`}`);
    }
    const pins = this.#o.pins;
    const next: ClaimRecord = {
      ...record,
      attachment: {
        state, sandboxId: pod.id, netns: pod.netns!, ...(pins === undefined ? {} : { pin: pins.pathFor(record.claim.uid) }),
        devices, at: (this.#o.now ?? (() => new Date()))().toISOString(),
      },
    };
    return next;
  }

  /** Releases a pin whose journal is cleared; a failure is reported, and the start-up sweep tries again. */
  #releasePin(record: ClaimRecord, path: string): void {
    crashPoint('detach.before-unpin');
    try {
      this.#o.pins?.release(path);
    } catch (err) {
      this.#reports.detachProblems(record, [`releasing the pin ${path} of the pod's network namespace: ${err instanceof Error ? err.message : String(err)}`]);
    }
    this.#countPins();
  }

  /** At start-up: pins no journal names are released (netns-pins.ts). */
  #sweepPins(): void {
    const pins = this.#o.pins;
    if (pins === undefined) return;
    pins.sweep(new Set(this.#o.store.list().map((r) => r.attachment?.pin).filter((p) => p !== undefined)));
    this.#countPins();
  }

  #countPins(): void {
    if (this.#o.pins !== undefined) this.#reports.observer?.pins?.(this.#o.pins.heldCount());
  }

  /**
   * Keeps the DHCP leases of `devices` renewed, through the claim's pin when
   * it holds the namespace (the journal names it), else the runtime's path.
   */
  #trackLeases(record: ClaimRecord, devices: readonly AttachedDevice[]): void {
    const a = record.attachment;
    if (a === undefined) return;
    const netns = a.pin !== undefined && this.#o.pins?.held(a.pin) === true ? a.pin : a.netns;
    for (const d of devices) {
      if (d.dhcp !== undefined) this.#leases.track(`${record.claim.uid}/${d.device}`, { netns, ifName: d.name, lease: d.dhcp });
    }
  }

  /**
   * DHCPRELEASE for a device's lease (tracked, or recorded in the journal),
   * while the device is still in the pod with its address; a failure is a
   * detach problem (the server frees the address at expiry anyway).
   */
  #releaseLease(record: ClaimRecord, plan: DevicePlan, pod: NetnsHandle | undefined, problems: string[]): void {
    const tracked = this.#leases.untrack(`${record.claim.uid}/${plan.device}`);
    const lease = tracked ?? record.attachment?.devices.find((d) => d.device === plan.device)?.dhcp;
    if (lease === undefined || pod === undefined || plan.pod === undefined) return;
    try {
      const index = timed(this.#steps, 'dhcp', () => linkGetByName(pod, plan.pod!.name).index);
      timed(this.#steps, 'dhcp', () => podDhcpRelease(pod, index, lease, this.#o.libc));
    } catch (err) {
      problems.push(`${plan.device}: dhcp release of ${lease.address} to ${lease.serverId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Records a renewed lease in the claim's journal (under the hook queue), so a restart resumes from it. */
  #recordLease(key: string, lease: DhcpLease): void {
    const [uid, device] = splitKey(key);
    const r = this.#o.store.get(uid);
    const a = r?.attachment;
    if (r === undefined || a === undefined || !a.devices.some((d) => d.device === device && d.dhcp !== undefined)) return;
    const devices = a.devices.map((d) => (d.device === device ? { ...d, dhcp: lease } : d));
    this.#o.store.put({ ...r, attachment: { ...a, devices } });
  }

  /** A lost lease is reported and dropped from the journal (with its address), so neither a restart nor the detach acts on it again. */
  #leaseLost(key: string, reason: string): void {
    const [uid, device] = splitKey(key);
    const r = this.#o.store.get(uid);
    if (r !== undefined) this.#reports.dhcpLeaseLost(r, device, reason);
    void this.#enqueue(() => {
      const current = this.#o.store.get(uid);
      const a = current?.attachment;
      if (current === undefined || a === undefined) return;
      const devices = a.devices.map((d) => {
        if (d.device !== device || d.dhcp === undefined) return d;
        const { dhcp, ...rest } = d;
        return { ...rest, ips: d.ips.filter((ip) => ip !== dhcp.cidr) };
      });
      this.#o.store.put({ ...current, attachment: { ...a, devices } });
    }).catch(() => {});
  }

  /** What of the record is not where its journal says (empty: all in place). */
  #notInPlace(r: ClaimRecord): string[] {
    return notInPlace(r, { libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() });
  }
}

/** `claimUid/device` → its parts (a claim UID has no slash). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Why a device is not settled, for the unprepare error and logs. */
function notBackReason(r: DetachResult): string {
  if (r.found === 'pending' || r.rdmaFound === 'pending') return 'is not back on the host yet (the kernel returns a physical device from a dead pod namespace asynchronously)';
  if (r.found === 'pod') return `is still in the pod's network namespace (${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ') || 'moving it back failed'})`;
  return `could not be found (${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ')})`;
}
