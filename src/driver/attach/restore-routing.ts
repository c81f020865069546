/**
 * Putting a returned device's routes, rules and permanent neighbours back
 * from its host snapshot. Each is compared with what the namespace has now
 * and only what is missing is added, so restoring twice changes nothing.
 *
 * Kernel quirks handled here:
 * - Routes the kernel makes itself (protocol `kernel`: prefix routes of the
 *   addresses) come back with the addresses and the link going up; they are
 *   not added.
 * - A device leaving a namespace takes its routes with it. An IPv4
 *   multipath route loses ALL its legs when one leg's device leaves, while
 *   IPv6 keeps the other legs: at attach the other legs are put back on the
 *   host at once (routesKeepOtherLegs), and at restore the route is put back
 *   whole from the snapshot's nexthops (replace), whichever is the case.
 * - Policy rules stay when the device leaves (they are per namespace): they
 *   are usually still there and are added only if missing.
 */
import { ifIndex, type IfIndex } from '../../common/ids.ts';
import type { IpFamily } from '../../common/ip.ts';
import { neighList, neighReplace } from '../../kernel/netlink/route/neigh-ops.ts';
import { routeAdd, routeList, routeReplace } from '../../kernel/netlink/route/route-ops.ts';
import type { Route, RouteSpec } from '../../kernel/netlink/route/route-types.ts';
import { ruleAdd, ruleList } from '../../kernel/netlink/route/rule-ops.ts';
import type { Rule } from '../../kernel/netlink/route/rule-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { HostSnapshot, SnapshotNexthop, SnapshotRoute, SnapshotRule } from '../plan/plan-types.ts';
import type { DetachProblem } from './attach-types.ts';

const RTPROT_KERNEL = 2;

/** A snapshot route as a request, with the device's legs on its current ifindex. */
export function snapshotRouteSpec(r: SnapshotRoute, snapIndex: number, index: number): RouteSpec {
  const oif = (i: number): IfIndex => ifIndex(i === snapIndex ? index : i);
  return {
    dst: r.destination, family: r.family, table: r.table, protocol: r.protocol, scope: r.scope, type: r.type,
    ...(r.source === undefined ? {} : { prefSrc: r.source }),
    ...(r.priority === undefined ? {} : { priority: r.priority }),
    ...(r.mtu === undefined ? {} : { metrics: { mtu: r.mtu } }),
    ...(r.nexthops === undefined
      ? { oif: ifIndex(index), ...(r.gateway === undefined ? {} : { gateway: r.gateway }), ...(r.onlink === true ? { onlink: true } : {}) }
      : {
        nexthops: r.nexthops.map((n) => ({
          oif: oif(n.ifIndex), weight: n.weight,
          ...(n.gateway === undefined ? {} : { gateway: n.gateway }), ...(n.onlink === true ? { onlink: true } : {}),
        })),
      }),
  };
}

const sameDst = (r: Route, s: SnapshotRoute): boolean =>
  r.family === s.family && r.table === s.table && r.dst === s.destination && (r.priority ?? 0) === (s.priority ?? 0);

const legsKey = (legs: readonly { gateway?: string | undefined; oif: number; weight: number }[]): string =>
  legs.map((n) => `${n.gateway ?? ''}@${n.oif}*${n.weight}`).sort().join(',');

/** Link-scope routes first: the gateways of the others must be reachable when they are added. */
const byScopeDesc = (a: SnapshotRoute, b: SnapshotRoute): number => b.scope - a.scope;

/** Adds the snapshot's routes that are missing; true when any was added. */
export function routesRestore(h: NetnsHandle, index: number, snap: HostSnapshot, problems: DetachProblem[]): boolean {
  const wanted = snap.routes.filter((r) => r.protocol !== RTPROT_KERNEL).sort(byScopeDesc);
  if (wanted.length === 0) return false;
  const mine = routeList(h, { oif: ifIndex(index) });
  let changed = false;
  for (const r of wanted) {
    const spec = snapshotRouteSpec(r, snap.ifIndex, index);
    try {
      if (spec.nexthops === undefined) {
        if (mine.some((x) => sameDst(x, r) && x.nexthops === undefined && x.gateway === r.gateway)) continue;
        routeAdd(h, spec);
      } else {
        const have = routeList(h, { family: r.family, table: r.table }).find((x) => sameDst(x, r));
        const want = spec.nexthops.map((n) => ({ gateway: n.gateway, oif: n.oif ?? 0, weight: n.weight ?? 1 }));
        if (have?.nexthops !== undefined && legsKey(have.nexthops) === legsKey(want)) continue;
        routeReplace(h, spec);
      }
      changed = true;
    } catch (err) {
      problems.push({ step: 'routes', message: `${r.destination} table ${r.table}: ${(err as Error).message}` });
    }
  }
  return changed;
}

/**
 * While the device is away: the snapshot's multipath routes with legs on
 * other devices, as the host must keep them (without the device's legs; one
 * leg left is a plain route). IPv4 drops such a route whole when one leg's
 * device leaves the namespace; IPv6 keeps the other legs itself, so there the
 * route already matches and is left alone. Replaces what differs; throws
 * what the kernel refuses (a gateway of another leg no longer reachable).
 * Equivalent to: `ip route replace DST table T nexthop via GW2 dev OTHER ...`
 */
export function routesKeepOtherLegs(h: NetnsHandle, snap: HostSnapshot): boolean {
  let changed = false;
  for (const r of snap.routes) {
    const others = (r.nexthops ?? []).filter((n) => n.ifIndex !== snap.ifIndex);
    if (others.length === 0 || others.length === r.nexthops!.length) continue;
    const spec = snapshotRouteSpec({ ...r, nexthops: others }, snap.ifIndex, snap.ifIndex);
    const want = others.map((n) => ({ gateway: n.gateway, oif: n.ifIndex, weight: n.weight }));
    const have = routeList(h, { family: r.family, table: r.table }).find((x) => sameDst(x, r));
    const haveLegs = have === undefined ? undefined
      : have.nexthops ?? (have.oif === undefined ? [] : [{ gateway: have.gateway, oif: have.oif, weight: want.length === 1 ? want[0]!.weight : 1 }]);
    if (haveLegs !== undefined && legsKey(haveLegs) === legsKey(want)) continue;
    let next: RouteSpec = spec;
    if (others.length === 1) {
      const [leg] = others as [SnapshotNexthop];
      const { nexthops: _, ...single } = spec;
      next = { ...single, oif: ifIndex(leg.ifIndex), ...(leg.gateway === undefined ? {} : { gateway: leg.gateway }), ...(leg.onlink === true ? { onlink: true } : {}) };
    }
    try {
      routeReplace(h, next);
    } catch (err) {
      // The preferred source may have been an address of the device that left: the route without it.
      if (next.prefSrc === undefined) throw err;
      const { prefSrc: _, ...withoutSrc } = next;
      routeReplace(h, withoutSrc);
    }
    changed = true;
  }
  return changed;
}

const ruleMatches = (x: Rule, s: SnapshotRule): boolean =>
  x.action === 'table' && x.table === s.table && (s.priority === undefined || x.priority === s.priority)
  && x.src === s.source && x.dst === s.destination && x.iif === s.iifName && x.oif === s.oifName
  && x.fwmark === s.fwmark && x.fwmask === s.fwmask;

/** Adds the snapshot's rules that are missing (rules outlive the device's move); true when any was added. */
export function rulesRestore(h: NetnsHandle, snap: HostSnapshot, problems: DetachProblem[]): boolean {
  if (snap.rules.length === 0) return false;
  const byFamily = new Map<IpFamily, Rule[]>();
  let changed = false;
  for (const s of snap.rules) {
    let have = byFamily.get(s.family);
    if (have === undefined) byFamily.set(s.family, have = ruleList(h, s.family));
    if (have.some((x) => ruleMatches(x, s))) continue;
    try {
      ruleAdd(h, {
        family: s.family, table: s.table,
        ...(s.priority === undefined ? {} : { priority: s.priority }),
        ...(s.source === undefined ? {} : { src: s.source }),
        ...(s.destination === undefined ? {} : { dst: s.destination }),
        ...(s.iifName === undefined ? {} : { iif: s.iifName }),
        ...(s.oifName === undefined ? {} : { oif: s.oifName }),
        ...(s.fwmark === undefined ? {} : { fwmark: s.fwmark }),
        ...(s.fwmask === undefined ? {} : { fwmask: s.fwmask }),
      });
      changed = true;
    } catch (err) {
      problems.push({ step: 'rules', message: `priority ${s.priority ?? '-'} table ${s.table}: ${(err as Error).message}` });
    }
  }
  return changed;
}

/** Adds the snapshot's permanent neighbours that are missing; true when any was added. */
export function neighborsRestore(h: NetnsHandle, index: number, snap: HostSnapshot, problems: DetachProblem[]): boolean {
  if (snap.neighbors.length === 0) return false;
  const have = neighList(h, { index: ifIndex(index) });
  let changed = false;
  for (const n of snap.neighbors) {
    const lladdr = n.hardwareAddr.toLowerCase();
    if (have.some((x) => x.dst === n.destination && x.state.includes('permanent') && x.lladdr?.toLowerCase() === lladdr)) continue;
    try {
      neighReplace(h, { index: ifIndex(index), dst: n.destination, lladdr, state: 'permanent' });
      changed = true;
    } catch (err) {
      problems.push({ step: 'neighbors', message: `${n.destination}: ${(err as Error).message}` });
    }
  }
  return changed;
}
