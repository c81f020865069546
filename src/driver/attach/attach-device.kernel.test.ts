import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfProgLoad, clsactAdd, tcBpfFilterAdd, tcxLinkCreate, xdpAttachNetlink } from '../../../test/kernel/bpf-fixture.ts';
import { IF_SYSCTLS, ifState, settledIfState, linkNames, planFor, routesOf, rulesOf, sysctls } from '../../../test/kernel/attach-fixture.ts';
import { ethtoolK, hasEthtool } from '../../../test/kernel/ethtool-oracle.ts';
import {
  createNetns, deleteNetns, eventually, ip, ipJson, kernelAtLeast, testLibc, tool, uniqueName, type TestNetns,
} from '../../../test/kernel/netns-fixture.ts';
import { isDriverError, NotFoundError, type DriverError } from '../../common/errors.ts';
import { ebpfAttachedList } from '../../kernel/bpf/ebpf-attached.ts';
import { KernelError } from '../../kernel/errors.ts';
import { linkGetByName } from '../../kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { DevicePlan } from '../record-model.ts';
import { ATTACH_STEPS, attachDevice, detachDevice, detachError, type AttachContext, type AttachStep } from './attach-device.ts';

const l = testLibc;
const hasTcx = kernelAtLeast(6, 6);

interface Net { host: TestNetns; pod: TestNetns; a: string; b: string; c: string }

const sysctlW = (ns: TestNetns, ...kv: string[]): void => { tool('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', ...kv]); };

/**
 * "The host": veth a↔b (a is the device) and c↔d (another interface, for
 * multipath), a configured the way a real NIC might be: alias, GSO/GRO
 * sizes, sysctls, v4 addresses (one secondary, one labelled), v6 addresses
 * (one noprefixroute), static routes in main and table 100, a link-scope
 * route, v4 and v6 multipath routes over a and c, a rule, permanent
 * neighbours. DAD is off by default in both namespaces, so no address is
 * ever tentative when the oracles look.
 */
function setUp(): Net {
  const host = createNetns('ah');
  const pod = createNetns('ap');
  for (const ns of [host, pod]) sysctlW(ns, 'net.ipv6.conf.default.accept_dad=0');
  const [a, b, c, d] = [uniqueName('a'), uniqueName('b'), uniqueName('c'), uniqueName('d')];
  const sh = (...args: string[]): string => ip(host, ...args);
  sh('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  sh('link', 'add', c, 'type', 'veth', 'peer', 'name', d);
  sh('link', 'set', a, 'alias', 'nc test device', 'gso_max_size', '60000', 'gro_max_size', '60000');
  for (const x of [a, b, c, d]) sh('link', 'set', x, 'up');
  sysctlW(host, `net.ipv4.conf.${a}.arp_ignore=2`, `net.ipv4.conf.${a}.arp_announce=1`, `net.ipv4.conf.${a}.rp_filter=1`);
  sh('addr', 'add', '10.20.0.1/24', 'dev', a);
  sh('addr', 'add', '10.20.0.2/24', 'dev', a);
  sh('addr', 'add', '10.21.0.1/24', 'dev', a, 'label', `${a}:1`);
  sh('addr', 'add', '2001:db8:20::1/64', 'dev', a);
  sh('addr', 'add', '2001:db8:21::1/64', 'dev', a, 'noprefixroute');
  sh('addr', 'add', '10.22.0.1/24', 'dev', c);
  sh('addr', 'add', '2001:db8:22::1/64', 'dev', c);
  sh('route', 'add', '10.30.0.0/16', 'via', '10.20.0.254', 'proto', 'static');
  sh('route', 'add', 'default', 'via', '10.20.0.254', 'table', '100');
  sh('route', 'add', '10.40.0.0/24', 'dev', a, 'scope', 'link');
  sh('route', 'add', '10.50.0.0/24', 'nexthop', 'via', '10.20.0.254', 'dev', a, 'nexthop', 'via', '10.22.0.254', 'dev', c);
  sh('-6', 'route', 'add', '2001:db8:99::/48', 'via', '2001:db8:20::fe');
  sh('-6', 'route', 'add', '2001:db8:98::/48', 'nexthop', 'via', '2001:db8:20::fe', 'dev', a, 'nexthop', 'via', '2001:db8:22::fe', 'dev', c);
  sh('rule', 'add', 'from', '10.20.0.0/24', 'lookup', '100', 'prio', '1000');
  sh('neigh', 'add', '10.20.0.9', 'lladdr', '02:00:00:00:00:09', 'dev', a, 'nud', 'permanent');
  sh('-6', 'neigh', 'add', '2001:db8:20::9', 'lladdr', '02:00:00:00:00:19', 'dev', a, 'nud', 'permanent');
  return { host, pod, a, b, c };
}

/** The claim config of the full attach: rename, MTU, MAC, GSO/GRO, 2 addresses, 3 routes (one in table 200, one link-scope), a rule, a neighbour, sysctls, an ethtool feature. */
const FULL = {
  interface: {
    name: 'net1', mtu: 1400, hardwareAddr: '02:aa:00:00:00:01', gsoMaxSize: 32768, groMaxSize: 32768,
    addresses: ['10.20.0.1/24', '2001:db8:20::1/64'], arpIgnore: 1, sysctls: { 'ipv4.rp_filter': 2 },
  },
  routes: [
    { destination: '10.60.0.0/16', gateway: '10.20.0.254' },
    { destination: '0.0.0.0/0', gateway: '10.20.0.254', table: 200 },
    { destination: '10.70.0.0/24', scope: 'link' },
  ],
  rules: [{ priority: 2000, source: '10.20.0.0/24', table: 200 }],
  neighbors: [{ destination: '10.20.0.10', hardwareAddr: '02:00:00:00:00:10' }],
  ethtool: { features: { 'tx-checksum-ip-generic': false } },
};

const ctxOf = (n: Net, fault?: (s: AttachStep) => void): AttachContext =>
  ({ host: n.host.handle, pod: n.pod.handle, libc: l, ...(fault === undefined ? {} : { fault }) });

function attachError(fn: () => unknown): DriverError {
  try {
    fn();
  } catch (err) {
    if (isDriverError(err)) return err;
    throw err;
  }
  throw new Error('attach succeeded');
}

/** The pod holds nothing of ours: only lo, and its rules are the defaults. */
function expectPodClean(pod: TestNetns, defaultRules: unknown[]): void {
  expect(linkNames(pod)).toEqual(['lo']);
  expect(rulesOf(pod)).toEqual(defaultRules);
}

describe(`attachDevice / detachDevice (${l.backend})`, () => {
  it('attaches fully: renamed, MTU, MAC, GSO/GRO, addresses, routes in their tables, rule, neighbours, sysctls, ethtool', () => {
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    const r = attachDevice(ctxOf(n), plan);

    expect(linkNames(n.host)).not.toContain(n.a);
    const [link] = ipJson<Record<string, unknown>[]>(n.pod, '-d', 'link', 'show', 'dev', 'net1');
    expect(link).toMatchObject({ ifname: 'net1', mtu: 1400, address: '02:aa:00:00:00:01', gso_max_size: 32768, gro_max_size: 32768 });
    expect(link!['flags']).toContain('UP');
    expect(r).toEqual({
      ifIndex: link!['ifindex'], name: 'net1', mac: '02:aa:00:00:00:01', ips: ['10.20.0.1/24', '2001:db8:20::1/64'],
      steps: ['find', 'host-down', 'move', 'host-routes', 'sysctls', 'addresses', 'up', 'routes', 'rules', 'neighbors', 'ethtool'], converged: false,
    });

    const [addrs] = ipJson<{ addr_info: { local: string; prefixlen: number; nodad?: boolean; scope: string }[] }[]>(n.pod, 'addr', 'show', 'dev', 'net1');
    const global = addrs!.addr_info.filter((x) => x.scope === 'global');
    expect(global.map((x) => `${x.local}/${x.prefixlen}`)).toEqual(['10.20.0.1/24', '2001:db8:20::1/64']);
    expect(global.find((x) => x.local.includes(':'))?.nodad).toBe(true);

    const routes = routesOf(n.pod, 'net1') as { dst: string; gateway?: string; table?: string; scope?: string; protocol?: string }[];
    const has = (dst: string, table: string | undefined, extra: object): void =>
      expect(routes.find((x) => x.dst === dst && x.table === table && x.protocol !== 'kernel')).toMatchObject(extra);
    has('10.60.0.0/16', undefined, { gateway: '10.20.0.254' });
    has('default', '200', { gateway: '10.20.0.254' });
    has('10.70.0.0/24', undefined, { scope: 'link' });
    // Copied from the host: its static routes (the multipath ones by the device's own leg), table 100's default.
    has('10.30.0.0/16', undefined, { gateway: '10.20.0.254' });
    has('default', '100', { gateway: '10.20.0.254' });
    has('10.50.0.0/24', undefined, { gateway: '10.20.0.254' });
    has('2001:db8:99::/48', undefined, { gateway: '2001:db8:20::fe' });
    has('2001:db8:98::/48', undefined, { gateway: '2001:db8:20::fe' });

    expect(ipJson(n.pod, 'rule', 'show')).toEqual(expect.arrayContaining([
      expect.objectContaining({ priority: 2000, src: '10.20.0.0', srclen: 24, table: '200' }),
      expect.objectContaining({ priority: 1000, src: '10.20.0.0', srclen: 24, table: '100' }),
    ]));
    const neigh = ipJson<{ dst: string; lladdr: string; state: string[] }[]>(n.pod, 'neigh', 'show', 'dev', 'net1', 'nud', 'permanent');
    expect(neigh.map((x) => `${x.dst} ${x.lladdr}`).sort()).toEqual(['10.20.0.10 02:00:00:00:00:10', '10.20.0.9 02:00:00:00:00:09', '2001:db8:20::9 02:00:00:00:00:19']);
    expect(sysctls(n.pod, ['net.ipv4.conf.net1.arp_ignore', 'net.ipv4.conf.net1.rp_filter']))
      .toEqual({ 'net.ipv4.conf.net1.arp_ignore': '1', 'net.ipv4.conf.net1.rp_filter': '2' });
    if (hasEthtool) expect(ethtoolK(n.pod, 'net1')).toContain('\ttx-checksum-ip-generic: off');
  });

  it('detach gives the device back exactly as it was, field by field (link, addresses, routes incl. multipath, rules, neighbours, ethtool, sysctls)', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const plan = planFor(n.host, n.a, FULL);
    attachDevice(ctxOf(n), plan);
    const r = detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan);
    expect(r.problems).toEqual([]);
    expect(r.found).toBe('pod');
    expect(r.restored).toEqual(expect.arrayContaining(['move', 'mtu', 'mac', 'gsoMaxSize', 'groMaxSize', 'sysctls', 'addresses', 'up', 'routes', 'neighbors']));
    expect(detachError(plan, r)).toBeUndefined();
    expect(linkNames(n.pod)).toEqual(['lo']);
    // operstate and the kernel's own link-local address follow the link going up asynchronously (linkwatch).
    await eventually(() => expect(ifState(n.host, n.a)).toEqual(before));
  });

  it('while the device is in the pod the host keeps the other legs of its multipath routes (IPv4 drops the whole route); detach puts them back whole', async () => {
    const n = setUp();
    const hostRoute = (fam: string, dst: string): Record<string, unknown> | undefined =>
      ipJson<Record<string, unknown>[]>(n.host, fam, 'route', 'show', 'table', 'all').find((r) => r['dst'] === dst);
    const before = { v4: hostRoute('-4', '10.50.0.0/24'), v6: hostRoute('-6', '2001:db8:98::/48') };
    expect(before.v4?.['nexthops']).toHaveLength(2);
    const plan = planFor(n.host, n.a, FULL);
    const r = attachDevice(ctxOf(n), plan);
    expect(r.steps).toContain('host-routes');
    expect(hostRoute('-4', '10.50.0.0/24')).toMatchObject({ gateway: '10.22.0.254', dev: n.c });
    expect(hostRoute('-6', '2001:db8:98::/48')).toMatchObject({ gateway: '2001:db8:22::fe', dev: n.c });
    // Converging again changes nothing on the host.
    attachDevice(ctxOf(n), plan);
    expect(hostRoute('-4', '10.50.0.0/24')).toMatchObject({ gateway: '10.22.0.254', dev: n.c });

    expect(detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan).problems).toEqual([]);
    await eventually(() => expect({ v4: hostRoute('-4', '10.50.0.0/24'), v6: hostRoute('-6', '2001:db8:98::/48') }).toEqual(before));
  });

  it('a fault at each step rolls everything back: ATTACH_FAILED names the step, the host is as before, the pod has no trace', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const podRules = rulesOf(n.pod);
    const plan = planFor(n.host, n.a, FULL);
    for (const step of ATTACH_STEPS) {
      const boom = new Error(`injected at ${step}`);
      const err = attachError(() => attachDevice(ctxOf(n, (s) => { if (s === step) throw boom; }), plan));
      expect(err.code).toBe('ATTACH_FAILED');
      expect(err.message).toContain(`failed at step ${step}: injected at ${step}`);
      expect(err.cause).toBe(boom);
      expect(err.context['rollbackProblems']).toEqual([]);
      expectPodClean(n.pod, podRules);
      await eventually(() => expect(ifState(n.host, n.a)).toEqual(before));
    }
    const r = attachDevice(ctxOf(n), plan);
    expect(r.converged).toBe(false);
    expect(linkNames(n.pod)).toEqual(['lo', 'net1']);
  });

  it('is idempotent: a second attach converges without changing the pod; a second detach finds nothing to do', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const plan = planFor(n.host, n.a, FULL);
    const first = attachDevice(ctxOf(n), plan);
    const podState = ifState(n.pod, 'net1');
    const second = attachDevice(ctxOf(n), plan);
    expect(second).toMatchObject({ converged: true, ifIndex: first.ifIndex, name: 'net1', mac: first.mac, ips: first.ips });
    expect(ifState(n.pod, 'net1')).toEqual(podState);

    expect(detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan).found).toBe('pod');
    await eventually(() => expect(ifState(n.host, n.a)).toEqual(before));
    const again = detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan);
    expect(again).toEqual({ found: 'host', settled: true, restored: [], problems: [] });
    expect(ifState(n.host, n.a)).toEqual(before);
  });

  it('a converging attach puts drifted link settings back', () => {
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    attachDevice(ctxOf(n), plan);
    ip(n.pod, 'link', 'set', 'net1', 'mtu', '1300');
    ip(n.pod, 'route', 'del', '10.60.0.0/16');
    const r = attachDevice(ctxOf(n), plan);
    expect(r.converged).toBe(true);
    expect(ipJson<{ mtu: number }[]>(n.pod, 'link', 'show', 'dev', 'net1')[0]!.mtu).toBe(1400);
    expect(ipJson<{ dst: string }[]>(n.pod, 'route', 'show', '10.60.0.0/16')).toHaveLength(1);
  });

  it('detach with the pod namespace gone: a veth died with it, reported as gone, nothing thrown', () => {
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    attachDevice(ctxOf(n), plan);
    deleteNetns(n.pod);
    const r = detachDevice({ host: n.host.handle, libc: l }, plan);
    expect(r).toEqual({ found: 'gone', settled: true, restored: [], problems: [] });
  });

  it('detach with the pod namespace gone: a physical device not back yet is pending, never gone; once the kernel returns it, it is restored field by field', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const veth = planFor(n.host, n.a, FULL);
    // The veth plays a NIC: the kernel gives a NIC back to the host when its pod's namespace dies, asynchronously.
    const plan: DevicePlan = { ...veth, identity: { ...veth.identity, kind: 'pci' } };
    attachDevice(ctxOf(n), plan);
    // The runtime deleted the namespace's file (no pod handle), and the NIC is not back yet.
    const early = detachDevice({ host: n.host.handle, libc: l }, plan);
    expect(early).toEqual({ found: 'pending', settled: false, restored: [], problems: [] });
    ip(n.pod, 'link', 'set', 'net1', 'netns', n.host.name); // the kernel returns it, under its pod name
    const late = detachDevice({ host: n.host.handle, libc: l }, plan);
    expect(late).toMatchObject({ found: 'host', settled: true, problems: [] });
    expect(late.restored).toEqual(expect.arrayContaining(['name', 'mtu', 'mac', 'addresses', 'routes', 'neighbors']));
    await eventually(() => expect(ifState(n.host, n.a)).toEqual(before));
  });

  it('refuses a pod namespace that is the host\'s own, whatever its path, before anything changes: ATTACH_HOST_NETNS', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const plan = planFor(n.host, n.a, FULL);
    const alias = join(mkdtempSync(join(tmpdir(), 'nc-hostns-')), 'netns');
    symlinkSync(n.host.path, alias);
    const same = NetnsHandle.open(alias, { libc: l });
    try {
      const err = attachError(() => attachDevice({ host: n.host.handle, pod: same, libc: l }, plan));
      expect(err.code).toBe('ATTACH_HOST_NETNS');
      expect(err.message).toContain(alias);
    } finally {
      same.close();
      rmSync(dirname(alias), { recursive: true });
    }
    expect(ifState(n.host, n.a)).toEqual(before);
  });

  it('a device that is nowhere fails at find, with a NotFoundError cause', () => {
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    ip(n.host, 'link', 'del', n.a);
    const err = attachError(() => attachDevice(ctxOf(n), plan));
    expect(err.code).toBe('ATTACH_FAILED');
    expect(err.message).toContain('failed at step find');
    expect(err.cause).toBeInstanceOf(NotFoundError);
  });

  it('a name taken in the pod: the kernel moves the device under its host name, then the rename fails; the rollback finds it and returns it', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const plan = planFor(n.host, n.a, FULL);
    ip(n.pod, 'link', 'add', 'net1', 'type', 'veth', 'peer', 'name', 'ncother');
    const err = attachError(() => attachDevice(ctxOf(n), plan));
    expect(err.message).toContain('failed at step move');
    expect(err.cause).toBeInstanceOf(KernelError);
    expect((err.cause as KernelError).errnoName).toBe('EEXIST');
    expect(linkNames(n.pod)).toEqual(['lo', 'ncother', 'net1']);
    await eventually(() => expect(ifState(n.host, n.a)).toEqual(before));
  });

  it('a value the kernel refuses carries its extack text, and the half-applied move is rolled back', async () => {
    const n = setUp();
    const before = await settledIfState(n.host, n.a);
    const base = planFor(n.host, n.a, FULL);
    const plan: DevicePlan = { ...base, pod: { ...base.pod!, mtu: 65535 + 1 } };
    const err = attachError(() => attachDevice(ctxOf(n), plan));
    expect(err.message).toMatch(/failed at step move: RTM_NEWLINK failed: EINVAL: .*mtu/i);
    expect(err.context['extack']).toMatch(/mtu/i);
    expect(linkNames(n.pod)).toEqual(['lo']);
    await eventually(() => expect(ifState(n.host, n.a)).toEqual(before));
  });

  it('a host name taken while the device was away: it comes back under its pod name, or a fallback name, and detach says so', () => {
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    attachDevice(ctxOf(n), plan);
    ip(n.host, 'link', 'add', n.a, 'type', 'veth', 'peer', 'name', uniqueName('t'));
    const r = detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan);
    expect(r.found).toBe('pod');
    expect(r.problems).toEqual([expect.objectContaining({ step: 'name', message: expect.stringContaining(`cannot take back the name ${n.a} (the device stays net1)`) })]);
    expect(linkNames(n.host)).toContain('net1');
    expect(detachError(plan, r)?.code).toBe('DETACH_INCOMPLETE');

    // Both its pod name and its host name taken on the host: a fallback name.
    const n2 = setUp();
    const plan2 = planFor(n2.host, n2.a, FULL);
    const at = attachDevice(ctxOf(n2), plan2);
    ip(n2.host, 'link', 'add', n2.a, 'type', 'veth', 'peer', 'name', 'net1');
    const r2 = detachDevice({ host: n2.host.handle, pod: n2.pod.handle, libc: l }, plan2);
    expect(r2.found).toBe('pod');
    expect(r2.problems).toEqual([expect.objectContaining({ step: 'name' })]);
    expect(linkNames(n2.host)).toContain(`ncret${at.ifIndex}`);
    expect(linkNames(n2.pod)).toEqual(['lo']);
  });

  it('records the sysctls it restores', () => {
    // The host keeps per-interface sysctls the snapshot recorded even though a move resets them to the namespace defaults.
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    attachDevice(ctxOf(n), plan);
    detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan);
    const keys = IF_SYSCTLS.slice(0, 3).map((k) => `net.ipv4.conf.${n.a}.${k}`);
    expect(sysctls(n.host, keys)).toEqual({ [keys[0]!]: '2', [keys[1]!]: '1', [keys[2]!]: '1' });
  });

  it('disableEbpfPrograms: tc, tcx and XDP programs are detached on the host before the move, and stay detached after', () => {
    const n = setUp();
    const ia = linkGetByName(n.host.handle, n.a).index;
    const cls = bpfProgLoad('sched_cls', 'nc_at_cls', l);
    clsactAdd(n.host.handle, ia);
    tcBpfFilterAdd(n.host.handle, ia, { direction: 'ingress', progFd: cls, name: 'nc_in', prio: 10 });
    if (hasTcx) tcxLinkCreate(n.host.handle, ia, cls, 'egress', l);
    xdpAttachNetlink(n.host.handle, ia, bpfProgLoad('xdp', 'nc_at_xdp', l), 'generic');
    const plan = planFor(n.host, n.a, { ...FULL, interface: { ...FULL.interface, disableEbpfPrograms: true } });
    expect(plan.host?.ebpf).toEqual({ xdp: true, tc: 1, tcx: hasTcx ? 1 : 0 });
    const r = attachDevice(ctxOf(n), plan);
    expect(r.steps).toContain('ebpf-detach');
    const none = { tcFilters: [], tcx: [], xdp: [] };
    expect(ebpfAttachedList(n.pod.handle, r.ifIndex, undefined, { libc: l })).toMatchObject(none);
    const d = detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan);
    expect(d.problems).toEqual([]);
    // Not restorable: the programs' loader owns them.
    expect(ebpfAttachedList(n.host.handle, ia, undefined, { libc: l })).toMatchObject(none);
  });

  it('detach never throws: a closed pod handle is a problem, not an exception', () => {
    const n = setUp();
    const plan = planFor(n.host, n.a, FULL);
    attachDevice(ctxOf(n), plan);
    const closed = NetnsHandle.open(n.pod.path, { libc: l });
    closed.close();
    const r = detachDevice({ host: n.host.handle, pod: closed, libc: l }, plan);
    // Not proven gone: the pod could not be searched, so the device is not settled (its journal stays).
    expect(r).toMatchObject({ found: 'gone', settled: false });
    expect(r.problems).toEqual([expect.objectContaining({ step: 'find', message: expect.stringContaining('closed') })]);
    expect(detachDevice({ host: n.host.handle, pod: n.pod.handle, libc: l }, plan)).toMatchObject({ found: 'pod', problems: [] });
  });
});
