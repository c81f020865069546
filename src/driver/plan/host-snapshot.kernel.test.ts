import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bpfProgLoad, clsactAdd, tcBpfFilterAdd, tcxLinkCreate, xdpAttachNetlink } from '../../../test/kernel/bpf-fixture.ts';
import {
  ethtool, ethtoolFails, ethtoolK, ethtoolSections, hasEthtool, needsEthtool, numOrNa,
} from '../../../test/kernel/ethtool-oracle.ts';
import { createNetns, ip, ipJson, kernelAtLeast, testLibc, uniqueName, type TestNetns } from '../../../test/kernel/netns-fixture.ts';
import { NotFoundError } from '../../common/errors.ts';
import { AF_INET, AF_INET6 } from '../../common/ip.ts';
import { KernelError } from '../../kernel/errors.ts';
import { ethtoolFeaturesGet } from '../../kernel/netlink/genl/ethtool-ops.ts';
import { ROUTE_PROTOCOL_NAMES, SCOPE_NAMES } from '../../kernel/netlink/route/route-constants.ts';
import { snapshotHost } from './host-snapshot.ts';
import type { HostSnapshot, SnapshotRoute } from './plan-types.ts';

const l = testLibc;
const hasTcx = kernelAtLeast(6, 6);
const snap = (ns: TestNetns, index: number, sysctlKeys?: readonly string[]): HostSnapshot =>
  snapshotHost(ns.handle, index, { libc: l, ...(sysctlKeys ? { sysctlKeys } : {}) });
const sysctlN = (ns: TestNetns, key: string): string =>
  execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();

interface IpLink { ifindex: number; ifname: string; mtu: number; address: string; flags: string[]; ifalias?: string; max_mtu?: number; gso_max_size?: number; gro_max_size?: number }
interface IpAddr { family: string; local: string; prefixlen: number; scope: string; label?: string; address?: string; valid_life_time: number; preferred_life_time: number; noprefixroute?: boolean; nodad?: boolean; permanent?: boolean }
interface IpRoute {
  type?: string; dst: string; gateway?: string; dev?: string; table?: string; protocol?: string; scope?: string; prefsrc?: string;
  metric?: number; flags: string[]; metrics?: { mtu?: number }[]; nexthops?: { gateway?: string; dev: string; weight: number; flags: string[] }[];
}
interface IpRule { priority: number; src?: string; srclen?: number; dst?: string; dstlen?: number; table: string; iifname?: string; oifname?: string }
interface IpNeigh { dst: string; dev: string; lladdr?: string; state: string[] }

/** Table names `ip` prints → numbers. */
const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 };
const tableNo = (t: string | undefined): number => (t === undefined ? 254 : TABLES[t] ?? Number(t));

/** `ip -j route show table all` (both families), as snapshot routes: the oracle for what the device has. */
function ipRoutes(ns: TestNetns, dev: string, index: (d: string) => number): SnapshotRoute[] {
  const out: SnapshotRoute[] = [];
  for (const [flag, family] of [['-4', AF_INET], ['-6', AF_INET6]] as const) {
    for (const r of ipJson<IpRoute[]>(ns, flag, 'route', 'show', 'table', 'all')) {
      if (r.dev !== dev && !r.nexthops?.some((n) => n.dev === dev)) continue;
      if (r.table === 'local') continue;
      const protocol = ROUTE_PROTOCOL_NAMES[(r.protocol ?? 'boot') as keyof typeof ROUTE_PROTOCOL_NAMES] ?? Number(r.protocol);
      if (family === AF_INET6 && protocol === 2 && (r.dst === 'fe80::/64' || r.dst === 'ff00::/8')) continue;
      const full = family === AF_INET ? '/32' : '/128';
      const gateway = r.gateway ?? r.nexthops?.find((n) => n.dev === dev)?.gateway;
      out.push({
        family,
        destination: r.dst === 'default' || r.dst.includes('/') ? r.dst : `${r.dst}${full}`,
        ...(gateway === undefined ? {} : { gateway }),
        ...(r.prefsrc === undefined ? {} : { source: r.prefsrc }),
        scope: SCOPE_NAMES[(r.scope ?? 'global') as keyof typeof SCOPE_NAMES],
        table: tableNo(r.table),
        protocol,
        ...(r.metric === undefined ? {} : { priority: r.metric }),
        type: r.type === undefined || r.type === 'unicast' ? 1 : Number.NaN,
        ...(r.metrics?.[0]?.mtu === undefined ? {} : { mtu: r.metrics[0].mtu }),
        ...(r.flags.includes('onlink') ? { onlink: true } : {}),
        ...(r.nexthops === undefined ? {} : {
          nexthops: r.nexthops.map((n) => ({
            ...(n.gateway === undefined ? {} : { gateway: n.gateway }), ifIndex: index(n.dev), weight: n.weight,
            ...(n.flags.includes('onlink') ? { onlink: true } : {}),
          })),
        }),
      });
    }
  }
  return out;
}

const routeKey = (r: SnapshotRoute): string => `${r.family} ${r.table} ${r.destination} ${r.priority ?? ''}`;
const byKey = (rs: readonly SnapshotRoute[]): SnapshotRoute[] => [...rs].sort((a, b) => routeKey(a).localeCompare(routeKey(b)));

interface Net { ns: TestNetns; a: string; b: string; c: string; ia: number; ic: number; index: (d: string) => number }

/** Two veth pairs: a↔b (the device is `a`), c↔d (another interface, for multipath). */
function setUp(): Net {
  const ns = createNetns('hs');
  const [a, b, c, d] = [uniqueName('ha'), uniqueName('hb'), uniqueName('hc'), uniqueName('hd')];
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip(ns, 'link', 'add', c, 'type', 'veth', 'peer', 'name', d);
  for (const x of [a, b, c, d]) ip(ns, 'link', 'set', x, 'up');
  const links = ipJson<IpLink[]>(ns, 'link');
  const index = (n: string): number => links.find((x) => x.ifname === n)!.ifindex;
  return { ns, a, b, c, ia: index(a), ic: index(c), index };
}

/** The full configuration the test asks for on `a`. */
function configure({ ns, a, c }: Net): void {
  ip(ns, 'link', 'set', a, 'mtu', '1400', 'alias', 'host side nic');
  ip(ns, 'addr', 'add', '10.1.0.1/24', 'dev', a);
  ip(ns, 'addr', 'add', '10.1.1.1/24', 'dev', a, 'noprefixroute');
  ip(ns, 'addr', 'add', '10.1.2.1/24', 'dev', a, 'label', `${a.slice(0, 13)}:1`, 'valid_lft', '3000', 'preferred_lft', '2000');
  ip(ns, 'addr', 'add', '2001:db8:1::1/64', 'dev', a, 'nodad');
  ip(ns, 'addr', 'add', '10.2.0.1/24', 'dev', c);
  ip(ns, 'route', 'add', '10.50.0.0/16', 'via', '10.1.0.254', 'dev', a, 'metric', '50', 'mtu', '1300');
  ip(ns, 'route', 'add', '10.51.0.0/16', 'via', '10.1.0.254', 'dev', a, 'src', '10.1.0.1', 'proto', 'static');
  ip(ns, 'route', 'add', '10.60.0.0/16', 'via', '10.1.0.254', 'dev', a, 'table', '100');
  ip(ns, 'route', 'add', '192.0.2.0/24', 'via', '198.51.100.1', 'dev', a, 'onlink', 'table', '100');
  ip(ns, 'route', 'add', '10.70.0.0/16', 'table', '100', 'nexthop', 'via', '10.1.0.254', 'dev', a, 'weight', '2', 'nexthop', 'via', '10.2.0.254', 'dev', c);
  ip(ns, 'route', 'add', '10.80.0.0/16', 'via', '10.2.0.254', 'dev', c, 'table', '100');
  ip(ns, 'route', 'add', '10.90.0.0/16', 'via', '10.2.0.254', 'dev', c, 'table', '200');
  ip(ns, '-6', 'route', 'add', '2001:db8:9::/48', 'via', '2001:db8:1::fe', 'dev', a, 'table', '300');
  ip(ns, 'rule', 'add', 'from', '10.9.0.0/16', 'lookup', '100', 'pref', '1000');
  ip(ns, 'rule', 'add', 'to', '10.10.0.0/16', 'iif', a, 'fwmark', '0x10/0xff', 'lookup', '100', 'pref', '1001');
  ip(ns, 'rule', 'add', 'from', '10.8.0.0/16', 'lookup', 'main', 'pref', '1002');
  ip(ns, 'rule', 'add', 'from', '10.7.0.0/16', 'lookup', '200', 'pref', '1003');
  ip(ns, '-6', 'rule', 'add', 'from', '2001:db8:7::/48', 'lookup', '300', 'pref', '1004');
  ip(ns, '-6', 'rule', 'add', 'from', '2001:db8:8::/48', 'lookup', '100', 'pref', '1005');
  ip(ns, 'neigh', 'add', '10.1.0.77', 'lladdr', '02:00:00:00:00:77', 'dev', a, 'nud', 'permanent');
  ip(ns, 'neigh', 'add', '2001:db8:1::77', 'lladdr', '02:00:00:00:00:78', 'dev', a, 'nud', 'permanent');
  ip(ns, 'neigh', 'add', '10.1.0.78', 'lladdr', '02:00:00:00:00:79', 'dev', a, 'nud', 'stale');
  ip(ns, 'neigh', 'add', '10.2.0.77', 'lladdr', '02:00:00:00:00:7a', 'dev', c, 'nud', 'permanent');
  execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', `net.ipv4.conf.${a}.arp_ignore=1`, `net.ipv4.conf.${a}.rp_filter=2`]);
}

describe(`snapshotHost (${l.backend})`, () => {
  it('records a configured device field by field, as ip, sysctl and ethtool show it', () => {
    const net = setUp();
    const { ns, a, ia, ic, index } = net;
    configure(net);
    const s = snap(ns, ia, ['ipv4.rp_filter', 'ipv6.accept_ra']);

    const link = ipJson<IpLink[]>(ns, '-d', 'link', 'show', 'dev', a)[0]!;
    expect(s).toMatchObject({
      ifName: a, ifIndex: ia, mtu: 1400, mac: link.address, up: true, alias: 'host side nic',
      ...(link.max_mtu === undefined ? {} : { maxMtu: link.max_mtu }),
      ...(link.gso_max_size === undefined ? {} : { gsoMaxSize: link.gso_max_size }),
      ...(link.gro_max_size === undefined ? {} : { groMaxSize: link.gro_max_size }),
    });
    expect(link.flags).toContain('UP');

    // Addresses: every one `ip addr show dev` lists (the link-local too), with scope and flags.
    const addrs = ipJson<{ addr_info: IpAddr[] }[]>(ns, 'addr', 'show', 'dev', a)[0]!.addr_info;
    expect(s.addresses.map((x) => x.cidr).sort()).toEqual(addrs.map((x) => `${x.local}/${x.prefixlen}`).sort());
    expect(s.addresses.filter((x) => x.scope === 0).map((x) => x.cidr).sort())
      .toEqual(['10.1.0.1/24', '10.1.1.1/24', '10.1.2.1/24', '2001:db8:1::1/64']);
    for (const x of addrs) {
      const mine = s.addresses.find((y) => y.cidr === `${x.local}/${x.prefixlen}`)!;
      expect(mine.family).toBe(x.family === 'inet' ? AF_INET : AF_INET6);
      expect(mine.scope).toBe(SCOPE_NAMES[x.scope as keyof typeof SCOPE_NAMES]);
      if (x.valid_life_time !== 4294967295) expect(mine.validLft).toBeLessThanOrEqual(x.valid_life_time + 1);
      else expect(mine.validLft).toBeUndefined();
      if (x.noprefixroute === true) expect(mine.flags).toContain('noprefixroute');
      if (x.nodad === true) expect(mine.flags).toContain('nodad');
    }
    const labelled = s.addresses.find((x) => x.cidr === '10.1.2.1/24')!;
    expect(labelled).toMatchObject({ label: `${a.slice(0, 13)}:1` });
    expect(labelled.validLft).toBeGreaterThan(2990);
    expect(labelled.preferredLft).toBeGreaterThan(1990);
    expect(s.addresses.find((x) => x.cidr === '10.1.0.1/24')).not.toHaveProperty('label');

    // Routes: the device's in every table but local, the kernel's fe80::/64 and ff00::/8 left out; none of c's alone.
    expect(byKey(s.routes)).toEqual(byKey(ipRoutes(ns, a, index)));
    expect(s.routes.map((r) => `${r.table} ${r.destination}`).sort()).toEqual([
      '100 10.60.0.0/16', '100 10.70.0.0/16', '100 192.0.2.0/24',
      '254 10.1.0.0/24', '254 10.1.2.0/24', '254 10.50.0.0/16', '254 10.51.0.0/16', '254 2001:db8:1::/64',
      '300 2001:db8:9::/48',
    ]);
    const route = (dst: string): SnapshotRoute => s.routes.find((r) => r.destination === dst)!;
    expect(route('10.50.0.0/16')).toEqual({
      family: AF_INET, destination: '10.50.0.0/16', gateway: '10.1.0.254', scope: 0, table: 254, protocol: 3, priority: 50, type: 1, mtu: 1300,
    });
    expect(route('10.51.0.0/16')).toMatchObject({ source: '10.1.0.1', protocol: 4 });
    expect(route('10.1.0.0/24')).toMatchObject({ protocol: 2, scope: 253, source: '10.1.0.1' });
    expect(route('192.0.2.0/24')).toMatchObject({ gateway: '198.51.100.1', onlink: true, table: 100 });
    expect(route('10.70.0.0/16')).toMatchObject({
      gateway: '10.1.0.254',
      nexthops: [{ gateway: '10.1.0.254', ifIndex: ia, weight: 2 }, { gateway: '10.2.0.254', ifIndex: ic, weight: 1 }],
    });

    // Rules: those looking up table 100 (IPv4 routes) and 300 (IPv6 routes); not main, not 200 (no routes of a there),
    // not the IPv6 rule to table 100 (a has only IPv4 routes in 100).
    expect(s.rules).toEqual([
      { family: AF_INET, priority: 1000, table: 100, source: '10.9.0.0/16' },
      { family: AF_INET, priority: 1001, table: 100, destination: '10.10.0.0/16', iifName: a, fwmark: 0x10, fwmask: 0xff },
      { family: AF_INET6, priority: 1004, table: 300, source: '2001:db8:7::/48' },
    ]);
    const ipRules = [...ipJson<IpRule[]>(ns, '-4', 'rule'), ...ipJson<IpRule[]>(ns, '-6', 'rule')];
    for (const r of s.rules) expect(ipRules.find((x) => x.priority === r.priority)?.table).toBe(String(r.table));

    // Neighbours: the permanent ones on a only.
    const perm = ipJson<IpNeigh[]>(ns, 'neigh', 'show', 'dev', a, 'nud', 'permanent');
    expect(s.neighbors).toEqual(expect.arrayContaining(perm.map((n) => ({
      family: n.dst.includes(':') ? AF_INET6 : AF_INET, destination: n.dst, hardwareAddr: n.lladdr,
    }))));
    expect(s.neighbors).toHaveLength(2);

    // Sysctls: the defaults plus the requested keys, as sysctl -n shows them.
    const keys = ['ipv4.forwarding', 'ipv4.arp_ignore', 'ipv4.arp_announce', 'ipv6.forwarding', 'ipv4.rp_filter', 'ipv6.accept_ra'];
    expect(s.sysctls).toEqual(Object.fromEntries(keys.map((k) => {
      const [fam, name] = k.split('.') as [string, string];
      return [k, sysctlN(ns, `net.${fam}.conf.${a}.${name}`)];
    })));
    expect(s.sysctls['ipv4.arp_ignore']).toBe('1');
    expect(s.ebpf).toEqual({ xdp: false, tc: 0, tcx: 0 });
  });

  it('records ethtool features: the changeable ones with their active state, and every name the kernel knows', () => {
    const { ns, ia } = setUp();
    const s = snap(ns, ia);
    const f = ethtoolFeaturesGet(ns.handle, ia)!;
    expect(s.ethtool.knownFeatures).toEqual(Object.keys(f.active));
    expect(s.ethtool.features).toEqual(Object.fromEntries(
      Object.keys(f.active).filter((n) => f.hw[n] === true && f.nochange[n] !== true).map((n) => [n, f.active[n]]),
    ));
    expect(s.ethtool.features).toHaveProperty('rx-gro');
    // veth has no private flags, rings or coalescing to report (EOPNOTSUPP): absent, not empty.
    expect(s.ethtool).not.toHaveProperty('privateFlags');
  });

  it.skipIf(!hasEthtool)(`ethtool settings match ethtool -k, -l, -g, -c (${needsEthtool})`, () => {
    const { ns, a, ia } = setUp();
    ethtool(ns, '-K', a, 'gro', 'off', 'tso', 'off');
    const s = snap(ns, ia);
    const k = ethtoolK(ns, a);
    for (const [name, on] of Object.entries(s.ethtool.features!)) {
      const line = k.find((x) => x.replace(/^\t/u, '').startsWith(`${name}: `) && !x.includes('[fixed]'));
      if (line !== undefined) expect(line.replace(/^\t/u, '').split(' ')[1], name).toBe(on ? 'on' : 'off');
    }
    expect(s.ethtool.features?.['rx-gro']).toBe(false);
    expect(s.ethtool.features?.['tx-tcp-segmentation']).toBe(false);
    const ch = ethtoolSections(ethtool(ns, '-l', a));
    for (const [t, label] of [['rx', 'RX'], ['tx', 'TX'], ['other', 'Other'], ['combined', 'Combined']] as const) {
      expect(s.ethtool.channelsMax?.[`${t}Max`], t).toBe(numOrNa(ch['Pre-set maximums']?.[label]));
      expect(s.ethtool.channels?.[t], t).toBe(numOrNa(ch['Current hardware settings']?.[label]));
    }
    expect(ethtoolFails(ns, '-g', a)).toMatch(/not supported/iu);
    expect(s.ethtool).not.toHaveProperty('rings');
    expect(ethtoolFails(ns, '-c', a)).toMatch(/not supported/iu);
    expect(s.ethtool).not.toHaveProperty('coalesce');
  });

  it('records a device with nothing configured (down, so not even a link-local address)', () => {
    const { ns, b, index } = setUp();
    const ib = index(b);
    ip(ns, 'link', 'set', b, 'down');
    const s = snap(ns, ib);
    expect(s).toMatchObject({ ifName: b, ifIndex: ib, up: false, mtu: 1500, addresses: [], routes: [], rules: [], neighbors: [] });
    expect(s).not.toHaveProperty('alias');
    expect(s.ebpf).toEqual({ xdp: false, tc: 0, tcx: 0 });
    expect(Object.keys(s.sysctls).sort()).toEqual(['ipv4.arp_announce', 'ipv4.arp_ignore', 'ipv4.forwarding', 'ipv6.forwarding']);
  });

  it('counts attached eBPF programs: XDP, classic tc filters and tcx', () => {
    const { ns, ia } = setUp();
    const cls = bpfProgLoad('sched_cls', 'nc_hs_cls', l);
    clsactAdd(ns.handle, ia);
    tcBpfFilterAdd(ns.handle, ia, { direction: 'ingress', progFd: cls, name: 'nc_in', prio: 10 });
    tcBpfFilterAdd(ns.handle, ia, { direction: 'egress', progFd: cls, name: 'nc_out', prio: 20 });
    if (hasTcx) tcxLinkCreate(ns.handle, ia, cls, 'ingress', l);
    xdpAttachNetlink(ns.handle, ia, bpfProgLoad('xdp', 'nc_hs_xdp', l), 'generic');
    expect(snap(ns, ia).ebpf).toEqual({ xdp: true, tc: 2, tcx: hasTcx ? 1 : 0 });
  });

  it('throws NotFoundError (cause: KernelError ENODEV) for an ifindex the namespace does not have', () => {
    const ns = createNetns('hs');
    let err: unknown;
    try { snap(ns, 99_999); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('NOT_FOUND');
    expect((err as NotFoundError).cause).toBeInstanceOf(KernelError);
    expect(((err as NotFoundError).cause as KernelError).errnoName).toBe('ENODEV');
  });

  it('reads the handle\'s namespace: the same ifindex elsewhere is another device', () => {
    const one = setUp();
    const two = setUp();
    configure(one);
    expect(one.ia).toBe(two.ia);
    const s = snap(two.ns, two.ia);
    expect(s.ifName).toBe(two.a);
    expect(s.addresses.filter((x) => x.scope === 0)).toEqual([]);
    expect(s.routes).toEqual([]);
  });
});
