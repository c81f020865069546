/**
 * Bonding (drivers/net/bonding/bond_netlink.c). Dumps carry ~30 IFLA_BOND_*
 * attributes; netclaim decodes mode and miimon. Without IFLA_BOND_MODE the
 * kernel uses balance-rr.
 */
import { ProtocolError } from '../../../../common/errors.ts';
import { attrTable, readU32, readU8, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import type { BondData, BondMode, LinkKindSpec } from '../link-types.ts';

/** The first IFLA_BOND_* attributes (include/uapi/linux/if_link.h). */
export const IFLA_BOND = {
  IFLA_BOND_MODE: 1, IFLA_BOND_ACTIVE_SLAVE: 2, IFLA_BOND_MIIMON: 3, IFLA_BOND_UPDELAY: 4,
  IFLA_BOND_DOWNDELAY: 5, IFLA_BOND_USE_CARRIER: 6, IFLA_BOND_ARP_INTERVAL: 7, IFLA_BOND_ARP_IP_TARGET: 8,
  IFLA_BOND_ARP_VALIDATE: 9, IFLA_BOND_ARP_ALL_TARGETS: 10, IFLA_BOND_PRIMARY: 11,
  IFLA_BOND_PRIMARY_RESELECT: 12, IFLA_BOND_FAIL_OVER_MAC: 13, IFLA_BOND_XMIT_HASH_POLICY: 14,
  IFLA_BOND_MIN_LINKS: 18, IFLA_BOND_AD_LACP_RATE: 21, IFLA_BOND_AD_SELECT: 22, IFLA_BOND_AD_INFO: 23,
} as const;

/** linux/if_bonding.h BOND_MODE_*, indexed by value. */
export const BOND_MODE = {
  BOND_MODE_ROUNDROBIN: 0, BOND_MODE_ACTIVEBACKUP: 1, BOND_MODE_XOR: 2, BOND_MODE_BROADCAST: 3,
  BOND_MODE_8023AD: 4, BOND_MODE_TLB: 5, BOND_MODE_ALB: 6,
} as const;
const MODES: readonly BondMode[] = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'];

export type BondSpec = Extract<LinkKindSpec, { kind: 'bond' }>;

export function encodeBond(w: NlWriter, spec: BondSpec): void {
  if (spec.mode !== undefined) w.attrU8(IFLA_BOND.IFLA_BOND_MODE, MODES.indexOf(spec.mode));
  if (spec.miimon !== undefined) w.attrU32(IFLA_BOND.IFLA_BOND_MIIMON, spec.miimon);
}

interface Out { mode?: number; miimon?: number }
const TABLE = attrTable<Out>({
  [IFLA_BOND.IFLA_BOND_MODE]: (b, o, l, out) => { out.mode = readU8(b, o, l); },
  [IFLA_BOND.IFLA_BOND_MIIMON]: (b, o, l, out) => { out.miimon = readU32(b, o, l); },
});

export function decodeBond(buf: Buffer, off: number, len: number): BondData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  const mode = MODES[out.mode ?? BOND_MODE.BOND_MODE_ROUNDROBIN];
  if (mode === undefined) throw new ProtocolError(`bond: unknown IFLA_BOND_MODE ${out.mode}`);
  return { kind: 'bond', mode, ...(out.miimon !== undefined ? { miimon: out.miimon } : {}) };
}
