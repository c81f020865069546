/**
 * ethtool replies made of bitsets: string sets (STRSET_GET, which names the
 * bits), netdev features and driver private flags. FEATURES_GET sends its
 * four bitsets as lists (only the set bits), so a complete name → state map
 * needs the ETH_SS_FEATURES string set; private flags come with a mask that
 * lists every flag.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { attrTable, forEachAttr, readString, readU32, walkAttrs } from '../attrs.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { bitsetToRecord, decodeBitset, type EthtoolBitset } from './ethtool-bitset.ts';
import { encodeEthtoolRequest, type EthtoolDevice, walkEthtoolReply } from './ethtool-codec.ts';
import {
  ETHTOOL_A_FEATURES as F, ETHTOOL_A_PRIVFLAGS_FLAGS, ETHTOOL_A_STRING as S, ETHTOOL_A_STRINGSET as SS,
  ETHTOOL_A_STRINGSETS_STRINGSET, ETHTOOL_A_STRINGS_STRING, ETHTOOL_A_STRSET, ETHTOOL_MSG, ETHTOOL_MSG_REPLY as R,
} from './ethtool-constants.ts';
import type { EthtoolFeatures, EthtoolPrivFlags } from './ethtool-types.ts';

/** More strings than any string set holds (the largest, driver statistics, run to a few thousand). */
const MAX_STRINGS = 65536;

/** STRSET_GET for the string sets `ids` (ETH_SS_*) of a device, or the global ones with no device. */
export function encodeEthtoolStrsetGet(w: NlWriter, familyId: number, dev: EthtoolDevice, ids: readonly number[]): NlWriter {
  encodeEthtoolRequest(w, familyId, ETHTOOL_MSG.ETHTOOL_MSG_STRSET_GET, dev);
  const sets = w.nestStart(ETHTOOL_A_STRSET.ETHTOOL_A_STRSET_STRINGSETS);
  for (const id of ids) {
    const set = w.nestStart(ETHTOOL_A_STRINGSETS_STRINGSET);
    w.attrU32(SS.ETHTOOL_A_STRINGSET_ID, id).nestEnd(set);
  }
  return w.nestEnd(sets);
}

interface StringOut { index?: number; value?: string }
const STRING = attrTable<StringOut>({
  [S.ETHTOOL_A_STRING_INDEX]: (b, o, l, s) => { s.index = readU32(b, o, l); },
  [S.ETHTOOL_A_STRING_VALUE]: (b, o, l, s) => { s.value = readString(b, o, l); },
});

interface SetOut { id?: number; count?: number; strings: string[] }
const STRINGSET = attrTable<SetOut>({
  [SS.ETHTOOL_A_STRINGSET_ID]: (b, o, l, s) => { s.id = readU32(b, o, l); },
  [SS.ETHTOOL_A_STRINGSET_COUNT]: (b, o, l, s) => { s.count = readU32(b, o, l); },
  [SS.ETHTOOL_A_STRINGSET_STRINGS]: (b, o, l, s) => forEachAttr(b, o, o + l, (type, eo, el) => {
    if (type !== ETHTOOL_A_STRINGS_STRING) return;
    const str: StringOut = {};
    walkAttrs(b, eo, eo + el, STRING, str);
    if (str.index === undefined || str.value === undefined) throw new ProtocolError('ethtool string without index or value');
    if (str.index >= MAX_STRINGS) throw new ProtocolError(`ethtool string index ${str.index} out of range`);
    s.strings[str.index] = str.value;
  }),
});

const STRSET = attrTable<Map<number, string[]>>({
  [ETHTOOL_A_STRSET.ETHTOOL_A_STRSET_STRINGSETS]: (b, o, l, sets) => forEachAttr(b, o, o + l, (type, eo, el) => {
    if (type !== ETHTOOL_A_STRINGSETS_STRINGSET) return;
    const s: SetOut = { strings: [] };
    walkAttrs(b, eo, eo + el, STRINGSET, s);
    if (s.id === undefined) throw new ProtocolError('ethtool string set without an id');
    if (s.count !== undefined && s.strings.length > s.count) {
      throw new ProtocolError(`ethtool string set ${s.id}: string ${s.strings.length - 1} beyond its count ${s.count}`);
    }
    // Dense: a hole (never sent by the kernel) reads as an unnamed bit.
    sets.set(s.id, Array.from(s.strings, (v) => v ?? ''));
  }),
});

/** Decodes ETHTOOL_MSG_STRSET_GET_REPLY: string set id → strings by index. */
export function decodeEthtoolStrsets(buf: Buffer, m: NlMessage): Map<number, string[]> | undefined {
  const sets = new Map<number, string[]>();
  return walkEthtoolReply(buf, m, R.ETHTOOL_MSG_STRSET_GET_REPLY, STRSET, sets) ? sets : undefined;
}

interface FeaturesOut { hw?: EthtoolBitset; wanted?: EthtoolBitset; active?: EthtoolBitset; nochange?: EthtoolBitset }
const FEATURES = attrTable<FeaturesOut>({
  [F.ETHTOOL_A_FEATURES_HW]: (b, o, l, f) => { f.hw = decodeBitset(b, o, l); },
  [F.ETHTOOL_A_FEATURES_WANTED]: (b, o, l, f) => { f.wanted = decodeBitset(b, o, l); },
  [F.ETHTOOL_A_FEATURES_ACTIVE]: (b, o, l, f) => { f.active = decodeBitset(b, o, l); },
  [F.ETHTOOL_A_FEATURES_NOCHANGE]: (b, o, l, f) => { f.nochange = decodeBitset(b, o, l); },
});

const EMPTY_LIST: EthtoolBitset = { size: 0, nomask: true, bits: [] };

/**
 * Decodes ETHTOOL_MSG_FEATURES_GET_REPLY (or FEATURES_SET_REPLY, whose
 * bitsets carry a mask: only the changed features) into name → state maps.
 * With `names` (the ETH_SS_FEATURES string set) each map holds every
 * feature; without, only the features the bitsets name.
 */
export function decodeEthtoolFeatures(buf: Buffer, m: NlMessage, names?: readonly string[]): EthtoolFeatures | undefined {
  const f: FeaturesOut = {};
  const isSetReply = m.len > 0 && buf[m.off] === R.ETHTOOL_MSG_FEATURES_SET_REPLY;
  const replyCmd = isSetReply ? R.ETHTOOL_MSG_FEATURES_SET_REPLY : R.ETHTOOL_MSG_FEATURES_GET_REPLY;
  if (!walkEthtoolReply(buf, m, replyCmd, FEATURES, f)) return undefined;
  return {
    hw: bitsetToRecord(f.hw ?? EMPTY_LIST, names),
    wanted: bitsetToRecord(f.wanted ?? EMPTY_LIST, names),
    active: bitsetToRecord(f.active ?? EMPTY_LIST, names),
    nochange: bitsetToRecord(f.nochange ?? EMPTY_LIST, names),
  };
}

const PRIVFLAGS = attrTable<{ flags?: EthtoolBitset }>({
  [ETHTOOL_A_PRIVFLAGS_FLAGS]: (b, o, l, p) => { p.flags = decodeBitset(b, o, l); },
});

/** Decodes ETHTOOL_MSG_PRIVFLAGS_GET_REPLY: every private flag of the driver, name → on. */
export function decodeEthtoolPrivFlags(buf: Buffer, m: NlMessage): EthtoolPrivFlags | undefined {
  const p: { flags?: EthtoolBitset } = {};
  if (!walkEthtoolReply(buf, m, R.ETHTOOL_MSG_PRIVFLAGS_GET_REPLY, PRIVFLAGS, p)) return undefined;
  return p.flags ? bitsetToRecord(p.flags) : {};
}
