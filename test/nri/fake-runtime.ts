/**
 * A scripted NRI runtime for the plugin's lifecycle unit tests, built from the
 * surface's own mux and ttrpc in the runtime's roles: it listens on a unix
 * socket, serves Runtime.RegisterPlugin on conn 2 and calls the plugin on
 * conn 1. The real runtimes are in test/conformance (nri-plugin.conformance.test.ts).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Mux, MUX_CONN } from '../../src/surfaces/nri/mux.ts';
import { decodeMessage, encodeMessage, NRI_SERVICE, NRI_TYPES } from '../../src/surfaces/nri/protos.ts';
import { TtrpcClient, TtrpcServer } from '../../src/surfaces/nri/ttrpc.ts';

export interface FakeRuntimeOptions {
  /** Called for RegisterPlugin; throw to refuse (default: accept). */
  readonly onRegister?: (req: { plugin_name: string; plugin_idx: string; NRI_version: string }) => void;
  /** Configure and Synchronize right after a registration (default true). */
  readonly configure?: boolean;
  readonly requestTimeoutMs?: number;
}

export interface FakeSession {
  readonly socket: Socket;
  readonly mux: Mux;
  readonly plugin: TtrpcClient;
  readonly registered: Promise<{ plugin_name: string; plugin_idx: string; NRI_version: string }>;
  /** The ConfigureResponse event mask, once configured. */
  readonly events: Promise<number>;
  /** Calls a Plugin method. */
  call(method: string, type: keyof typeof NRI_TYPES, value: object, timeoutMs?: number): Promise<Buffer>;
}

export class FakeRuntime {
  readonly sessions: FakeSession[] = [];
  readonly #server: Server;
  readonly #opts: FakeRuntimeOptions;
  readonly #waiters = new Set<() => void>();

  private constructor(server: Server, opts: FakeRuntimeOptions) {
    this.#server = server;
    this.#opts = opts;
    server.on('connection', (s) => this.#accept(s));
  }

  static async listen(path: string, opts: FakeRuntimeOptions = {}): Promise<FakeRuntime> {
    const server = createServer();
    const rt = new FakeRuntime(server, opts);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
    return rt;
  }

  /** Resolves with the n-th session (1-based) once the plugin connected that often. */
  async session(n = 1, timeoutMs = 5_000): Promise<FakeSession> {
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.length < n) {
      if (Date.now() > deadline) throw new Error(`no session #${n} within ${timeoutMs} ms (have ${this.sessions.length})`);
      await new Promise<void>((r) => { this.#waiters.add(r); setTimeout(r, 20); });
    }
    return this.sessions[n - 1]!;
  }

  /** Closes the listener and every plugin connection (like a runtime exiting). */
  async close(): Promise<void> {
    for (const s of this.sessions) s.mux.close();
    await new Promise((r) => this.#server.close(r));
  }

  #accept(socket: Socket): void {
    const mux = new Mux(socket);
    const registered = Promise.withResolvers<{ plugin_name: string; plugin_idx: string; NRI_version: string }>();
    registered.promise.catch(() => undefined);
    const events = Promise.withResolvers<number>();
    events.promise.catch(() => undefined);
    const plugin = new TtrpcClient({ write: (b) => pluginConn.write(b) });
    const runtime = new TtrpcServer(new Map([[NRI_SERVICE.runtime, new Map([['RegisterPlugin', (payload: Buffer) => {
      const req = decodeMessage<{ plugin_name: string; plugin_idx: string; NRI_version: string }>(NRI_TYPES.RegisterPluginRequest, payload);
      this.#opts.onRegister?.(req);
      registered.resolve(req);
      return new Uint8Array(0);
    }]])]]), { write: (b) => runtimeConn.write(b) });
    const pluginConn = mux.open(MUX_CONN.plugin, { data: (c) => plugin.push(c), close: (e) => plugin.close(e) });
    const runtimeConn = mux.open(MUX_CONN.runtime, { data: (c) => runtime.push(c), close: (e) => runtime.close(e) });
    const session: FakeSession = {
      socket, mux, plugin, registered: registered.promise, events: events.promise,
      call: (method, type, value, timeoutMs = 2_000) => plugin.call(NRI_SERVICE.plugin, method, encodeMessage(NRI_TYPES[type], value), timeoutMs),
    };
    this.sessions.push(session);
    for (const w of this.#waiters) w();
    this.#waiters.clear();
    if (this.#opts.configure === false) return;
    void registered.promise.then(async () => {
      const answer = await session.call('Configure', 'ConfigureRequest', {
        runtime_name: 'fake', runtime_version: 'v0.0.1', registration_timeout: 5000, request_timeout: this.#opts.requestTimeoutMs ?? 2000,
      });
      events.resolve(decodeMessage<{ events: number }>(NRI_TYPES.ConfigureResponse, answer).events);
      await session.call('Synchronize', 'SynchronizeRequest', { pods: [], containers: [] });
    }).catch(() => undefined);
  }
}
