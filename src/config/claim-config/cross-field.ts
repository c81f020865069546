/**
 * Checks that relate fields to each other, run by the parser on each object
 * once its own fields are parsed (and again on a merged configuration, where
 * the fields may come from different layers). Fields that had problems of
 * their own are absent and listed in `failed`.
 */
import { vrfTableFor, tableOrMain } from './defaults.ts';
import { AF_INET, AF_INET6 } from '../../common/ip.ts';
import { ipLiteralFamily, parsePrefix } from './net-values.ts';
import type { Refine } from './nodes.ts';
import type { InterfaceConfig, NeighborConfig, NetworkConfig, RouteConfig, RuleConfig } from './types.ts';

/** IPv6 needs links of at least 1280 bytes (RFC 8200 §5). */
export const IPV6_MTU_MIN = 1280;

const familyName = (f: number | undefined): string => (f === AF_INET ? 'IPv4' : f === AF_INET6 ? 'IPv6' : '?');
const prefixFamily = (s: string | undefined): number | undefined => (s === undefined ? undefined : parsePrefix(s)?.family);
const ipFamily = (s: string | undefined): number | undefined => (s === undefined ? undefined : ipLiteralFamily(s));

export const checkNetworkConfig: Refine = (value, report, failed) => {
  const c = value as NetworkConfig;
  for (const [a, b] of [['apiVersion', 'kind'], ['kind', 'apiVersion']] as const) {
    if (c[a] !== undefined && c[b] === undefined && !failed.has(b)) report([b], `required when ${a} is given`);
  }
  const vrf = c.interface?.vrf;
  if (vrf !== undefined && c.rules !== undefined && c.rules.length > 0) {
    report(['rules'], 'not allowed together with interface.vrf: traffic in a VRF is routed by the VRF table');
  }
  if (vrf !== undefined && c.routes !== undefined) {
    const vrfTable = vrf.table ?? vrfTableFor(vrf.name);
    c.routes.forEach((r, i) => {
      if (r.table !== undefined && r.table !== 0 && r.table !== vrfTable) {
        report(['routes', i, 'table'], `${r.table} cannot be used under interface.vrf: routes go to the VRF table ${vrfTable}; leave table unset`);
      }
    });
  }
  const routeKeys = new Map<string, number>();
  c.routes?.forEach((r, i) => duplicate(routeKeys, `${r.destination} ${tableOrMain(r.table)}`, i, report, ['routes', i], 'same destination and table as'));
  const neighborKeys = new Map<string, number>();
  c.neighbors?.forEach((n: NeighborConfig, i) => duplicate(neighborKeys, n.destination, i, report, ['neighbors', i], 'same destination as'));
};

function duplicate(seen: Map<string, number>, key: string, i: number, report: Parameters<Refine>[1], path: (string | number)[], what: string): void {
  const first = seen.get(key);
  if (first === undefined) seen.set(key, i);
  else report(path, `${what} ${String(path[0])}[${first}]`);
}

export const checkInterface: Refine = (value, report) => {
  const c = value as InterfaceConfig;
  if (c.dhcp === true && c.addresses !== undefined && c.addresses.length > 0) {
    report(['dhcp'], 'cannot be combined with addresses: choose static addresses or DHCP');
  }
  const v6 = c.addresses?.findIndex((a) => prefixFamily(a) === AF_INET6) ?? -1;
  if (c.mtu !== undefined && c.mtu < IPV6_MTU_MIN && v6 >= 0) {
    report(['mtu'], `must be at least ${IPV6_MTU_MIN} for IPv6, got ${c.mtu} (addresses[${v6}] is IPv6)`);
  }
  const v6mtu = c.sysctls?.['ipv6.mtu'];
  if (c.mtu !== undefined && v6mtu !== undefined && v6mtu > c.mtu) {
    report(['sysctls', { key: 'ipv6.mtu' }], `${v6mtu} is above the interface mtu ${c.mtu}`);
  }
  if (c.vrf !== undefined && c.name !== undefined && c.vrf.name === c.name) {
    report(['vrf', 'name'], `must differ from the interface name "${c.name}"`);
  }
};

export const checkRoute: Refine = (value, report, failed) => {
  const r = value as RouteConfig;
  const dst = prefixFamily(r.destination);
  const scope = r.scope ?? 0;
  if (r.gateway === undefined) {
    if (scope === 0 && !failed.has('gateway') && !failed.has('scope')) {
      report(['gateway'], 'required for a universe-scope route (set scope: link for a route without a gateway)');
    }
  } else {
    const gw = ipFamily(r.gateway);
    if (dst !== undefined && gw !== dst) report(['gateway'], `is ${familyName(gw)} but destination is ${familyName(dst)}`);
    if (scope !== 0 && gw === AF_INET) report(['gateway'], 'not allowed on a link- or host-scope IPv4 route; the kernel refuses it');
  }
  const src = ipFamily(r.source);
  if (r.source !== undefined && dst !== undefined && src !== dst) report(['source'], `is ${familyName(src)} but destination is ${familyName(dst)}`);
};

export const checkRule: Refine = (value, report) => {
  const r = value as RuleConfig;
  const src = prefixFamily(r.source);
  const dst = prefixFamily(r.destination);
  if (src !== undefined && dst !== undefined && src !== dst) {
    report(['destination'], `is ${familyName(dst)} but source is ${familyName(src)}`);
  }
};
