/**
 * veth (drivers/net/veth.c, include/uapi/linux/veth.h). Creating a pair puts
 * the peer in VETH_INFO_PEER: a whole struct ifinfomsg followed by the peer's
 * own link attributes. Dumps carry no IFLA_INFO_DATA for veth; the peer's
 * ifindex comes from IFLA_LINK (decoded by the link codec).
 */
import { ProtocolError } from '../../../../common/errors.ts';
import { attrTable, readString, readU32, readHwAddr, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import { encodeIfInfoMsg } from '../ifinfomsg.ts';
import { parseMac } from '../link-add-validate.ts';
import { IFINFOMSG_LEN, IFLA } from '../link-constants.ts';
import type { LinkKindSpec, VethData } from '../link-types.ts';

export const VETH_INFO = { VETH_INFO_PEER: 1 } as const;

export type VethSpec = Extract<LinkKindSpec, { kind: 'veth' }>;
export type VethPeerSpec = VethSpec['peer'];

/** Writes VETH_INFO_PEER inside an open IFLA_INFO_DATA nest. */
export function encodeVeth(w: NlWriter, spec: VethSpec): void {
  const p = spec.peer;
  // Not a pure nest (it starts with a struct), so no NLA_F_NESTED, as iproute2 sends it.
  const peer = w.nestStart(VETH_INFO.VETH_INFO_PEER, false);
  encodeIfInfoMsg(w);
  w.attrString(IFLA.IFLA_IFNAME, p.name);
  if (p.netnsFd !== undefined) w.attrU32(IFLA.IFLA_NET_NS_FD, p.netnsFd);
  if (p.mac !== undefined) w.attrBytes(IFLA.IFLA_ADDRESS, parseMac('linkAdd', 'spec.peer.mac', p.mac));
  if (p.numTxQueues !== undefined) w.attrU32(IFLA.IFLA_NUM_TX_QUEUES, p.numTxQueues);
  if (p.numRxQueues !== undefined) w.attrU32(IFLA.IFLA_NUM_RX_QUEUES, p.numRxQueues);
  w.nestEnd(peer);
}

/** veth has no IFLA_INFO_DATA in dumps: whatever is there is ignored. */
export function decodeVeth(_buf: Buffer, _off: number, _len: number): VethData {
  return { kind: 'veth' };
}

type MutablePeer = { -readonly [K in keyof VethPeerSpec]: VethPeerSpec[K] };
const PEER = attrTable<MutablePeer>({
  [IFLA.IFLA_IFNAME]: (b, o, l, out) => { out.name = readString(b, o, l); },
  [IFLA.IFLA_NET_NS_FD]: (b, o, l, out) => { out.netnsFd = readU32(b, o, l); },
  [IFLA.IFLA_ADDRESS]: (b, o, l, out) => { out.mac = readHwAddr(b, o, l); },
  [IFLA.IFLA_NUM_TX_QUEUES]: (b, o, l, out) => { out.numTxQueues = readU32(b, o, l); },
  [IFLA.IFLA_NUM_RX_QUEUES]: (b, o, l, out) => { out.numRxQueues = readU32(b, o, l); },
});

interface PeerOut { peer?: MutablePeer }
const INFO = attrTable<PeerOut>({
  [VETH_INFO.VETH_INFO_PEER]: (b, o, l, out) => {
    if (l < IFINFOMSG_LEN) throw new ProtocolError(`VETH_INFO_PEER needs ${IFINFOMSG_LEN} bytes, has ${l}`);
    const peer: MutablePeer = { name: '' };
    walkAttrs(b, o + IFINFOMSG_LEN, o + l, PEER, peer);
    out.peer = peer;
  },
});

/**
 * Decodes a request's IFLA_INFO_DATA back to the peer it asks for (the
 * kernel never sends this; it checks encodeVeth and reads captured requests).
 */
export function decodeVethPeer(buf: Buffer, off: number, len: number): VethPeerSpec {
  const out: PeerOut = {};
  walkAttrs(buf, off, off + len, INFO, out);
  if (!out.peer) throw new ProtocolError('veth request without VETH_INFO_PEER');
  return out.peer;
}
