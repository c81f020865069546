/**
 * VXLAN (drivers/net/vxlan/vxlan_core.c). Unlike vlan/macvlan, the lower
 * device goes in IFLA_VXLAN_LINK, inside IFLA_INFO_DATA. Addresses use the
 * IPv4 attribute or its IPv6 twin (GROUP/GROUP6, LOCAL/LOCAL6); the port is
 * big-endian. Without IFLA_VXLAN_PORT the kernel uses its module default
 * (8472, not IANA's 4789); without IFLA_VXLAN_LEARNING, learning is on.
 */
import { ProtocolError } from '../../../../common/errors.ts';
import type { IfIndex } from '../../../../common/ids.ts';
import { attrTable, readU16be, readU32, readU8, walkAttrs } from '../../attrs.ts';
import { ipFamily, ipFromBytes, ipToBytes, AF_INET } from '../../../../common/ip.ts';
import type { NlWriter } from '../../writer.ts';
import type { LinkKindSpec, VxlanData } from '../link-types.ts';

/** enum in include/uapi/linux/if_link.h, as of Linux 6.18. */
export const IFLA_VXLAN = {
  IFLA_VXLAN_ID: 1, IFLA_VXLAN_GROUP: 2, IFLA_VXLAN_LINK: 3, IFLA_VXLAN_LOCAL: 4, IFLA_VXLAN_TTL: 5,
  IFLA_VXLAN_TOS: 6, IFLA_VXLAN_LEARNING: 7, IFLA_VXLAN_AGEING: 8, IFLA_VXLAN_LIMIT: 9,
  IFLA_VXLAN_PORT_RANGE: 10, IFLA_VXLAN_PROXY: 11, IFLA_VXLAN_RSC: 12, IFLA_VXLAN_L2MISS: 13,
  IFLA_VXLAN_L3MISS: 14, IFLA_VXLAN_PORT: 15, IFLA_VXLAN_GROUP6: 16, IFLA_VXLAN_LOCAL6: 17,
  IFLA_VXLAN_UDP_CSUM: 18, IFLA_VXLAN_UDP_ZERO_CSUM6_TX: 19, IFLA_VXLAN_UDP_ZERO_CSUM6_RX: 20,
  IFLA_VXLAN_REMCSUM_TX: 21, IFLA_VXLAN_REMCSUM_RX: 22, IFLA_VXLAN_GBP: 23, IFLA_VXLAN_REMCSUM_NOPARTIAL: 24,
  IFLA_VXLAN_COLLECT_METADATA: 25, IFLA_VXLAN_LABEL: 26, IFLA_VXLAN_GPE: 27, IFLA_VXLAN_TTL_INHERIT: 28,
  IFLA_VXLAN_DF: 29, IFLA_VXLAN_VNIFILTER: 30, IFLA_VXLAN_LOCALBYPASS: 31, IFLA_VXLAN_LABEL_POLICY: 32,
  IFLA_VXLAN_RESERVED_BITS: 33, IFLA_VXLAN_MC_ROUTE: 34,
} as const;

export type VxlanSpec = Extract<LinkKindSpec, { kind: 'vxlan' }>;

function encodeAddr(w: NlWriter, v4: number, v6: number, addr: string): void {
  w.attrBytes(ipFamily(addr) === AF_INET ? v4 : v6, ipToBytes(addr));
}

export function encodeVxlan(w: NlWriter, spec: VxlanSpec): void {
  w.attrU32(IFLA_VXLAN.IFLA_VXLAN_ID, spec.id);
  if (spec.group !== undefined) encodeAddr(w, IFLA_VXLAN.IFLA_VXLAN_GROUP, IFLA_VXLAN.IFLA_VXLAN_GROUP6, spec.group);
  if (spec.parent !== undefined) w.attrU32(IFLA_VXLAN.IFLA_VXLAN_LINK, spec.parent);
  if (spec.local !== undefined) encodeAddr(w, IFLA_VXLAN.IFLA_VXLAN_LOCAL, IFLA_VXLAN.IFLA_VXLAN_LOCAL6, spec.local);
  if (spec.learning !== undefined) w.attrU8(IFLA_VXLAN.IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0);
  if (spec.port !== undefined) w.attrU16be(IFLA_VXLAN.IFLA_VXLAN_PORT, spec.port);
}

type Out = { -readonly [K in keyof Omit<VxlanData, 'kind'>]?: VxlanData[K] };

function addr(want: number) {
  return (b: Buffer, o: number, l: number): string => {
    if (l !== want) throw new ProtocolError(`vxlan address attribute of ${l} bytes, expected ${want}`);
    return ipFromBytes(b, o, l);
  };
}
const v4 = addr(4);
const v6 = addr(16);

const TABLE = attrTable<Out>({
  [IFLA_VXLAN.IFLA_VXLAN_ID]: (b, o, l, out) => { out.id = readU32(b, o, l); },
  [IFLA_VXLAN.IFLA_VXLAN_GROUP]: (b, o, l, out) => { out.group = v4(b, o, l); },
  [IFLA_VXLAN.IFLA_VXLAN_GROUP6]: (b, o, l, out) => { out.group = v6(b, o, l); },
  [IFLA_VXLAN.IFLA_VXLAN_LOCAL]: (b, o, l, out) => { out.local = v4(b, o, l); },
  [IFLA_VXLAN.IFLA_VXLAN_LOCAL6]: (b, o, l, out) => { out.local = v6(b, o, l); },
  [IFLA_VXLAN.IFLA_VXLAN_LINK]: (b, o, l, out) => { out.link = readU32(b, o, l) as IfIndex; },
  [IFLA_VXLAN.IFLA_VXLAN_LEARNING]: (b, o, l, out) => { out.learning = readU8(b, o, l) !== 0; },
  [IFLA_VXLAN.IFLA_VXLAN_PORT]: (b, o, l, out) => { out.port = readU16be(b, o, l); },
});

export function decodeVxlan(buf: Buffer, off: number, len: number): VxlanData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  if (out.id === undefined) throw new ProtocolError('vxlan: IFLA_VXLAN_ID missing');
  const { id, ...rest } = out;
  return { kind: 'vxlan', id, ...rest };
}
