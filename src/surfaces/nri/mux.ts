/**
 * The NRI multiplexer (containerd/nri pkg/net/multiplex, protocols.md §4.2):
 * several logical byte streams over the one unix socket ("trunk") between a
 * plugin and the runtime.
 *
 *   frame = [connID u32 BE][length u32 BE][payload]
 *   conn 1 = PluginService  (the runtime calls us: we serve ttrpc)
 *   conn 2 = RuntimeService (we call the runtime: we are the ttrpc client)
 *
 * Opening a connection is local only (no signalling). The payloads of one
 * connection form a byte stream: a ttrpc message may span several frames
 * and a frame may end mid-message. Writes above 4 MiB + 10 are split, as Go
 * does. Frames for connections nobody opened (0 is reserved) are dropped.
 * Closing the trunk closes every connection.
 *
 *   const mux = new Mux(socket);
 *   const plugin = mux.open(MUX_CONN.plugin, { data: (c) => server.push(c), close: (e) => server.close(e) });
 *   plugin.write(bytes);
 *   mux.close();
 */
import type { Duplex } from 'node:stream';
import { DriverError } from '../../common/errors.ts';
import { FrameReader, type FrameHeader } from './frame-reader.ts';

export const MUX_HEADER_LENGTH = 8;
/** ttrpc header (10) + ttrpc's maximum message (4 MiB): the largest payload Go writes in one frame. */
export const MUX_MAX_PAYLOAD = 10 + (4 << 20);

export const MUX_CONN = {
  /** ConnID 0 is reserved. */
  reserved: 0,
  plugin: 1,
  runtime: 2,
} as const;

export interface MuxFrameHeader extends FrameHeader {
  readonly connId: number;
}

/** The header of one frame. */
export function encodeMuxHeader(connId: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(MUX_HEADER_LENGTH);
  b.writeUInt32BE(connId, 0);
  b.writeUInt32BE(length, 4);
  return b;
}

export function decodeMuxHeader(b: Buffer): MuxFrameHeader {
  return { connId: b.readUInt32BE(0), length: b.readUInt32BE(4) };
}

/** `data` for connection `connId` as whole frames (header + payload), split at `maxPayload`. */
export function encodeMuxFrames(connId: number, data: Uint8Array, maxPayload = MUX_MAX_PAYLOAD): Buffer[] {
  const frames: Buffer[] = [];
  let off = 0;
  do {
    const size = Math.min(maxPayload, data.length - off);
    frames.push(Buffer.concat([encodeMuxHeader(connId, size), data.subarray(off, off + size)]));
    off += size;
  } while (off < data.length);
  return frames;
}

/** A reader of mux frames; a frame above MUX_MAX_PAYLOAD is a ProtocolError (Go never writes one). */
export function muxFrameReader(): FrameReader<MuxFrameHeader> {
  return new FrameReader({ what: 'NRI mux frame', headerLength: MUX_HEADER_LENGTH, maxPayload: MUX_MAX_PAYLOAD, parseHeader: decodeMuxHeader });
}

export interface MuxConnHandlers {
  /** Payload bytes for this connection, in order (frame boundaries carry no meaning). */
  data(chunk: Buffer): void;
  /** Called once when the trunk closes; `err` absent for a clean end. */
  close(err?: Error): void;
}

export interface MuxConn {
  readonly id: number;
  /** Sends bytes on this connection; dropped once the mux is closed. */
  write(data: Uint8Array): void;
}

/** The lifecycle part: one trunk, its reader, and the connections opened on it. */
export class Mux {
  readonly #trunk: Duplex;
  readonly #reader = muxFrameReader();
  readonly #conns = new Map<number, MuxConnHandlers>();
  readonly #closed = Promise.withResolvers<Error | undefined>();
  #isClosed = false;

  constructor(trunk: Duplex) {
    this.#trunk = trunk;
    trunk.on('data', (chunk: Buffer) => this.#onData(chunk));
    trunk.on('end', () => this.close());
    trunk.on('close', () => this.close());
    trunk.on('error', (err: Error) => this.close(err));
  }

  /** Resolves when the mux closed, with the error that closed it (undefined: a clean close). */
  get closed(): Promise<Error | undefined> {
    return this.#closed.promise;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  open(id: number, handlers: MuxConnHandlers): MuxConn {
    if (id === MUX_CONN.reserved) throw new DriverError('PROTOCOL_UNEXPECTED', 'NRI mux: connection id 0 is reserved');
    if (this.#isClosed) throw new DriverError('NRI_CONNECTION_CLOSED', 'NRI mux is closed');
    this.#conns.set(id, handlers);
    return { id, write: (data) => this.#write(id, data) };
  }

  /** Closes every connection, then the trunk. Idempotent; the first error wins. */
  close(err?: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const c of conns) c.close(err);
    this.#trunk.destroy();
    this.#closed.resolve(err);
  }

  #write(id: number, data: Uint8Array): void {
    if (this.#isClosed || this.#trunk.destroyed) return;
    for (const frame of encodeMuxFrames(id, data)) this.#trunk.write(frame);
  }

  #onData(chunk: Buffer): void {
    if (this.#isClosed) return;
    try {
      this.#reader.push(chunk, (h, payload) => this.#conns.get(h.connId)?.data(payload));
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
