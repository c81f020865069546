/**
 * RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR: struct ifaddrmsg plus IFA_*
 * attributes (include/uapi/linux/if_addr.h; net/ipv4/devinet.c,
 * net/ipv6/addrconf.c). IFA_ADDRESS is the prefix (peer) address and
 * IFA_LOCAL the local one: IPv4 always sends both, IPv6 sends IFA_LOCAL only
 * with a peer.
 */
import { ProtocolError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { attrTable, readString, readU32, readU8, walkAttrs } from '../attrs.ts';
import { AF_INET, AF_INET6, ipFromBytes, type IpFamily } from '../../../common/ip.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import {
  ADDR_FLAG_NAMES, ADDR_PROTO_NAMES, IFA, IFA_CACHEINFO_LEN, IFA_F, IFADDRMSG_LEN, INFINITY_LIFE_TIME,
  type AddrProtoName,
} from './addr-constants.ts';
import { checkAddrFilter, resolveAddrSpec } from './addr-spec.ts';
import type { Addr, AddrFilter, AddrFlag, AddrLifetime, AddrSpec } from './addr-types.ts';
import { flagNames, scopeName } from './route-names.ts';
import { RTM } from './rtnl-constants.ts';

// ---- encoding ------------------------------------------------------------

/**
 * Writes one RTM_NEWADDR or RTM_DELADDR message for `spec` on link `index`.
 * Lifetimes, flags, broadcast, metric and proto go only into RTM_NEWADDR.
 * Throws a ConfigError for an invalid spec (before writing anything).
 */
export function encodeAddr(w: NlWriter, type: number, flags: number, index: number, spec: AddrSpec): NlWriter {
  const r = resolveAddrSpec(spec);
  const isNew = type === RTM.RTM_NEWADDR;
  const f = isNew ? r.flags : 0;
  w.beginMessage(type, flags);
  w.u8(r.family).u8(r.prefixLen).u8(f & 0xff).u8(r.scope).u32(index);
  if (r.family === AF_INET || r.peer) w.attrBytes(IFA.IFA_LOCAL, r.address);
  w.attrBytes(IFA.IFA_ADDRESS, r.peer ?? r.address);
  if (r.label !== undefined) w.attrString(IFA.IFA_LABEL, r.label);
  if (isNew) {
    if (r.broadcast) w.attrBytes(IFA.IFA_BROADCAST, r.broadcast);
    if (r.lifetimes) {
      // struct ifa_cacheinfo; the kernel ignores the timestamps in requests.
      const ci = Buffer.alloc(IFA_CACHEINFO_LEN);
      ci.writeUInt32LE(r.lifetimes.preferred, 0);
      ci.writeUInt32LE(r.lifetimes.valid, 4);
      w.attrBytes(IFA.IFA_CACHEINFO, ci);
    }
    if (f !== 0) w.attrU32(IFA.IFA_FLAGS, f);
    if (r.metric !== undefined) w.attrU32(IFA.IFA_RT_PRIORITY, r.metric);
    if (r.proto !== undefined) w.attrU8(IFA.IFA_PROTO, r.proto);
  }
  w.endMessage();
  return w;
}

/** Writes an RTM_GETADDR dump request; the kernel filters on `index` under strict checking. */
export function encodeAddrDump(w: NlWriter, filter: AddrFilter = {}): NlWriter {
  checkAddrFilter(filter);
  w.beginMessage(RTM.RTM_GETADDR, 0);
  w.u8(filter.family ?? 0).u8(0).u8(0).u8(0).u32(filter.index ?? 0);
  w.endMessage();
  return w;
}

// ---- decoding ------------------------------------------------------------

interface AddrDraft {
  family: number;
  addrLen: number;
  address?: string;
  local?: string;
  broadcast?: string;
  anycast?: string;
  label?: string;
  flags?: number;
  preferred?: number;
  valid?: number;
  metric?: number;
  proto?: number;
}

function readAddrOf(buf: Buffer, off: number, len: number, d: AddrDraft): string {
  if (len !== d.addrLen) throw new ProtocolError(`address attribute of ${len} bytes in a family ${d.family} message`);
  return ipFromBytes(buf, off, len);
}

const ADDR_ATTRS = attrTable<AddrDraft>({
  [IFA.IFA_ADDRESS]: (b, o, l, d) => { d.address = readAddrOf(b, o, l, d); },
  [IFA.IFA_LOCAL]: (b, o, l, d) => { d.local = readAddrOf(b, o, l, d); },
  [IFA.IFA_BROADCAST]: (b, o, l, d) => { d.broadcast = readAddrOf(b, o, l, d); },
  [IFA.IFA_ANYCAST]: (b, o, l, d) => { d.anycast = readAddrOf(b, o, l, d); },
  [IFA.IFA_LABEL]: (b, o, l, d) => { d.label = readString(b, o, l); },
  [IFA.IFA_CACHEINFO]: (b, o, l, d) => {
    if (l < IFA_CACHEINFO_LEN) throw new ProtocolError(`IFA_CACHEINFO needs ${IFA_CACHEINFO_LEN} bytes, has ${l}`);
    d.preferred = b.readUInt32LE(o);
    d.valid = b.readUInt32LE(o + 4);
  },
  [IFA.IFA_FLAGS]: (b, o, l, d) => { d.flags = readU32(b, o, l); },
  [IFA.IFA_RT_PRIORITY]: (b, o, l, d) => { d.metric = readU32(b, o, l); },
  [IFA.IFA_PROTO]: (b, o, l, d) => { d.proto = readU8(b, o, l); },
});

const PROTO_BY_VALUE: ReadonlyMap<number, AddrProtoName> = new Map(
  Object.entries(ADDR_PROTO_NAMES).map(([k, v]) => [v, k as AddrProtoName]),
);
const lifetime = (v: number): AddrLifetime => (v === INFINITY_LIFE_TIME ? 'forever' : v);

function addrFlags(bits: number, family: IpFamily): AddrFlag[] {
  const names: AddrFlag[] = flagNames(bits, ADDR_FLAG_NAMES);
  if (bits & IFA_F.IFA_F_SECONDARY) names.unshift(family === AF_INET ? 'secondary' : 'temporary');
  return names;
}

/**
 * Decodes one RTM_NEWADDR message. Families other than IPv4 and IPv6 (which
 * an AF_UNSPEC dump may include) decode to `undefined`.
 */
export function decodeAddr(buf: Buffer, m: NlMessage): Addr | undefined {
  if (m.len < IFADDRMSG_LEN) throw new ProtocolError(`ifaddrmsg needs ${IFADDRMSG_LEN} bytes, has ${m.len}`);
  const family = buf[m.off]!;
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const d: AddrDraft = { family, addrLen: family === AF_INET ? 4 : 16 };
  walkAttrs(buf, m.off + IFADDRMSG_LEN, m.off + m.len, ADDR_ATTRS, d);
  const address = d.local ?? d.address;
  if (address === undefined) throw new ProtocolError('RTM_NEWADDR without IFA_ADDRESS or IFA_LOCAL');
  const rawFlags = d.flags ?? buf[m.off + 2]!;
  return {
    index: buf.readUInt32LE(m.off + 4) as IfIndex,
    family,
    address,
    prefixLen: buf[m.off + 1]!,
    ...(d.local !== undefined ? { local: d.local } : {}),
    ...(d.local !== undefined && d.address !== undefined && d.address !== d.local ? { peer: d.address } : {}),
    ...(d.broadcast !== undefined ? { broadcast: d.broadcast } : {}),
    ...(d.anycast !== undefined ? { anycast: d.anycast } : {}),
    ...(d.label !== undefined ? { label: d.label } : {}),
    scope: scopeName(buf[m.off + 3]!),
    flags: addrFlags(rawFlags, family),
    rawFlags,
    ...(d.valid !== undefined ? { validLft: lifetime(d.valid) } : {}),
    ...(d.preferred !== undefined ? { preferredLft: lifetime(d.preferred) } : {}),
    ...(d.metric !== undefined ? { metric: d.metric } : {}),
    ...(d.proto !== undefined ? { proto: PROTO_BY_VALUE.get(d.proto) ?? d.proto } : {}),
  };
}
