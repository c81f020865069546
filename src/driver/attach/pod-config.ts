/**
 * Configuring the interface inside the pod, one function per attach step:
 * sysctls, addresses, routes, rules, permanent neighbours. Each is
 * idempotent (an entry that exists already counts as done), so a repeated
 * attach converges instead of failing.
 *
 * IPv6 addresses are added with `nodad`: the addresses are the claim's,
 * given to a device the pod owns alone, and Duplicate Address Detection
 * would keep them tentative (unusable as a source, bind() failing) for
 * about a second after the link comes up, longer than a container start.
 * DraNet adds them without it and lets DAD run. A claim that wants DAD sets
 * the sysctl `ipv6.accept_dad` (1 or 2) and gets it.
 */
import { ifIndex } from '../../common/ids.ts';
import { AF_INET, AF_INET6, ipFamily, type IpFamily } from '../../common/ip.ts';
import type { NeighborConfig, RouteConfig, RuleConfig } from '../../config/claim-config/types.ts';
import { KernelError } from '../../kernel/errors.ts';
import { addrAdd } from '../../kernel/netlink/route/addr-ops.ts';
import { neighReplace } from '../../kernel/netlink/route/neigh-ops.ts';
import { routeAdd } from '../../kernel/netlink/route/route-ops.ts';
import type { RouteSpec } from '../../kernel/netlink/route/route-types.ts';
import { ruleAdd } from '../../kernel/netlink/route/rule-ops.ts';
import type { RuleSpec } from '../../kernel/netlink/route/rule-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import { netconfSysctlWrite, parseNetconfKey } from '../../kernel/sysctl/netconf-sysctl.ts';
import type { PodInterfacePlan } from '../plan/plan-types.ts';

const EEXIST = 17;

/** Runs an add; true when it added, false when the kernel already had it (EEXIST). */
export function addedUnlessExists(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof KernelError && err.errno === EEXIST) return false;
    throw err;
  }
}

/**
 * The pod's per-interface sysctls, before the link comes up (it must never
 * answer ARP with the wrong policy).
 * Equivalent to: `ip netns exec POD sysctl -w net.ipv4.conf.IF.arp_ignore=1 ...`
 */
export function podSysctlsApply(h: NetnsHandle, name: string, sysctls: PodInterfacePlan['sysctls']): void {
  for (const [key, value] of Object.entries(sysctls)) {
    const [family, sysctl] = parseNetconfKey(key);
    netconfSysctlWrite(h, family, name, sysctl, value);
  }
}

/** DAD stays on only when the claim asks for it through `ipv6.accept_dad`. */
const wantsDad = (p: PodInterfacePlan): boolean => (p.sysctls['ipv6.accept_dad'] ?? '0') !== '0';

/** Equivalent to: `ip addr add CIDR dev IF [nodad]` for each address */
export function podAddressesApply(h: NetnsHandle, index: number, p: PodInterfacePlan): void {
  const nodad = !wantsDad(p);
  for (const cidr of p.addresses) {
    const v6 = ipFamily(cidr.split('/')[0]!) === AF_INET6;
    addedUnlessExists(() => addrAdd(h, ifIndex(index), { cidr, ...(v6 && nodad ? { flags: ['nodad'] } : {}) }));
  }
}

/** A configured route on the pod interface. */
export function podRouteSpec(r: RouteConfig, index: number): RouteSpec {
  return {
    dst: r.destination, oif: ifIndex(index),
    ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
    ...(r.source === undefined ? {} : { prefSrc: r.source }),
    ...(r.scope === undefined ? {} : { scope: r.scope }),
    ...(r.table === undefined ? {} : { table: r.table }),
  };
}

/**
 * Host and link-scope routes first (the gateways of the others must be
 * reachable), each in its own table, sorted on a copy.
 * Equivalent to: `ip route add DST [via GW] [src SRC] [scope S] [table T] dev IF` for each route
 */
export function podRoutesApply(h: NetnsHandle, index: number, routes: readonly RouteConfig[]): void {
  const sorted = [...routes].sort((a, b) => (b.scope ?? 0) - (a.scope ?? 0));
  for (const r of sorted) addedUnlessExists(() => routeAdd(h, podRouteSpec(r, index)));
}

/**
 * The rule requests for a configured rule: its family from its prefixes,
 * else the families of the plan's routes in its table (IPv4 when none).
 */
export function podRuleSpecs(r: RuleConfig, routes: readonly RouteConfig[]): RuleSpec[] {
  const base: RuleSpec = {
    ...(r.priority === undefined ? {} : { priority: r.priority }),
    ...(r.source === undefined ? {} : { src: r.source }),
    ...(r.destination === undefined ? {} : { dst: r.destination }),
    ...(r.table === undefined ? {} : { table: r.table }),
  };
  const prefix = r.source ?? r.destination;
  if (prefix !== undefined) return [{ ...base, family: ipFamily(prefix.split('/')[0]!) }];
  const families = new Set<IpFamily>();
  for (const route of routes) if ((route.table ?? 254) === (r.table ?? 254)) families.add(ipFamily(route.destination.split('/')[0]!));
  if (families.size === 0) families.add(AF_INET);
  return [...families].sort((x, y) => x - y).map((family) => ({ ...base, family }));
}

/**
 * Adds the rules; `added` receives each rule this call created (rules live
 * in the namespace, not on the device, so a rollback deletes them).
 * Equivalent to: `ip rule add [from SRC] [to DST] [pref P] table T` for each rule
 */
export function podRulesApply(h: NetnsHandle, p: PodInterfacePlan, added: RuleSpec[]): void {
  for (const r of p.rules) {
    for (const spec of podRuleSpecs(r, p.routes)) if (addedUnlessExists(() => ruleAdd(h, spec))) added.push(spec);
  }
}

/** Equivalent to: `ip neigh replace DST lladdr MAC nud permanent dev IF` for each neighbour */
export function podNeighborsApply(h: NetnsHandle, index: number, neighbors: readonly NeighborConfig[]): void {
  for (const n of neighbors) neighReplace(h, { index: ifIndex(index), dst: n.destination, lladdr: n.hardwareAddr, state: 'permanent' });
}
