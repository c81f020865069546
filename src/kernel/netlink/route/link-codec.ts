/**
 * The link codec: `decodeLink` turns an RTM_NEWLINK message (a dump entry, a
 * GETLINK reply or an event) into a `Link`; `encodeLinkChange` builds the one
 * RTM_NEWLINK (or RTM_SETLINK) request that applies a `LinkChange` —
 * netns move, rename, MTU, MAC, GSO/GRO sizes and up/down together.
 * Attribute layout: include/uapi/linux/if_link.h (Linux 6.18);
 * what the kernel fills: net/core/rtnetlink.c rtnl_fill_ifinfo.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { ifIndex } from '../../../common/ids.ts';
import {
  attrTable, forEachAttr, readHwAddr, readS32, readString, readU32, readU8, walkAttrs,
} from '../attrs.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { decodeIfInfoMsg, encodeIfInfoMsg } from './ifinfomsg.ts';
import { IFF, IFINFOMSG_LEN, IFLA, IFLA_INFO, OPER_STATES } from './link-constants.ts';
import { validateLinkChange, parseHwAddr } from './link-validate.ts';
import { decodeKindData } from './link-kinds.ts';
import type { Link, LinkChange } from './link-types.ts';
import { decodeVfInfoList } from './link-vf.ts';
import { decodeLinkXdp } from './link-xdp.ts';
import { RTM } from './rtnl-constants.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface LinkDraft extends Omit<Mutable<Link>, 'altNames'> { altNames: string[] }

/** Decoding state: the record being filled plus what is resolved after the walk. */
interface LinkCtx {
  readonly l: LinkDraft;
  hasName: boolean;
  /** IFLA_INFO_DATA region, or -1 when the kernel sent none. */
  dataOff: number;
  dataLen: number;
  /** End of IFLA_LINKINFO (an empty region for kinds without IFLA_INFO_DATA). */
  infoEnd: number;
  /** IFLA_VFINFO_LIST region, or -1; decoded after the walk, once the address length is known. */
  vfOff: number;
  vfLen: number;
  addrLen: number;
}

/** VF MACs count this many bytes when the link reports no IFLA_ADDRESS. */
const ETH_ALEN = 6;
const hex = (b: Buffer, o: number, l: number): string => b.toString('hex', o, o + l);
const bool = (b: Buffer, o: number, l: number): boolean => readU8(b, o, l) !== 0;

const LINKINFO_ATTRS = attrTable<LinkCtx>({
  [IFLA_INFO.IFLA_INFO_KIND]: (b, o, l, c) => { c.l.kind = readString(b, o, l); },
  [IFLA_INFO.IFLA_INFO_DATA]: (_b, o, l, c) => { c.dataOff = o; c.dataLen = l; },
  [IFLA_INFO.IFLA_INFO_SLAVE_KIND]: (b, o, l, c) => { c.l.slaveKind = readString(b, o, l); },
});

const LINK_ATTRS = attrTable<LinkCtx>({
  [IFLA.IFLA_IFNAME]: (b, o, l, c) => { c.l.name = readString(b, o, l); c.hasName = true; },
  [IFLA.IFLA_MTU]: (b, o, l, c) => { c.l.mtu = readU32(b, o, l); },
  [IFLA.IFLA_MIN_MTU]: (b, o, l, c) => { c.l.minMtu = readU32(b, o, l); },
  [IFLA.IFLA_MAX_MTU]: (b, o, l, c) => { c.l.maxMtu = readU32(b, o, l); },
  [IFLA.IFLA_ADDRESS]: (b, o, l, c) => { c.l.mac = readHwAddr(b, o, l); c.addrLen = l; },
  [IFLA.IFLA_BROADCAST]: (b, o, l, c) => { c.l.broadcast = readHwAddr(b, o, l); },
  [IFLA.IFLA_PERM_ADDRESS]: (b, o, l, c) => { c.l.permMac = readHwAddr(b, o, l); },
  [IFLA.IFLA_TXQLEN]: (b, o, l, c) => { c.l.txQueueLen = readU32(b, o, l); },
  [IFLA.IFLA_NUM_TX_QUEUES]: (b, o, l, c) => { c.l.numTxQueues = readU32(b, o, l); },
  [IFLA.IFLA_NUM_RX_QUEUES]: (b, o, l, c) => { c.l.numRxQueues = readU32(b, o, l); },
  [IFLA.IFLA_GROUP]: (b, o, l, c) => { c.l.group = readU32(b, o, l); },
  [IFLA.IFLA_IFALIAS]: (b, o, l, c) => { c.l.alias = readString(b, o, l); },
  [IFLA.IFLA_PROP_LIST]: (b, o, l, c) => {
    forEachAttr(b, o, o + l, (t, ao, al) => { if (t === IFLA.IFLA_ALT_IFNAME) c.l.altNames.push(readString(b, ao, al)); });
  },
  [IFLA.IFLA_LINKINFO]: (b, o, l, c) => { c.infoEnd = o + l; walkAttrs(b, o, o + l, LINKINFO_ATTRS, c); },
  [IFLA.IFLA_MASTER]: (b, o, l, c) => { c.l.master = ifIndex(readU32(b, o, l)); },
  [IFLA.IFLA_LINK]: (b, o, l, c) => {
    const v = readU32(b, o, l); // 0: a tunnel without a lower device
    if (v !== 0) c.l.link = ifIndex(v);
  },
  [IFLA.IFLA_LINK_NETNSID]: (b, o, l, c) => { c.l.linkNetnsId = readS32(b, o, l); },
  [IFLA.IFLA_PARENT_DEV_NAME]: (b, o, l, c) => { c.l.parentDevName = readString(b, o, l); },
  [IFLA.IFLA_PARENT_DEV_BUS_NAME]: (b, o, l, c) => { c.l.parentDevBusName = readString(b, o, l); },
  [IFLA.IFLA_PHYS_PORT_NAME]: (b, o, l, c) => { c.l.physPortName = readString(b, o, l); },
  [IFLA.IFLA_PHYS_PORT_ID]: (b, o, l, c) => { c.l.physPortId = hex(b, o, l); },
  [IFLA.IFLA_PHYS_SWITCH_ID]: (b, o, l, c) => { c.l.physSwitchId = hex(b, o, l); },
  [IFLA.IFLA_NUM_VF]: (b, o, l, c) => { c.l.numVf = readU32(b, o, l); },
  [IFLA.IFLA_NETNS_IMMUTABLE]: (b, o, l, c) => { c.l.netnsImmutable = bool(b, o, l); },
  [IFLA.IFLA_VFINFO_LIST]: (_b, o, l, c) => { c.vfOff = o; c.vfLen = l; },
  [IFLA.IFLA_CARRIER]: (b, o, l, c) => { c.l.carrier = bool(b, o, l); },
  [IFLA.IFLA_OPERSTATE]: (b, o, l, c) => { c.l.operState = OPER_STATES[readU8(b, o, l)] ?? 'UNKNOWN'; },
  [IFLA.IFLA_GSO_MAX_SIZE]: (b, o, l, c) => { c.l.gsoMaxSize = readU32(b, o, l); },
  [IFLA.IFLA_GSO_MAX_SEGS]: (b, o, l, c) => { c.l.gsoMaxSegs = readU32(b, o, l); },
  [IFLA.IFLA_GRO_MAX_SIZE]: (b, o, l, c) => { c.l.groMaxSize = readU32(b, o, l); },
  [IFLA.IFLA_GSO_IPV4_MAX_SIZE]: (b, o, l, c) => { c.l.gsoIpv4MaxSize = readU32(b, o, l); },
  [IFLA.IFLA_GRO_IPV4_MAX_SIZE]: (b, o, l, c) => { c.l.groIpv4MaxSize = readU32(b, o, l); },
  [IFLA.IFLA_TSO_MAX_SIZE]: (b, o, l, c) => { c.l.tsoMaxSize = readU32(b, o, l); },
  [IFLA.IFLA_TSO_MAX_SEGS]: (b, o, l, c) => { c.l.tsoMaxSegs = readU32(b, o, l); },
  [IFLA.IFLA_XDP]: (b, o, l, c) => {
    const xdp = decodeLinkXdp(b, o, l);
    if (xdp !== undefined) c.l.xdp = xdp;
  },
});

/**
 * Decodes an RTM_NEWLINK (or RTM_DELLINK) message in place. Strings and
 * addresses are copied out, so the record outlives the receive buffer.
 */
export function decodeLink(buf: Buffer, m: NlMessage): Link {
  const hdr = decodeIfInfoMsg(buf, m.off, m.len);
  if (hdr.index <= 0) throw new ProtocolError(`link message with ifindex ${hdr.index}`);
  const c: LinkCtx = {
    l: {
      index: ifIndex(hdr.index), name: '', type: hdr.type, flags: hdr.flags,
      up: (hdr.flags & IFF.IFF_UP) !== 0, operState: 'UNKNOWN', mtu: 0, altNames: [],
    },
    hasName: false, dataOff: -1, dataLen: 0, infoEnd: 0, vfOff: -1, vfLen: 0, addrLen: ETH_ALEN,
  };
  walkAttrs(buf, m.off + IFINFOMSG_LEN, m.off + m.len, LINK_ATTRS, c);
  if (!c.hasName) throw new ProtocolError(`link ${hdr.index} without IFLA_IFNAME`);
  resolveKindData(buf, c);
  if (c.vfOff >= 0) c.l.vfs = decodeVfInfoList(buf, c.vfOff, c.vfLen, c.addrLen);
  return c.l;
}

/** IFLA_INFO_DATA is decoded once the kind is known; a veth's peer is its IFLA_LINK. */
function resolveKindData(buf: Buffer, c: LinkCtx): void {
  const l = c.l;
  if (l.kind === undefined) return;
  const data = c.dataOff >= 0
    ? decodeKindData(l.kind, buf, c.dataOff, c.dataLen)
    : decodeKindData(l.kind, buf, c.infoEnd, 0);
  l.kindData = data.kind === 'veth' && l.link !== undefined ? { ...data, peerIndex: l.link } : data;
}

/**
 * Writes one complete RTM_NEWLINK (default) or RTM_SETLINK request that
 * applies `change` to the link `index`. The change is validated first: an
 * invalid field throws a ConfigError naming it and nothing is written.
 * Equivalent to: `ip link set dev X [netns N] [name N] [mtu M] [address A] …`
 */
export function encodeLinkChange(
  w: NlWriter,
  index: number,
  change: LinkChange,
  type: typeof RTM.RTM_NEWLINK | typeof RTM.RTM_SETLINK = RTM.RTM_NEWLINK,
): void {
  validateLinkChange(index, change);
  const mac = change.mac !== undefined ? parseHwAddr(change.mac, 'mac') : undefined;
  w.beginMessage(type, 0);
  encodeIfInfoMsg(w, {
    index,
    flags: change.up === true ? IFF.IFF_UP : 0,
    change: change.up !== undefined ? IFF.IFF_UP : 0,
  });
  if (change.netnsFd !== undefined) w.attrU32(IFLA.IFLA_NET_NS_FD, change.netnsFd);
  if (change.newIfIndex !== undefined) w.attrU32(IFLA.IFLA_NEW_IFINDEX, change.newIfIndex);
  if (change.name !== undefined) w.attrString(IFLA.IFLA_IFNAME, change.name);
  if (change.mtu !== undefined) w.attrU32(IFLA.IFLA_MTU, change.mtu);
  if (mac !== undefined) w.attrBytes(IFLA.IFLA_ADDRESS, mac);
  // Sent without a NUL, like iproute2: an empty alias (length 0) clears it.
  if (change.alias !== undefined) w.attrBytes(IFLA.IFLA_IFALIAS, Buffer.from(change.alias, 'utf8'));
  if (change.txQueueLen !== undefined) w.attrU32(IFLA.IFLA_TXQLEN, change.txQueueLen);
  if (change.gsoMaxSize !== undefined) w.attrU32(IFLA.IFLA_GSO_MAX_SIZE, change.gsoMaxSize);
  if (change.gsoMaxSegs !== undefined) w.attrU32(IFLA.IFLA_GSO_MAX_SEGS, change.gsoMaxSegs);
  if (change.groMaxSize !== undefined) w.attrU32(IFLA.IFLA_GRO_MAX_SIZE, change.groMaxSize);
  if (change.gsoIpv4MaxSize !== undefined) w.attrU32(IFLA.IFLA_GSO_IPV4_MAX_SIZE, change.gsoIpv4MaxSize);
  if (change.groIpv4MaxSize !== undefined) w.attrU32(IFLA.IFLA_GRO_IPV4_MAX_SIZE, change.groIpv4MaxSize);
  if (change.master !== undefined) w.attrU32(IFLA.IFLA_MASTER, change.master);
  w.endMessage();
}
