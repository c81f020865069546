/**
 * Unary ttrpc over one byte stream (one NRI mux connection): a server that
 * dispatches Requests by service and method, and a client with odd stream
 * ids, a pending map and per-call timeouts. Both read with the ttrpc frame
 * state machine (ttrpc-frame.ts) and write through `io.write`.
 *
 *   const server = new TtrpcServer(new Map([[service, new Map([['Configure', handler]])]]), io);
 *   const client = new TtrpcClient(io);
 *   const reply = await client.call('nri.pkg.api.v1alpha1.Runtime', 'RegisterPlugin', bytes, 5000);
 *
 * Status semantics follow containerd/ttrpc's server (server.go, services.go):
 * unknown service or method → UNIMPLEMENTED, handler error → UNKNOWN with its
 * message (or the status of an RpcStatusError), even or reused stream id →
 * INVALID_ARGUMENT. The server never answers DEADLINE_EXCEEDED on its own:
 * the caller's timeout_nano only aborts the handler's signal, and the
 * handler's answer is sent however late (the NRI runtime times out on its
 * side and closes the connection; a status it received instead would count
 * as an ordinary error and fail the pod — see nri-plugin.ts).
 */
import { DriverError, errorText, isDriverError, ProtocolError, type DriverErrorOptions } from '../../common/errors.ts';
import { decodeMessage, encodeMessage, NRI_TYPES, type WireTtrpcRequest, type WireTtrpcResponse } from './protos.ts';
import { encodeTtrpcMessage, goBufioWrites, ttrpcMessageReader, TTRPC_MAX_LENGTH, TTRPC_TYPE, type TtrpcHeader } from './ttrpc-frame.ts';

/** gRPC status codes (google.rpc.Code) as ttrpc uses them. */
export const RPC_CODE = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A non-OK ttrpc status: received by a client call, or thrown by a handler to choose the status it answers. */
export class RpcStatusError extends DriverError {
  readonly status: number;

  constructor(status: number, message: string, options: DriverErrorOptions = {}) {
    super('NRI_RPC_STATUS', message, { ...options, context: { status, ...options.context } });
    this.status = status;
  }
}

/** Where an endpoint writes, and what it calls when the stream is beyond repair. */
export interface TtrpcIo {
  write(bytes: Uint8Array): void;
  /** A protocol error: the connection should be closed (the endpoint already closed itself). */
  onFatal?(err: Error): void;
}

export interface TtrpcCallContext {
  readonly service: string;
  readonly method: string;
  readonly streamId: number;
  /** Aborted at the caller's deadline (timeout_nano) and when the connection closes. */
  readonly signal: AbortSignal;
  /** When the caller gives up (Date.now() scale); undefined without timeout_nano. */
  readonly deadline: number | undefined;
}

export type TtrpcUnaryHandler = (payload: Buffer, ctx: TtrpcCallContext) => Promise<Uint8Array> | Uint8Array;
/** service → method → handler. */
export type TtrpcServices = ReadonlyMap<string, ReadonlyMap<string, TtrpcUnaryHandler>>;

const send = (io: TtrpcIo, streamId: number, type: number, payload: Uint8Array): void => {
  for (const w of goBufioWrites(encodeTtrpcMessage(streamId, type, payload))) io.write(w);
};

const closedError = (cause?: Error): DriverError => new DriverError('NRI_CONNECTION_CLOSED', 'the ttrpc connection closed', cause ? { cause } : {});

export class TtrpcServer {
  readonly #services: TtrpcServices;
  readonly #io: TtrpcIo;
  readonly #reader = ttrpcMessageReader();
  readonly #conn = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #lastStreamId = 0;

  constructor(services: TtrpcServices, io: TtrpcIo) {
    this.#services = services;
    this.#io = io;
  }

  get closed(): boolean {
    return this.#conn.signal.aborted;
  }

  /** Resolves when no handler is running. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  push(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.#reader.push(chunk, (h, payload) => this.#onMessage(h, payload));
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const h = isDriverError(e) ? (e.context as Partial<TtrpcHeader>) : {};
      if (h.type === TTRPC_TYPE.request && h.streamId !== undefined) {
        this.#respond(h.streamId, RPC_CODE.RESOURCE_EXHAUSTED, `message length ${h.length} exceed maximum message size of ${TTRPC_MAX_LENGTH}`);
      }
      this.close(e);
      this.#io.onFatal?.(e);
    }
  }

  /** Aborts the handlers' signals; answers that come later are dropped. Idempotent. */
  close(err?: Error): void {
    if (!this.closed) this.#conn.abort(closedError(err));
  }

  #onMessage(h: TtrpcHeader, payload: Buffer): void {
    if (h.type === TTRPC_TYPE.response) return; // not for a server; ttrpc ignores unknown kinds too
    if (h.streamId % 2 !== 1) return this.#respond(h.streamId, RPC_CODE.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams');
    if (h.type === TTRPC_TYPE.data) return this.#respond(h.streamId, RPC_CODE.INVALID_ARGUMENT, 'StreamID is no longer active');
    if (h.type !== TTRPC_TYPE.request) return;
    if (h.streamId <= this.#lastStreamId) return this.#respond(h.streamId, RPC_CODE.INVALID_ARGUMENT, 'StreamID cannot be re-used and must increment');
    this.#lastStreamId = h.streamId;
    let req: WireTtrpcRequest;
    try {
      req = decodeMessage<WireTtrpcRequest>(NRI_TYPES.TtrpcRequest, payload);
    } catch (err) {
      return this.#respond(h.streamId, RPC_CODE.INVALID_ARGUMENT, `unmarshal request error: ${(err as Error).message}`);
    }
    const service = this.#services.get(req.service);
    if (!service) return this.#respond(h.streamId, RPC_CODE.UNIMPLEMENTED, `service ${req.service}`);
    const handler = service.get(req.method);
    if (!handler) return this.#respond(h.streamId, RPC_CODE.UNIMPLEMENTED, `method ${req.method}`);
    const call = this.#run(handler, req, h.streamId);
    this.#inFlight.add(call);
    void call.finally(() => this.#inFlight.delete(call));
  }

  async #run(handler: TtrpcUnaryHandler, req: WireTtrpcRequest, streamId: number): Promise<void> {
    const timeoutMs = req.timeout_nano > 0 ? Math.max(1, Math.ceil(req.timeout_nano / 1e6)) : undefined;
    const signal = timeoutMs === undefined ? this.#conn.signal : AbortSignal.any([this.#conn.signal, AbortSignal.timeout(timeoutMs)]);
    const ctx: TtrpcCallContext = {
      service: req.service, method: req.method, streamId, signal,
      deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
    };
    try {
      const out = await handler(Buffer.from(req.payload.buffer, req.payload.byteOffset, req.payload.byteLength), ctx);
      this.#respond(streamId, RPC_CODE.OK, '', out);
    } catch (err) {
      if (err instanceof RpcStatusError) this.#respond(streamId, err.status, err.message);
      else this.#respond(streamId, RPC_CODE.UNKNOWN, errorText(err)); // `CODE: message`, what the runtime shows for the sandbox or container
    }
  }

  #respond(streamId: number, code: number, message: string, payload?: Uint8Array): void {
    if (this.closed) return;
    // Like Go's ttrpc: an OK answer carries no status at all, only the payload.
    const response = code === RPC_CODE.OK ? { payload } : { status: { code, message } };
    send(this.#io, streamId, TTRPC_TYPE.response, encodeMessage(NRI_TYPES.TtrpcResponse, response));
  }
}

interface PendingCall {
  readonly method: string;
  readonly resolve: (payload: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Client-initiated stream ids are odd and increase; the last usable one is 2^32 - 1. */
const MAX_STREAM_ID = 0xffffffff;

export class TtrpcClient {
  readonly #io: TtrpcIo;
  readonly #reader = ttrpcMessageReader();
  readonly #pending = new Map<number, PendingCall>();
  #nextStreamId = 1;
  #closed: Error | undefined;

  constructor(io: TtrpcIo) {
    this.#io = io;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** One unary call; rejects with RpcStatusError, NRI_CALL_TIMEOUT or NRI_CONNECTION_CLOSED. */
  call(service: string, method: string, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#nextStreamId > MAX_STREAM_ID) return Promise.reject(closedError(new ProtocolError('ttrpc stream ids exhausted')));
    const streamId = this.#nextStreamId;
    this.#nextStreamId += 2;
    const { promise, resolve, reject } = Promise.withResolvers<Buffer>();
    const timer = setTimeout(() => {
      this.#pending.delete(streamId);
      reject(new DriverError('NRI_CALL_TIMEOUT', `ttrpc ${service}/${method}: no answer within ${timeoutMs} ms`, { context: { method, timeoutMs } }));
    }, timeoutMs);
    timer.unref();
    this.#pending.set(streamId, { method, resolve, reject, timer });
    const request = { service, method, payload, timeout_nano: timeoutMs * 1e6 };
    send(this.#io, streamId, TTRPC_TYPE.request, encodeMessage(NRI_TYPES.TtrpcRequest, request));
    return promise;
  }

  push(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#reader.push(chunk, (h, payload) => this.#onMessage(h, payload));
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.close(e);
      this.#io.onFatal?.(e);
    }
  }

  /** Rejects every pending call with NRI_CONNECTION_CLOSED (cause: `err`). Idempotent. */
  close(err?: Error): void {
    if (this.#closed) return;
    this.#closed = closedError(err);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.#closed);
    }
    this.#pending.clear();
  }

  #onMessage(h: TtrpcHeader, payload: Buffer): void {
    const call = this.#pending.get(h.streamId);
    if (!call) return; // timed out already, or not ours: ttrpc logs and drops it
    this.#pending.delete(h.streamId);
    clearTimeout(call.timer);
    if (h.type !== TTRPC_TYPE.response) return call.reject(new ProtocolError(`ttrpc ${call.method}: unexpected message type ${h.type} in answer`, {}, 'PROTOCOL_UNEXPECTED'));
    let res: WireTtrpcResponse;
    try {
      res = decodeMessage<WireTtrpcResponse>(NRI_TYPES.TtrpcResponse, payload);
    } catch (err) {
      return call.reject(err as Error);
    }
    const code = res.status?.code ?? RPC_CODE.OK;
    if (code !== RPC_CODE.OK) return call.reject(new RpcStatusError(code, res.status?.message ?? '', { context: { method: call.method } }));
    call.resolve(Buffer.from(res.payload.buffer, res.payload.byteOffset, res.payload.byteLength));
  }
}
