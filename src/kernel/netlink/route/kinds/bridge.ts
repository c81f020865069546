/**
 * Linux bridge (net/bridge/br_netlink.c). Dumps carry ~50 IFLA_BR_*
 * attributes (timers, multicast settings); netclaim decodes the few it uses.
 * Note: IFLA_BR_VLAN_FILTERING, even 0, fails with EOPNOTSUPP on kernels
 * built without CONFIG_BRIDGE_VLAN_FILTERING, so it is sent only when asked.
 */
import { attrTable, readU32, readU8, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import type { BridgeData, LinkKindSpec } from '../link-types.ts';

/** The first IFLA_BR_* attributes (include/uapi/linux/if_link.h); numbering continues to IFLA_BR_MCAST_QUERIER_STATE and beyond. */
export const IFLA_BR = {
  IFLA_BR_FORWARD_DELAY: 1, IFLA_BR_HELLO_TIME: 2, IFLA_BR_MAX_AGE: 3, IFLA_BR_AGEING_TIME: 4,
  IFLA_BR_STP_STATE: 5, IFLA_BR_PRIORITY: 6, IFLA_BR_VLAN_FILTERING: 7, IFLA_BR_VLAN_PROTOCOL: 8,
  IFLA_BR_GROUP_FWD_MASK: 9, IFLA_BR_ROOT_ID: 10, IFLA_BR_BRIDGE_ID: 11, IFLA_BR_ROOT_PORT: 12,
  IFLA_BR_ROOT_PATH_COST: 13, IFLA_BR_TOPOLOGY_CHANGE: 14, IFLA_BR_TOPOLOGY_CHANGE_DETECTED: 15,
  IFLA_BR_HELLO_TIMER: 16, IFLA_BR_TCN_TIMER: 17, IFLA_BR_TOPOLOGY_CHANGE_TIMER: 18, IFLA_BR_GC_TIMER: 19,
  IFLA_BR_GROUP_ADDR: 20, IFLA_BR_FDB_FLUSH: 21, IFLA_BR_MCAST_ROUTER: 22, IFLA_BR_MCAST_SNOOPING: 23,
  IFLA_BR_VLAN_DEFAULT_PVID: 39, IFLA_BR_PAD: 40, IFLA_BR_VLAN_STATS_ENABLED: 41, IFLA_BR_MULTI_BOOLOPT: 46,
} as const;

export type BridgeSpec = Extract<LinkKindSpec, { kind: 'bridge' }>;

export function encodeBridge(w: NlWriter, spec: BridgeSpec): void {
  if (spec.vlanFiltering !== undefined) w.attrU8(IFLA_BR.IFLA_BR_VLAN_FILTERING, spec.vlanFiltering ? 1 : 0);
}

type Out = { -readonly [K in keyof Omit<BridgeData, 'kind'>]?: BridgeData[K] };
const TABLE = attrTable<Out>({
  [IFLA_BR.IFLA_BR_VLAN_FILTERING]: (b, o, l, out) => { out.vlanFiltering = readU8(b, o, l) !== 0; },
  [IFLA_BR.IFLA_BR_STP_STATE]: (b, o, l, out) => { out.stpState = readU32(b, o, l); },
});

export function decodeBridge(buf: Buffer, off: number, len: number): BridgeData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  return { kind: 'bridge', ...out };
}
