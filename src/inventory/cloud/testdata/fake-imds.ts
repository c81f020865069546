/**
 * A fake instance metadata server on 127.0.0.1 — a stand-in for a cloud's
 * IMDS, which cannot exist where these tests run (testdata/README.md). It
 * answers with whatever the test's handler returns, records every request,
 * and can hold a request unanswered (a slow or black-holed metadata server).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface FakeAnswer {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Never answer (the client's timeout must fire). */
  readonly hang?: boolean;
}

/** `undefined` → 404, as a real metadata server answers an unknown key. */
export type FakeHandler = (req: RecordedRequest) => FakeAnswer | undefined;

export class FakeImds {
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  #handler: FakeHandler;

  private constructor(server: Server, handler: FakeHandler) {
    this.#server = server;
    this.#handler = handler;
  }

  static async start(handler: FakeHandler): Promise<FakeImds> {
    const holder: { self?: FakeImds } = {};
    const server = createServer((req: IncomingMessage, res: ServerResponse) => holder.self!.#serve(req, res));
    const self = holder.self = new FakeImds(server, handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  /** The base URL to give a source as its `endpoint`. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Requests whose path starts with `prefix`. */
  count(prefix: string, method = 'GET'): number {
    return this.requests.filter((r) => r.method === method && r.url.startsWith(prefix)).length;
  }

  set handler(h: FakeHandler) {
    this.#handler = h;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const recorded = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    this.requests.push(recorded);
    const a = this.#handler(recorded) ?? { status: 404, body: 'Not Found' };
    if (a.hang) return;
    res.writeHead(a.status ?? 200, { 'content-type': 'text/plain', ...a.headers });
    res.end(a.body ?? '');
  }
}

/** Serves `routes` by exact path (query included); anything else is a 404. */
export function routes(table: Readonly<Record<string, FakeAnswer | string>>, headers: Readonly<Record<string, string>> = {}): FakeHandler {
  return (req) => {
    const hit = table[req.url];
    if (hit === undefined) return undefined;
    return typeof hit === 'string' ? { body: hit, headers } : { ...hit, headers: { ...headers, ...hit.headers } };
  };
}
