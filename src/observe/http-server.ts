/**
 * The driver's HTTP endpoint for the kubelet's probes and Prometheus, on
 * node:http with no framework:
 *
 *   GET /healthz   200 when every liveness check passes, else 500
 *   GET /readyz    200 when every liveness AND readiness check passes, else 500
 *                  (like kube-apiserver: what is not alive is not ready either)
 *   GET /metrics   Prometheus text format
 *   anything else  404 (405 for a method other than GET/HEAD)
 *
 * Default bind address `:9177` (all interfaces, port 9177): DraNet's port, so
 * probes and scrape configs written for it keep working; the pod runs with
 * hostNetwork, so the kubelet reaches it on the node's address.
 *
 * Secure scraping (docs/observability.md): with `tls` the server speaks HTTPS
 * only, its certificate read from files and read again when they change
 * (tls-files.ts); with `authorizeScrape` /metrics answers only a request whose
 * bearer token the function accepts (401 without a token or with one that is
 * not valid, 403 for one not allowed, 503 when it cannot tell). The probes
 * stay open: the kubelet's carry no token.
 *
 * A check is a function that passes unless it throws, rejects, returns false
 * or takes longer than `checkTimeoutMs` (default 800 ms: under the kubelet's
 * default probe timeout of 1 s, so a hung check gives a clear 500 instead of
 * a probe timeout). It gets an AbortSignal that fires at that deadline.
 * Concurrent probes share one run of a check (single flight), so a slow check
 * is not started again for every request.
 *
 * The probe body is JSON: { status: 'ok' | 'failed', failed: [names], checks: [{ name, ok, ms, error? }] }.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConfigError, errorText, StateError } from '../common/errors.ts';
import type { Logger } from './logger.ts';
import { TlsReloader, type TlsFilePaths } from './tls-files.ts';
import { nodeHttp } from '../common/node-http.ts';

const { createServer } = nodeHttp;

export const DEFAULT_BIND_ADDRESS = ':9177';
export const DEFAULT_CHECK_TIMEOUT_MS = 800;

export type HealthCheck = (signal: AbortSignal) => unknown;
export type CheckKind = 'liveness' | 'readiness';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

/** The decision on one scrape of /metrics, from its bearer token (undefined: none sent). */
export type ScrapeDecision = { readonly allowed: true } | { readonly allowed: false; readonly status: 401 | 403 | 503; readonly reason: string };
export type ScrapeAuthorizer = (token: string | undefined) => Promise<ScrapeDecision>;

/** What /metrics serves; a prom-client Registry is one. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface ObserveServerOptions {
  /** `host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free one. Default `:9177`. */
  readonly bindAddress?: string;
  readonly metrics?: MetricsSource;
  readonly liveness?: Readonly<Record<string, HealthCheck>>;
  readonly readiness?: Readonly<Record<string, HealthCheck>>;
  readonly checkTimeoutMs?: number;
  /**
   * SO_REUSEPORT: two daemon instances (a rolling update's old and new pod,
   * both on the host network) can listen on the same port at once; the
   * kernel spreads connections between them.
   */
  readonly reusePort?: boolean;
  /** Check state changes (failing / passing again) are logged here. */
  readonly log?: Logger;
  /** HTTPS with this certificate and key (read again when the files change); none: plain HTTP. */
  readonly tls?: TlsFilePaths;
  /** Who may read /metrics; none: anyone who reaches the port. */
  readonly authorizeScrape?: ScrapeAuthorizer;
}

export class ObserveServer {
  readonly #bind: { readonly host: string | undefined; readonly port: number };
  readonly #o: ObserveServerOptions;
  readonly #checks: Record<CheckKind, Map<string, HealthCheck>> = { liveness: new Map(), readiness: new Map() };
  readonly #inflight = new Map<HealthCheck, Promise<Omit<CheckResult, 'name'>>>();
  readonly #lastOk = new Map<string, boolean>();
  readonly #server: Server;
  readonly #tls: TlsReloader | undefined;
  #state: 'new' | 'listening' | 'closed' = 'new';
  #closing: Promise<void> | undefined;

  constructor(o: ObserveServerOptions = {}) {
    this.#o = o;
    this.#bind = parseBindAddress(o.bindAddress ?? DEFAULT_BIND_ADDRESS);
    for (const [name, fn] of Object.entries(o.liveness ?? {})) this.addCheck('liveness', name, fn);
    for (const [name, fn] of Object.entries(o.readiness ?? {})) this.addCheck('readiness', name, fn);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${errorText(err)}\n`);
      });
    };
    // The first read of the TLS files throws: no serving without a pair that loads.
    this.#tls = o.tls && new TlsReloader(o.tls, (pair) => (this.#server as ReturnType<typeof createTlsServer>).setSecureContext(pair), o.log ? { log: o.log } : {});
    this.#server = this.#tls ? createTlsServer({ ...this.#tls.current, minVersion: 'TLSv1.2' }, handler) : createServer(handler);
  }

  /** Looks at the TLS files now, instead of at the next poll; true when a new pair was applied. */
  checkTls(): boolean {
    return this.#tls?.check() ?? false;
  }

  /** Adds (or replaces) a check; may be called while serving. */
  addCheck(kind: CheckKind, name: string, fn: HealthCheck): void {
    this.#checks[kind].set(name, fn);
  }

  async listen(): Promise<void> {
    if (this.#state !== 'new') throw new StateError(`ObserveServer: listen() in state ${this.#state}`);
    const where = this.#o.bindAddress ?? DEFAULT_BIND_ADDRESS;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new ConfigError(`observe server: cannot listen on ${where}: ${err.message}`, { cause: err, context: { bindAddress: where } }));
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#bind.host, port: this.#bind.port, reusePort: this.#o.reusePort === true }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#state = 'listening';
  }

  /** The bound address and port (the real port when 0 was asked for). */
  address(): { readonly host: string; readonly port: number } {
    const a = this.#server.address() as AddressInfo | null;
    if (this.#state !== 'listening' || !a) throw new StateError(`ObserveServer: address() in state ${this.#state}`);
    return { host: a.address, port: a.port };
  }

  /** Stops listening and drops open connections (probes are short). Idempotent. */
  close(): Promise<void> {
    this.#state = 'closed';
    this.#tls?.close();
    this.#closing ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  /** Runs the checks of a probe (liveness, or liveness + readiness) now. */
  async probe(kind: CheckKind): Promise<CheckResult[]> {
    const checks = kind === 'liveness' ? [...this.#checks.liveness] : [...this.#checks.liveness, ...this.#checks.readiness];
    const results = await Promise.all(checks.map(async ([name, fn]) => ({ name, ...(await this.#run(fn)) })));
    for (const r of results) this.#noteTransition(kind, r);
    return results;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const results = await this.probe(path === '/healthz' ? 'liveness' : 'readiness');
      const failed = results.filter((r) => !r.ok).map((r) => r.name);
      const body = JSON.stringify({ status: failed.length ? 'failed' : 'ok', failed, checks: results }) + '\n';
      res.writeHead(failed.length ? 500 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else if (path === '/metrics' && this.#o.metrics) {
      if (this.#o.authorizeScrape) {
        const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
        const d = await this.#o.authorizeScrape(auth?.[1]);
        if (!d.allowed) {
          res.writeHead(d.status, { 'content-type': 'text/plain', ...(d.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(`${d.reason}\n`);
          return;
        }
      }
      const text = await this.#o.metrics.metrics();
      res.writeHead(200, { 'content-type': this.#o.metrics.contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  /** One run of a check at a time; callers arriving meanwhile share its result. */
  #run(fn: HealthCheck): Promise<Omit<CheckResult, 'name'>> {
    let p = this.#inflight.get(fn);
    if (!p) {
      p = runCheck(fn, this.#o.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS).finally(() => this.#inflight.delete(fn));
      this.#inflight.set(fn, p);
    }
    return p;
  }

  #noteTransition(kind: CheckKind, r: CheckResult): void {
    const key = `${kind}/${r.name}`;
    const was = this.#lastOk.get(key);
    this.#lastOk.set(key, r.ok);
    if (was === r.ok || (was === undefined && r.ok)) return;
    if (r.ok) this.#o.log?.info({ check: r.name, kind }, `${kind} check ${r.name} passes again`);
    else this.#o.log?.warn({ check: r.name, kind, error: r.error, ms: r.ms }, `${kind} check ${r.name} fails: ${r.error}`);
  }
}

async function runCheck(fn: HealthCheck, timeoutMs: number): Promise<Omit<CheckResult, 'name'>> {
  const ac = new AbortController();
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<{ ok: false; error: string }>((resolve) => {
    timer = setTimeout(() => {
      const error = `timed out after ${timeoutMs} ms`;
      ac.abort(new Error(error));
      resolve({ ok: false, error });
    }, timeoutMs);
  });
  const call = (async () => ((await fn(ac.signal)) === false ? { ok: false, error: 'check returned false' } : { ok: true }))()
    .catch((err: unknown) => ({ ok: false, error: errorText(err) }));
  try {
    const r = await Promise.race([call, timedOut]);
    return { ...r, ms: Math.round((performance.now() - t0) * 1000) / 1000 };
  } finally {
    clearTimeout(timer);
  }
}


/** `host:port`, `:port` or `[v6]:port` → host (undefined: all interfaces) and port. */
export function parseBindAddress(s: string): { readonly host: string | undefined; readonly port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`bind address "${s}": expected host:port, :port or [ipv6]:port`, { context: { bindAddress: s } });
  const host = m[1] ?? (m[2] || undefined);
  return { host, port };
}
