/**
 * The node's uplinks and everything they depend on. An uplink is any link
 * that carries a default route of the main table — whatever its metric, so a
 * backup route counts — in either family, or that holds one of the node's
 * InternalIPs. Its closure: the members of its master chain (bond, team or
 * bridge ports, Hyper-V's enslaved VF, failover slaves) and its lower devices
 * (a VLAN's or macvlan's parent), repeated until nothing new is found, since
 * a VLAN uplink over a bond depends on the bond's members too. Links built on
 * top of an uplink (a macvlan child) are not part of it.
 */
import { ipFromBytes, ipToBytes } from '../common/ip.ts';
import type { Addr } from '../kernel/netlink/route/addr-types.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { Route } from '../kernel/netlink/route/route-types.ts';

const MAIN_TABLE = 254;

/** Uplink ifindex → why it is one. */
export function uplinkIndexes(links: readonly Link[], defaultRoutes: readonly Route[], addrs: readonly Addr[], nodeIps: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  // In a fixed order (family, metric, interface), so the reason given does not depend on the kernel's dump order.
  const routes = [...defaultRoutes].sort((a, b) => a.family - b.family || (a.priority ?? 0) - (b.priority ?? 0) || (a.oif ?? 0) - (b.oif ?? 0));
  for (const r of routes) {
    if (r.dst !== 'default' || r.table !== MAIN_TABLE || (r.type ?? 'unicast') !== 'unicast') continue;
    const family = r.family === 10 ? 'IPv6' : 'IPv4';
    const why = `carries the node's ${family} default route${r.priority ? ` (metric ${r.priority})` : ''}`;
    if (r.oif !== undefined && !out.has(r.oif)) out.set(r.oif, why);
    for (const nh of r.nexthops ?? []) if (nh.oif !== undefined && !out.has(nh.oif)) out.set(nh.oif, why);
  }
  const ips = new Set(nodeIps.map(canonicalIp));
  if (ips.size > 0) {
    for (const a of [...addrs].sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0))) {
      if (ips.has(canonicalIp(a.address)) && !out.has(a.index)) out.set(a.index, `holds the node's InternalIP ${a.address}`);
    }
  }
  const present = new Set(links.map((l) => l.index as number));
  for (const i of [...out.keys()]) if (!present.has(i)) out.delete(i);
  return out;
}

/** The uplinks, and every link they depend on (not uplinks themselves) with why. */
export function uplinkClosure(
  links: readonly Link[], defaultRoutes: readonly Route[], addrs: readonly Addr[], nodeIps: readonly string[],
): { uplinks: Map<number, string>; members: Map<number, string> } {
  const uplinks = uplinkIndexes(links, defaultRoutes, addrs, nodeIps);
  const byIndex = new Map(links.map((l) => [l.index as number, l]));
  const slaves = new Map<number, Link[]>();
  for (const l of links) if (l.master !== undefined) (slaves.get(l.master) ?? slaves.set(l.master, []).get(l.master)!).push(l);
  // Members by ifindex, not the kernel's dump order: a link reached two ways (the lower device of two
  // macvlans enslaved to the uplink bond) gets the same reason whatever order the links came in.
  for (const list of slaves.values()) list.sort((a, b) => a.index - b.index);
  const members = new Map<number, string>();
  const uplinkOf = new Map<number, string>([...uplinks.keys()].map((i) => [i, byIndex.get(i)!.name]));
  const frontier = [...uplinks.keys()];
  while (frontier.length > 0) {
    const i = frontier.pop()!;
    const l = byIndex.get(i)!;
    const root = uplinkOf.get(i)!;
    const reach = (j: number, why: string): void => {
      if (uplinks.has(j) || members.has(j) || !byIndex.has(j)) return;
      members.set(j, why);
      uplinkOf.set(j, root);
      frontier.push(j);
    };
    const via = l.name === root ? `uplink ${root}` : `${l.name}, which the uplink ${root} depends on`;
    for (const s of slaves.get(i) ?? []) reach(s.index, `member of ${via}`);
    // The lower device, when it is in this namespace (a veth's peer elsewhere has a link-netnsid).
    if (l.link !== undefined && l.linkNetnsId === undefined && l.kind !== 'veth') {
      reach(l.link, `lower device of ${via}`);
    }
  }
  return { uplinks, members };
}

/** One text per address (`2001:DB8:0::1` and `2001:db8::1` match); text that is no address stays as is. */
function canonicalIp(ip: string): string {
  try {
    const b = ipToBytes(ip);
    return ipFromBytes(b, 0, b.length);
  } catch {
    return ip;
  }
}
