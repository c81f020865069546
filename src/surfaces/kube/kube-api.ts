/**
 * A small client for the Kubernetes API on node:https: JSON requests with a
 * deadline, and the response stream a watch reads (kube-watch.ts). What the
 * daemon needs and nothing more, in place of @kubernetes/client-node, whose
 * generated models, serializer and undici cost the daemon about 39 MB of RSS
 * (docs/benchmarks.md, "daemon").
 *
 *   const api = new KubeApi(loadKubeTarget(flags.kubeconfig));
 *   const claim = await api.request({ path: '/apis/resource.k8s.io/v1/namespaces/a/resourceclaims/b', timeoutMs: 5000 });
 *   await api.close();
 *
 * Connections are kept and shared: one HTTP/2 session per set of TLS
 * credentials (kube-h2.ts; a rotated CA or client certificate gets a new
 * one) carries every request and watch, as client-go's transport does. The
 * bearer token is a header, read per request from the credential cache
 * (kube-credentials.ts). HTTP/1.1 (node:https with a keep-alive agent) is
 * used for a plain http:// server (tests) and with `keepAlive: false`.
 *
 * Failures: a response outside 2xx rejects with KubeResponseError (the HTTP
 * status and the Status object the API server sent); no response rejects
 * with the transport's error (ECONNREFUSED, ECONNRESET, a TLS error, an
 * HTTP/2 stream cancelled with the session's error as its cause) or, past
 * the deadline, with "timed out after N ms" whose cause is a TimeoutError.
 * kubeError (kube-error.ts) turns either into KUBE_REQUEST_FAILED. Nothing
 * is sent twice behind the caller's back (a create is never repeated), but
 * for an HTTP/1.1 GET that met a reset on a kept connection.
 */
import { createHash } from 'node:crypto';
import type { Agent as HttpAgentType, ClientRequest, OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { KubeTarget } from './kube-config.ts';
import { CredentialCache, type CredentialBytes } from './kube-credentials.ts';
import { connectionClosed, H2Sessions } from './kube-h2.ts';
import { nodeHttp } from '../../common/node-http.ts';

const { Agent: HttpAgent, request: httpRequest } = nodeHttp;

export type KubeMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The one patch kind the daemon sends (Event counts); others are a contentType away. */
export const MERGE_PATCH = 'application/merge-patch+json';

export interface KubeRequest {
  readonly method?: KubeMethod;
  /** Path from the server's root, e.g. `/api/v1/nodes/n1`. */
  readonly path: string;
  /** Query parameters; undefined values are left out. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Default application/json; a PATCH names its kind (MERGE_PATCH, …). */
  readonly contentType?: string;
  /** Deadline of the whole request, response body included (ms); none when absent. */
  readonly timeoutMs?: number;
}

/** The API server answered outside 2xx. `code` and `statusCode` are the HTTP status; `body` the Status object (or the text). */
export class KubeResponseError extends Error {
  readonly code: number;
  readonly statusCode: number;
  readonly body: unknown;

  constructor(method: string, path: string, status: number, body: unknown) {
    const message = (body as { message?: unknown } | undefined)?.message;
    super(`${method} ${path}: HTTP ${status}${typeof message === 'string' ? ` ${message}` : ''}`);
    this.code = status;
    this.statusCode = status;
    this.body = body;
  }

  override get name(): string {
    return 'KubeResponseError';
  }
}

/** A response's head, its body to read, and a way to abandon it. */
export interface KubeExchange {
  readonly status: number;
  readonly body: Readable;
  /** Ends the exchange early: with an error (a deadline, a failure) or without (a watch aborted). */
  cancel(err?: Error): void;
}

export interface KubeApiOptions {
  /** Keep connections between requests (default true: one HTTP/2 session). false: a new HTTP/1.1 connection (and TLS handshake) per request. */
  readonly keepAlive?: boolean;
  /** How old read credential files may get before they are read again (ms, default 60 s). */
  readonly credentialRefreshMs?: number;
}

export class KubeApi {
  readonly target: KubeTarget;
  readonly #url: URL;
  readonly #creds: CredentialCache;
  readonly #keepAlive: boolean;
  readonly #agents = new Map<string, HttpAgentType>();
  /** HTTP/2 sessions: an https server with connections kept (the API server always offers h2). */
  readonly #h2: H2Sessions | undefined;

  constructor(target: KubeTarget, o: KubeApiOptions = {}) {
    this.target = target;
    this.#url = new URL(target.server);
    this.#creds = new CredentialCache(target, o.credentialRefreshMs);
    this.#keepAlive = o.keepAlive ?? true;
    this.#h2 = this.#url.protocol === 'https:' && this.#keepAlive
      ? new H2Sessions({ origin: this.#url.origin, rejectUnauthorized: target.insecureSkipTlsVerify !== true, ...(target.tlsServerName ? { servername: target.tlsServerName } : {}) })
      : undefined;
  }

  /** Connections kept now: HTTP/2 sessions, or HTTP/1.1 agents (one per distinct TLS credentials). */
  get agents(): number {
    return (this.#h2?.size ?? 0) + this.#agents.size;
  }

  /** A JSON request; resolves with the parsed body (undefined when empty). */
  async request<T = unknown>(r: KubeRequest): Promise<T> {
    const method = r.method ?? 'GET';
    const deadline = r.timeoutMs === undefined ? undefined : deadlineFor(r.timeoutMs);
    try {
      const res = await this.open(r, deadline);
      const text = await readAll(res);
      const body = parseBody(text);
      if (res.status < 200 || res.status > 299) throw new KubeResponseError(method, r.path, res.status, body ?? text);
      return body as T;
    } catch (err) {
      // Whatever the transport said when the deadline cancelled the request, the deadline is the reason.
      if (deadline?.expired === true && !(err instanceof KubeResponseError)) throw isTimeout(err) ? err : timeoutError(r.timeoutMs!, err);
      throw err;
    } finally {
      deadline?.clear();
    }
  }

  /**
   * Sends a request and resolves with the response's head (the body unread;
   * watches read it as a stream). Over HTTP/2 (an https server, connections
   * kept): on the shared session. Otherwise over HTTP/1.1, where a reset on
   * a kept connection before any response is retried once for a GET.
   */
  async open(r: KubeRequest, deadline?: Deadline): Promise<KubeExchange> {
    const creds = await this.#creds.get();
    const payload = r.body === undefined ? undefined : JSON.stringify(r.body);
    const method = r.method ?? 'GET';
    const path = this.#url.pathname.replace(/\/+$/, '') + r.path + queryString(r.query);
    const headers: OutgoingHttpHeaders = { accept: 'application/json', 'user-agent': 'netclaim' };
    if (creds.token !== undefined) headers['authorization'] = `Bearer ${creds.token}`;
    if (payload !== undefined) {
      headers['content-type'] = r.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (this.#h2 !== undefined) {
      return this.#h2.open(credentialKey(creds), creds, { ...headers, ':method': method, ':path': path }, payload, (cancel) => deadline?.attach(cancel));
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#openH1(creds, method, path, headers, payload, deadline);
      } catch (err) {
        const req = (err as { req?: ClientRequest }).req;
        if (method === 'GET' && attempt === 1 && req !== undefined && isStaleConnection(req, err)) continue;
        throw err;
      }
    }
  }

  #openH1(creds: CredentialBytes, method: string, path: string, headers: OutgoingHttpHeaders, payload: string | undefined, deadline: Deadline | undefined): Promise<KubeExchange> {
    const https = this.#url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send({
        protocol: this.#url.protocol, hostname: this.#url.hostname.replace(/^\[|\]$/g, ''), port: this.#url.port || (https ? 443 : 80),
        path, method, headers, agent: this.#agent(creds, https),
      }, (res) => resolve({ status: res.statusCode ?? 0, body: res, cancel: (err) => req.destroy(err) }));
      req.on('error', (err) => reject(Object.assign(err, { req })));
      deadline?.attach((err) => req.destroy(err));
      req.end(payload);
    });
  }

  /** Closes the kept connections, watches included; a later request opens a new one. Idempotent. */
  async close(): Promise<void> {
    this.#h2?.close();
    for (const a of this.#agents.values()) a.destroy();
    this.#agents.clear();
  }

  #agent(creds: CredentialBytes, https: boolean): HttpAgentType {
    const key = credentialKey(creds);
    const known = this.#agents.get(key);
    if (known !== undefined) return known;
    const t = this.target;
    const common = { keepAlive: this.#keepAlive };
    const agent = https
      ? new HttpsAgent({
        ...common,
        ...(creds.ca ? { ca: creds.ca } : {}), ...(creds.cert ? { cert: creds.cert } : {}), ...(creds.key ? { key: creds.key } : {}),
        rejectUnauthorized: t.insecureSkipTlsVerify !== true,
        ...(t.tlsServerName ? { servername: t.tlsServerName } : {}),
      })
      : new HttpAgent(common);
    this.#agents.set(key, agent);
    return agent;
  }
}

/** The TLS material's identity: a rotated CA or client certificate gets a new connection. */
function credentialKey(creds: CredentialBytes): string {
  const h = createHash('sha256');
  for (const b of [creds.ca, creds.cert, creds.key]) h.update(b ?? '').update('\0');
  return h.digest('hex');
}

/** A deadline over one request: destroys it when the time is up, with an error saying so. */
export interface Deadline {
  /** What to call with the timeout error when the time is up (cancels the request). */
  attach(cancel: (err: Error) => void): void;
  clear(): void;
  readonly expired: boolean;
}

export function deadlineFor(ms: number): Deadline {
  let cancel: ((err: Error) => void) | undefined;
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    cancel?.(timeoutError(ms));
  }, ms);
  return {
    attach(c) {
      cancel = c;
      if (expired) c(timeoutError(ms));
    },
    clear() { clearTimeout(timer); },
    get expired() { return expired; },
  };
}

/** "timed out after N ms", its cause a TimeoutError (what the callers' transient-failure checks look for). */
export function timeoutError(ms: number, socketError?: unknown): Error {
  const cause = new DOMException(`The operation timed out after ${ms} ms`, 'TimeoutError');
  if (socketError !== undefined) Object.defineProperty(cause, 'cause', { value: socketError });
  return new Error(`timed out after ${ms} ms`, { cause });
}

function isTimeout(err: unknown): boolean {
  return (err as { cause?: { name?: unknown } } | undefined)?.cause?.name === 'TimeoutError';
}

function isStaleConnection(req: ClientRequest, err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
}

function queryString(q: KubeRequest['query']): string {
  if (q === undefined) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

function readAll(res: KubeExchange): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    res.body.on('data', (c: Buffer) => chunks.push(c));
    res.body.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    res.body.on('error', reject);
    // A response cut short (the deadline cancelled it, the connection dropped) closes without 'end'.
    res.body.on('close', () => { if (!ended) reject(res.body.errored ?? connectionClosed('the API server closed the connection before the response ended')); });
  });
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
