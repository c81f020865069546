/**
 * gRPC's message framing over an HTTP/2 stream (grpc/doc/PROTOCOL-HTTP2.md,
 * "Length-Prefixed-Message"): one byte compressed flag, four bytes big-endian
 * length, the message. HTTP/2 DATA frames cut this stream anywhere, so the
 * reader is a small state machine fed whatever chunks arrive.
 *
 *   const reader = new MessageReader(MAX_MESSAGE_BYTES);
 *   for (const msg of reader.push(chunk)) handle(msg);   // throws GrpcStatusError on a bad prefix
 *   reader.idle;                                         // at end of stream: false = a cut message
 *
 * Plus the status codes the kubelet surface answers with and grpc-message's
 * percent-encoding.
 */

/** The gRPC status codes this server answers with (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A call's failure as the client will see it: grpc-status and grpc-message. */
export class GrpcStatusError extends Error {
  readonly code: GrpcStatusCode;
  constructor(code: GrpcStatusCode, message: string) {
    super(message);
    this.name = 'GrpcStatusError';
    this.code = code;
  }
}

/** grpc-go's default receive limit: the kubelet never sends more, and a bigger prefix is garbage. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const PREFIX_BYTES = 5;

/** One length-prefixed message. */
export function encodeFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  out[0] = 0; // never compressed: we advertise no grpc-encoding
  out.writeUInt32BE(message.length, 1);
  out.set(message, PREFIX_BYTES);
  return out;
}

/** Splits a byte stream into messages, across any chunk boundaries. */
export class MessageReader {
  readonly #max: number;
  readonly #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixHave = 0;
  #body: Buffer | undefined;
  #bodyHave = 0;

  constructor(maxMessageBytes = MAX_MESSAGE_BYTES) {
    this.#max = maxMessageBytes;
  }

  /** True between messages: at end of stream, false means the last message was cut. */
  get idle(): boolean {
    return this.#prefixHave === 0 && this.#body === undefined;
  }

  /** The messages completed by `chunk`; a bad prefix throws GrpcStatusError (the stream is then unusable). */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#body === undefined) {
        const n = Math.min(PREFIX_BYTES - this.#prefixHave, chunk.length - at);
        this.#prefix.set(chunk.subarray(at, at + n), this.#prefixHave);
        this.#prefixHave += n;
        at += n;
        if (this.#prefixHave < PREFIX_BYTES) break;
        this.#body = this.#startBody();
        this.#bodyHave = 0;
      } else {
        const n = Math.min(this.#body.length - this.#bodyHave, chunk.length - at);
        this.#body.set(chunk.subarray(at, at + n), this.#bodyHave);
        this.#bodyHave += n;
        at += n;
      }
      if (this.#body.length === this.#bodyHave) {
        out.push(this.#body);
        this.#body = undefined;
        this.#prefixHave = 0;
      }
    }
    return out;
  }

  #startBody(): Buffer {
    const flag = this.#prefix[0];
    const length = this.#prefix.readUInt32BE(1);
    if (flag === 1) {
      // We never advertise a grpc-encoding, so a conforming client does not compress.
      throw new GrpcStatusError(GrpcStatus.UNIMPLEMENTED, 'compressed messages are not supported (no grpc-encoding is accepted)');
    }
    if (flag !== 0) throw new GrpcStatusError(GrpcStatus.INTERNAL, `bad message prefix: compressed flag ${flag}`);
    if (length > this.#max) {
      throw new GrpcStatusError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the limit of ${this.#max}`);
    }
    return Buffer.alloc(length);
  }
}

/**
 * grpc-message is percent-encoded (PROTOCOL-HTTP2.md): bytes outside
 * printable ASCII 0x20–0x7E, and '%' itself, become %XX of their UTF-8 bytes.
 */
export function percentEncode(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** A grpc-timeout header ("45S", "200m") in milliseconds; undefined when absent or malformed. */
export function parseTimeout(header: string | string[] | undefined): number | undefined {
  const m = typeof header === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(header) : null;
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]] : undefined;
}
