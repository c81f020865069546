/**
 * ethtool bitsets (ETHTOOL_A_BITSET_*), decoded in place. The kernel sends
 * one of two forms:
 * - verbose (the default): a nest of bits, each {INDEX, NAME, VALUE flag};
 *   - as a *list* (ETHTOOL_A_BITSET_NOMASK): the listed bits are set, every
 *     other bit up to SIZE is clear (FEATURES_GET's wanted/active/nochange);
 *   - with a *mask*: the listed bits are the ones that exist (the mask), VALUE
 *     marks those set (FEATURES_GET's hw, whose mask is every feature bit;
 *     PRIVFLAGS_GET; LINKMODES_GET's ours; FEATURES_SET_REPLY);
 * - compact (ETHTOOL_FLAG_COMPACT_BITSETS): VALUE and MASK as arrays of u32
 *   words, bit i in word i/32, and no names.
 * Bits the kernel leaves unnamed (retired feature bits have an empty name in
 * the string set) are skipped, as ethtool does. `bitsetEntries` turns either
 * form into (name, value) pairs; `encodeBitset`
 * writes the verbose form by name (what a SET request sends).
 */
import { ProtocolError } from '../../../common/errors.ts';
import { attrTable, forEachAttr, readString, readU32, walkAttrs } from '../attrs.ts';
import type { NlWriter } from '../writer.ts';
import { ETHTOOL_A_BITSET as A, ETHTOOL_A_BITSET_BIT as B, ETHTOOL_A_BITSET_BITS_BIT } from './ethtool-constants.ts';

/** A bit of the verbose form: the kernel sends both index and name; requests may name bits only. */
export interface EthtoolBit {
  readonly index?: number;
  readonly name?: string;
  /** Set: in a list every listed bit is (the kernel sends no VALUE flag there); with a mask, the VALUE flag. */
  readonly value: boolean;
}

export interface EthtoolBitset {
  /** Number of bits (ETHTOOL_A_BITSET_SIZE); 0 when the kernel left it out. */
  readonly size: number;
  /** A list: listed (or value) bits are set and all others clear; no mask. */
  readonly nomask: boolean;
  /** Verbose form: the bits listed. */
  readonly bits?: readonly EthtoolBit[];
  /** Compact form: the value words. */
  readonly value?: Uint32Array;
  /** Compact form: the mask words (absent for a list). */
  readonly mask?: Uint32Array;
}

interface BitOut { index?: number; name?: string; value: boolean }
const BIT = attrTable<BitOut>({
  [B.ETHTOOL_A_BITSET_BIT_INDEX]: (b, o, l, bit) => { bit.index = readU32(b, o, l); },
  [B.ETHTOOL_A_BITSET_BIT_NAME]: (b, o, l, bit) => { bit.name = readString(b, o, l); },
  [B.ETHTOOL_A_BITSET_BIT_VALUE]: (_b, _o, _l, bit) => { bit.value = true; },
});

interface SetOut { size: number; nomask: boolean; bits?: EthtoolBit[]; value?: Uint32Array; mask?: Uint32Array }

/** A copy of a binary attribute as u32 words (its length must be a multiple of 4). */
function readWords(buf: Buffer, off: number, len: number, what: string): Uint32Array {
  if (len % 4 !== 0) throw new ProtocolError(`bitset ${what} of ${len} bytes is not a whole number of u32 words`);
  const words = new Uint32Array(len / 4);
  for (let i = 0; i < words.length; i++) words[i] = buf.readUInt32LE(off + 4 * i);
  return words;
}

const SET = attrTable<SetOut>({
  [A.ETHTOOL_A_BITSET_NOMASK]: (_b, _o, _l, s) => { s.nomask = true; },
  [A.ETHTOOL_A_BITSET_SIZE]: (b, o, l, s) => { s.size = readU32(b, o, l); },
  [A.ETHTOOL_A_BITSET_BITS]: (b, o, l, s) => {
    const bits = (s.bits ??= []);
    forEachAttr(b, o, o + l, (type, bo, bl) => {
      if (type !== ETHTOOL_A_BITSET_BITS_BIT) return;
      const bit: BitOut = { value: false };
      walkAttrs(b, bo, bo + bl, BIT, bit);
      if (bit.index === undefined && bit.name === undefined) throw new ProtocolError('ethtool bitset bit without index or name');
      bits.push({
        ...(bit.index !== undefined ? { index: bit.index } : {}),
        ...(bit.name !== undefined ? { name: bit.name } : {}),
        value: bit.value,
      });
    });
  },
  [A.ETHTOOL_A_BITSET_VALUE]: (b, o, l, s) => { s.value = readWords(b, o, l, 'value'); },
  [A.ETHTOOL_A_BITSET_MASK]: (b, o, l, s) => { s.mask = readWords(b, o, l, 'mask'); },
});

/** Decodes a bitset nest whose payload is `buf[off, off+len)`. */
export function decodeBitset(buf: Buffer, off: number, len: number): EthtoolBitset {
  const s: SetOut = { size: 0, nomask: false };
  walkAttrs(buf, off, off + len, SET, s);
  if (s.bits && (s.value || s.mask)) throw new ProtocolError('ethtool bitset has both bits and compact words');
  if (s.bits && s.size > 0) {
    for (const bit of s.bits) {
      if (bit.index !== undefined && bit.index >= s.size) throw new ProtocolError(`ethtool bitset bit ${bit.index} beyond its size ${s.size}`);
    }
  }
  if (s.value && s.size > s.value.length * 32) throw new ProtocolError(`ethtool bitset of ${s.size} bits has ${s.value.length} value words`);
  if (s.mask && s.value && s.mask.length !== s.value.length) throw new ProtocolError('ethtool bitset value and mask differ in length');
  if (s.mask && s.nomask) throw new ProtocolError('ethtool bitset is a list but carries a mask');
  return {
    size: s.size, nomask: s.nomask,
    // In a list the kernel sends no VALUE flags: every listed bit is set.
    ...(s.bits ? { bits: s.nomask ? s.bits.map((bit) => ({ ...bit, value: true })) : s.bits } : {}),
    ...(s.value ? { value: s.value } : {}),
    ...(s.mask ? { mask: s.mask } : {}),
  };
}

const wordBit = (words: Uint32Array | undefined, i: number): boolean =>
  words !== undefined && i >> 5 < words.length && ((words[i >> 5]! >>> (i & 31)) & 1) === 1;

/**
 * The bits that exist in `bs` with their values, named from the bits
 * themselves or else from `names` (a string set, index → name), else by
 * index. A list with `names` yields every named bit (the unlisted ones as
 * false); a list without names yields only the set bits; a masked set
 * yields the masked bits.
 */
export function bitsetEntries(bs: EthtoolBitset, names?: readonly string[]): [string, boolean][] {
  const nameOf = (i: number | undefined, own?: string): string =>
    own ?? (i === undefined ? '' : names !== undefined && i < names.length ? names[i]! : String(i));
  const out = new Map<string, boolean>();
  if (bs.bits) {
    if (bs.nomask && names) names.forEach((n) => { if (n) out.set(n, false); });
    for (const bit of bs.bits) {
      const name = nameOf(bit.index, bit.name);
      if (name) out.set(name, bs.nomask || bit.value);
    }
    return [...out];
  }
  const masked = bs.mask !== undefined && !bs.nomask;
  const words = bs.value?.length ?? bs.mask?.length ?? 0;
  const count = bs.size > 0 ? Math.min(bs.size, words * 32) : words * 32;
  for (let i = 0; i < count; i++) {
    const v = wordBit(bs.value, i);
    const name = nameOf(i);
    if (name && (masked ? wordBit(bs.mask, i) : v || (names !== undefined && i < names.length))) out.set(name, v);
  }
  return [...out];
}

/** `bitsetEntries` as a name → set map. */
export function bitsetToRecord(bs: EthtoolBitset, names?: readonly string[]): Record<string, boolean> {
  return Object.fromEntries(bitsetEntries(bs, names));
}

/** The names of the set bits. */
export function bitsetSetNames(bs: EthtoolBitset, names?: readonly string[]): string[] {
  return bitsetEntries(bs, names).filter(([, v]) => v).map(([n]) => n);
}

/**
 * Writes a verbose bitset attribute of `type` naming each bit: with a mask
 * (the default: only the listed bits change, VALUE marks those to set) or,
 * with `nomask`, as a list (the listed bits set, all others clear).
 */
export function encodeBitset(w: NlWriter, type: number, bits: Readonly<Record<string, boolean>>, nomask = false): NlWriter {
  const set = w.nestStart(type);
  if (nomask) w.attrFlag(A.ETHTOOL_A_BITSET_NOMASK);
  const list = w.nestStart(A.ETHTOOL_A_BITSET_BITS);
  for (const [name, value] of Object.entries(bits)) {
    if (nomask && !value) continue;
    const bit = w.nestStart(ETHTOOL_A_BITSET_BITS_BIT);
    w.attrString(B.ETHTOOL_A_BITSET_BIT_NAME, name);
    if (value && !nomask) w.attrFlag(B.ETHTOOL_A_BITSET_BIT_VALUE);
    w.nestEnd(bit);
  }
  return w.nestEnd(list).nestEnd(set);
}
