import { describe, expect, it } from 'vitest';
import { createNetns, eventually, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { NetnsHandle } from '../../netns/handle.ts';
import { AF_INET, AF_INET6 } from '../../../common/ip.ts';
import { routeAdd, routeDelete, routeGet, routeList, routeReplace } from './route-ops.ts';
import type { Route, RouteFilter } from './route-types.ts';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';

const TABLE_NAMES: Record<number, string> = { 253: 'default', 255: 'local' };

/** Our record in the shape `ip -j route show table all` prints (iproute2 6.1). */
function asIp(r: Route, dev: (i: number) => string): Record<string, unknown> {
  const full = r.family === AF_INET ? '/32' : '/128';
  const out: Record<string, unknown> = { dst: r.dst.endsWith(full) ? r.dst.slice(0, -full.length) : r.dst, flags: [...r.flags] };
  if (r.type !== 'unicast') out.type = r.type;
  if (r.src !== undefined) out.from = r.src;
  if (r.gateway !== undefined) {
    if (r.gateway.includes(':') === (r.family === AF_INET6)) out.gateway = r.gateway;
    else out.via = { family: r.gateway.includes(':') ? 'inet6' : 'inet', host: r.gateway };
  }
  if (r.oif !== undefined) out.dev = dev(r.oif);
  if (r.table !== 254) out.table = TABLE_NAMES[r.table] ?? String(r.table);
  if (r.protocol !== 'boot') out.protocol = String(r.protocol);
  if (r.scope !== 'global') out.scope = String(r.scope);
  if (r.prefSrc !== undefined) out.prefsrc = r.prefSrc;
  if (r.priority !== undefined) out.metric = r.priority;
  if (r.metrics !== undefined) out.metrics = [r.metrics];
  if (r.nexthops !== undefined) {
    out.nexthops = r.nexthops.map((n) => ({
      ...(n.gateway !== undefined ? { gateway: n.gateway } : {}), dev: dev(n.oif), weight: n.weight, flags: [...n.flags],
    }));
  }
  if (r.pref !== undefined) out.pref = r.pref;
  return out;
}

const key = (x: Record<string, unknown>): string => JSON.stringify([x.table, x.type, x.dst, x.metric, x.dev]);
const sorted = (xs: Record<string, unknown>[]): Record<string, unknown>[] => [...xs].sort((a, b) => key(a).localeCompare(key(b)));

interface Net { ns: TestNetns; a: string; b: string; ia: IfIndex; ib: IfIndex; dev: (i: number) => string }

/**
 * A veth pair, both ends up: `a` has 10.1.0.1/24 and 2001:db8:1::1/64,
 * `b` has 10.2.0.1/24 and 2001:db8:2::1/64.
 */
function setUp(): Net {
  const ns = createNetns();
  const a = uniqueName('va');
  const b = uniqueName('vb');
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  for (const [d, v4, v6] of [[a, '10.1.0.1/24', '2001:db8:1::1/64'], [b, '10.2.0.1/24', '2001:db8:2::1/64']] as const) {
    ip(ns, 'link', 'set', d, 'up');
    ip(ns, 'addr', 'add', v4, 'dev', d);
    ip(ns, 'addr', 'add', v6, 'dev', d, 'nodad');
  }
  const links = ipJson<{ ifindex: number; ifname: string }[]>(ns, 'link');
  const index = (n: string): IfIndex => links.find((l) => l.ifname === n)!.ifindex as IfIndex;
  const dev = (i: number): string => links.find((l) => l.ifindex === i)?.ifname ?? `if${i}`;
  return { ns, a, b, ia: index(a), ib: index(b), dev };
}

/**
 * Every route of every table and family, ours vs ip's. The kernel keeps adding routes of its own
 * for a while after a link comes up (IPv6 link-local and multicast routes, after linkwatch and
 * autoconf, slower on a loaded machine), so two dumps taken a moment apart can differ: compare
 * until one of ours agrees with ip's, taken right after it (bounded).
 */
async function expectSameAsIp(net: Net): Promise<Route[]> {
  return eventually(() => {
    const ours = routeList(net.ns.handle);
    expect(sorted(ours.map((r) => asIp(r, net.dev)))).toEqual(sorted(ipJson(net.ns, 'route', 'show', 'table', 'all')));
    return ours;
  }, 20_000);
}

const find = (rs: readonly Route[], dst: string, table = 254): Route | undefined => rs.find((r) => r.dst === dst && r.table === table);


describe(`route ops (${testLibc.backend})`, () => {
  it('adds link-scope, gateway and default routes (IPv4 and IPv6) and lists all tables as ip does', async () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: '10.7.0.0/16', oif: net.ia });
    routeAdd(h, { dst: '192.168.5.0/24', gateway: '10.1.0.2' });
    routeAdd(h, { dst: 'default', gateway: '10.1.0.254', oif: net.ia });
    routeAdd(h, { dst: '2001:db8:99::/48', gateway: '2001:db8:1::fe', oif: net.ia, priority: 512, pref: 'high' });
    routeAdd(h, { dst: 'default', gateway: '2001:db8:2::fe' });
    routeAdd(h, { dst: '10.50.0.0/16', gateway: '2001:db8:1::fe', oif: net.ia });
    const rs = await expectSameAsIp(net);
    expect(find(rs, '10.7.0.0/16')).toMatchObject({ scope: 'link', oif: net.ia, protocol: 'boot' });
    expect(find(rs, '192.168.5.0/24')).toMatchObject({ scope: 'global', gateway: '10.1.0.2', oif: net.ia });
    expect(rs.filter((r) => r.dst === 'default').map((r) => r.gateway).sort()).toEqual(['10.1.0.254', '2001:db8:2::fe']);
    expect(find(rs, '10.50.0.0/16')).toMatchObject({ family: AF_INET, gateway: '2001:db8:1::fe' });
    expect(find(rs, '2001:db8:99::/48')).toMatchObject({ priority: 512, pref: 'high' });
    // The kernel's own routes are there too: local table, prefix routes.
    expect(find(rs, '10.1.0.1/32', 255)).toMatchObject({ type: 'local', scope: 'host', protocol: 'kernel' });
  });

  it('uses tables 100 and 1000 (RTA_TABLE), and filters by table, family, oif, protocol and type', async () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: '10.100.0.0/16', oif: net.ia, table: 100 });
    routeAdd(h, { dst: '10.200.0.0/16', gateway: '10.2.0.9', table: 1000, protocol: 'static' });
    routeAdd(h, { dst: '2001:db8:1000::/48', oif: net.ib, table: 1000 });
    routeAdd(h, { dst: '203.0.113.0/24', type: 'blackhole', table: 100 });
    await expectSameAsIp(net);
    expect(routeList(h, { table: 100 }).map((r) => r.dst).sort()).toEqual(['10.100.0.0/16', '203.0.113.0/24']);
    expect(routeList(h, { table: 1000 }).map((r) => r.dst).sort()).toEqual(['10.200.0.0/16', '2001:db8:1000::/48']);
    expect(routeList(h, { table: 1000, family: AF_INET6 }).map((r) => r.dst)).toEqual(['2001:db8:1000::/48']);
    expect(routeList(h, { table: 1000, oif: net.ib, family: AF_INET })).toMatchObject([{ dst: '10.200.0.0/16', gateway: '10.2.0.9' }]);
    expect(routeList(h, { protocol: 'static' }).map((r) => r.dst)).toEqual(['10.200.0.0/16']);
    expect(routeList(h, { type: 'blackhole' }).map((r) => r.dst)).toEqual(['203.0.113.0/24']);
    expect(routeList(h, { table: 255, family: AF_INET }).every((r) => r.table === 255 && r.family === AF_INET)).toBe(true);
    // A table nobody has used: the family-specific dump fails with ENOENT in the kernel; we return nothing.
    expect(routeList(h, { table: 4242, family: AF_INET })).toEqual([]);
    expect(routeList(h, { table: 4242, family: AF_INET6 })).toEqual([]);
    expect(routeList(h, { table: 4242 })).toEqual([]);
    expect(routeList(h, { table: 0 })).toEqual(routeList(h));
    // Without strict checking the kernel ignores the filters; the result is the same.
    const loose = NetnsHandle.open(net.ns.path, { libc: testLibc, socketOptions: { strictCheck: false } });
    try {
      const filters: RouteFilter[] = [{ table: 100 }, { table: 1000, oif: net.ib }, { family: AF_INET6, table: 1000 }, { protocol: 'static' }];
      for (const f of filters) {
        expect(routeList(loose, f)).toEqual(routeList(h, f));
      }
      expect(routeList(loose, { table: 4242, family: AF_INET })).toEqual([]);
    } finally {
      loose.close();
    }
  });

  it('sets metric, protocol, preferred source and metrics (mtu, advmss, initcwnd, hoplimit)', async () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, {
      dst: '172.20.0.0/16', gateway: '10.1.0.2', priority: 100, protocol: 'static', prefSrc: '10.1.0.1',
      metrics: { mtu: 1400, advmss: 1360, initcwnd: 10, hoplimit: 32 },
    });
    routeAdd(h, { dst: '2001:db8:20::/48', gateway: '2001:db8:1::2', protocol: 'dhcp', metrics: { mtu: 1300 } });
    const rs = await expectSameAsIp(net);
    expect(find(rs, '172.20.0.0/16')).toMatchObject({
      priority: 100, protocol: 'static', prefSrc: '10.1.0.1', metrics: { mtu: 1400, advmss: 1360, initcwnd: 10, hoplimit: 32 },
    });
    expect(find(rs, '2001:db8:20::/48')).toMatchObject({ protocol: 'dhcp', metrics: { mtu: 1300 }, priority: 1024 });
  });

  it('adds multipath (ECMP) routes for IPv4 and IPv6', async () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: '172.16.0.0/16', nexthops: [{ gateway: '10.1.0.3', oif: net.ia }, { gateway: '10.2.0.3', oif: net.ib, weight: 3 }] });
    routeAdd(h, { dst: '2001:db8:aa::/48', nexthops: [{ gateway: '2001:db8:1::fe', oif: net.ia }, { gateway: '2001:db8:2::fe', oif: net.ib }] });
    const rs = await expectSameAsIp(net);
    expect(find(rs, '172.16.0.0/16')!.nexthops).toEqual([
      { gateway: '10.1.0.3', oif: net.ia, weight: 1, flags: [] }, { gateway: '10.2.0.3', oif: net.ib, weight: 3, flags: [] },
    ]);
    expect(find(rs, '2001:db8:aa::/48')!.nexthops!.map((n) => n.gateway)).toEqual(['2001:db8:1::fe', '2001:db8:2::fe']);
    expect(routeList(h, { oif: net.ib, family: AF_INET }).map((r) => r.dst)).toContain('172.16.0.0/16');
  });

  it('adds blackhole, unreachable and prohibit routes', async () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: '198.51.100.0/24', type: 'blackhole' });
    routeAdd(h, { dst: '198.51.101.0/24', type: 'unreachable', table: 100 });
    routeAdd(h, { dst: '2001:db8:dead::/48', type: 'prohibit' });
    const rs = await expectSameAsIp(net);
    expect(find(rs, '198.51.100.0/24')).toMatchObject({ type: 'blackhole', scope: 'global' });
    expect(find(rs, '198.51.101.0/24', 100)).toMatchObject({ type: 'unreachable' });
    expect(find(rs, '2001:db8:dead::/48')).toMatchObject({ type: 'prohibit' });
    expect(kernelError(() => routeGet(h, '198.51.100.7')).errnoName).toBe('EINVAL');
  });

  it('replaces a route (new gateway), creates a missing one, and deletes', async () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: '192.168.5.0/24', gateway: '10.1.0.2', table: 1000 });
    routeReplace(h, { dst: '192.168.5.0/24', gateway: '10.2.0.2', table: 1000 });
    routeReplace(h, { dst: '2001:db8:5::/48', gateway: '2001:db8:1::5' });
    routeReplace(h, { dst: '2001:db8:5::/48', gateway: '2001:db8:2::5' });
    let rs = await expectSameAsIp(net);
    expect(rs.filter((r) => r.dst === '192.168.5.0/24')).toMatchObject([{ gateway: '10.2.0.2', oif: net.ib, table: 1000 }]);
    expect(rs.filter((r) => r.dst === '2001:db8:5::/48')).toMatchObject([{ gateway: '2001:db8:2::5' }]);

    routeDelete(h, { dst: '192.168.5.0/24', table: 1000 });
    routeDelete(h, { dst: '2001:db8:5::/48', gateway: '2001:db8:2::5' });
    rs = await expectSameAsIp(net);
    expect(rs.some((r) => r.dst === '192.168.5.0/24' || r.dst === '2001:db8:5::/48')).toBe(false);
  });

  it('looks up the route for a destination like `ip route get`', () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: 'default', gateway: '10.1.0.254' });
    routeAdd(h, { dst: '2001:db8:99::/48', gateway: '2001:db8:2::fe' });
    const got = routeGet(h, '203.0.113.9');
    expect(got).toMatchObject({ dst: '203.0.113.9/32', gateway: '10.1.0.254', oif: net.ia, prefSrc: '10.1.0.1', table: 254 });
    expect(got.flags).toContain('cloned');
    const ipGet = ipJson<{ dst: string; gateway: string; dev: string; prefsrc: string }[]>(net.ns, 'route', 'get', '203.0.113.9')[0]!;
    expect({ dst: ipGet.dst, gateway: ipGet.gateway, dev: ipGet.dev, prefsrc: ipGet.prefsrc })
      .toEqual({ dst: '203.0.113.9', gateway: got.gateway, dev: net.dev(got.oif!), prefsrc: got.prefSrc });
    expect(routeGet(h, '2001:db8:99::1')).toMatchObject({ family: AF_INET6, gateway: '2001:db8:2::fe', oif: net.ib });
    expect(routeGet(h, '10.2.0.7', { oif: net.ib })).toMatchObject({ oif: net.ib, prefSrc: '10.2.0.1' });
    expect(routeGet(h, '203.0.113.9', { fibMatch: true })).toMatchObject({ dst: 'default', gateway: '10.1.0.254', protocol: 'boot' });
  });

  it('reports kernel errors with errno names and the kernel message', () => {
    const net = setUp();
    const h = net.ns.handle;
    routeAdd(h, { dst: '192.168.5.0/24', gateway: '10.1.0.2' });
    // Linux 6.18 sends no extack text for duplicate or missing routes; only the errno.
    const dup = kernelError(() => routeAdd(h, { dst: '192.168.5.0/24', gateway: '10.1.0.3' }));
    expect(dup).toMatchObject({ code: 'KERNEL_NETLINK_ERROR', errnoName: 'EEXIST', op: 'RTM_NEWROUTE' });
    expect(dup.message).toContain(net.ns.path);
    routeAdd(h, { dst: '2001:db8:5::/48', gateway: '2001:db8:1::5' });
    expect(kernelError(() => routeAdd(h, { dst: '2001:db8:5::/48', gateway: '2001:db8:1::6' })).errnoName).toBe('EEXIST');

    const unreach = kernelError(() => routeAdd(h, { dst: '172.31.0.0/16', gateway: '192.0.2.1' }));
    expect(unreach).toMatchObject({ errnoName: 'ENETUNREACH', extack: 'Nexthop has invalid gateway' });
    expect(unreach.message).toBe(`RTM_NEWROUTE failed: ENETUNREACH: Nexthop has invalid gateway (netns ${net.ns.path})`);
    // IPv6 says the same with another errno and no text.
    expect(kernelError(() => routeAdd(h, { dst: '2001:db8:31::/48', gateway: '2001:db8:ffff::1' })).errnoName).toBe('EHOSTUNREACH');

    const missing = kernelError(() => routeDelete(h, { dst: '10.99.0.0/16' }));
    expect(missing).toMatchObject({ errnoName: 'ESRCH', op: 'RTM_DELROUTE' });
    expect(kernelError(() => routeDelete(h, { dst: '2001:db8:99::/48' })).errnoName).toBe('ESRCH');
    expect(kernelError(() => routeDelete(h, { dst: '192.168.5.0/24', gateway: '10.1.0.9' })).errnoName).toBe('ESRCH');

    // No default route here: the lookup fails.
    expect(kernelError(() => routeGet(h, '203.0.113.9'))).toMatchObject({ errnoName: 'ENETUNREACH', op: 'RTM_GETROUTE' });
    expect(kernelError(() => routeGet(h, '2001:db8:77::1')).errnoName).toBe('ENETUNREACH');
    expect(kernelError(() => routeAdd(h, { dst: '10.8.0.0/16', oif: 99999 as IfIndex })).errnoName).toBe('ENODEV');
    expect(() => routeAdd(h, { dst: '10.8.0.1/16', oif: net.ia })).toThrow(ConfigError);
  });
});
