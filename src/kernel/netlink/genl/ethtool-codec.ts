/**
 * ethtool requests (genlmsghdr + the common header nest) and in-place
 * decoders for the replies made of scalars: link modes, link info, link
 * state, channels, rings and coalescing. Each decoder takes the reply message
 * and returns `undefined` when its genl command is not the expected reply.
 */
import { ConfigError, ProtocolError } from '../../../common/errors.ts';
import { type AttrHandler, type AttrTable, attrTable, readU32, readU8, walkAttrs } from '../attrs.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { bitsetEntries, decodeBitset } from './ethtool-bitset.ts';
import {
  DUPLEX, ETHTOOL_A_CHANNELS as CH, ETHTOOL_A_COALESCE as CO, ETHTOOL_A_HEADER as HDR, ETHTOOL_A_LINKINFO as LI,
  ETHTOOL_A_LINKMODES as LM, ETHTOOL_A_LINKSTATE as LS, ETHTOOL_A_MSG_HEADER, ETHTOOL_A_RINGS as RI, ETHTOOL_GENL_VERSION,
  ETHTOOL_MSG_REPLY as R, PORT_NAMES, SPEED_UNKNOWN, TRANSCEIVER_NAMES,
} from './ethtool-constants.ts';
import type {
  EthtoolChannels, EthtoolCoalesce, EthtoolLinkInfo, EthtoolLinkModes, EthtoolLinkState, EthtoolRings,
} from './ethtool-types.ts';
import { decodeGenlHeader, encodeGenlRequest } from './genl-ctrl.ts';
import { GENL_HDRLEN } from './genl-constants.ts';

/** The device a request is about: an ifindex, a name, or none (global string sets). */
export type EthtoolDevice = number | string | undefined;

/**
 * Starts an ethtool request: nlmsghdr (type = the family id), genlmsghdr and
 * the ETHTOOL_A_*_HEADER nest with the device and ETHTOOL_FLAG_* bits. More
 * attributes may follow; the caller ends the message.
 */
export function encodeEthtoolRequest(w: NlWriter, familyId: number, cmd: number, dev: EthtoolDevice, flags = 0): NlWriter {
  if (typeof dev === 'number' && !(Number.isInteger(dev) && dev > 0 && dev <= 0x7fffffff)) {
    throw new ConfigError(`ethtool device index must be a positive integer, got ${String(dev)}`, { context: { field: 'index', value: dev } });
  }
  encodeGenlRequest(w, familyId, cmd, ETHTOOL_GENL_VERSION);
  // The header nest is required even when empty (STRSET_GET without it: EINVAL).
  const hdr = w.nestStart(ETHTOOL_A_MSG_HEADER);
  if (typeof dev === 'number') w.attrU32(HDR.ETHTOOL_A_HEADER_DEV_INDEX, dev);
  else if (typeof dev === 'string') w.attrString(HDR.ETHTOOL_A_HEADER_DEV_NAME, dev);
  if (flags !== 0) w.attrU32(HDR.ETHTOOL_A_HEADER_FLAGS, flags);
  return w.nestEnd(hdr);
}

/** Walks a reply's attributes into `out` if its genl command is `replyCmd`; false otherwise. */
export function walkEthtoolReply<T>(buf: Buffer, m: NlMessage, replyCmd: number, table: AttrTable<T>, out: T): boolean {
  if (decodeGenlHeader(buf, m).cmd !== replyCmd) return false;
  walkAttrs(buf, m.off + GENL_HDRLEN, m.off + m.len, table, out);
  return true;
}

type Out = Record<string, unknown>;
type Kind = 'u32' | 'u8' | 'bool';
const READERS: Record<Kind, (b: Buffer, o: number, l: number) => number | boolean> = {
  u32: readU32, u8: readU8, bool: (b, o, l) => readU8(b, o, l) !== 0,
};

/** A table for replies that are flat scalars: attribute → [field, kind]. */
function scalarTable<T>(spec: Readonly<Record<number, readonly [keyof T & string, Kind]>>, extra: Record<number, AttrHandler<Out>> = {}): AttrTable<Out> {
  const handlers: Record<number, AttrHandler<Out>> = {};
  for (const [attr, [field, kind]] of Object.entries(spec)) {
    const read = READERS[kind];
    handlers[Number(attr)] = (b, o, l, out) => { out[field] = read(b, o, l); };
  }
  return attrTable<Out>({ ...handlers, ...extra });
}

function decodeScalars<T>(buf: Buffer, m: NlMessage, replyCmd: number, table: AttrTable<Out>): T | undefined {
  const out: Out = {};
  return walkEthtoolReply(buf, m, replyCmd, table, out) ? (out as T) : undefined;
}

// ---- link modes --------------------------------------------------------------

const modeNames = (entries: [string, boolean][]): { all: string[]; set: string[] } =>
  ({ all: entries.map(([n]) => n), set: entries.filter(([, v]) => v).map(([n]) => n) });

const LINKMODES = attrTable<Out>({
  [LM.ETHTOOL_A_LINKMODES_AUTONEG]: (b, o, l, out) => { out['autoneg'] = readU8(b, o, l) !== 0; },
  [LM.ETHTOOL_A_LINKMODES_SPEED]: (b, o, l, out) => {
    const v = readU32(b, o, l);
    if (v !== SPEED_UNKNOWN) out['speed'] = v;
  },
  [LM.ETHTOOL_A_LINKMODES_DUPLEX]: (b, o, l, out) => {
    const v = readU8(b, o, l);
    if (v === DUPLEX.DUPLEX_HALF) out['duplex'] = 'half';
    else if (v === DUPLEX.DUPLEX_FULL) out['duplex'] = 'full';
  },
  [LM.ETHTOOL_A_LINKMODES_LANES]: (b, o, l, out) => { out['lanes'] = readU32(b, o, l); },
  // value = advertised, mask = supported.
  [LM.ETHTOOL_A_LINKMODES_OURS]: (b, o, l, out) => {
    const bs = decodeBitset(b, o, l);
    const { all, set } = modeNames(bitsetEntries(bs));
    if (bs.nomask) { if (set.length) out['advertisedModes'] = set; return; }
    if (all.length) { out['supportedModes'] = all; out['advertisedModes'] = set; }
  },
  [LM.ETHTOOL_A_LINKMODES_PEER]: (b, o, l, out) => { out['peerModes'] = modeNames(bitsetEntries(decodeBitset(b, o, l))).set; },
});

/** Decodes ETHTOOL_MSG_LINKMODES_GET_REPLY. SPEED_UNKNOWN and DUPLEX_UNKNOWN leave their fields out. */
export const decodeEthtoolLinkModes = (buf: Buffer, m: NlMessage): EthtoolLinkModes | undefined =>
  decodeScalars(buf, m, R.ETHTOOL_MSG_LINKMODES_GET_REPLY, LINKMODES);

// ---- link info ---------------------------------------------------------------

const LINKINFO = scalarTable<EthtoolLinkInfo>({
  [LI.ETHTOOL_A_LINKINFO_PHYADDR]: ['phyAddress', 'u8'],
  [LI.ETHTOOL_A_LINKINFO_TP_MDIX]: ['mdix', 'u8'],
  [LI.ETHTOOL_A_LINKINFO_TP_MDIX_CTRL]: ['mdixCtrl', 'u8'],
}, {
  [LI.ETHTOOL_A_LINKINFO_PORT]: (b, o, l, out) => { const v = readU8(b, o, l); out['port'] = PORT_NAMES[v] ?? String(v); },
  [LI.ETHTOOL_A_LINKINFO_TRANSCEIVER]: (b, o, l, out) => {
    const v = readU8(b, o, l);
    out['transceiver'] = TRANSCEIVER_NAMES[v] ?? String(v);
  },
});

/** Decodes ETHTOOL_MSG_LINKINFO_GET_REPLY. */
export const decodeEthtoolLinkInfo = (buf: Buffer, m: NlMessage): EthtoolLinkInfo | undefined =>
  decodeScalars(buf, m, R.ETHTOOL_MSG_LINKINFO_GET_REPLY, LINKINFO);

// ---- link state --------------------------------------------------------------

const LINKSTATE = scalarTable<EthtoolLinkState>({
  [LS.ETHTOOL_A_LINKSTATE_LINK]: ['linkDetected', 'bool'],
  [LS.ETHTOOL_A_LINKSTATE_SQI]: ['sqi', 'u32'],
  [LS.ETHTOOL_A_LINKSTATE_SQI_MAX]: ['sqiMax', 'u32'],
  [LS.ETHTOOL_A_LINKSTATE_EXT_STATE]: ['extState', 'u8'],
  [LS.ETHTOOL_A_LINKSTATE_EXT_SUBSTATE]: ['extSubstate', 'u8'],
  [LS.ETHTOOL_A_LINKSTATE_EXT_DOWN_CNT]: ['extDownCount', 'u32'],
});

/** Decodes ETHTOOL_MSG_LINKSTATE_GET_REPLY. */
export const decodeEthtoolLinkState = (buf: Buffer, m: NlMessage): EthtoolLinkState | undefined =>
  decodeScalars(buf, m, R.ETHTOOL_MSG_LINKSTATE_GET_REPLY, LINKSTATE);

// ---- channels, rings, coalesce -------------------------------------------------

const CHANNELS = scalarTable<EthtoolChannels>({
  [CH.ETHTOOL_A_CHANNELS_RX_MAX]: ['rxMax', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_TX_MAX]: ['txMax', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_OTHER_MAX]: ['otherMax', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_COMBINED_MAX]: ['combinedMax', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_RX_COUNT]: ['rxCount', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_TX_COUNT]: ['txCount', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_OTHER_COUNT]: ['otherCount', 'u32'],
  [CH.ETHTOOL_A_CHANNELS_COMBINED_COUNT]: ['combinedCount', 'u32'],
});

/** Decodes ETHTOOL_MSG_CHANNELS_GET_REPLY (a channel type whose maximum is 0 is left out by the kernel). */
export const decodeEthtoolChannels = (buf: Buffer, m: NlMessage): EthtoolChannels | undefined =>
  decodeScalars(buf, m, R.ETHTOOL_MSG_CHANNELS_GET_REPLY, CHANNELS);

const RINGS = scalarTable<EthtoolRings>({
  [RI.ETHTOOL_A_RINGS_RX_MAX]: ['rxMax', 'u32'],
  [RI.ETHTOOL_A_RINGS_RX_MINI_MAX]: ['rxMiniMax', 'u32'],
  [RI.ETHTOOL_A_RINGS_RX_JUMBO_MAX]: ['rxJumboMax', 'u32'],
  [RI.ETHTOOL_A_RINGS_TX_MAX]: ['txMax', 'u32'],
  [RI.ETHTOOL_A_RINGS_RX]: ['rx', 'u32'],
  [RI.ETHTOOL_A_RINGS_RX_MINI]: ['rxMini', 'u32'],
  [RI.ETHTOOL_A_RINGS_RX_JUMBO]: ['rxJumbo', 'u32'],
  [RI.ETHTOOL_A_RINGS_TX]: ['tx', 'u32'],
  [RI.ETHTOOL_A_RINGS_RX_BUF_LEN]: ['rxBufLen', 'u32'],
  [RI.ETHTOOL_A_RINGS_TCP_DATA_SPLIT]: ['tcpDataSplit', 'u8'],
  [RI.ETHTOOL_A_RINGS_CQE_SIZE]: ['cqeSize', 'u32'],
  [RI.ETHTOOL_A_RINGS_TX_PUSH]: ['txPush', 'bool'],
  [RI.ETHTOOL_A_RINGS_RX_PUSH]: ['rxPush', 'bool'],
  [RI.ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN]: ['txPushBufLen', 'u32'],
  [RI.ETHTOOL_A_RINGS_TX_PUSH_BUF_LEN_MAX]: ['txPushBufLenMax', 'u32'],
  [RI.ETHTOOL_A_RINGS_HDS_THRESH]: ['hdsThresh', 'u32'],
  [RI.ETHTOOL_A_RINGS_HDS_THRESH_MAX]: ['hdsThreshMax', 'u32'],
});

/** Decodes ETHTOOL_MSG_RINGS_GET_REPLY. */
export const decodeEthtoolRings = (buf: Buffer, m: NlMessage): EthtoolRings | undefined =>
  decodeScalars(buf, m, R.ETHTOOL_MSG_RINGS_GET_REPLY, RINGS);

const COALESCE = scalarTable<EthtoolCoalesce>({
  [CO.ETHTOOL_A_COALESCE_RX_USECS]: ['rxUsecs', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES]: ['rxMaxFrames', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_USECS_IRQ]: ['rxUsecsIrq', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_IRQ]: ['rxMaxFramesIrq', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_USECS]: ['txUsecs', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES]: ['txMaxFrames', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_USECS_IRQ]: ['txUsecsIrq', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_IRQ]: ['txMaxFramesIrq', 'u32'],
  [CO.ETHTOOL_A_COALESCE_STATS_BLOCK_USECS]: ['statsBlockUsecs', 'u32'],
  [CO.ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX]: ['useAdaptiveRx', 'bool'],
  [CO.ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX]: ['useAdaptiveTx', 'bool'],
  [CO.ETHTOOL_A_COALESCE_PKT_RATE_LOW]: ['pktRateLow', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_USECS_LOW]: ['rxUsecsLow', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_LOW]: ['rxMaxFramesLow', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_USECS_LOW]: ['txUsecsLow', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_LOW]: ['txMaxFramesLow', 'u32'],
  [CO.ETHTOOL_A_COALESCE_PKT_RATE_HIGH]: ['pktRateHigh', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_USECS_HIGH]: ['rxUsecsHigh', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RX_MAX_FRAMES_HIGH]: ['rxMaxFramesHigh', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_USECS_HIGH]: ['txUsecsHigh', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_MAX_FRAMES_HIGH]: ['txMaxFramesHigh', 'u32'],
  [CO.ETHTOOL_A_COALESCE_RATE_SAMPLE_INTERVAL]: ['rateSampleInterval', 'u32'],
  [CO.ETHTOOL_A_COALESCE_USE_CQE_MODE_TX]: ['useCqeModeTx', 'bool'],
  [CO.ETHTOOL_A_COALESCE_USE_CQE_MODE_RX]: ['useCqeModeRx', 'bool'],
  [CO.ETHTOOL_A_COALESCE_TX_AGGR_MAX_BYTES]: ['txAggrMaxBytes', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_AGGR_MAX_FRAMES]: ['txAggrMaxFrames', 'u32'],
  [CO.ETHTOOL_A_COALESCE_TX_AGGR_TIME_USECS]: ['txAggrTimeUsecs', 'u32'],
});

/** Decodes ETHTOOL_MSG_COALESCE_GET_REPLY (the kernel sends only the parameters the driver supports). */
export const decodeEthtoolCoalesce = (buf: Buffer, m: NlMessage): EthtoolCoalesce | undefined =>
  decodeScalars(buf, m, R.ETHTOOL_MSG_COALESCE_GET_REPLY, COALESCE);

/** Throws unless a request got its reply (a kernel that acked without answering). */
export function expectReply<T>(v: T | undefined, op: string): T {
  if (v === undefined) throw new ProtocolError(`${op}: the kernel acked without a reply`, {}, 'PROTOCOL_UNEXPECTED');
  return v;
}
