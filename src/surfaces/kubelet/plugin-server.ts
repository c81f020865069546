/**
 * The kubelet-facing side of the driver: the registration socket the plugin
 * watcher finds, and the DRA socket serving DRAPlugin v1 + v1beta1 (same
 * handlers) and DRAResourceHealth v1 and v1alpha1, all backed by a DriverPort.
 *
 *   const server = new KubeletPluginServer({ driverName: 'netclaim.dev', driver });
 *   await server.start();        // DRA socket first, then registration socket
 *   await server.registered;     // the kubelet said plugin_registered: true
 *   await server.close();        // graceful; destroy() to cut calls short
 *
 * Layout follows the Go kubeletplugin helper (protocols.md §2.5), including
 * rolling-update mode (`instance`: per-instance socket names). One instance
 * lock per set of socket names makes a second copy fail fast instead of
 * deleting the live sockets of the first as "stale".
 */
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DriverError } from '../../common/errors.ts';
import { libc as defaultLibc, type Libc } from '../../kernel/libc/index.ts';
import { CallSerializer } from './call-serializer.ts';
import { draPluginHandlers } from './dra-service.ts';
import type { DriverPort } from '../../driver/driver-port.ts';
import { FileLock } from './file-lock.ts';
import { GrpcServer } from './grpc-server.ts';
import { HealthStreams } from './health-service.ts';
import { SERVICE, type KubeletServiceVersion } from './protos.ts';
import { registrationHandlers, type RegistrationStatus } from './registration-service.ts';
import {
  ensureDir, kubeletPaths, otherInstances, prepareSocketPath, removeOwnSocket, secureSocket, unlinkIfPresent, type KubeletPaths, type SocketIdentity,
} from './socket-files.ts';

export type { RegistrationStatus } from './registration-service.ts';
export type DraServiceVersion = Extract<KubeletServiceVersion, `${string}.DRAPlugin`>;

export interface KubeletPluginServerOptions {
  readonly driverName: string;
  readonly driver: DriverPort;
  /** The kubelet's plugin watcher directory (default /var/lib/kubelet/plugins_registry). */
  readonly registryDir?: string;
  /** The driver's own directory for dra.sock and lock files (default /var/lib/kubelet/plugins/<driver>). */
  readonly pluginDir?: string;
  /** Rolling-update mode: per-instance socket names with this suffix, normally the pod UID. */
  readonly instance?: string;
  /** DRAPlugin services to serve and advertise, in preference order (default v1, then v1beta1). */
  readonly draServices?: readonly DraServiceVersion[];
  /** How often the health stream re-sends the full list without a change (default 10 s). */
  readonly healthResendMs?: number;
  /** Run prepare/unprepare one at a time, across instances too (default true, as the Go helper). */
  readonly serialize?: boolean;
  readonly libc?: Libc;
}

type State = 'idle' | 'starting' | 'serving' | 'closing' | 'closed';

const closedError = (): DriverError => new DriverError('KUBELET_SERVER_CLOSED', 'the kubelet plugin server was closed');

export class KubeletPluginServer extends EventEmitter<{ 'registration-status': [RegistrationStatus] }> {
  readonly driverName: string;
  readonly paths: KubeletPaths;
  readonly supportedVersions: readonly KubeletServiceVersion[];
  /** Resolves at the first `plugin_registered: true`; rejects if the server closes or fails first. */
  readonly registered: Promise<void>;

  readonly #opts: KubeletPluginServerOptions;
  readonly #registered = Promise.withResolvers<void>();
  #state: State = 'idle';
  #status: RegistrationStatus | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #instanceLock: FileLock | undefined;
  #serializeLock: FileLock | undefined;
  #health: HealthStreams | undefined;
  #servers: GrpcServer[] = [];
  #draSocket: SocketIdentity | undefined;
  #regSocket: SocketIdentity | undefined;

  constructor(opts: KubeletPluginServerOptions) {
    super();
    this.#opts = opts;
    this.driverName = opts.driverName;
    const registryDir = resolve(opts.registryDir ?? '/var/lib/kubelet/plugins_registry');
    const pluginDir = resolve(opts.pluginDir ?? `/var/lib/kubelet/plugins/${opts.driverName}`);
    this.paths = kubeletPaths(opts.driverName, registryDir, pluginDir, opts.instance);
    const dra = opts.draServices ?? ['v1.DRAPlugin', 'v1beta1.DRAPlugin'];
    // Both health versions: the kubelet 1.37 takes v1, older ones (1.34–1.36) only know v1alpha1.
    this.supportedVersions = opts.driver.health ? [...dra, 'v1.DRAResourceHealth', 'v1alpha1.DRAResourceHealth'] : [...dra];
    this.registered = this.#registered.promise;
    this.registered.catch(() => { /* observed through `registered` by whoever awaits it */ });
  }

  get state(): State {
    return this.#state;
  }

  /** The kubelet's last NotifyRegistrationStatus, if any came. */
  get registrationStatus(): RegistrationStatus | undefined {
    return this.#status;
  }

  /**
   * Listens on both sockets. Idempotent while starting or serving; once closing
   * or closed it rejects (a server is not restarted: make a new one). A failed
   * start leaves the server closed.
   */
  start(): Promise<void> {
    if (this.#state === 'idle') {
      this.#transition(['idle'], 'starting');
      this.#starting = this.#start().then(
        () => {
          if (this.#state !== 'starting') throw closedError(); // destroy() won the race after the last bind
          this.#transition(['starting'], 'serving');
        },
        (err: unknown) => { this.#teardown(err); throw err; },
      );
    }
    const starting = this.#starting ?? Promise.resolve();
    if (this.#state === 'closing' || this.#state === 'closed') return starting.then(() => { throw closedError(); });
    return starting;
  }

  /**
   * Takes the instance lock now, before start() (which then keeps it): a
   * daemon that must do other work before it registers (the NRI plugin's
   * Synchronize) learns at once that another live instance holds these
   * socket names (KUBELET_INSTANCE_LOCKED), before it touches anything.
   * Released by close() or destroy(). Idempotent.
   */
  lockInstance(): void {
    if (this.#instanceLock !== undefined) return;
    if (this.#state !== 'idle') throw closedError();
    const what = `driver ${this.driverName}${this.#opts.instance ? ` instance ${this.#opts.instance}` : ''}`;
    ensureDir(dirname(this.paths.draSocket));
    this.#instanceLock = FileLock.acquireExclusive(this.paths.instanceLock, this.#opts.libc ?? defaultLibc(), what);
  }

  /** Graceful: the registration socket goes first, in-flight calls finish, health streams end. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Immediate: cancels in-flight calls and streams, removes the sockets, releases the locks. Idempotent. */
  destroy(err?: Error): void {
    this.#teardown(err ?? closedError());
  }

  async #start(): Promise<void> {
    const { paths, driverName } = this;
    const libc = this.#opts.libc ?? defaultLibc();
    ensureDir(dirname(paths.draSocket));
    ensureDir(dirname(paths.registrationSocket));
    const what = `driver ${driverName}${this.#opts.instance ? ` instance ${this.#opts.instance}` : ''}`;
    this.#instanceLock ??= FileLock.acquireExclusive(paths.instanceLock, libc, what);
    // Under the instance lock any socket at our paths is a leftover of a dead instance.
    prepareSocketPath(paths.draSocket);
    prepareSocketPath(paths.registrationSocket);
    if (this.#opts.instance !== undefined) this.#sweepDeadInstances(libc);
    const serial = this.#opts.serialize ?? true;
    if (serial) this.#serializeLock = FileLock.open(paths.serializeLock, libc);

    // DRA socket first: once the registration socket appears the kubelet may call at once.
    const dra = new GrpcServer();
    const serializer = new CallSerializer(serial, this.#serializeLock);
    if (this.supportedVersions.includes('v1.DRAPlugin')) {
      dra.addService(SERVICE.draV1, draPluginHandlers(this.#opts.driver, serializer, 'v1'));
    }
    if (this.supportedVersions.includes('v1beta1.DRAPlugin')) {
      dra.addService(SERVICE.draV1beta1, draPluginHandlers(this.#opts.driver, serializer, 'v1beta1'));
    }
    const view = this.#opts.driver.health?.();
    if (view) {
      this.#health = new HealthStreams(view, this.#opts.healthResendMs ?? 10_000);
      dra.addService(SERVICE.healthV1, this.#health.handlers());
      dra.addService(SERVICE.healthV1alpha1, this.#health.handlers());
    }
    this.#draSocket = await this.#listen(dra, paths.draSocket);

    const reg = new GrpcServer();
    const identity = { driverName, endpoint: paths.draSocket, supportedVersions: this.supportedVersions };
    reg.addService(SERVICE.registration, registrationHandlers(identity, (s) => { this.#onStatus(s); }));
    this.#regSocket = await this.#listen(reg, paths.registrationSocket);
  }

  async #listen(server: GrpcServer, path: string): Promise<SocketIdentity> {
    this.#servers.push(server);
    try {
      await server.listen(path);
    } catch (err) {
      // A listen cut short by destroy() reports the close, not a listen failure.
      if (this.#state !== 'starting') throw closedError();
      const message = err instanceof Error ? err.message : String(err);
      throw new DriverError('KUBELET_LISTEN_FAILED', `cannot listen on ${path}: ${message}`, { cause: err, context: { path } });
    }
    // destroy() during the listen: do not leave a socket behind.
    if (this.#state !== 'starting') {
      server.forceShutdown();
      throw closedError();
    }
    return secureSocket(path);
  }

  async #close(): Promise<void> {
    if (this.#state === 'starting') await this.#starting?.catch(() => undefined);
    if (this.#state !== 'serving') {
      this.#teardown(closedError());
      return;
    }
    this.#transition(['serving'], 'closing');
    // Removing the registration socket makes the kubelet de-register this instance
    // before the DRA socket goes (it then prefers another connected instance).
    if (this.#regSocket) removeOwnSocket(this.#regSocket);
    this.#health?.endAll();
    await Promise.all(this.#servers.map((s) => s.tryShutdown()));
    this.#teardown(closedError());
  }

  /**
   * Final state whatever the path (closed, destroyed, failed start): servers
   * stopped, sockets removed, locks released (last: nobody may take over our
   * socket names before they are gone), `registered` settled.
   */
  #teardown(err: unknown): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#health?.endAll();
    for (const s of this.#servers.splice(0)) s.forceShutdown();
    for (const id of [this.#regSocket, this.#draSocket]) if (id) removeOwnSocket(id);
    this.#serializeLock?.close();
    // A pod UID is never reused, so a rolling-update instance's lock file would only pile up.
    // Removed while still held: our sockets are gone, and only this pod could want the name.
    if (this.#instanceLock && this.#opts.instance !== undefined) {
      unlinkIfPresent(this.paths.startedMarker);
      unlinkIfPresent(this.#instanceLock.path);
    }
    this.#instanceLock?.close();
    this.#registered.reject(err);
  }

  /**
   * Rolling-update instances that died without a teardown (SIGKILL, OOM, node crash) leave
   * their sockets in the kubelet's dirs and their lock file; the kubelet keeps dialing such a
   * registration socket. An instance whose lock we can take is dead: its files go.
   */
  #sweepDeadInstances(libc: Libc): void {
    const { driverName } = this;
    const { paths } = this;
    for (const other of otherInstances(driverName, dirname(paths.registrationSocket), dirname(paths.draSocket), this.#opts.instance!)) {
      const lock = FileLock.open(other.instanceLock, libc);
      try {
        if (!lock.tryLock()) continue;
        for (const sock of [other.registrationSocket, other.draSocket]) {
          try {
            prepareSocketPath(sock);
          } catch {
            /* not a socket: somebody else's file, left alone */
          }
        }
        unlinkIfPresent(other.startedMarker);
        unlinkIfPresent(other.instanceLock);
      } finally {
        lock.close();
      }
    }
  }

  /**
   * Rolling-update mode: says, with a file beside the instance lock, that this instance's start is
   * complete. The registration socket alone no longer says it: it comes before the runtime's
   * Synchronize, and the surge startup probe must not let the old pod go before that.
   */
  markStarted(): void {
    if (this.#opts.instance === undefined || this.#state === 'closed') return;
    writeFileSync(this.paths.startedMarker, '', { mode: 0o600 });
  }

  #onStatus(s: RegistrationStatus): void {
    this.#status = s;
    if (s.registered) this.#registered.resolve();
    this.emit('registration-status', s);
  }

  #transition(from: readonly State[], to: State): void {
    if (!from.includes(this.#state)) {
      throw new DriverError('STATE_INVALID', `kubelet plugin server: ${this.#state} -> ${to} is not allowed`);
    }
    this.#state = to;
  }
}
