/**
 * HTTP/2 sessions to the API server, one per set of TLS credentials, kept
 * and shared by every request and watch of a KubeApi (kube-api.ts), as
 * client-go's transport does: one TLS connection carries the watches and the
 * writes, so a daemon holds one connection to the API server, not one per
 * watch plus one per request in flight.
 *
 * - A session that closes, fails or is told GOAWAY is dropped from the pool;
 *   the next request opens a new one (streams in flight on it fail, and
 *   their callers retry as they do for any transport failure).
 * - A half-open connection (a peer gone without a FIN) is found the way
 *   client-go's HTTP/2 health check finds it: when a request's deadline or a
 *   watch's idle time runs out, the session is pinged, and destroyed when
 *   the PING is not answered within `pingTimeoutMs`.
 * - The session holds the event loop only while it has streams open.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { CredentialBytes } from './kube-credentials.ts';
import type { KubeExchange } from './kube-api.ts';

/**
 * The connection went before the response did: ECONNRESET, as Node's HTTP/1.1
 * client says for the same ("socket hang up"), so callers class it transient.
 */
export function connectionClosed(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}

export interface H2PoolOptions {
  readonly origin: string;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
  readonly pingTimeoutMs?: number;
}

interface Entry {
  readonly session: ClientHttp2Session;
  streams: number;
}

export class H2Sessions {
  readonly #o: H2PoolOptions;
  readonly #sessions = new Map<string, Entry>();
  /** Sessions opened so far (kept ones are reused; a new one after a failure). */
  opened = 0;

  constructor(o: H2PoolOptions) {
    this.#o = o;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Sends one request; resolves with the response's head. */
  open(key: string, creds: CredentialBytes, headers: OutgoingHttpHeaders, payload: string | undefined, onCancel: (cancel: (err?: Error) => void) => void): Promise<KubeExchange> {
    const entry = this.#entry(key, creds);
    const { session } = entry;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: payload === undefined });
    } catch (err) {
      // The session closed between the lookup and the request (ERR_HTTP2_INVALID_SESSION): a new one next time.
      this.#drop(key, entry);
      return Promise.reject(err as Error);
    }
    if (entry.streams++ === 0) session.ref();
    stream.once('close', () => {
      if (--entry.streams === 0 && !session.destroyed) session.unref();
    });
    const cancel = (err?: Error): void => {
      if (err !== undefined) this.#check(key, entry);
      if (err !== undefined) stream.destroy(err);
      else stream.close(constants.NGHTTP2_CANCEL);
    };
    onCancel(cancel);
    return new Promise((resolve, reject) => {
      stream.once('response', (h) => resolve({ status: Number(h[':status'] ?? 0), body: stream, cancel }));
      stream.once('error', reject);
      stream.once('close', () => reject(connectionClosed(`the API server closed the stream before it answered (HTTP/2 code ${stream.rstCode ?? 'none'})`)));
      if (payload !== undefined) stream.end(payload);
    });
  }

  /** Pings a session a deadline ran out on; destroys it when no answer comes (a dead peer). */
  #check(key: string, entry: Entry): void {
    const { session } = entry;
    if (session.destroyed) return;
    const timer = setTimeout(() => { this.#drop(key, entry); session.destroy(new Error('the API server did not answer an HTTP/2 PING')); }, this.#o.pingTimeoutMs ?? 15_000);
    timer.unref();
    try {
      session.ping((err) => {
        clearTimeout(timer);
        if (err) {
          this.#drop(key, entry);
          session.destroy();
        }
      });
    } catch {
      clearTimeout(timer);
      this.#drop(key, entry);
      session.destroy();
    }
  }

  #entry(key: string, creds: CredentialBytes): Entry {
    const known = this.#sessions.get(key);
    if (known !== undefined && !known.session.closed && !known.session.destroyed) return known;
    const session = connect(this.#o.origin, {
      ...(creds.ca ? { ca: creds.ca } : {}), ...(creds.cert ? { cert: creds.cert } : {}), ...(creds.key ? { key: creds.key } : {}),
      rejectUnauthorized: this.#o.rejectUnauthorized,
      ...(this.#o.servername ? { servername: this.#o.servername } : {}),
    });
    const entry: Entry = { session, streams: 0 };
    this.opened++;
    // Errors reach the streams in flight (their callers see them); the session itself is just dropped.
    session.on('error', () => this.#drop(key, entry));
    session.on('goaway', () => this.#drop(key, entry));
    session.on('close', () => this.#drop(key, entry));
    session.unref();
    this.#sessions.set(key, entry);
    return entry;
  }

  #drop(key: string, entry: Entry): void {
    if (this.#sessions.get(key) === entry) this.#sessions.delete(key);
  }

  /** Closes every session, streams in flight (watches) included. */
  close(): void {
    for (const { session } of this.#sessions.values()) session.destroy();
    this.#sessions.clear();
  }
}
