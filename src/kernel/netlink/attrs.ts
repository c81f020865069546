/**
 * Bounds-checked, in-place attribute decoding. `walkAttrs` is an index loop
 * over a region of the receive buffer that dispatches each attribute to a
 * handler table built once at module load; handlers read with the `read*`
 * functions below, which check the attribute's length. Anything truncated or
 * out of range raises a ProtocolError, never an out-of-range read.
 */
import { ProtocolError } from '../../common/errors.ts';
import { NLA_HDRLEN, NLA_TYPE_MASK } from './constants.ts';

/** Handles one attribute whose payload is `buf[off, off+len)`. */
export type AttrHandler<T> = (buf: Buffer, off: number, len: number, out: T) => void;
export type AttrTable<T> = readonly (AttrHandler<T> | undefined)[];

/** Builds a dense dispatch table from `{ [attrType]: handler }`. */
export function attrTable<T>(entries: Readonly<Record<number, AttrHandler<T>>>): AttrTable<T> {
  const table: (AttrHandler<T> | undefined)[] = [];
  for (const [k, h] of Object.entries(entries)) table[Number(k)] = h;
  for (let i = 0; i < table.length; i++) table[i] ??= undefined;
  return table;
}

/** Checks that `[start, end)` lies inside `buf`. */
export function checkRegion(buf: Buffer, start: number, end: number, what: string): void {
  if (!(start >= 0 && start <= end && end <= buf.length)) {
    throw new ProtocolError(`${what}: region [${start}, ${end}) outside buffer of ${buf.length} bytes`);
  }
}

/** Dispatches every attribute in `[start, end)` to `table`; unknown types are skipped. */
export function walkAttrs<T>(buf: Buffer, start: number, end: number, table: AttrTable<T>, out: T): void {
  checkRegion(buf, start, end, 'attributes');
  let pos = start;
  while (end - pos >= NLA_HDRLEN) {
    const nlaLen = buf.readUInt16LE(pos);
    if (nlaLen < NLA_HDRLEN || nlaLen > end - pos) {
      throw new ProtocolError(`attribute length ${nlaLen} at offset ${pos} exceeds its container`);
    }
    const type = buf.readUInt16LE(pos + 2) & NLA_TYPE_MASK;
    const h = table[type];
    if (h !== undefined) h(buf, pos + NLA_HDRLEN, nlaLen - NLA_HDRLEN, out);
    pos += (nlaLen + 3) & ~3;
  }
  // Trailing bytes shorter than a header are padding the kernel may leave; more is malformed.
  if (pos < end && end - pos >= NLA_HDRLEN) throw new ProtocolError(`trailing bytes after attributes at ${pos}`);
}

/** Calls `fn` for every attribute in `[start, end)` (for arrays of same-typed nests). */
export function forEachAttr(
  buf: Buffer,
  start: number,
  end: number,
  fn: (type: number, off: number, len: number) => void,
): void {
  checkRegion(buf, start, end, 'attributes');
  let pos = start;
  while (end - pos >= NLA_HDRLEN) {
    const nlaLen = buf.readUInt16LE(pos);
    if (nlaLen < NLA_HDRLEN || nlaLen > end - pos) {
      throw new ProtocolError(`attribute length ${nlaLen} at offset ${pos} exceeds its container`);
    }
    fn(buf.readUInt16LE(pos + 2) & NLA_TYPE_MASK, pos + NLA_HDRLEN, nlaLen - NLA_HDRLEN);
    pos += (nlaLen + 3) & ~3;
  }
}

function need(len: number, size: number, what: string): void {
  if (len < size) throw new ProtocolError(`${what} attribute needs ${size} bytes, has ${len}`);
}

export function readU8(buf: Buffer, off: number, len: number): number {
  need(len, 1, 'u8');
  return buf[off]!;
}

export function readU16(buf: Buffer, off: number, len: number): number {
  need(len, 2, 'u16');
  return buf.readUInt16LE(off);
}

export function readU16be(buf: Buffer, off: number, len: number): number {
  need(len, 2, 'be16');
  return buf.readUInt16BE(off);
}

export function readU32(buf: Buffer, off: number, len: number): number {
  need(len, 4, 'u32');
  return buf.readUInt32LE(off);
}

export function readU32be(buf: Buffer, off: number, len: number): number {
  need(len, 4, 'be32');
  return buf.readUInt32BE(off);
}

export function readS32(buf: Buffer, off: number, len: number): number {
  need(len, 4, 's32');
  return buf.readInt32LE(off);
}

export function readU64(buf: Buffer, off: number, len: number): bigint {
  need(len, 8, 'u64');
  return buf.readBigUInt64LE(off);
}

/** A NUL-terminated (or unterminated) string attribute. */
export function readString(buf: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && buf[end] !== 0) end++;
  return buf.toString('utf8', off, end);
}

/** A copy of the payload (for values that outlive the receive buffer). */
export function readBytes(buf: Buffer, off: number, len: number): Buffer {
  return Buffer.from(buf.subarray(off, off + len));
}

/** A hardware address as `aa:bb:cc:...` (any length, e.g. 20-byte IPoIB). */
export function readHwAddr(buf: Buffer, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    const b = buf[off + i]!;
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}
