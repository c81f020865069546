/**
 * Why one object, on its own, cannot be published: the direct causes of the
 * ownership model (docs/inventory.md, "Ownership"). A link: loopback, the
 * node's uplinks and everything they depend on, links the kernel will not
 * move, representors, members of a bond/bridge/VRF, parents the model does
 * not know, the admin's globs, plumbing, virtual kinds not opted in. A PCI
 * function: bound to a userspace driver, or to none. Propagation to the rest
 * of a unit happens in build.ts.
 */
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import { EXCLUSION_CODES, type ExclusionCode, type InventorySnapshot } from './model.ts';
import { ALL_KINDS, globMatcher, type InventoryOptions } from './options.ts';
import { uplinkClosure } from './uplink.ts';
import { shareableByLink } from './shareable.ts';

/** A reason an object is not published. */
export interface Cause {
  readonly code: ExclusionCode;
  readonly reason: string;
}

const IFF_LOOPBACK = 0x8;
const ARPHRD_LOOPBACK = 772;
const USERSPACE_DRIVERS = new Set(['vfio-pci', 'uio_pci_generic', 'igb_uio', 'pci-stub', 'vfio_pci']);

/**
 * Kinds the kernel never moves (they set netns_local / netns_immutable:
 * bonding, team, bridge, vrf, OVS internal ports, hsr, batman-adv, amt,
 * 6.15's "net: rename netns_local to netns_immutable"). Used where the
 * kernel cannot tell (6.12–6.14 report neither the ethtool feature nor
 * IFLA_NETNS_IMMUTABLE).
 */
export const IMMOVABLE_KINDS: ReadonlySet<string> = new Set(['bond', 'team', 'bridge', 'vrf', 'openvswitch', 'hsr', 'batadv', 'amt']);

/** Masters whose members silently leave them when moved (bonding releases a slave on NETDEV_UNREGISTER). */
const ENSLAVING_KINDS: ReadonlySet<string> = new Set(['bond', 'team', 'bridge', 'vrf', 'openvswitch', 'hsr', 'batadv']);

/** A switchdev representor's port name: `pfN`, `pfNvfM`, `pfNsfM`, optionally `cC`-prefixed (devlink port flavours). */
const REPRESENTOR_PORT = /^(c\d+)?pf\d+((vf|sf)\d+)?$/;
/** The uplink representor of a PF in switchdev mode (`p0`): a physical port name on a device that has representors. */
const PHYSICAL_PORT = /^p\d+(s\d+)?$/;

export function causeOrder(c: Cause): number {
  return EXCLUSION_CODES.indexOf(c.code);
}

/** The cause that wins when several apply: the first in EXCLUSION_CODES, then by reason text (order-independent). */
export function strongest(causes: readonly Cause[]): Cause | undefined {
  let best: Cause | undefined;
  for (const c of causes) {
    if (!best || causeOrder(c) < causeOrder(best) || (causeOrder(c) === causeOrder(best) && c.reason < best.reason)) best = c;
  }
  return best;
}

/**
 * Is the link a netdev without a bus device (veth, macvlan, vlan, dummy, an IPoIB P_Key child…)?
 * netdevsim ports count as virtual (kind `netdevsim`): the kernel's test device has no hardware behind it.
 */
export function isVirtualLink(l: Link, s: Pick<InventorySnapshot, 'linkPci' | 'linkVmbus' | 'linkUnknown'>): boolean {
  return (l.parentDevBusName === undefined || l.parentDevBusName === 'netdevsim') && !s.linkPci.has(l.index) && !(s.linkVmbus?.has(l.index) ?? false) && !(s.linkUnknown?.has(l.index) ?? false);
}

/** The direct causes of every link that has one, keyed by ifindex (the strongest one each). */
export function linkCauses(
  s: Pick<InventorySnapshot, 'links' | 'addrs' | 'defaultRoutes' | 'linkPci' | 'linkVmbus' | 'linkUnknown' | 'netnsLocal'>,
  o: InventoryOptions,
): Map<number, Cause> {
  const out = new Map<number, Cause>();
  const plumbing = globMatcher(o.plumbingNames);
  const admin = globMatcher(o.excludeNames);
  const byIndex = new Map(s.links.map((l) => [l.index as number, l]));
  const { uplinks, members } = uplinkClosure(s.links, s.defaultRoutes, s.addrs, o.nodeIps);
  // The functions that carry VF/SF/PF representors: their `pN` port is the uplink representor (switchdev mode).
  // Per function, not per switch id: both PFs of one adapter share the id, and one may stay in legacy mode.
  const repOwners = new Set(s.links.filter((l) => l.physSwitchId !== undefined && REPRESENTOR_PORT.test(l.physPortName ?? '')).map((l) => s.linkPci.get(l.index) ?? `switch:${l.physSwitchId}`));
  const kinds = new Set(o.includeKinds);
  for (const l of s.links) {
    const causes: Cause[] = [];
    const add = (code: ExclusionCode, reason: string): void => { causes.push({ code, reason }); };
    const master = l.master !== undefined ? byIndex.get(l.master) : undefined;
    if (l.flags & IFF_LOOPBACK || l.type === ARPHRD_LOOPBACK) add('loopback', 'loopback interface');
    const up = uplinks.get(l.index);
    if (up !== undefined) add('uplink', up);
    const member = members.get(l.index);
    if (member !== undefined) add('uplink-member', member);
    if (isRepresentor(l, repOwners.has(s.linkPci.get(l.index) ?? `switch:${l.physSwitchId}`))) add('representor', `switchdev representor (port ${l.physPortName}, switch ${l.physSwitchId})`);
    const immovable = immovableWhy(l, s.netnsLocal, s.links);
    const parent = shareableByLink(l, o.shareable);
    // A shareable parent stays on the host: that it cannot move does not matter (docs/sharing.md).
    if (immovable !== undefined && !parent) add('netns-local', immovable);
    if (master?.kind !== undefined && ENSLAVING_KINDS.has(master.kind)) {
      add('enslaved', `member of ${master.kind} ${master.name}: moving it would take it out of its master`);
    }
    const unknown = s.linkUnknown?.get(l.index);
    if (unknown !== undefined) add('unknown-topology', unknown);
    const adminGlob = admin(l.name);
    if (adminGlob !== undefined) add('admin-name', `matches the admin exclusion "${adminGlob}"`);
    const plumb = plumbing(l.name);
    if (plumb !== undefined) add('plumbing', `kernel, container runtime or CNI plumbing ("${plumb}")`);
    if (isVirtualLink(l, s)) {
      const kind = l.kind ?? (l.parentDevBusName === 'netdevsim' ? 'netdevsim' : 'none');
      if (!kinds.has(ALL_KINDS) && !kinds.has(kind) && !parent) add('kind-not-included', `a virtual ${kind} link; publish this kind with --include-kind ${kind}`);
    }
    const c = strongest(causes);
    if (c) out.set(l.index, c);
  }
  return out;
}

/** Why the kernel would refuse to move the link, or undefined. */
export function immovableWhy(l: Link, netnsLocal: ReadonlySet<number> | undefined, links: readonly Link[]): string | undefined {
  if (l.netnsImmutable === true) return 'the kernel marks it netns-immutable (IFLA_NETNS_IMMUTABLE)';
  if (netnsLocal?.has(l.index)) return 'the kernel marks it netns-local (ethtool feature)';
  if (l.kind !== undefined && IMMOVABLE_KINDS.has(l.kind)) return `${l.kind} devices cannot change namespace`;
  // net_failover: a master netdev with a bus parent (it copies the virtio device's parent), no rtnl kind.
  if (l.kind === undefined && l.parentDevBusName !== undefined && l.parentDevBusName !== 'vmbus' && links.some((m) => m.master === l.index)) {
    return 'a failover master (net_failover): the kernel cannot move it';
  }
  return undefined;
}

function isRepresentor(l: Link, functionHasRepresentors: boolean): boolean {
  if (l.physSwitchId === undefined || l.physPortName === undefined) return false;
  if (REPRESENTOR_PORT.test(l.physPortName)) return true;
  // `p0` is the uplink representor only on a function in switchdev mode (one with representors); in legacy mode the PF's port is `p0` too.
  return PHYSICAL_PORT.test(l.physPortName) && functionHasRepresentors;
}

/** Why a PCI function cannot be handed to a pod through its kernel netdev, or undefined. */
export function pciCause(f: PciFunction): Cause | undefined {
  if (f.driver === undefined) return { code: 'unbound', reason: `PCI function ${f.address} has no kernel driver bound` };
  if (USERSPACE_DRIVERS.has(f.driver)) return { code: 'userspace-driver', reason: `PCI function ${f.address} is bound to ${f.driver} (userspace/passthrough)` };
  return undefined;
}
