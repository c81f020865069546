/**
 * A reader for length-prefixed frames arriving as an arbitrary byte stream,
 * written as an explicit state machine (like grpc-js's stream-decoder.ts):
 *
 *   header  --(header complete, length ≤ max)-->  payload
 *   payload --(payload complete, frame emitted)-> header
 *   header  --(length > max)--------------------> failed   (ProtocolError)
 *
 * Both NRI framings use it: the multiplexer's [connID][len] (8 bytes) and
 * ttrpc's [len][streamID][type][flags] (10 bytes). Chunks are kept as given
 * and only joined when a header or payload spans two of them, so a payload
 * inside one socket read is a view, not a copy.
 */
import { ProtocolError } from '../../common/errors.ts';

export interface FrameHeader {
  /** Payload bytes that follow the header. */
  readonly length: number;
}

export interface FrameReaderSpec<H extends FrameHeader> {
  /** What the frames are called in error messages ("mux frame", "ttrpc message"). */
  readonly what: string;
  readonly headerLength: number;
  readonly maxPayload: number;
  /** Reads a header from exactly `headerLength` bytes. */
  readonly parseHeader: (b: Buffer) => H;
}

export type FrameReaderState = 'header' | 'payload' | 'failed';

export class FrameReader<H extends FrameHeader> {
  readonly #spec: FrameReaderSpec<H>;
  #state: FrameReaderState = 'header';
  #header: H | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(spec: FrameReaderSpec<H>) {
    this.#spec = spec;
  }

  get state(): FrameReaderState {
    return this.#state;
  }

  /** Bytes received but not yet part of an emitted frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Feeds bytes; calls `emit` for each frame completed by them, in order.
   * A header announcing more than `maxPayload` bytes moves the reader to
   * `failed` and throws a ProtocolError (context: the header) after the
   * frames before it were emitted; a failed reader refuses further input.
   */
  push(chunk: Buffer, emit: (header: H, payload: Buffer) => void): void {
    if (this.#state === 'failed') throw new ProtocolError(`${this.#spec.what}: reader failed earlier, no more input accepted`);
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    for (;;) {
      if (this.#state === 'header') {
        if (this.#buffered < this.#spec.headerLength) return;
        const header = this.#spec.parseHeader(this.#take(this.#spec.headerLength));
        if (header.length > this.#spec.maxPayload) {
          this.#state = 'failed';
          this.#chunks = [];
          this.#buffered = 0;
          throw new ProtocolError(`${this.#spec.what} of ${header.length} bytes exceeds the maximum of ${this.#spec.maxPayload}`, { context: Object.fromEntries(Object.entries(header)) });
        }
        this.#header = header;
        this.#state = 'payload';
      }
      const header = this.#header!;
      if (this.#buffered < header.length) return;
      const payload = this.#take(header.length);
      this.#header = undefined;
      this.#state = 'header';
      emit(header, payload);
    }
  }

  /** The next `n` buffered bytes (n ≤ buffered): a view when they sit in one chunk. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first!.length >= n) {
      if (first!.length === n) this.#chunks.shift();
      else this.#chunks[0] = first!.subarray(n);
      return first!.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0]!;
      const used = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, used);
      filled += used;
      if (used === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(used);
    }
    return out;
  }
}
