/**
 * The HTTPS server of `netclaim webhook` (docs/webhook.md), on node:https
 * with no framework:
 *
 *   POST /validate   an AdmissionReview v1 in, the decision out (admission.ts)
 *   GET  /healthz    200 while serving (the Deployment's probes; HTTPS)
 *   GET  /readyz     the same
 *   GET  /metrics    Prometheus text: reviews by kind and decision, and how long they took
 *   anything else    404 (405 for a wrong method)
 *
 * Its certificate and key come from files, read again when they change
 * (observe/tls-files.ts: cert-manager rotates them). A body over
 * `maxBodyBytes` (default 3 MiB, the API server's own limit on a request
 * body) is refused with 413 before it is read in full; a body that is not an
 * AdmissionReview gets 400 with the reason; nothing a client sends can stop
 * the server.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram, Registry } from 'prom-client';
import { ConfigError, errorText, StateError } from '../../common/errors.ts';
import { parseBindAddress } from '../../observe/http-server.ts';
import type { Logger } from '../../observe/logger.ts';
import { TlsReloader, type TlsFilePaths } from '../../observe/tls-files.ts';
import { BadReview, reviewAdmission, type AdmissionOptions } from './admission.ts';

export const DEFAULT_WEBHOOK_ADDRESS = ':9443';
export const VALIDATE_PATH = '/validate';
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface WebhookServerOptions extends AdmissionOptions {
  readonly bindAddress?: string;
  readonly tls: TlsFilePaths;
  /** How often the TLS files are looked at (ms, default 10 s). */
  readonly tlsPollMs?: number;
  readonly maxBodyBytes?: number;
  readonly log?: Logger;
}

class TooLarge extends Error {}

export class WebhookServer {
  readonly #o: WebhookServerOptions;
  readonly #bind: { readonly host: string | undefined; readonly port: number };
  readonly #tls: TlsReloader;
  readonly #server: Server;
  readonly registry = new Registry();
  readonly #reviews: Counter<'kind' | 'allowed'>;
  readonly #seconds: Histogram<'kind'>;
  #state: 'new' | 'listening' | 'closed' = 'new';
  #closing: Promise<void> | undefined;

  constructor(o: WebhookServerOptions) {
    this.#o = o;
    this.#bind = parseBindAddress(o.bindAddress ?? DEFAULT_WEBHOOK_ADDRESS);
    // The first read throws: no serving without a pair that loads. Later pairs go to the server made below.
    this.#tls = new TlsReloader(o.tls, (pair) => this.#server.setSecureContext(pair), { ...(o.tlsPollMs === undefined ? {} : { intervalMs: o.tlsPollMs }), ...(o.log ? { log: o.log } : {}) });
    const server = createServer({ ...this.#tls.current, minVersion: 'TLSv1.2' }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        o.log?.error({ err }, 'webhook: request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${errorText(err)}\n`);
      });
    });
    // A client that sends headers slowly, or never finishes its body, is cut off.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.on('tlsClientError', (err) => o.log?.debug({ err }, 'webhook: TLS handshake failed'));
    this.#server = server;
    this.#reviews = new Counter({ name: 'netclaim_webhook_reviews_total', help: 'AdmissionReviews answered, by object kind and decision', labelNames: ['kind', 'allowed'], registers: [this.registry] });
    this.#seconds = new Histogram({ name: 'netclaim_webhook_review_duration_seconds', help: 'Time to decide one AdmissionReview (DeviceClass reads included)', labelNames: ['kind'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  }

  async listen(): Promise<void> {
    if (this.#state !== 'new') throw new StateError(`WebhookServer: listen() in state ${this.#state}`);
    const where = this.#o.bindAddress ?? DEFAULT_WEBHOOK_ADDRESS;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new ConfigError(`webhook: cannot listen on ${where}: ${err.message}`, { cause: err, context: { bindAddress: where } }));
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#bind.host, port: this.#bind.port }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#state = 'listening';
  }

  address(): { readonly host: string; readonly port: number } {
    const a = this.#server.address() as AddressInfo | null;
    if (this.#state !== 'listening' || !a) throw new StateError(`WebhookServer: address() in state ${this.#state}`);
    return { host: a.address, port: a.port };
  }

  /** Certificates applied since start (tests; the log says it too). */
  get tlsReloads(): number {
    return this.#tls.reloads;
  }

  /** Looks at the TLS files now, instead of at the next poll. */
  checkTls(): boolean {
    return this.#tls.check();
  }

  /** Stops listening; open connections are dropped. Idempotent. */
  close(): Promise<void> {
    this.#state = 'closed';
    this.#tls.close();
    this.#closing ??= new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
      if (path === '/metrics') {
        const text = await this.registry.metrics();
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : text);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : 'ok\n');
      return;
    }
    if (path !== VALIDATE_PATH) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('method not allowed\n');
    const t0 = performance.now();
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, this.#o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES));
    } catch (err) {
      if (err instanceof TooLarge) {
        // The rest of the body is not read: the connection goes with the answer.
        res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end(`${err.message}\n`);
        return;
      }
      return void res.writeHead(400, { 'content-type': 'text/plain' }).end(`not JSON: ${errorText(err)}\n`);
    }
    let out;
    try {
      out = await reviewAdmission(body, this.#o);
    } catch (err) {
      if (!(err instanceof BadReview)) throw err;
      this.#o.log?.warn({ reason: err.message }, 'webhook: not an AdmissionReview');
      return void res.writeHead(400, { 'content-type': 'text/plain' }).end(`malformed AdmissionReview: ${err.message}\n`);
    }
    const request = (body as { request: { kind?: { kind?: unknown }; namespace?: unknown; name?: unknown; operation?: unknown } }).request;
    const kind = typeof request.kind?.kind === 'string' ? request.kind.kind : 'unknown';
    const label = ['ResourceClaim', 'ResourceClaimTemplate', 'DeviceClass'].includes(kind) ? kind : 'other';
    this.#reviews.inc({ kind: label, allowed: String(out.response.allowed) });
    this.#seconds.observe({ kind: label }, (performance.now() - t0) / 1000);
    if (!out.response.allowed) {
      this.#o.log?.info({ uid: out.response.uid, kind, namespace: request.namespace, name: request.name, operation: request.operation, reason: out.response.status?.message }, 'webhook: refused');
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
  }
}

/**
 * The body as text, refused (TooLarge) once it passes `max` bytes, whatever
 * Content-Length says; the rest is not read (the 413 closes the connection).
 */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return reject(new TooLarge(`request body of ${declared} bytes is over the limit of ${max}`));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      reject(new TooLarge(`request body is over the limit of ${max} bytes`));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
    req.once('close', () => reject(new Error('the client went away before the body ended')));
  });
}
