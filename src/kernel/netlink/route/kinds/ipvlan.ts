/**
 * ipvlan and ipvtap (drivers/net/ipvlan/ipvlan_main.c). The parent goes in
 * IFLA_LINK. Without IFLA_IPVLAN_MODE the kernel uses l3.
 */
import { ProtocolError } from '../../../../common/errors.ts';
import { attrTable, readU16, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import type { IpvlanData, IpvlanMode, LinkKindSpec } from '../link-types.ts';

export const IFLA_IPVLAN = { IFLA_IPVLAN_MODE: 1, IFLA_IPVLAN_FLAGS: 2 } as const;

export const IPVLAN_MODE = { IPVLAN_MODE_L2: 0, IPVLAN_MODE_L3: 1, IPVLAN_MODE_L3S: 2 } as const;
/** IFLA_IPVLAN_FLAGS bits. */
export const IPVLAN_F = { IPVLAN_F_PRIVATE: 0x01, IPVLAN_F_VEPA: 0x02 } as const;

const MODES: readonly IpvlanMode[] = ['l2', 'l3', 'l3s']; // indexed by IPVLAN_MODE_*

export type IpvlanSpec = Extract<LinkKindSpec, { kind: 'ipvlan' }>;

export function encodeIpvlan(w: NlWriter, spec: IpvlanSpec): void {
  if (spec.mode !== undefined) w.attrU16(IFLA_IPVLAN.IFLA_IPVLAN_MODE, MODES.indexOf(spec.mode));
  if (spec.flags !== undefined) w.attrU16(IFLA_IPVLAN.IFLA_IPVLAN_FLAGS, spec.flags);
}

interface Out { mode?: number; flags?: number }
const TABLE = attrTable<Out>({
  [IFLA_IPVLAN.IFLA_IPVLAN_MODE]: (b, o, l, out) => { out.mode = readU16(b, o, l); },
  [IFLA_IPVLAN.IFLA_IPVLAN_FLAGS]: (b, o, l, out) => { out.flags = readU16(b, o, l); },
});

export function decodeIpvlan(buf: Buffer, off: number, len: number, kind: 'ipvlan' | 'ipvtap' = 'ipvlan'): IpvlanData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  const mode = MODES[out.mode ?? IPVLAN_MODE.IPVLAN_MODE_L3];
  if (mode === undefined) throw new ProtocolError(`${kind}: unknown IFLA_IPVLAN_MODE ${out.mode}`);
  return { kind, mode, ...(out.flags !== undefined ? { flags: out.flags } : {}) };
}
