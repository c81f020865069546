/**
 * A minimal gRPC client over HTTP/2 on a Unix socket (grpc/doc/PROTOCOL-HTTP2.md),
 * enough for containerd's API: unary calls and one server stream, on one
 * session. Framing is the kubelet surface's (grpc-frames.ts).
 *
 *   const s = new GrpcUnixSession('/run/containerd/containerd.sock');
 *   await s.ready();                                   // the HTTP/2 handshake
 *   const bytes = await s.unary(path, request, { 'containerd-namespace': 'k8s.io' }, maxBytes);
 *   const call = s.serverStream(path, request, {}, maxBytes, { message, end });
 *   s.destroy();                                       // every call in flight fails
 *
 * A call's outcome is its grpc-status, read from the trailers or from the
 * response headers of a trailers-only response; a stream that closes with
 * neither (the peer went away) is UNAVAILABLE, as grpc-go reports it.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { encodeFrame, MessageReader } from '../kubelet/grpc-frames.ts';

/** The status codes this client tells apart (grpc/doc/statuscodes.md). */
export const GRPC_CODE = { OK: 0, CANCELLED: 1, UNKNOWN: 2, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const;

/** A call that did not end in grpc-status 0. */
export class GrpcCallError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'GrpcCallError';
    this.code = code;
  }
}

/** The status a response carries (headers of a trailers-only response, or trailers); undefined when none. */
export function grpcStatusOf(h: IncomingHttpHeaders): GrpcCallError | 'ok' | undefined {
  const raw = h['grpc-status'];
  if (typeof raw !== 'string') return undefined;
  const code = /^\d{1,2}$/.test(raw) ? Number(raw) : GRPC_CODE.UNKNOWN;
  if (code === GRPC_CODE.OK) return 'ok';
  return new GrpcCallError(code, percentDecode(typeof h['grpc-message'] === 'string' ? h['grpc-message'] : `grpc-status ${raw}`));
}

/** grpc-message is percent-encoded UTF-8; a malformed escape is kept as sent. */
export function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What an HTTP response head that is not gRPC means (PROTOCOL-HTTP2.md: map HTTP status when no grpc-status). */
function headError(h: IncomingHttpHeaders & IncomingHttpStatusHeader): GrpcCallError | undefined {
  const status = h[':status'];
  if (status !== 200) return new GrpcCallError(GRPC_CODE.UNKNOWN, `HTTP status ${status ?? 'none'} (not a gRPC response)`);
  const type = h['content-type'] ?? '';
  if (!type.startsWith('application/grpc')) return new GrpcCallError(GRPC_CODE.UNKNOWN, `content-type ${JSON.stringify(type)} is not application/grpc`);
  return undefined;
}

export interface StreamHandlers {
  /** Each message, in order. A throw ends the call with that error. */
  readonly message: (bytes: Buffer) => void;
  /** Once: undefined for grpc-status OK, else why the call ended. */
  readonly end: (err: GrpcCallError | Error | undefined) => void;
}

export interface CallHandle {
  cancel(): void;
}

export class GrpcUnixSession {
  readonly #session: ClientHttp2Session;
  /** Resolves at the session's 'close' (its socket is gone). */
  readonly #closed: Promise<void>;
  #failure: Error | undefined;

  constructor(socketPath: string) {
    this.#session = connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    this.#closed = new Promise((resolve) => this.#session.once('close', () => resolve()));
    // Errors reach every stream in flight (their callers see them); keep the first for ready().
    this.#session.on('error', (err) => { this.#failure ??= err; });
  }

  /** Resolves once the HTTP/2 handshake is done; rejects when the session fails or closes first. */
  ready(): Promise<void> {
    const s = this.#session;
    if (s.destroyed || s.closed) return Promise.reject(this.#failure ?? new Error('the HTTP/2 session is closed'));
    if (!s.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(this.#failure ?? new Error('the HTTP/2 session closed before it connected'));
      s.once('connect', () => { s.off('close', onClose); resolve(); });
      s.once('close', onClose);
    });
  }

  /** Round trip of a PING: the peer has read everything sent before it. */
  ping(): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.#session.ping((err) => (err ? reject(err) : resolve()));
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** Calls back once when the session is gone (closed, failed, or told GOAWAY). */
  onGone(cb: (reason: string) => void): void {
    let done = false;
    const once = (reason: string): void => { if (!done) { done = true; cb(reason); } };
    this.#session.once('close', () => once(this.#failure ? `connection failed: ${this.#failure.message}` : 'connection closed'));
    this.#session.once('goaway', (code: number) => once(`containerd sent GOAWAY (HTTP/2 code ${code})`));
  }

  /** One request, one response message. */
  unary(path: string, request: Uint8Array, metadata: Readonly<Record<string, string>>, maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let reply: Buffer | undefined;
      this.serverStream(path, request, metadata, maxBytes, {
        message: (m) => {
          if (reply !== undefined) throw new GrpcCallError(GRPC_CODE.INTERNAL, `${path}: more than one response message`);
          reply = m;
        },
        end: (err) => {
          if (err !== undefined) reject(err);
          else if (reply === undefined) reject(new GrpcCallError(GRPC_CODE.INTERNAL, `${path}: OK without a response message`));
          else resolve(reply);
        },
      });
    });
  }

  /** One request, a stream of responses until grpc-status (or a failure). */
  serverStream(path: string, request: Uint8Array, metadata: Readonly<Record<string, string>>, maxBytes: number, h: StreamHandlers): CallHandle {
    let stream: ClientHttp2Stream;
    let ended = false;
    const end = (err: Error | undefined): void => {
      if (ended) return;
      ended = true;
      h.end(err);
      if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    };
    try {
      stream = this.#session.request({
        ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'netclaim', ...metadata,
      });
    } catch (err) {
      // The session is already closed or destroyed (ERR_HTTP2_INVALID_SESSION).
      queueMicrotask(() => h.end(new GrpcCallError(GRPC_CODE.UNAVAILABLE, `${path}: ${(err as Error).message}`)));
      return { cancel: () => {} };
    }
    const reader = new MessageReader(maxBytes);
    // The status is acted on at 'close', after every DATA frame has been read ('trailers' can come first).
    let status: GrpcCallError | 'ok' | undefined;
    stream.on('response', (head) => {
      status = grpcStatusOf(head); // a trailers-only response: the status is in the head
      if (status === undefined) { const bad = headError(head); if (bad !== undefined) end(bad); }
    });
    stream.on('data', (chunk: Buffer) => {
      if (ended) return;
      try {
        for (const m of reader.push(chunk)) h.message(m);
      } catch (err) {
        end(err as Error);
      }
    });
    stream.on('trailers', (trailers) => {
      status = grpcStatusOf(trailers) ?? new GrpcCallError(GRPC_CODE.INTERNAL, `${path}: trailers without grpc-status`);
    });
    stream.on('error', (err) => end(new GrpcCallError(GRPC_CODE.UNAVAILABLE, `${path}: ${err.message}`)));
    stream.on('close', () => {
      if (status === 'ok') end(reader.idle ? undefined : new GrpcCallError(GRPC_CODE.INTERNAL, `${path}: the last message was cut`));
      else end(status ?? new GrpcCallError(GRPC_CODE.UNAVAILABLE, `${path}: the stream closed without a grpc-status (HTTP/2 code ${stream.rstCode ?? 'none'})`));
    });
    stream.end(encodeFrame(request));
    return { cancel: () => end(new GrpcCallError(GRPC_CODE.CANCELLED, `${path}: cancelled`)) };
  }

  get destroyed(): boolean {
    return this.#session.destroyed;
  }

  /** Ends the session now; calls in flight end UNAVAILABLE. Resolves once the session has closed. */
  destroy(): Promise<void> {
    this.#session.destroy();
    return this.#closed;
  }
}
