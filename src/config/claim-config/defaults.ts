/**
 * Defaults, applied once the layers of a device's configuration are merged.
 * Only constant, documented defaults live here; the ones that depend on the
 * device (the pod-side name is the host name, the addresses are the host's,
 * which RDMA character devices exist) are the planner's, from inventory.
 *
 * After `withDefaults`: `interface.vrf.table` is set when a VRF is named;
 * every route has `scope` and `table` (the VRF table under a VRF, else main
 * for absent or 0); every rule has `table` (main for absent or 0);
 * `interface.dhcp`, `interface.disableEbpfPrograms`, `rdma.required` and
 * `rdma.workloadEnv` are set.
 */
import type { NetworkConfig, RouteConfig, RuleConfig } from './types.ts';

export const RT_TABLE_MAIN = 254;
export const RT_SCOPE_UNIVERSE = 0;
/** DraNet's VRFTableOffset: derived VRF tables are 1000..1999. */
export const VRF_TABLE_OFFSET = 1000;

/** FNV-1a-32 of the VRF name's UTF-8 bytes, mod 1000, plus 1000: DraNet's derived table, the same for every interface joining that VRF. */
export function vrfTableFor(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return (h % 1000) + VRF_TABLE_OFFSET;
}

/** The table a route or rule uses, absent or 0 meaning main. */
export const tableOrMain = (t: number | undefined): number => (t === undefined || t === 0 ? RT_TABLE_MAIN : t);

export function withDefaults(c: NetworkConfig): NetworkConfig {
  const vrf = c.interface?.vrf;
  const vrfTable = vrf === undefined ? undefined : (vrf.table ?? vrfTableFor(vrf.name));
  const route = (r: RouteConfig): RouteConfig => ({ ...r, scope: r.scope ?? RT_SCOPE_UNIVERSE, table: vrfTable ?? tableOrMain(r.table) });
  const rule = (r: RuleConfig): RuleConfig => ({ ...r, table: tableOrMain(r.table) });
  return {
    ...c,
    interface: {
      dhcp: false,
      disableEbpfPrograms: false,
      ...c.interface,
      ...(vrf === undefined || vrfTable === undefined ? {} : { vrf: { ...vrf, table: vrfTable } }),
    },
    ...(c.routes === undefined ? {} : { routes: c.routes.map(route) }),
    ...(c.rules === undefined ? {} : { rules: c.rules.map(rule) }),
    rdma: { required: false, workloadEnv: true, ...c.rdma },
  };
}
