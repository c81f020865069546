import { describe, expect, it } from 'vitest';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import { ConfigError } from '../../../common/errors.ts';
import { ifIndex, type IfIndex } from '../../../common/ids.ts';
import { AF_INET, AF_INET6 } from '../../../common/ip.ts';
import { neighAdd, neighDelete, neighList, neighReplace } from './neigh-ops.ts';
import type { Neigh } from './neigh-types.ts';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';

interface IpNeigh { dst: string; dev: string; lladdr?: string; state?: string[]; router?: null; proxy?: null; managed?: null }

/** One entry in a shape both `ip -j neigh` and `Neigh` can be brought to. */
interface Shape { dst: string; dev: string; lladdr?: string; state?: string[]; router?: true; proxy?: true; managed?: true }

interface Veth { ns: TestNetns; a: string; b: string; ia: IfIndex; ib: IfIndex; names: Map<number, string> }

function withVeth(): Veth {
  const ns = createNetns('nb');
  const a = uniqueName('na');
  const b = uniqueName('nb');
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip(ns, 'link', 'set', a, 'up');
  ip(ns, 'link', 'set', b, 'up');
  const links = ipJson<{ ifindex: number; ifname: string }[]>(ns, 'link');
  const names = new Map(links.map((l) => [l.ifindex, l.ifname] as const));
  const idx = (n: string): IfIndex => ifIndex(links.find((l) => l.ifname === n)!.ifindex);
  return { ns, a, b, ia: idx(a), ib: idx(b), names };
}

function fromIp(n: IpNeigh): Shape {
  return {
    dst: n.dst,
    dev: n.dev,
    ...(n.lladdr !== undefined ? { lladdr: n.lladdr } : {}),
    ...(n.state !== undefined ? { state: n.state } : {}),
    ...('router' in n ? { router: true as const } : {}),
    ...('proxy' in n ? { proxy: true as const } : {}),
    ...('managed' in n ? { managed: true as const } : {}),
  };
}

function fromNeigh(n: Neigh, names: Map<number, string>): Shape {
  return {
    dst: n.dst,
    dev: names.get(n.index)!,
    ...(n.lladdr !== undefined ? { lladdr: n.lladdr } : {}),
    // ip prints no state for proxy entries (NUD_NONE).
    ...(n.proxy ? {} : { state: n.state.map((s) => s.toUpperCase()) }),
    ...(n.router ? { router: true as const } : {}),
    ...(n.proxy ? { proxy: true as const } : {}),
    ...(n.managed ? { managed: true as const } : {}),
  };
}

const byDst = (x: Shape, y: Shape): number => (x.dev + x.dst).localeCompare(y.dev + y.dst);

/** Our cache (without NOARP entries, which `ip neigh show` hides) against `ip -j neigh`. */
function expectMatchesIp(v: Veth, ...ipArgs: string[]): Neigh[] {
  const ours = neighList(v.ns.handle).filter((n) => !n.state.includes('noarp'));
  const theirs = ipJson<IpNeigh[]>(v.ns, 'neigh', ...ipArgs);
  expect(ours.map((n) => fromNeigh(n, v.names)).sort(byDst)).toEqual(theirs.map(fromIp).sort(byDst));
  return ours;
}


describe(`neighbour ops (${testLibc.backend})`, () => {
  it('adds permanent IPv4 and IPv6 entries, lists and deletes them, as ip neigh shows them', () => {
    const v = withVeth();
    neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.2', lladdr: '02:00:00:00:00:02' });
    neighAdd(v.ns.handle, { index: v.ia, dst: '2001:db8::2', lladdr: '02:00:00:00:00:03', router: true });
    neighAdd(v.ns.handle, { index: v.ib, dst: '10.0.0.3', lladdr: '02:00:00:00:00:04', state: 'stale' });
    const ours = expectMatchesIp(v);
    expect(ours.find((n) => n.dst === '10.0.0.2')).toMatchObject({ family: AF_INET, index: v.ia, state: ['permanent'], router: false });
    expect(ours.find((n) => n.dst === '2001:db8::2')).toMatchObject({ family: AF_INET6, index: v.ia, state: ['permanent'], router: true });
    expect(ours.find((n) => n.dst === '10.0.0.3')).toMatchObject({ index: v.ib, state: ['stale'] });
    neighDelete(v.ns.handle, { index: v.ia, dst: '10.0.0.2' });
    neighDelete(v.ns.handle, { index: v.ia, dst: '2001:db8::2' });
    neighDelete(v.ns.handle, { index: v.ib, dst: '10.0.0.3' });
    expect(expectMatchesIp(v)).toEqual([]);
  });

  it('filters by link and by family', () => {
    const v = withVeth();
    neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.2', lladdr: '02:00:00:00:00:02' });
    neighAdd(v.ns.handle, { index: v.ia, dst: '2001:db8::2', lladdr: '02:00:00:00:00:03' });
    neighAdd(v.ns.handle, { index: v.ib, dst: '10.0.0.3', lladdr: '02:00:00:00:00:04' });
    const dsts = (l: Neigh[]): string[] => l.filter((n) => !n.state.includes('noarp')).map((n) => n.dst).sort();
    expect(dsts(neighList(v.ns.handle, { index: v.ia }))).toEqual(['10.0.0.2', '2001:db8::2']);
    expect(neighList(v.ns.handle, { index: v.ia }).every((n) => n.index === v.ia)).toBe(true);
    expect(dsts(neighList(v.ns.handle, { index: v.ib }))).toEqual(['10.0.0.3']);
    expect(dsts(neighList(v.ns.handle, { family: AF_INET }))).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(dsts(neighList(v.ns.handle, { family: AF_INET6, index: v.ia }))).toEqual(['2001:db8::2']);
    expect(neighList(v.ns.handle, { family: AF_INET6 }).every((n) => n.family === AF_INET6)).toBe(true);
    expect(ipJson<IpNeigh[]>(v.ns, 'neigh', 'show', 'dev', v.a).map((n) => n.dst).sort()).toEqual(['10.0.0.2', '2001:db8::2']);
  });

  it('replaces an entry (and creates one that is missing)', () => {
    const v = withVeth();
    neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.2', lladdr: '02:00:00:00:00:02' });
    neighReplace(v.ns.handle, { index: v.ia, dst: '10.0.0.2', lladdr: '02:00:00:00:00:99', state: 'reachable' });
    neighReplace(v.ns.handle, { index: v.ia, dst: 'fe80::1', lladdr: '02:00:00:00:00:aa' });
    const ours = expectMatchesIp(v);
    expect(ours.find((n) => n.dst === '10.0.0.2')).toMatchObject({ lladdr: '02:00:00:00:00:99', state: ['reachable'] });
    expect(ours.find((n) => n.dst === 'fe80::1')).toMatchObject({ family: AF_INET6, lladdr: '02:00:00:00:00:aa', state: ['permanent'] });
  });

  it('adds, lists and deletes proxy entries (IPv4 and IPv6)', () => {
    const v = withVeth();
    neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.9', proxy: true });
    neighAdd(v.ns.handle, { index: v.ia, dst: '2001:db8::9', proxy: true });
    const proxies = neighList(v.ns.handle, { proxy: true });
    expect(proxies.map((n) => fromNeigh(n, v.names)).sort(byDst))
      .toEqual(ipJson<IpNeigh[]>(v.ns, 'neigh', 'show', 'proxy').map(fromIp).sort(byDst));
    expect(proxies.map((n) => n.dst).sort()).toEqual(['10.0.0.9', '2001:db8::9']);
    expect(proxies.every((n) => n.proxy && n.index === v.ia)).toBe(true);
    expect(neighList(v.ns.handle, { proxy: true, family: AF_INET6 }).map((n) => n.dst)).toEqual(['2001:db8::9']);
    neighAdd(v.ns.handle, { index: v.ib, dst: '10.0.0.10', proxy: true });
    expect(neighList(v.ns.handle, { proxy: true, index: v.ib }).map((n) => n.dst)).toEqual(['10.0.0.10']);
    neighDelete(v.ns.handle, { index: v.ib, dst: '10.0.0.10', proxy: true });
    // Proxy entries are not in the cache itself.
    expect(neighList(v.ns.handle).some((n) => n.proxy)).toBe(false);
    neighDelete(v.ns.handle, { index: v.ia, dst: '10.0.0.9', proxy: true });
    neighDelete(v.ns.handle, { index: v.ia, dst: '2001:db8::9', proxy: true });
    expect(neighList(v.ns.handle, { proxy: true })).toEqual([]);
    expect(ipJson(v.ns, 'neigh', 'show', 'proxy')).toEqual([]);
  });

  it('adds a managed entry without lladdr (state none; the kernel resolves it)', () => {
    const v = withVeth();
    neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.4', managed: true });
    const n = neighList(v.ns.handle, { index: v.ia }).find((x) => x.dst === '10.0.0.4');
    expect(n).toMatchObject({ managed: true, flagsExt: 1 });
    expect(ipJson<IpNeigh[]>(v.ns, 'neigh', 'show', 'dev', v.a).find((x) => x.dst === '10.0.0.4')).toHaveProperty('managed');
  });

  it('refuses a duplicate add with EEXIST', () => {
    const v = withVeth();
    for (const dst of ['10.0.0.2', '2001:db8::2']) {
      neighAdd(v.ns.handle, { index: v.ia, dst, lladdr: '02:00:00:00:00:02' });
      const e = kernelError(() => neighAdd(v.ns.handle, { index: v.ia, dst, lladdr: '02:00:00:00:00:03' }));
      expect(e.errnoName).toBe('EEXIST');
      expect(e.op).toBe('RTM_NEWNEIGH');
    }
  });

  it('fails on a missing ifindex with ENODEV (IPv4 and IPv6)', () => {
    const v = withVeth();
    for (const dst of ['10.0.0.2', '2001:db8::2']) {
      const e = kernelError(() => neighAdd(v.ns.handle, { index: ifIndex(99_999), dst, lladdr: '02:00:00:00:00:02' }));
      expect(e.errnoName).toBe('ENODEV');
      expect(e.code).toBe('KERNEL_NETLINK_ERROR');
    }
  });

  it('fails to delete a missing entry with ENOENT (cache and proxy)', () => {
    const v = withVeth();
    for (const spec of [{ dst: '10.0.0.77' }, { dst: '2001:db8::77' }, { dst: '10.0.0.77', proxy: true }]) {
      const e = kernelError(() => neighDelete(v.ns.handle, { index: v.ia, ...spec }));
      expect(e.errnoName).toBe('ENOENT');
      expect(e.op).toBe('RTM_DELNEIGH');
    }
  });

  it('reports the kernel extack for a too-short lladdr and for managed + permanent (EINVAL)', () => {
    const v = withVeth();
    const short = kernelError(() => neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.5', lladdr: '02:00' }));
    expect(short.errnoName).toBe('EINVAL');
    expect(short.extack).toBe('Invalid link address');
    const managed = kernelError(() => neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.6', managed: true, state: 'permanent' }));
    expect(managed.errnoName).toBe('EINVAL');
    expect(managed.extack).toMatch(/Invalid NTF_\* flag for permanent entry/);
  });

  it('raises ConfigError before sending anything', () => {
    const v = withVeth();
    expect(() => neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.300', lladdr: '02:00:00:00:00:02' })).toThrow(ConfigError);
    expect(() => neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.2', lladdr: '02-00-00-00-00-02' })).toThrow(/neighbour lladdr:/);
    expect(() => neighAdd(v.ns.handle, { index: v.ia, dst: '10.0.0.2', state: 'up' as 'none' })).toThrow(/neighbour state:/);
    expect(() => neighDelete(v.ns.handle, { index: ifIndex(0), dst: '10.0.0.2' })).toThrow(/neighbour index:/);
    expect(ipJson(v.ns, 'neigh')).toEqual([]);
  });
});
