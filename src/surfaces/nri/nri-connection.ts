/**
 * One connection to the runtime's NRI socket, from connect to close
 * (protocols.md §4.5):
 *
 *   1. mux the socket; serve the Plugin service on conn 1, ttrpc client on conn 2
 *   2. Runtime.RegisterPlugin{name, idx, NRI_version}
 *   3. the runtime calls Configure (possibly before the register reply arrives)
 *   4. the runtime calls Synchronize, then the subscribed events
 *
 * `handshake()` resolves at step 3 and `synchronized` at step 4; `closed`
 * resolves when the socket goes, whatever the reason. NriPlugin makes a new
 * NriConnection for every (re)connect.
 */
import type { Duplex } from 'node:stream';
import { DriverError } from '../../common/errors.ts';
import type { PodPort } from '../../driver/pod-port.ts';
import { Mux, MUX_CONN } from './mux.ts';
import { pluginServiceHandlers, type NriHook, type NriLogger, type NriOutcome, type NriRuntimeInfo } from './plugin-service.ts';
import { encodeMessage, NRI_SERVICE, NRI_TYPES } from './protos.ts';
import { TtrpcClient, TtrpcServer } from './ttrpc.ts';

/** The NRI API version this plugin implements (proto/nri/api.proto), sent in RegisterPlugin. */
export const PLUGIN_NRI_VERSION = 'v0.12.3';

export interface NriConnectionOptions {
  readonly pluginName: string;
  readonly pluginIdx: string;
  readonly events: number;
  /** The container gate at StartContainer where the runtime fails closed there (plugin-service.ts). */
  readonly startGate: boolean;
  readonly port: PodPort;
  readonly log: NriLogger;
  /** How long RegisterPlugin, and then Configure, may take (the runtime's default is 5 s). */
  readonly registrationTimeoutMs: number;
  readonly observe: (hook: NriHook, ms: number, outcome: NriOutcome) => void;
  /** The runtime sent Shutdown (it is going down; a reconnect will follow). */
  readonly onShutdown?: () => void;
}

export class NriConnection {
  readonly #mux: Mux;
  readonly #server: TtrpcServer;
  readonly #client: TtrpcClient;
  readonly #opts: NriConnectionOptions;
  readonly #configured = Promise.withResolvers<NriRuntimeInfo>();
  readonly #synchronized = Promise.withResolvers<void>();
  #runtime: NriRuntimeInfo | undefined;

  constructor(socket: Duplex, opts: NriConnectionOptions) {
    this.#opts = opts;
    this.#mux = new Mux(socket);
    const fatal = (err: Error): void => this.#mux.close(err);
    const handlers = pluginServiceHandlers({
      port: opts.port,
      events: opts.events,
      startGate: opts.startGate,
      log: opts.log,
      observe: opts.observe,
      onConfigure: (info) => {
        this.#runtime = info;
        this.#configured.resolve(info);
      },
      onSynchronized: () => this.#synchronized.resolve(),
      onShutdown: () => opts.onShutdown?.(),
    });
    // conn 1: the runtime calls us; conn 2: we call the runtime.
    const pluginConn = this.#mux.open(MUX_CONN.plugin, { data: (c) => this.#server.push(c), close: (e) => this.#server.close(e) });
    const runtimeConn = this.#mux.open(MUX_CONN.runtime, { data: (c) => this.#client.push(c), close: (e) => this.#client.close(e) });
    this.#server = new TtrpcServer(new Map([[NRI_SERVICE.plugin, handlers]]), { write: (b) => pluginConn.write(b), onFatal: fatal });
    this.#client = new TtrpcClient({ write: (b) => runtimeConn.write(b), onFatal: fatal });
    const closedEarly = (): void => {
      const err = new DriverError('NRI_CONNECTION_CLOSED', 'the NRI connection closed before the runtime synchronized the plugin');
      this.#configured.reject(err);
      this.#synchronized.reject(err);
    };
    void this.#mux.closed.then(closedEarly);
    this.#configured.promise.catch(() => undefined);
    this.#synchronized.promise.catch(() => undefined);
  }

  /** Resolves with the error that closed the connection (undefined: closed cleanly). */
  get closed(): Promise<Error | undefined> {
    return this.#mux.closed;
  }

  get runtime(): NriRuntimeInfo | undefined {
    return this.#runtime;
  }

  /** Resolves when the runtime's (final) Synchronize has been answered. */
  get synchronized(): Promise<void> {
    return this.#synchronized.promise;
  }

  /**
   * Registers and waits for Configure. Rejects (the caller closes the
   * connection) when the runtime refuses, does not answer, or never configures.
   */
  async handshake(): Promise<NriRuntimeInfo> {
    const { pluginName, pluginIdx, registrationTimeoutMs } = this.#opts;
    const req = encodeMessage(NRI_TYPES.RegisterPluginRequest, { plugin_name: pluginName, plugin_idx: pluginIdx, NRI_version: PLUGIN_NRI_VERSION });
    await this.#client.call(NRI_SERVICE.runtime, 'RegisterPlugin', req, registrationTimeoutMs);
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new DriverError('NRI_CALL_TIMEOUT', `the runtime did not call Configure within ${registrationTimeoutMs} ms of the registration`, { context: { method: 'Configure', timeoutMs: registrationTimeoutMs } })), registrationTimeoutMs);
      t.unref();
      void this.#configured.promise.finally(() => clearTimeout(t)).catch(() => undefined);
    });
    return Promise.race([this.#configured.promise, timeout]);
  }

  /** Resolves when no hook is running (bounded by `timeoutMs`). */
  async idle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    await Promise.race([this.#server.idle(), bound]);
    clearTimeout(timer);
  }

  /** Closes the socket: the runtime sees the plugin go. Idempotent. */
  close(err?: Error): void {
    this.#mux.close(err);
  }
}
