/**
 * netclaim's NRI plugin: keeps a registered, synchronized connection to the
 * container runtime's NRI socket and turns the runtime's pod events into
 * PodPort calls.
 *
 *   const nri = new NriPlugin({ port: podDriver, log });
 *   nri.start();                 // returns at once; connects in the background
 *   await nri.ready();           // registered, configured and synchronized
 *   nri.requestTimeoutMs;        // the runtime's per-hook budget (Configure)
 *   await nri.close();           // in-flight hooks answer, then the socket goes
 *
 * States: idle → connecting → registering → synchronizing → ready, and on any
 * connection loss (runtime restart, protocol error, a hook overrunning the
 * runtime's timeout) → backoff → connecting again, forever, until close().
 * A missing socket is retried the same way and logged once per distinct
 * failure, not per attempt.
 *
 * Event mask 0x000F (events.ts): RunPodSandbox, StopPodSandbox,
 * RemovePodSandbox, CreateContainer — understood by every runtime from nri
 * v0.3 on; nri ≥ v0.12 calls the dedicated pod RPCs, older runtimes send the
 * pod events as StateChange, and both land in the same handlers.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { ConfigError, DriverError } from '../../common/errors.ts';
import type { PodPort } from '../../driver/pod-port.ts';
import { NETCLAIM_EVENTS } from './events.ts';
import { NriConnection } from './nri-connection.ts';
import type { NriHook, NriLogger, NriOutcome, NriRuntimeInfo } from './plugin-service.ts';

export type { NriHook, NriLogger, NriOutcome, NriRuntimeInfo } from './plugin-service.ts';

export const DEFAULT_NRI_SOCKET = '/var/run/nri/nri.sock';

export interface NriPluginOptions {
  readonly port: PodPort;
  /** Default /var/run/nri/nri.sock. */
  readonly socketPath?: string;
  /** Characters [A-Za-z0-9._+-] (nri api.CheckPluginName); default `netclaim.dev`. */
  readonly pluginName?: string;
  /** Two digits, '00'–'99': the runtime calls plugins in index order; default '00'. */
  readonly pluginIdx?: string;
  readonly log?: NriLogger;
  /**
   * `start`: put the container gate at StartContainer where the runtime fails
   * a start the plugin fails (runtime-gate.ts; docs/pods.md, "The gate at
   * StartContainer"). Default `create`: the gate at CreateContainer everywhere.
   */
  readonly containerGate?: 'create' | 'start';
  /** Called after every hook: what ran, how long (ms), how it ended. */
  readonly onEvent?: (hook: NriHook, ms: number, outcome: NriOutcome) => void;
  /** First reconnect delay (default 250 ms); doubles per failed attempt up to reconnectMaxMs (default 5 s). */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** Limit for RegisterPlugin and for the Configure that follows (default 5 s, containerd's registration timeout). */
  readonly registrationTimeoutMs?: number;
}

export type NriPluginState = 'idle' | 'connecting' | 'registering' | 'synchronizing' | 'ready' | 'backoff' | 'closing' | 'closed';

const TRANSITIONS: Readonly<Record<NriPluginState, readonly NriPluginState[]>> = {
  idle: ['connecting', 'closing'],
  connecting: ['registering', 'backoff', 'closing'],
  registering: ['synchronizing', 'backoff', 'closing'],
  synchronizing: ['ready', 'backoff', 'closing'],
  ready: ['backoff', 'closing'],
  backoff: ['connecting', 'closing'],
  closing: ['closed'],
  closed: [],
};

const NAME_RE = /^[A-Za-z0-9._+-]+$/;
const IDX_RE = /^[0-9]{2}$/;
const NO_LOG: NriLogger = { info: () => {}, warn: () => {}, error: () => {} };
/** How long close() lets in-flight hooks finish when the runtime sent no request timeout. */
const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;

export class NriPlugin extends EventEmitter<{ state: [to: NriPluginState, from: NriPluginState] }> {
  /** `<idx>-<name>`, as the runtime lists the plugin. */
  readonly fullName: string;
  readonly socketPath: string;
  readonly #opts: NriPluginOptions;
  readonly #log: NriLogger;
  readonly #stop = new AbortController();
  #state: NriPluginState = 'idle';
  #conn: NriConnection | undefined;
  #runtime: NriRuntimeInfo | undefined;
  #attempt = 0;
  #lastFailure: string | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: NriPluginOptions) {
    super();
    const name = opts.pluginName ?? 'netclaim.dev';
    const idx = opts.pluginIdx ?? '00';
    if (!NAME_RE.test(name)) throw new ConfigError(`NRI plugin name "${name}": only [A-Za-z0-9._+-] allowed`, { context: { field: 'pluginName', value: name } });
    if (!IDX_RE.test(idx)) throw new ConfigError(`NRI plugin index "${idx}": must be two digits`, { context: { field: 'pluginIdx', value: idx } });
    this.#opts = { ...opts, pluginName: name, pluginIdx: idx };
    this.#log = opts.log ?? NO_LOG;
    this.fullName = `${idx}-${name}`;
    this.socketPath = opts.socketPath ?? DEFAULT_NRI_SOCKET;
  }

  get state(): NriPluginState {
    return this.#state;
  }

  /** What the runtime said in its last Configure (kept across reconnects). */
  get runtime(): NriRuntimeInfo | undefined {
    return this.#runtime;
  }

  /** The runtime's per-hook budget from Configure; a hook that overruns it loses the connection. */
  get requestTimeoutMs(): number | undefined {
    return this.#runtime?.requestTimeoutMs;
  }

  /** Starts the connect loop in the background. Idempotent. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#loop = this.#run();
  }

  /** Resolves when the plugin is (or next becomes) ready; rejects once it is closing. */
  ready(): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      const onState = (to: NriPluginState): void => {
        if (to === 'ready') resolve();
        else if (to === 'closing') reject(this.#closedError());
        else return;
        this.off('state', onState);
      };
      this.on('state', onState);
    });
  }

  /**
   * Stops for good: no more reconnects; running hooks get up to the runtime's
   * request timeout to answer, then the socket closes (the runtime sees the
   * plugin go). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown(true);
    return this.#closing;
  }

  /** Like close(), without waiting for running hooks. */
  destroy(): Promise<void> {
    this.#closing ??= this.#shutdown(false);
    return this.#closing;
  }

  async #shutdown(graceful: boolean): Promise<void> {
    if (this.#state !== 'closing') this.#transition('closing');
    this.#stop.abort();
    const conn = this.#conn;
    if (conn && graceful) await conn.idle(this.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    conn?.close();
    await this.#loop;
    this.#transition('closed');
    this.#log.info({ plugin: this.fullName }, 'NRI plugin closed');
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      this.#transition('connecting');
      const socket = await this.#connect();
      if (socket && !this.#stop.signal.aborted) await this.#session(socket);
      else socket?.destroy();
      if (this.#stop.signal.aborted) return;
      this.#transition('backoff');
      await this.#sleep(this.#backoffMs());
    }
  }

  /** One connection: handshake, then wait until it goes. */
  async #session(socket: Socket): Promise<void> {
    this.#transition('registering');
    const conn = new NriConnection(socket, {
      pluginName: this.#opts.pluginName!, pluginIdx: this.#opts.pluginIdx!, events: NETCLAIM_EVENTS, port: this.#opts.port, log: this.#log,
      startGate: this.#opts.containerGate === 'start',
      registrationTimeoutMs: this.#opts.registrationTimeoutMs ?? 5_000,
      observe: (hook, ms, outcome) => this.#opts.onEvent?.(hook, ms, outcome),
      onShutdown: () => this.#log.info({ plugin: this.fullName }, 'NRI runtime is shutting down'),
    });
    this.#conn = conn;
    try {
      this.#runtime = await conn.handshake();
      this.#log.info({ plugin: this.fullName, runtime: this.#runtime }, 'NRI plugin registered');
      if (this.#state === 'registering') this.#transition('synchronizing');
      await conn.synchronized;
      if (this.#state === 'synchronizing') this.#transition('ready');
      this.#attempt = 0;
      this.#lastFailure = undefined;
    } catch (err) {
      if (!this.#stop.signal.aborted) this.#noteFailure(err, 'NRI registration failed; reconnecting');
      conn.close(err instanceof Error ? err : undefined);
    }
    const err = await conn.closed;
    this.#conn = undefined;
    // The driver stops serving pods (and Prepare) until the next Synchronize.
    this.#opts.port.runtimeDisconnected?.(err?.message ?? (this.#stop.signal.aborted ? 'the plugin was closed' : 'the runtime closed the connection'));
    if (!this.#stop.signal.aborted && this.#state === 'ready') this.#log.warn({ plugin: this.fullName, err }, 'NRI connection lost; reconnecting');
  }

  /** A connected socket, or undefined after logging the failure (once per distinct failure). */
  #connect(): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const socket = createConnection({ path: this.socketPath });
      const onStop = (): void => { socket.destroy(); resolve(undefined); };
      this.#stop.signal.addEventListener('abort', onStop, { once: true });
      const onError = (err: NodeJS.ErrnoException): void => {
        this.#stop.signal.removeEventListener('abort', onStop);
        this.#noteFailure(err, `NRI socket ${this.socketPath} not reachable; retrying until it is`);
        resolve(undefined);
      };
      socket.once('connect', () => {
        this.#stop.signal.removeEventListener('abort', onStop);
        socket.off('error', onError);
        socket.on('error', () => { /* the Mux reports errors from here on */ });
        resolve(socket);
      });
      socket.once('error', onError);
    });
  }

  /** Logs a connect or registration failure once, until a different one happens or the plugin gets ready. */
  #noteFailure(err: unknown, msg: string): void {
    const e = err as NodeJS.ErrnoException;
    const key = `${e?.code ?? ''}:${e?.message ?? String(err)}`;
    if (key === this.#lastFailure) return;
    this.#lastFailure = key;
    this.#log.warn({ plugin: this.fullName, socket: this.socketPath, err }, msg);
  }

  #backoffMs(): number {
    const min = this.#opts.reconnectMinMs ?? 250;
    const max = this.#opts.reconnectMaxMs ?? 5_000;
    const ms = Math.min(max, min * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return ms;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => { clearTimeout(timer); this.#stop.signal.removeEventListener('abort', done); resolve(); };
      const timer = setTimeout(done, ms);
      this.#stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  #transition(to: NriPluginState): void {
    const from = this.#state;
    if (!TRANSITIONS[from].includes(to)) throw new DriverError('STATE_INVALID', `NRI plugin: illegal state change ${from} -> ${to}`);
    this.#state = to;
    this.#log.debug?.({ plugin: this.fullName }, `NRI plugin ${from} -> ${to}`);
    this.emit('state', to, from);
  }

  #closedError(): DriverError {
    return new DriverError('NRI_CONNECTION_CLOSED', `NRI plugin ${this.fullName} was closed`);
  }
}
