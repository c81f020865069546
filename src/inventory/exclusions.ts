/**
 * Which interfaces and PCI functions are never published, and why: loopback,
 * the node's uplinks (default-route interfaces) with every bond/bridge member
 * below them, runtime/CNI plumbing, veth unless asked for, functions bound to
 * userspace drivers or to none, and the admin's name globs.
 */
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { Route } from '../kernel/netlink/route/route-types.ts';
import type { PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import type { Exclusion } from './model.ts';
import { globMatcher, type InventoryOptions } from './options.ts';

const IFF_LOOPBACK = 0x8;
const ARPHRD_LOOPBACK = 772;
const USERSPACE_DRIVERS = new Set(['vfio-pci', 'uio_pci_generic', 'igb_uio', 'pci-stub', 'vfio_pci']);

/**
 * The uplinks: interfaces of the main table's default routes with the lowest
 * metric, per family (ECMP ties and multipath next hops included).
 */
export function uplinkIndexes(defaultRoutes: readonly Route[]): Set<number> {
  const out = new Set<number>();
  for (const family of [2, 10]) {
    const defs = defaultRoutes.filter((r) => r.family === family && r.dst === 'default' && r.table === 254 && (r.type ?? 'unicast') === 'unicast');
    if (defs.length === 0) continue;
    const best = Math.min(...defs.map((r) => r.priority ?? 0));
    for (const r of defs.filter((d) => (d.priority ?? 0) === best)) {
      if (r.oif !== undefined) out.add(r.oif);
      for (const nh of r.nexthops ?? []) if (nh.oif !== undefined) out.add(nh.oif);
    }
  }
  return out;
}

/** Every link whose master chain leads to one of `roots` (bond slaves, bridge ports, nested). */
export function masterDescendants(links: readonly Link[], roots: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  let frontier = [...roots];
  while (frontier.length) {
    const next: number[] = [];
    for (const l of links) {
      if (l.master !== undefined && frontier.includes(l.master) && !out.has(l.index) && !roots.has(l.index)) {
        out.add(l.index);
        next.push(l.index);
      }
    }
    frontier = next;
  }
  return out;
}

/** Links left out, keyed by ifindex, each with its reason. */
export function linkExclusions(links: readonly Link[], defaultRoutes: readonly Route[], o: InventoryOptions): Map<number, Exclusion> {
  const out = new Map<number, Exclusion>();
  const plumbing = globMatcher(o.plumbingNames);
  const admin = globMatcher(o.excludeNames);
  const uplinks = uplinkIndexes(defaultRoutes);
  const members = masterDescendants(links, uplinks);
  const byIndex = new Map(links.map((l) => [l.index as number, l]));
  for (const l of links) {
    const ex = (code: Exclusion['code'], reason: string): void => { out.set(l.index, { ifName: l.name, code, reason }); };
    const adminGlob = admin(l.name);
    if (l.flags & IFF_LOOPBACK || l.type === ARPHRD_LOOPBACK) ex('loopback', 'loopback interface');
    else if (uplinks.has(l.index)) ex('uplink', 'carries the node\'s default route (lowest metric)');
    else if (members.has(l.index)) ex('uplink-member', `member of uplink ${uplinkOf(l, byIndex, uplinks)}`);
    else if (adminGlob !== undefined) ex('admin-name', `matches the admin exclusion "${adminGlob}"`);
    else if (plumbing(l.name) !== undefined) ex('plumbing', `container runtime / CNI plumbing ("${plumbing(l.name)}")`);
    else if (l.kind === 'veth' && !o.includeVeth) ex('veth', 'veth pairs are container plumbing (publish them with --include-veth)');
  }
  return out;
}

function uplinkOf(l: Link, byIndex: ReadonlyMap<number, Link>, uplinks: ReadonlySet<number>): string {
  let cur: Link | undefined = l;
  for (let i = 0; cur && i < 16; i++) {
    if (uplinks.has(cur.index)) return cur.name;
    cur = cur.master !== undefined ? byIndex.get(cur.master) : undefined;
  }
  return '?';
}

/** Why a PCI function cannot be handed to a pod through its kernel netdev, or undefined. */
export function pciExclusion(f: PciFunction): Exclusion | undefined {
  if (f.driver === undefined) return { pciAddress: f.address, code: 'unbound', reason: 'no kernel driver bound' };
  if (USERSPACE_DRIVERS.has(f.driver)) {
    return { pciAddress: f.address, code: 'userspace-driver', reason: `bound to ${f.driver} (userspace/passthrough)` };
  }
  return undefined;
}
