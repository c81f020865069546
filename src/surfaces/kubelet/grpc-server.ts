/**
 * The little gRPC server the kubelet surface needs, on node:http2 (h2c over a
 * unix socket; the kubelet dials without TLS): unary methods and
 * server-streaming ones, identity encoding only, protobuf bodies encoded and
 * decoded with the protobufjs types of protos.ts. @grpc/grpc-js did this
 * before; it cost the idle daemon ~9 MB of RSS with proto-loader
 * (docs/benchmarks.md, "daemon"), for five services and five methods.
 *
 *   const server = new GrpcServer();
 *   server.addService(SERVICE.registration, { GetInfo: async () => info, ... });
 *   await server.listen('/var/lib/kubelet/plugins_registry/x-reg.sock');
 *   await server.tryShutdown();   // GOAWAY, in-flight calls finish; forceShutdown() cuts them
 *
 * Wire rules (grpc/doc/PROTOCOL-HTTP2.md): POST with content-type
 * application/grpc[+proto]; length-prefixed messages (grpc-frames.ts); the
 * answer is headers, messages, then trailers grpc-status and grpc-message
 * (percent-encoded), or a trailers-only response when a call fails before its
 * first message. An unknown method is UNIMPLEMENTED; grpc-timeout is honoured
 * (DEADLINE_EXCEEDED, and the handler's signal aborts).
 */
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type protobuf from 'protobufjs';
import { encodeFrame, GrpcStatus, GrpcStatusError, MessageReader, parseTimeout, percentEncode, type GrpcStatusCode } from './grpc-frames.ts';
import { decodeWire, encodeWire, serviceMethods, type ServiceName } from './protos.ts';

/** What a handler gets besides its request. */
export interface CallContext {
  /** Aborts when the call is over: the client cancelled, its deadline passed, the server was cut down, or it was answered. */
  readonly signal: AbortSignal;
}

/** A unary handler answers with the response, or throws GrpcStatusError (anything else is UNKNOWN). */
export type UnaryHandler<Req = never, Res = object> = (request: Req, call: CallContext) => Promise<Res>;

/** The writing side of a server-streaming call. */
export interface ServerStream<Res> extends CallContext {
  /** False when the HTTP/2 stream's buffer is full (wait, or skip a message the next one supersedes). */
  write(message: Res): boolean;
  /** Ends the call with OK. */
  end(): void;
  /** The call is over (ended, cancelled or cut). */
  readonly closed: boolean;
  /** The last write was buffered past the stream's high-water mark. */
  readonly needDrain: boolean;
}

export type StreamHandler<Req = never, Res = object> = (request: Req, stream: ServerStream<Res>) => void;

/** A service's handlers by method name; unary or streaming as the .proto declares. */
export type ServiceImplementation = Record<string, UnaryHandler<never, object> | StreamHandler<never, object>>;

interface Route {
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  readonly streaming: boolean;
  readonly handler: (request: unknown, call: never) => unknown;
}

const GRPC_CONTENT_TYPE = /^application\/grpc(\+proto)?(;.*)?$/;

export class GrpcServer {
  readonly #routes = new Map<string, Route>();
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #h2: Http2Server;

  constructor() {
    this.#h2 = createServer();
    this.#h2.on('session', (s) => {
      this.#sessions.add(s);
      s.on('close', () => this.#sessions.delete(s));
      s.on('error', () => { /* a broken connection: its streams close and their calls abort */ });
    });
    this.#h2.on('stream', (stream, headers) => { this.#onStream(stream, headers); });
  }

  /** Serves every method of `service` named in `impl` (a method of the .proto not named there is UNIMPLEMENTED). */
  addService(service: ServiceName, impl: ServiceImplementation): void {
    for (const [name, m] of serviceMethods(service)) {
      const handler = impl[name];
      if (handler === undefined) continue;
      this.#routes.set(`/${service}/${name}`, { ...m, handler: handler as unknown as Route['handler'] });
    }
  }

  /** Listens on a unix socket path. */
  listen(path: string): Promise<void> {
    return new Promise((done, fail) => {
      const onError = (err: Error): void => { fail(err); };
      // Closed before 'listening' (forceShutdown right after listen()): the callback never comes.
      const onClose = (): void => { fail(new Error('the server was shut down while starting to listen')); };
      this.#h2.once('error', onError);
      this.#h2.once('close', onClose);
      this.#h2.listen(path, () => {
        this.#h2.off('error', onError);
        this.#h2.off('close', onClose);
        this.#h2.on('error', () => { /* after listen: per-connection errors arrive on the sessions */ });
        done();
      });
    });
  }

  /** Stops accepting connections, sends GOAWAY, and resolves once every open call has finished. */
  tryShutdown(): Promise<void> {
    return new Promise((done) => {
      this.#h2.close(() => { done(); });
      for (const s of this.#sessions) s.close();
    });
  }

  /** Cuts every connection now: open calls abort. */
  forceShutdown(): void {
    for (const s of this.#sessions) s.destroy();
    if (this.#h2.listening) this.#h2.close();
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => { /* reset by the peer: 'close' follows and aborts the call */ });
    if (headers[':method'] !== 'POST') {
      stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    if (!GRPC_CONTENT_TYPE.test(headers['content-type'] ?? '')) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    const path = headers[':path'] ?? '';
    const route = this.#routes.get(path);
    const encoding = headers['grpc-encoding'];
    if (route === undefined) trailersOnly(stream, GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
    else if (encoding !== undefined && encoding !== 'identity') trailersOnly(stream, GrpcStatus.UNIMPLEMENTED, `grpc-encoding ${String(encoding)} is not supported`);
    else new Call(stream, route, parseTimeout(headers['grpc-timeout'])).start();
  }
}

function trailersOnly(stream: ServerHttp2Stream, code: GrpcStatusCode, message: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': percentEncode(message) }, { endStream: true });
}

/** One call: read the single request message, run the handler, answer. */
class Call {
  readonly #stream: ServerHttp2Stream;
  readonly #route: Route;
  readonly #timeoutMs: number | undefined;
  readonly #ac = new AbortController();
  readonly #reader = new MessageReader();
  readonly #requests: Buffer[] = [];
  #timer: NodeJS.Timeout | undefined;
  #finished = false;

  constructor(stream: ServerHttp2Stream, route: Route, timeoutMs: number | undefined) {
    this.#stream = stream;
    this.#route = route;
    this.#timeoutMs = timeoutMs;
  }

  start(): void {
    const stream = this.#stream;
    stream.on('close', () => { this.#over(new Error('call cancelled by the client')); });
    if (this.#timeoutMs !== undefined) {
      this.#timer = setTimeout(() => { this.#finish(GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded'); }, this.#timeoutMs);
    }
    stream.on('data', (chunk: Buffer) => {
      if (this.#finished) return;
      try {
        this.#requests.push(...this.#reader.push(chunk));
      } catch (err) {
        const e = err as GrpcStatusError;
        this.#finish(e.code, e.message);
      }
    });
    stream.on('end', () => { this.#onRequestEnd(); });
  }

  #onRequestEnd(): void {
    if (this.#finished) return;
    if (!this.#reader.idle) {
      this.#finish(GrpcStatus.INTERNAL, 'the request stream ended inside a message');
      return;
    }
    if (this.#requests.length !== 1) {
      this.#finish(GrpcStatus.INTERNAL, `expected one request message, got ${this.#requests.length}`);
      return;
    }
    const { requestType, responseType, streaming, handler } = this.#route;
    let request: unknown;
    try {
      request = decodeWire(requestType, this.#requests[0]);
    } catch (err) {
      this.#finish(GrpcStatus.INTERNAL, `cannot decode ${requestType.name}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const signal = this.#ac.signal;
    if (streaming) {
      const stream = this.#stream;
      const self = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the stream object reads the call's state
      const out: ServerStream<object> = {
        signal,
        write: (message) => {
          if (self.#finished || stream.destroyed) return false;
          self.#sendHeaders();
          return stream.write(encodeFrame(encodeWire(responseType, message)));
        },
        end: () => { self.#finish(GrpcStatus.OK, ''); },
        get closed() { return self.#finished || stream.destroyed; },
        get needDrain() { return stream.writableNeedDrain; },
      };
      try {
        (handler as (r: unknown, s: ServerStream<object>) => void)(request, out);
      } catch (err) {
        this.#fail(err);
      }
      return;
    }
    Promise.resolve()
      .then(() => (handler as (r: unknown, c: CallContext) => Promise<object>)(request, { signal }))
      .then((response) => {
        if (this.#finished || this.#stream.destroyed) return;
        const frame = encodeFrame(encodeWire(responseType, response));
        this.#sendHeaders();
        this.#stream.write(frame);
        this.#finish(GrpcStatus.OK, '');
      })
      .catch((err: unknown) => { this.#fail(err); });
  }

  #fail(err: unknown): void {
    if (err instanceof GrpcStatusError) this.#finish(err.code, err.message);
    else this.#finish(GrpcStatus.UNKNOWN /* as grpc-go answers a handler's plain error */, err instanceof Error ? err.message : String(err));
  }

  #sendHeaders(): void {
    if (this.#stream.headersSent) return;
    this.#stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }

  /** Answers with a status, once; the handler's signal aborts. */
  #finish(code: GrpcStatusCode, message: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const stream = this.#stream;
    if (!stream.destroyed) {
      if (!stream.headersSent) trailersOnly(stream, code, message);
      else {
        stream.once('wantTrailers', () => {
          stream.sendTrailers(code === GrpcStatus.OK ? { 'grpc-status': '0' } : { 'grpc-status': String(code), 'grpc-message': percentEncode(message) });
        });
        stream.end();
      }
    }
    this.#over(new GrpcStatusError(code, message || 'call finished'));
  }

  #over(reason: Error): void {
    this.#finished = true;
    clearTimeout(this.#timer);
    if (!this.#ac.signal.aborted) this.#ac.abort(reason);
  }
}
