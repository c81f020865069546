/**
 * ethtool SET requests (ETHTOOL_MSG_*_SET): each is the common request
 * header nest followed by only the attributes to change; an attribute left
 * out keeps its value. Features and private flags go as verbose bitsets by
 * name with a mask (only the named bits change). Scalar requests are built
 * from tables (field → attribute, kind) made once at module load, the
 * mirror of ethtool-codec.ts's decoder tables. Every value is checked
 * before a byte is written: a bad one throws a ConfigError naming its field.
 */
import { ConfigError } from '../../../common/errors.ts';
import type { NlWriter } from '../writer.ts';
import { encodeBitset } from './ethtool-bitset.ts';
import { encodeEthtoolRequest } from './ethtool-codec.ts';
import {
  ETHTOOL_A_CHANNELS as CH, ETHTOOL_A_COALESCE as CO, ETHTOOL_A_FEATURES as F, ETHTOOL_A_PRIVFLAGS_FLAGS, ETHTOOL_A_RINGS as RI,
  ETHTOOL_FLAG, ETHTOOL_MSG as C,
} from './ethtool-constants.ts';
import type { EthtoolCoalesce } from './ethtool-types.ts';

/** What `ethtool -G` can change (the settable part of EthtoolRings). */
export interface EthtoolRingsSettable {
  readonly rx: number;
  readonly rxMini: number;
  readonly rxJumbo: number;
  readonly tx: number;
  readonly rxBufLen: number;
  readonly cqeSize: number;
  readonly txPush: boolean;
  readonly rxPush: boolean;
  /** ETHTOOL_TCP_DATA_SPLIT_*: 0 unknown (driver default), 1 disabled, 2 enabled. */
  readonly tcpDataSplit: number;
  /** TX push buffer length (6.4+). */
  readonly txPushBufLen: number;
  /** Header/data split threshold (6.14+). */
  readonly hdsThresh: number;
}

/** What `ethtool -L` can change: queue counts per channel type (undefined or absent: unchanged). */
export interface EthtoolChannelsSettable {
  readonly rx?: number | undefined;
  readonly tx?: number | undefined;
  readonly other?: number | undefined;
  readonly combined?: number | undefined;
}

type Kind = 'u32' | 'u8' | 'bool';
type Spec<T> = Readonly<Record<keyof T & string, readonly [number, Kind, number?]>>;

/** Longest bit name the kernel has (ETH_GSTRING_LEN - 1). */
const BIT_NAME_MAX = 31;
/** More bits than any bitset request needs; keeps the nest under its 64 KiB limit. */
const MAX_BITS = 1024;

const RINGS: Spec<EthtoolRingsSettable> = {
  rx: [RI.ETHTOOL_A_RINGS_RX, 'u32'],
  rxMini: [RI.ETHTOOL_A_RINGS_RX_MINI, 'u32'],
  rxJumbo: [RI.ETHTOOL_A_RINGS_RX_JUMBO, 'u32'],
  tx: [RI.ETHTOOL_A_RINGS_TX, 'u32'],
  rxBufLen: [RI.ETHTOOL_A_RINGS_RX_BUF_LEN, 'u32'],
  tcpDataSplit: [RI.ETHTOOL_A_RINGS_TCP_DATA_SPLIT, 'u8', 2],
  cqeSize: [RI.ETHTOOL_A_RINGS_CQE_SIZE, 'u32'],
  txPush: [RI.ETHTOOL_A_RINGS_TX_PUSH, 'bool'],
  rxPush: [RI.ETHTOOL_A_RINGS_RX_PUSH, 'bool'],
  txPushBufLen: [RI.ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN, 'u32'],
  hdsThresh: [RI.ETHTOOL_A_RINGS_HDS_THRESH, 'u32'],
};

const CHANNELS: Spec<Required<EthtoolChannelsSettable>> = {
  rx: [CH.ETHTOOL_A_CHANNELS_RX_COUNT, 'u32'],
  tx: [CH.ETHTOOL_A_CHANNELS_TX_COUNT, 'u32'],
  other: [CH.ETHTOOL_A_CHANNELS_OTHER_COUNT, 'u32'],
  combined: [CH.ETHTOOL_A_CHANNELS_COMBINED_COUNT, 'u32'],
};

const COALESCE: Spec<Required<EthtoolCoalesce>> = {
  rxUsecs: [CO.ETHTOOL_A_COALESCE_RX_USECS, 'u32'],
  rxMaxFrames: [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES, 'u32'],
  rxUsecsIrq: [CO.ETHTOOL_A_COALESCE_RX_USECS_IRQ, 'u32'],
  rxMaxFramesIrq: [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_IRQ, 'u32'],
  txUsecs: [CO.ETHTOOL_A_COALESCE_TX_USECS, 'u32'],
  txMaxFrames: [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES, 'u32'],
  txUsecsIrq: [CO.ETHTOOL_A_COALESCE_TX_USECS_IRQ, 'u32'],
  txMaxFramesIrq: [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_IRQ, 'u32'],
  statsBlockUsecs: [CO.ETHTOOL_A_COALESCE_STATS_BLOCK_USECS, 'u32'],
  useAdaptiveRx: [CO.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX, 'bool'],
  useAdaptiveTx: [CO.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX, 'bool'],
  pktRateLow: [CO.ETHTOOL_A_COALESCE_PKT_RATE_LOW, 'u32'],
  rxUsecsLow: [CO.ETHTOOL_A_COALESCE_RX_USECS_LOW, 'u32'],
  rxMaxFramesLow: [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_LOW, 'u32'],
  txUsecsLow: [CO.ETHTOOL_A_COALESCE_TX_USECS_LOW, 'u32'],
  txMaxFramesLow: [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_LOW, 'u32'],
  pktRateHigh: [CO.ETHTOOL_A_COALESCE_PKT_RATE_HIGH, 'u32'],
  rxUsecsHigh: [CO.ETHTOOL_A_COALESCE_RX_USECS_HIGH, 'u32'],
  rxMaxFramesHigh: [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_HIGH, 'u32'],
  txUsecsHigh: [CO.ETHTOOL_A_COALESCE_TX_USECS_HIGH, 'u32'],
  txMaxFramesHigh: [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_HIGH, 'u32'],
  rateSampleInterval: [CO.ETHTOOL_A_COALESCE_RATE_SAMPLE_INTERVAL, 'u32'],
  useCqeModeTx: [CO.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX, 'bool'],
  useCqeModeRx: [CO.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX, 'bool'],
  txAggrMaxBytes: [CO.ETHTOOL_A_COALESCE_TX_AGGR_MAX_BYTES, 'u32'],
  txAggrMaxFrames: [CO.ETHTOOL_A_COALESCE_TX_AGGR_MAX_FRAMES, 'u32'],
  txAggrTimeUsecs: [CO.ETHTOOL_A_COALESCE_TX_AGGR_TIME_USECS, 'u32'],
};

function bad(what: string, field: string, value: unknown, must: string): ConfigError {
  return new ConfigError(`ethtool ${what} ${field} must be ${must}, got ${JSON.stringify(value) ?? String(value)}`, {
    context: { field, value },
  });
}

/** The (attribute, kind, value) triples of `values` in table order; undefined fields are left out. */
function scalars<T extends object>(what: string, spec: Spec<T>, values: Partial<T>): [number, Kind, number][] {
  if (typeof values !== 'object' || values === null) throw bad(what, '(settings)', values, 'an object');
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(spec, key)) throw bad(what, key, (values as Record<string, unknown>)[key], `one of ${Object.keys(spec).join(', ')}`);
  }
  const out: [number, Kind, number][] = [];
  for (const [field, [attr, kind, max]] of Object.entries(spec) as [string, readonly [number, Kind, number?]][]) {
    const v = (values as Record<string, unknown>)[field];
    if (v === undefined) continue;
    if (kind === 'bool') {
      if (typeof v !== 'boolean') throw bad(what, field, v, 'a boolean');
      out.push([attr, kind, v ? 1 : 0]);
      continue;
    }
    const limit = max ?? (kind === 'u8' ? 0xff : 0xffff_ffff);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > limit) throw bad(what, field, v, `an integer in [0, ${limit}]`);
    out.push([attr, kind, v]);
  }
  return out;
}

/** Starts a SET request for device `index` (no reply asked for: the kernel just acks). */
function beginSet(w: NlWriter, familyId: number, cmd: number, index: number): NlWriter {
  return encodeEthtoolRequest(w, familyId, cmd, index, ETHTOOL_FLAG.ETHTOOL_FLAG_OMIT_REPLY);
}

function encodeScalarSet<T extends object>(w: NlWriter, familyId: number, cmd: number, index: number, what: string, spec: Spec<T>, values: Partial<T>): NlWriter {
  const attrs = scalars(what, spec, values);
  beginSet(w, familyId, cmd, index);
  for (const [attr, kind, v] of attrs) {
    if (kind === 'u32') w.attrU32(attr, v);
    else w.attrU8(attr, v);
  }
  return w;
}

/** Throws unless `bits` is a name → boolean map of at most MAX_BITS kernel-sized names. */
function checkBits(what: string, bits: Readonly<Record<string, boolean>>): void {
  if (typeof bits !== 'object' || bits === null) throw bad(what, '(names)', bits, 'an object of name → boolean');
  const entries = Object.entries(bits);
  if (entries.length > MAX_BITS) throw bad(what, '(names)', entries.length, `at most ${MAX_BITS} names`);
  for (const [name, v] of entries) {
    const n = Buffer.byteLength(name);
    if (n === 0 || n > BIT_NAME_MAX || name.includes('\0')) throw bad(what, 'name', name, `a name of 1 to ${BIT_NAME_MAX} bytes without NUL`);
    if (typeof v !== 'boolean') throw bad(what, name, v, 'a boolean');
  }
}

/**
 * True when a SET of `values` would change nothing (an object whose fields are
 * all undefined): no request is sent. Anything not an object is left to the
 * encoder to refuse.
 */
export const ethtoolSetIsEmpty = (values: unknown): boolean =>
  typeof values === 'object' && values !== null && Object.values(values).every((v) => v === undefined);

/** ETHTOOL_MSG_FEATURES_SET: WANTED as a masked bitset naming each feature (only those change). */
export function encodeEthtoolFeaturesSet(w: NlWriter, familyId: number, index: number, features: Readonly<Record<string, boolean>>): NlWriter {
  checkBits('feature', features);
  beginSet(w, familyId, C.ETHTOOL_MSG_FEATURES_SET, index);
  return encodeBitset(w, F.ETHTOOL_A_FEATURES_WANTED, features);
}

/** ETHTOOL_MSG_PRIVFLAGS_SET: FLAGS as a masked bitset naming each flag (only those change). */
export function encodeEthtoolPrivFlagsSet(w: NlWriter, familyId: number, index: number, flags: Readonly<Record<string, boolean>>): NlWriter {
  checkBits('private flag', flags);
  beginSet(w, familyId, C.ETHTOOL_MSG_PRIVFLAGS_SET, index);
  return encodeBitset(w, ETHTOOL_A_PRIVFLAGS_FLAGS, flags);
}

/** ETHTOOL_MSG_RINGS_SET: ring sizes (u32), push and data-split switches (u8). */
export const encodeEthtoolRingsSet = (w: NlWriter, familyId: number, index: number, rings: Partial<EthtoolRingsSettable>): NlWriter =>
  encodeScalarSet(w, familyId, C.ETHTOOL_MSG_RINGS_SET, index, 'ring', RINGS, rings);

/** ETHTOOL_MSG_CHANNELS_SET: ETHTOOL_A_CHANNELS_*_COUNT (u32). */
export const encodeEthtoolChannelsSet = (w: NlWriter, familyId: number, index: number, ch: EthtoolChannelsSettable): NlWriter =>
  encodeScalarSet(w, familyId, C.ETHTOOL_MSG_CHANNELS_SET, index, 'channel', CHANNELS, ch);

/** ETHTOOL_MSG_COALESCE_SET: u32 parameters and u8 switches (adaptive, CQE mode). */
export const encodeEthtoolCoalesceSet = (w: NlWriter, familyId: number, index: number, c: Partial<EthtoolCoalesce>): NlWriter =>
  encodeScalarSet(w, familyId, C.ETHTOOL_MSG_COALESCE_SET, index, 'coalesce', COALESCE, c);
