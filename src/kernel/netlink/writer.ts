/**
 * One growable buffer for building netlink messages: headers, fixed structs,
 * attributes and nests, written in place. `nestStart()` reserves the 4-byte
 * attribute header and `nestEnd()` patches its length, so nested attributes
 * never allocate. One writer can hold several messages (a batch).
 */
import { endianness } from 'node:os';
import { NLA_F_NESTED, NLA_HDRLEN, NLMSG_HDRLEN, nlAlign } from './constants.ts';

// Netlink is host byte order; every target we ship (x86_64, arm64) is little-endian.
if (endianness() !== 'LE') throw new Error('netclaim netlink codec supports little-endian hosts only');

export class NlWriter {
  #buf: Buffer;
  #pos = 0;
  #msgStart = -1;

  constructor(initialSize = 4096) {
    this.#buf = Buffer.alloc(initialSize);
  }

  /** Bytes written so far (a view; valid until the next write). */
  get bytes(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  get length(): number {
    return this.#pos;
  }

  reset(): this {
    this.#pos = 0;
    this.#msgStart = -1;
    return this;
  }

  /** Starts a message; `seq` and `pid` are usually patched by the socket at send time. */
  beginMessage(type: number, flags: number, seq = 0, pid = 0): this {
    if (this.#msgStart >= 0) throw new Error('NlWriter: previous message not ended');
    this.#alignTo4();
    this.#msgStart = this.#pos;
    this.#ensure(NLMSG_HDRLEN);
    const b = this.#buf;
    const p = this.#pos;
    b.writeUInt32LE(0, p);
    b.writeUInt16LE(type, p + 4);
    b.writeUInt16LE(flags, p + 6);
    b.writeUInt32LE(seq >>> 0, p + 8);
    b.writeUInt32LE(pid >>> 0, p + 12);
    this.#pos += NLMSG_HDRLEN;
    return this;
  }

  /** Ends the current message, patching `nlmsg_len`. Returns its offset. */
  endMessage(): number {
    const start = this.#msgStart;
    if (start < 0) throw new Error('NlWriter: no message started');
    this.#alignTo4();
    this.#buf.writeUInt32LE(this.#pos - start, start);
    this.#msgStart = -1;
    return start;
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf.writeUInt8(v & 0xff, this.#pos);
    this.#pos += 1;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    this.#buf.writeUInt16LE(v & 0xffff, this.#pos);
    this.#pos += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    this.#buf.writeUInt32LE(v >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  s32(v: number): this {
    this.#ensure(4);
    this.#buf.writeInt32LE(v | 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  u64(v: bigint): this {
    this.#ensure(8);
    this.#buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.#pos);
    this.#pos += 8;
    return this;
  }

  raw(src: Uint8Array): this {
    this.#ensure(src.length);
    this.#buf.set(src, this.#pos);
    this.#pos += src.length;
    return this;
  }

  zeros(n: number): this {
    this.#ensure(n);
    this.#buf.fill(0, this.#pos, this.#pos + n);
    this.#pos += n;
    return this;
  }

  // ---- attributes -------------------------------------------------------

  attrU8(type: number, v: number): this {
    return this.#attrHeader(type, 1).u8(v).#pad();
  }

  attrU16(type: number, v: number): this {
    return this.#attrHeader(type, 2).u16(v).#pad();
  }

  attrU32(type: number, v: number): this {
    return this.#attrHeader(type, 4).u32(v);
  }

  attrS32(type: number, v: number): this {
    return this.#attrHeader(type, 4).s32(v);
  }

  attrU64(type: number, v: bigint): this {
    return this.#attrHeader(type, 8).u64(v);
  }

  /** Big-endian u16 (ports, VLAN protocols). */
  attrU16be(type: number, v: number): this {
    this.#attrHeader(type, 2);
    this.#ensure(2);
    this.#buf.writeUInt16BE(v & 0xffff, this.#pos);
    this.#pos += 2;
    return this.#pad();
  }

  /** Big-endian u32 (network-order fields). */
  attrU32be(type: number, v: number): this {
    this.#attrHeader(type, 4);
    this.#ensure(4);
    this.#buf.writeUInt32BE(v >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** NUL-terminated string. */
  attrString(type: number, s: string): this {
    const n = Buffer.byteLength(s);
    this.#attrHeader(type, n + 1);
    this.#ensure(n + 1);
    this.#buf.write(s, this.#pos);
    this.#buf[this.#pos + n] = 0;
    this.#pos += n + 1;
    return this.#pad();
  }

  attrBytes(type: number, src: Uint8Array): this {
    return this.#attrHeader(type, src.length).raw(src).#pad();
  }

  /** A zero-length attribute whose presence is the value. */
  attrFlag(type: number): this {
    return this.#attrHeader(type, 0);
  }

  /**
   * Opens a nested attribute and returns a token for `nestEnd`. Strict
   * policies (ethtool, newer rtnetlink) need NLA_F_NESTED; it is set by default.
   */
  nestStart(type: number, nestedFlag = true): number {
    const at = this.#pos;
    this.#attrHeader(type | (nestedFlag ? NLA_F_NESTED : 0), 0);
    return at;
  }

  nestEnd(token: number): this {
    this.#alignTo4();
    if (this.#pos - token > 0xffff) throw new RangeError('netlink nested attribute too long');
    this.#buf.writeUInt16LE(this.#pos - token, token);
    return this;
  }

  // ---- internals --------------------------------------------------------

  #attrHeader(type: number, payloadLen: number): this {
    if (NLA_HDRLEN + payloadLen > 0xffff) throw new RangeError(`netlink attribute ${type} too long (${payloadLen} bytes)`);
    this.#alignTo4();
    this.#ensure(NLA_HDRLEN);
    this.#buf.writeUInt16LE(NLA_HDRLEN + payloadLen, this.#pos);
    this.#buf.writeUInt16LE(type, this.#pos + 2);
    this.#pos += NLA_HDRLEN;
    return this;
  }

  #pad(): this {
    return this.#alignTo4();
  }

  #alignTo4(): this {
    const aligned = nlAlign(this.#pos);
    if (aligned !== this.#pos) this.zeros(aligned - this.#pos);
    return this;
  }

  #ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.alloc(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }
}
