/**
 * 802.1Q / 802.1ad VLAN (net/8021q/vlan_netlink.c). The parent goes in
 * IFLA_LINK, outside IFLA_INFO_DATA.
 */
import { ProtocolError } from '../../../../common/errors.ts';
import { attrTable, readU16, readU16be, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import type { LinkKindSpec, VlanData } from '../link-types.ts';

export const IFLA_VLAN = {
  IFLA_VLAN_ID: 1, IFLA_VLAN_FLAGS: 2, IFLA_VLAN_EGRESS_QOS: 3, IFLA_VLAN_INGRESS_QOS: 4, IFLA_VLAN_PROTOCOL: 5,
} as const;

/** Ethertypes of IFLA_VLAN_PROTOCOL (big-endian on the wire). */
export const ETH_P = { ETH_P_8021Q: 0x8100, ETH_P_8021AD: 0x88a8 } as const;

export type VlanSpec = Extract<LinkKindSpec, { kind: 'vlan' }>;

export function encodeVlan(w: NlWriter, spec: VlanSpec): void {
  w.attrU16(IFLA_VLAN.IFLA_VLAN_ID, spec.id);
  if (spec.protocol !== undefined) {
    w.attrU16be(IFLA_VLAN.IFLA_VLAN_PROTOCOL, spec.protocol === '802.1ad' ? ETH_P.ETH_P_8021AD : ETH_P.ETH_P_8021Q);
  }
}

interface Out { id?: number; protocol?: number }
const TABLE = attrTable<Out>({
  [IFLA_VLAN.IFLA_VLAN_ID]: (b, o, l, out) => { out.id = readU16(b, o, l); },
  [IFLA_VLAN.IFLA_VLAN_PROTOCOL]: (b, o, l, out) => { out.protocol = readU16be(b, o, l); },
});

export function decodeVlan(buf: Buffer, off: number, len: number): VlanData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  if (out.id === undefined) throw new ProtocolError('vlan: IFLA_VLAN_ID missing');
  const p = out.protocol ?? ETH_P.ETH_P_8021Q; // absent before Linux 3.10: always 802.1Q
  const protocol = p === ETH_P.ETH_P_8021Q ? '802.1Q' : p === ETH_P.ETH_P_8021AD ? '802.1ad' : p;
  return { kind: 'vlan', id: out.id, protocol };
}
