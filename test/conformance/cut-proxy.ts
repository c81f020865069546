/**
 * A TCP proxy in front of the real API server that can lose responses.
 *
 * This is a fault injector, not a stand-in: the fleet bench's flap showed
 * writes the API server executed whose connection then closed before the
 * response reached the client (undici: `UND_ERR_SOCKET other side closed`,
 * docs/fleet.md), and a real kube-apiserver cannot be made to do that on
 * demand. TLS passes through untouched (the proxy sees bytes, not requests):
 * `hold()` keeps every server→client byte back from then on, the test waits
 * until the server has executed the write (read directly, not through the
 * proxy), and `cut()` then ends every proxied connection without forwarding
 * what was held — the client sees the server close the connection.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class CutProxy {
  readonly #server: Server;
  readonly #conns = new Set<{ client: Socket; upstream: Socket }>();
  #holding = false;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on 127.0.0.1 and forwards to `target` (an https URL's host and port). */
  static async start(target: string): Promise<CutProxy> {
    const u = new URL(target);
    // TCP_NODELAY on both legs, as the API server's and Go clients' sockets have: with Nagle on,
    // piped writes wait for delayed ACKs (40 ms), a delay no real connection has (test/e2e/node/api-bridge.ts).
    const server = createServer({ noDelay: true });
    const proxy = new CutProxy(server);
    server.on('connection', (client: Socket) => proxy.#accept(client, u.hostname, Number(u.port)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The proxied server URL (the API server's certificate names 127.0.0.1, so TLS verifies as before). */
  get url(): string {
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new Error('proxy not listening');
    return `https://127.0.0.1:${a.port}`;
  }

  /** From now on, nothing the server sends reaches the client (kept back, and dropped at cut()). */
  hold(): void {
    this.#holding = true;
  }

  /** Ends every open client connection as the server closing it would (FIN), drops what was held, passes traffic again. */
  cut(): number {
    const n = this.#conns.size;
    for (const c of this.#conns) {
      c.client.end();
      c.upstream.destroy();
    }
    this.#conns.clear();
    this.#holding = false;
    return n;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    this.accepted++;
    const upstream = createConnection({ host, port, noDelay: true });
    const c = { client, upstream };
    this.#conns.add(c);
    const drop = (): void => {
      this.#conns.delete(c);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (b) => upstream.write(b));
    upstream.on('data', (b) => { if (!this.#holding) client.write(b); });
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  }
}
