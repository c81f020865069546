/**
 * Puts a device that is back on the host into the state its host snapshot
 * recorded (driver/plan/host-snapshot.ts), comparing first so a device that
 * already matches is left alone:
 *
 *   link        name (a taken name is a problem; the device keeps its own),
 *               MTU, MAC, GSO/GRO sizes, alias; taken down first when the
 *               name or MAC must change on a link that is up
 *   ethtool     features, private flags, channels, rings, coalescing
 *   sysctls     the recorded per-interface ones (a device moving between
 *               namespaces gets that namespace's defaults); IPv4 ones over
 *               rtnetlink where /proc/sys is read-only
 *   addresses   with their scope, flags, label and peer; lifetimes restart
 *               from the recorded values
 *   up          when it was up; IPv6 link-local addresses the kernel did not
 *               regenerate are added after it
 *   routes      IPv4 routes need the link up, so they follow it
 *   rules, permanent neighbours
 *
 * Every part is tried even when an earlier one failed; failures come back as
 * problems, never thrown. Not restorable: detached eBPF programs, a master
 * (bond, bridge, VRF) the device had on the host, sysctls the snapshot did
 * not record, addresses' remaining lifetimes, and per-route details the
 * snapshot does not keep (metrics other than MTU, expiry, nexthop objects).
 */
import { ifIndex } from '../../common/ids.ts';
import { AF_INET6, ipFromBytes } from '../../common/ip.ts';
import { addrAdd, addrList } from '../../kernel/netlink/route/addr-ops.ts';
import { ADDR_REQUEST_FLAGS } from '../../kernel/netlink/route/addr-constants.ts';
import type { AddrRequestFlag, AddrSpec } from '../../kernel/netlink/route/addr-types.ts';
import { linkGet, linkRename, linkSet, linkSetDown, linkSetUp } from '../../kernel/netlink/route/link-ops.ts';
import type { Link, LinkChange } from '../../kernel/netlink/route/link-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import { netconfSysctlsGet, netconfSysctlWrite, parseNetconfKey } from '../../kernel/sysctl/netconf-sysctl.ts';
import type { HostSnapshot, SnapshotAddr } from '../plan/plan-types.ts';
import type { DetachProblem, RestoreResult } from './attach-types.ts';
import { ethtoolRestore } from './device-ethtool.ts';
import { neighborsRestore, routesRestore, rulesRestore } from './restore-routing.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const lower = (mac: string | undefined): string | undefined => mac?.toLowerCase();

/** The link fields that differ from the snapshot (name apart), as one change. */
function linkDiff(l: Link, s: HostSnapshot): Mutable<LinkChange> {
  const c: Mutable<LinkChange> = {};
  if (l.mtu !== s.mtu) c.mtu = s.mtu;
  if (s.mac !== undefined && lower(l.mac) !== lower(s.mac)) c.mac = s.mac;
  if (s.gsoMaxSize !== undefined && l.gsoMaxSize !== s.gsoMaxSize) c.gsoMaxSize = s.gsoMaxSize;
  if (s.groMaxSize !== undefined && l.groMaxSize !== s.groMaxSize) c.groMaxSize = s.groMaxSize;
  if (s.gsoIpv4MaxSize !== undefined && l.gsoIpv4MaxSize !== s.gsoIpv4MaxSize) c.gsoIpv4MaxSize = s.gsoIpv4MaxSize;
  if (s.groIpv4MaxSize !== undefined && l.groIpv4MaxSize !== s.groIpv4MaxSize) c.groIpv4MaxSize = s.groIpv4MaxSize;
  if ((l.alias ?? '') !== (s.alias ?? '')) c.alias = s.alias ?? '';
  return c;
}

/** Name, then the other link fields in one message (field by field if that fails, to name the culprit). */
function linkRestore(h: NetnsHandle, l: Link, s: HostSnapshot, restored: string[], problems: DetachProblem[]): string {
  const change = linkDiff(l, s);
  const rename = l.name !== s.ifName;
  let name = l.name;
  if (l.up && (rename || change.mac !== undefined)) linkSetDown(h, l.index);
  if (rename) {
    try {
      linkRename(h, l.index, s.ifName);
      name = s.ifName;
      restored.push('name');
    } catch (err) {
      problems.push({ step: 'name', message: `cannot take back the name ${s.ifName} (the device stays ${l.name}): ${message(err)}` });
    }
  }
  const keys = Object.keys(change) as (keyof LinkChange)[];
  if (keys.length === 0) return name;
  try {
    linkSet(h, l.index, change);
    restored.push(...keys);
  } catch {
    for (const k of keys) {
      try {
        linkSet(h, l.index, { [k]: change[k] });
        restored.push(k);
      } catch (err) {
        problems.push({ step: 'link', message: `${k} ${String(change[k])}: ${message(err)}` });
      }
    }
  }
  return name;
}

function sysctlsRestore(h: NetnsHandle, name: string, s: HostSnapshot, problems: DetachProblem[]): boolean {
  const keys = Object.keys(s.sysctls);
  if (keys.length === 0) return false;
  const now = netconfSysctlsGet(h, name, keys);
  let changed = false;
  for (const key of keys) {
    const want = s.sysctls[key]!;
    if (now[key] === want) continue;
    try {
      const [family, sysctl] = parseNetconfKey(key);
      netconfSysctlWrite(h, family, name, sysctl, want);
      changed = true;
    } catch (err) {
      problems.push({ step: 'sysctls', message: `${key}=${want}: ${message(err)}` });
    }
  }
  return changed;
}

const REQUEST_FLAGS = new Set(Object.keys(ADDR_REQUEST_FLAGS));

/** The snapshot address as a request: request flags only (the kernel sets `permanent`, `tentative`...). */
export function snapshotAddrSpec(a: SnapshotAddr): AddrSpec {
  return {
    cidr: a.cidr,
    scope: a.scope,
    flags: a.flags.filter((f) => REQUEST_FLAGS.has(f)) as AddrRequestFlag[],
    ...(a.label === undefined ? {} : { label: a.label }),
    ...(a.peer === undefined ? {} : { peer: a.peer.split('/')[0]! }),
    ...(a.validLft === undefined ? {} : { validLft: Math.max(1, a.validLft) }),
    ...(a.preferredLft === undefined ? {} : { preferredLft: Math.min(a.preferredLft, Math.max(1, a.validLft ?? Infinity)) }),
  };
}


/** fe80::/64 with the modified EUI-64 of a 6-byte MAC: the link-local address the kernel makes itself (addr_gen_mode eui64). */
export function eui64LinkLocal(mac: string | undefined): string | undefined {
  const m = mac?.split(':').map((x) => parseInt(x, 16));
  if (m?.length !== 6 || m.some((x) => !(x >= 0 && x <= 255))) return undefined;
  const b = Buffer.alloc(16);
  b.set([0xfe, 0x80]);
  b.set([m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!], 8);
  return `${ipFromBytes(b, 0, 16)}/64`;
}

/** Adds the snapshot addresses that `pick` selects and the device lacks, so that the kernel lists them in snapshot order. */
function addressesRestore(h: NetnsHandle, index: number, s: HostSnapshot, pick: (a: SnapshotAddr) => boolean, problems: DetachProblem[]): boolean {
  // The kernel lists IPv4 addresses in the order they were added and IPv6 ones (per scope) newest first.
  const wanted = [...s.addresses.filter((a) => a.family !== AF_INET6 && pick(a)), ...s.addresses.filter((a) => a.family === AF_INET6 && pick(a)).reverse()];
  if (wanted.length === 0) return false;
  const have = new Set(addrList(h, { index: ifIndex(index) }).map((a) => `${a.address}/${a.prefixLen}`));
  let changed = false;
  for (const a of wanted) {
    if (have.has(a.cidr)) continue;
    try {
      addrAdd(h, ifIndex(index), snapshotAddrSpec(a));
      changed = true;
    } catch (err) {
      problems.push({ step: 'addresses', message: `${a.cidr}: ${message(err)}` });
    }
  }
  return changed;
}

/** Runs one part; a throw becomes a problem of `step`. */
function part(step: string, problems: DetachProblem[], fn: () => void): void {
  try {
    fn();
  } catch (err) {
    problems.push({ step, message: message(err) });
  }
}

/**
 * Restores device `index` in `h` (the host) to `snap`. Never throws; the
 * device missing altogether is a `find` problem.
 * Equivalent to: `ip link set dev X name N mtu M address A alias S ...; ethtool -K/-G/-L/-C ...;
 * sysctl -w ...; ip addr add ...; ip link set dev X up; ip route add ...; ip rule add ...; ip neigh replace ... nud permanent`
 */
export function restoreHost(h: NetnsHandle, index: number, snap: HostSnapshot): RestoreResult {
  const restored: string[] = [];
  const problems: DetachProblem[] = [];
  let l: Link;
  try {
    l = linkGet(h, index);
  } catch (err) {
    return { restored, problems: [{ step: 'find', message: `ifindex ${index}: ${message(err)}` }] };
  }
  let name = l.name;
  part('link', problems, () => { name = linkRestore(h, l, snap, restored, problems); });
  part('ethtool', problems, () => {
    for (const p of ethtoolRestore(h, index, snap.ethtool, problems)) restored.push(`ethtool.${p}`);
  });
  part('sysctls', problems, () => { if (sysctlsRestore(h, name, snap, problems)) restored.push('sysctls'); });
  // IPv4 before up; IPv6 after: an IPv6 address added to an up link also brings back the
  // ff00::/8 multicast route, which a link without carrier does not get from going up.
  part('addresses', problems, () => {
    if (addressesRestore(h, index, snap, (a) => a.family !== AF_INET6, problems)) restored.push('addresses');
  });
  part('up', problems, () => {
    const up = linkGet(h, index).up;
    if (snap.up && !up) linkSetUp(h, index);
    else if (!snap.up && up) linkSetDown(h, index);
    if (snap.up !== up) restored.push(snap.up ? 'up' : 'down');
  });
  // The kernel makes its own link-local address when the link is up and has carrier (asynchronously,
  // after linkwatch): that one is left to it; others (fe80::1...) are added.
  const kernelLinkLocal = eui64LinkLocal(snap.mac);
  part('addresses', problems, () => {
    const pick = (a: SnapshotAddr): boolean => a.family === AF_INET6 && a.cidr !== kernelLinkLocal;
    if (addressesRestore(h, index, snap, pick, problems) && !restored.includes('addresses')) restored.push('addresses');
  });
  part('routes', problems, () => { if (routesRestore(h, index, snap, problems)) restored.push('routes'); });
  part('rules', problems, () => { if (rulesRestore(h, snap, problems)) restored.push('rules'); });
  part('neighbors', problems, () => { if (neighborsRestore(h, index, snap, problems)) restored.push('neighbors'); });
  return { restored, problems };
}
