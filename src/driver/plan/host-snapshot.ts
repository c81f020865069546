/**
 * What a device looks like on the host before Prepare gives it to a pod:
 * link settings, addresses, the routes that use it, the policy rules that
 * look up those routes' tables, its permanent neighbours, ethtool settings,
 * per-interface sysctls and attached eBPF programs. Everything restoring the
 * device puts back, read once, with each dump filtered by the kernel where
 * it can (strict checking): addresses, routes and neighbours by ifindex.
 * Rules cannot be filtered by the kernel; they are dumped only for the
 * families that have routes on the device in tables of their own.
 */
import type { IfIndex } from '../../common/ids.ts';
import { AF_INET, AF_INET6, type IpFamily } from '../../common/ip.ts';
import { BPF_ATTACH_TYPE } from '../../kernel/bpf/bpf-constants.ts';
import { bpfProgQuery } from '../../kernel/bpf/bpf-syscall.ts';
import { tcBpfFilterList } from '../../kernel/bpf/ebpf-tc.ts';
import { KernelError } from '../../kernel/errors.ts';
import { libc as defaultLibc, type Libc } from '../../kernel/libc/index.ts';
import { addrList } from '../../kernel/netlink/route/addr-ops.ts';
import type { Addr } from '../../kernel/netlink/route/addr-types.ts';
import { linkGet } from '../../kernel/netlink/route/link-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import { neighList } from '../../kernel/netlink/route/neigh-ops.ts';
import { RT_TABLE } from '../../kernel/netlink/route/route-constants.ts';
import { protocolValue, routeTypeValue, scopeValue } from '../../kernel/netlink/route/route-names.ts';
import { routeList } from '../../kernel/netlink/route/route-ops.ts';
import type { Route } from '../../kernel/netlink/route/route-types.ts';
import { ruleList } from '../../kernel/netlink/route/rule-ops.ts';
import type { Rule } from '../../kernel/netlink/route/rule-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import { netconfSysctlsGet } from '../../kernel/sysctl/netconf-sysctl.ts';
import { snapshotEthtool } from './host-snapshot-ethtool.ts';
import type { HostSnapshot, SnapshotAddr, SnapshotNeighbor, SnapshotRoute, SnapshotRule } from './plan-types.ts';

/** The sysctls every snapshot records (the ones the config's typed fields set). */
export const DEFAULT_SNAPSHOT_SYSCTLS = ['ipv4.forwarding', 'ipv4.arp_ignore', 'ipv4.arp_announce', 'ipv6.forwarding'] as const;

export interface SnapshotOptions {
  /** More `ipv4.NAME` / `ipv6.NAME` sysctls to record (those the claim will set). */
  readonly sysctlKeys?: readonly string[];
  /** The FFI backend for bpf(2); the process default when omitted. */
  readonly libc?: Libc;
}

/** Tables every interface shares: rules that look them up belong to no device. */
const SHARED_TABLES: ReadonlySet<number> = new Set([
  RT_TABLE.RT_TABLE_UNSPEC, RT_TABLE.RT_TABLE_DEFAULT, RT_TABLE.RT_TABLE_MAIN, RT_TABLE.RT_TABLE_LOCAL,
]);
const EINVAL = 22;

/**
 * The host-side state of interface `ifIndex` in `h`'s namespace. A missing
 * interface throws NotFoundError (its cause a KernelError ENODEV).
 * Equivalent to: `ip -d link show dev X; ip addr show dev X; ip route show table all dev X; ip rule;
 * ip neigh show dev X nud permanent; ethtool -k/-g/-l/-c/--show-priv-flags X; sysctl net.ipv{4,6}.conf.X...`
 */
export function snapshotHost(h: NetnsHandle, ifIndex: number, opts: SnapshotOptions = {}): HostSnapshot {
  const link = linkGet(h, ifIndex);
  const routes = deviceRoutes(routeList(h, { oif: link.index }), link.index);
  const sysctlKeys = [...new Set([...DEFAULT_SNAPSHOT_SYSCTLS, ...(opts.sysctlKeys ?? [])])];
  return {
    ...linkPart(link),
    addresses: addrList(h, { index: link.index }).map((a) => snapshotAddr(a, link.name)),
    routes: routes.map((r) => snapshotRoute(r, link.index)),
    rules: deviceRules(h, routes),
    neighbors: permanentNeighbors(h, link.index),
    ethtool: snapshotEthtool(h, link.index),
    sysctls: netconfSysctlsGet(h, link.name, sysctlKeys),
    ebpf: ebpfCounts(h, link, opts.libc ?? defaultLibc()),
  };
}

function linkPart(l: Link): Pick<HostSnapshot, 'ifName' | 'ifIndex' | 'mtu' | 'mac' | 'permMac' | 'up' | 'alias'
  | 'gsoMaxSize' | 'groMaxSize' | 'gsoIpv4MaxSize' | 'groIpv4MaxSize' | 'maxMtu'> {
  return {
    ifName: l.name, ifIndex: l.index, mtu: l.mtu, up: l.up,
    ...(l.mac === undefined ? {} : { mac: l.mac }),
    ...(l.permMac === undefined ? {} : { permMac: l.permMac }),
    ...(l.alias === undefined || l.alias === '' ? {} : { alias: l.alias }),
    ...(l.gsoMaxSize === undefined ? {} : { gsoMaxSize: l.gsoMaxSize }),
    ...(l.groMaxSize === undefined ? {} : { groMaxSize: l.groMaxSize }),
    ...(l.gsoIpv4MaxSize === undefined ? {} : { gsoIpv4MaxSize: l.gsoIpv4MaxSize }),
    ...(l.groIpv4MaxSize === undefined ? {} : { groIpv4MaxSize: l.groIpv4MaxSize }),
    ...(l.maxMtu === undefined ? {} : { maxMtu: l.maxMtu }),
  };
}

/** The IPv4 label is recorded only when it is not the interface name (an alias label such as `eth0:1`). */
export function snapshotAddr(a: Addr, ifName: string): SnapshotAddr {
  return {
    cidr: `${a.address}/${a.prefixLen}`,
    family: a.family,
    scope: scopeValue('Addr', 'scope', a.scope),
    ...(a.label === undefined || a.label === ifName ? {} : { label: a.label }),
    ...(a.peer === undefined ? {} : { peer: `${a.peer}/${a.prefixLen}` }),
    flags: [...a.flags],
    ...(typeof a.validLft === 'number' ? { validLft: a.validLft } : {}),
    ...(typeof a.preferredLft === 'number' ? { preferredLft: a.preferredLft } : {}),
  };
}

const RTPROT_KERNEL = 2;

/**
 * The routes worth recording: not the local table, not cached clones, not
 * the IPv6 link-local prefix and multicast routes the kernel makes for
 * every interface. The kernel already filtered by oif; this checks again.
 */
export function deviceRoutes(routes: readonly Route[], ifIndex: number): Route[] {
  return routes.filter((r) =>
    (r.oif === ifIndex || r.nexthops?.some((n) => n.oif === ifIndex) === true)
    && r.table !== RT_TABLE.RT_TABLE_LOCAL
    && !r.flags.includes('cloned')
    && !(r.family === AF_INET6 && protocolValue('Route', 'protocol', r.protocol) === RTPROT_KERNEL
      && (r.dst === 'fe80::/64' || r.dst === 'ff00::/8')));
}

/** A route in snapshot form; a multipath route's `gateway` is that of the device's first leg. */
export function snapshotRoute(r: Route, ifIndex: number): SnapshotRoute {
  const legs = r.nexthops;
  const gateway = r.gateway ?? legs?.find((n) => n.oif === ifIndex)?.gateway;
  return {
    family: r.family,
    destination: r.dst,
    ...(gateway === undefined ? {} : { gateway }),
    ...(r.prefSrc === undefined ? {} : { source: r.prefSrc }),
    scope: scopeValue('Route', 'scope', r.scope),
    table: r.table,
    protocol: protocolValue('Route', 'protocol', r.protocol),
    ...(r.priority === undefined ? {} : { priority: r.priority }),
    type: routeTypeValue('Route', 'type', r.type),
    ...(r.metrics?.mtu === undefined ? {} : { mtu: r.metrics.mtu }),
    ...(legs === undefined && r.flags.includes('onlink') ? { onlink: true } : {}),
    ...(legs === undefined ? {} : {
      nexthops: legs.map((n) => ({
        ...(n.gateway === undefined ? {} : { gateway: n.gateway }),
        ifIndex: n.oif, weight: n.weight,
        ...(n.flags.includes('onlink') ? { onlink: true } : {}),
      })),
    }),
  };
}

/** Rules that look up a table (not main/local/default) where the device has routes of the rule's family. */
function deviceRules(h: NetnsHandle, routes: readonly Route[]): SnapshotRule[] {
  const tables = new Map<IpFamily, Set<number>>();
  for (const r of routes) {
    if (SHARED_TABLES.has(r.table)) continue;
    let s = tables.get(r.family);
    if (s === undefined) tables.set(r.family, s = new Set());
    s.add(r.table);
  }
  const out: SnapshotRule[] = [];
  for (const family of [AF_INET, AF_INET6] as const) {
    const mine = tables.get(family);
    if (mine === undefined) continue;
    for (const rule of ruleList(h, family)) if (rule.action === 'table' && mine.has(rule.table)) out.push(snapshotRule(rule));
  }
  return out;
}

export function snapshotRule(r: Rule): SnapshotRule {
  return {
    family: r.family,
    priority: r.priority,
    table: r.table,
    ...(r.src === undefined ? {} : { source: r.src }),
    ...(r.dst === undefined ? {} : { destination: r.dst }),
    ...(r.iif === undefined ? {} : { iifName: r.iif }),
    ...(r.oif === undefined ? {} : { oifName: r.oif }),
    ...(r.fwmark === undefined ? {} : { fwmark: r.fwmark }),
    ...(r.fwmask === undefined ? {} : { fwmask: r.fwmask }),
  };
}

function permanentNeighbors(h: NetnsHandle, ifIndex: IfIndex): SnapshotNeighbor[] {
  const out: SnapshotNeighbor[] = [];
  for (const n of neighList(h, { index: ifIndex })) {
    if (n.index !== ifIndex || !n.state.includes('permanent') || n.lladdr === undefined) continue;
    out.push({ family: n.family, destination: n.dst, hardwareAddr: n.lladdr });
  }
  return out;
}

/**
 * How many programs are attached: XDP from the link record already read,
 * cls_bpf filters from the two clsact hooks, tcx programs from two
 * BPF_PROG_QUERY calls (ids only, no per-program lookups) inside the
 * namespace, where the ifindex means this interface.
 */
function ebpfCounts(h: NetnsHandle, link: Link, l: Libc): HostSnapshot['ebpf'] {
  const tcx = h.within(() => tcxCount(l, link.index, BPF_ATTACH_TYPE.BPF_TCX_INGRESS) + tcxCount(l, link.index, BPF_ATTACH_TYPE.BPF_TCX_EGRESS));
  return { xdp: link.xdp !== undefined, tc: tcBpfFilterList(h, link.index).length, tcx };
}

/** Programs on one tcx hook; 0 on a kernel without tcx (EINVAL). */
function tcxCount(l: Libc, ifIndex: number, attachType: number): number {
  try {
    return bpfProgQuery(l, ifIndex, attachType).progIds.length;
  } catch (err) {
    if (err instanceof KernelError && err.errno === EINVAL) return 0;
    throw err;
  }
}
