import { describe, expect, it } from 'vitest';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns, kernelAtLeast, eventually } from '../../../../test/kernel/netns-fixture.ts';
import { ConfigError, NotFoundError } from '../../../common/errors.ts';
import { KernelError } from '../../errors.ts';
import { IFF } from './link-constants.ts';
import {
  linkGet, linkGetByName, linkList, linkRename, linkSet, linkSetAlias, linkSetDown, linkSetGroMaxSize,
  linkSetGsoMaxSize, linkSetMac, linkSetMaster, linkSetMtu, linkSetNetns, linkSetNoMaster, linkSetTxQueueLen, linkSetUp,
} from './link-ops.ts';
import type { Link } from './link-types.ts';

/** `ip -j -d link` output, the fields compared here (iproute2 6.1 prints no IPv4 GSO/GRO sizes). */
interface IpLink {
  ifindex: number; ifname: string; flags: string[]; mtu: number; operstate: string; link_type: string; group: string;
  address?: string; broadcast?: string; permaddr?: string; link?: string; link_index?: number; link_netnsid?: number;
  master?: string; txqlen?: number; ifalias?: string; altnames?: string[]; min_mtu?: number; max_mtu?: number;
  num_tx_queues?: number; num_rx_queues?: number; gso_max_size?: number; gso_max_segs?: number; tso_max_size?: number;
  tso_max_segs?: number; gro_max_size?: number; parentbus?: string; parentdev?: string; xdp?: unknown;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
}

const LINK_TYPES: Record<string, number> = { ether: 1, loopback: 772, none: 65534 };
/** ifi_flags as ip prints them (it omits IFF_RUNNING and adds NO-CARRIER and M-DOWN, which are not flags). */
const flagNames = (flags: number): string[] => Object.entries(IFF)
  .filter(([n, bit]) => (flags & bit) !== 0 && n !== 'IFF_RUNNING').map(([n]) => n.slice(4)).sort();

function fromIp(j: IpLink, all: readonly IpLink[]): Record<string, unknown> {
  const byName = (n: string | undefined) => (n === undefined ? undefined : all.find((x) => x.ifname === n)?.ifindex);
  return {
    index: j.ifindex, name: j.ifname, type: LINK_TYPES[j.link_type], up: j.flags.includes('UP'),
    flags: j.flags.filter((f) => f !== 'NO-CARRIER' && f !== 'M-DOWN').sort(), operState: j.operstate, mtu: j.mtu,
    minMtu: j.min_mtu, maxMtu: j.max_mtu, mac: j.address, broadcast: j.broadcast, permMac: j.permaddr,
    txQueueLen: j.txqlen, numTxQueues: j.num_tx_queues, numRxQueues: j.num_rx_queues,
    group: j.group === 'default' ? 0 : Number(j.group), alias: j.ifalias, altNames: j.altnames ?? [],
    kind: j.linkinfo?.info_kind, slaveKind: j.linkinfo?.info_slave_kind, master: byName(j.master),
    link: j.link_index ?? byName(j.link), linkNetnsId: j.link_netnsid, parentDevName: j.parentdev,
    parentDevBusName: j.parentbus, gsoMaxSize: j.gso_max_size, gsoMaxSegs: j.gso_max_segs,
    groMaxSize: j.gro_max_size, tsoMaxSize: j.tso_max_size, tsoMaxSegs: j.tso_max_segs, xdp: j.xdp,
  };
}

function comparable(l: Link): Record<string, unknown> {
  return {
    index: l.index, name: l.name, type: l.type, up: l.up, flags: flagNames(l.flags), operState: l.operState, mtu: l.mtu,
    minMtu: l.minMtu, maxMtu: l.maxMtu, mac: l.mac, broadcast: l.broadcast, permMac: l.permMac, txQueueLen: l.txQueueLen,
    numTxQueues: l.numTxQueues, numRxQueues: l.numRxQueues, group: l.group, alias: l.alias, altNames: l.altNames,
    kind: l.kind, slaveKind: l.slaveKind, master: l.master, link: l.link, linkNetnsId: l.linkNetnsId,
    parentDevName: l.parentDevName, parentDevBusName: l.parentDevBusName, gsoMaxSize: l.gsoMaxSize,
    gsoMaxSegs: l.gsoMaxSegs, groMaxSize: l.groMaxSize, tsoMaxSize: l.tsoMaxSize, tsoMaxSegs: l.tsoMaxSegs, xdp: l.xdp,
  };
}

const ipLinks = (ns: TestNetns | string): IpLink[] => ipJson<IpLink[]>(ns, '-d', 'link', 'show');
const ipLink = (ns: TestNetns | string, name: string): IpLink => ipJson<IpLink[]>(ns, '-d', 'link', 'show', 'dev', name)[0]!;

/** A veth pair in `ns`; returns the names and the ifindex of the first end. */
function veth(ns: TestNetns): { a: string; b: string; index: number } {
  const a = uniqueName('va');
  const b = uniqueName('vb');
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  return { a, b, index: ipLink(ns, a).ifindex };
}

/** Runs `fn`, expecting a KernelError from RTM_NEWLINK on `ifindex`; returns it. */
function kernelError(fn: () => void, errno: string | number, ifindex: number): KernelError {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(KernelError);
  const err = caught as KernelError;
  expect(err).toMatchObject({ [typeof errno === 'string' ? 'errnoName' : 'errno']: errno, op: 'RTM_NEWLINK', ifindex });
  expect(err.cause).toBeInstanceOf(KernelError);
  return err;
}

describe(`link ops against ip -j -d link (${testLibc.backend})`, () => {
  it('lists every link with the fields ip reports: veth, bridge port, vxlan, macvlan, remote peer', () => {
    const ns = createNetns();
    const other = createNetns('pe');
    const { a, b } = veth(ns);
    ip(ns, 'link', 'set', a, 'alias', 'pod uplink', 'mtu', '9000', 'up');
    ip(ns, 'link', 'property', 'add', 'dev', a, 'altname', `${a}-alternative-name`);
    const br = uniqueName('br');
    ip(ns, 'link', 'add', br, 'type', 'bridge');
    ip(ns, 'link', 'set', b, 'master', br, 'up');
    ip(ns, 'link', 'add', uniqueName('vx'), 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.0.0.1');
    const mv = uniqueName('mv');
    ip(ns, 'link', 'add', 'link', a, 'name', mv, 'type', 'macvlan', 'mode', 'bridge');
    ip(ns, 'link', 'add', uniqueName('vr'), 'type', 'veth', 'peer', 'name', uniqueName('vp'), 'netns', other.name);

    const links = linkList(ns.handle);
    const oracle = ipLinks(ns);
    expect(links.map((l) => l.name)).toEqual(oracle.map((j) => j.ifname));
    for (const [i, l] of links.entries()) {
      const want = Object.fromEntries(Object.entries(fromIp(oracle[i]!, oracle)).filter(([, v]) => v !== undefined));
      const got = Object.fromEntries(Object.entries(comparable(l)).filter(([, v]) => v !== undefined));
      expect(got, l.name).toEqual(want);
    }
    const first = links.find((l) => l.name === a)!;
    expect(first).toMatchObject({ alias: 'pod uplink', altNames: [`${a}-alternative-name`], mtu: 9000, up: true });
    expect(links.find((l) => l.linkNetnsId !== undefined)).toMatchObject({ kind: 'veth', linkNetnsId: 0 });
    expect(links.filter((l) => l.xdp !== undefined)).toEqual([]);
    const index = (n: string) => oracle.find((j) => j.ifname === n)!.ifindex;
    expect(first.kindData).toEqual({ kind: 'veth', peerIndex: index(b) });
    expect(links.find((l) => l.name === mv)).toMatchObject({ link: index(a), kindData: { kind: 'macvlan', mode: 'bridge' } });
    expect(links.find((l) => l.kind === 'vxlan')?.kindData).toMatchObject({ kind: 'vxlan', id: 42, port: 4789, local: '10.0.0.1' });
  });

  it('filters by kind and by master (strict-checked dump)', () => {
    const ns = createNetns();
    const { a, b } = veth(ns);
    const br = uniqueName('br');
    ip(ns, 'link', 'add', br, 'type', 'bridge');
    ip(ns, 'link', 'set', b, 'master', br);
    expect(linkList(ns.handle, { kind: 'veth' }).map((l) => l.name).sort()).toEqual([a, b].sort());
    expect(linkList(ns.handle, { kind: 'bridge' }).map((l) => l.name)).toEqual([br]);
    expect(linkList(ns.handle, { kind: 'nosuchkind' })).toEqual([]);
    const master = ipLink(ns, br).ifindex;
    expect(linkList(ns.handle, { master: master as Link['index'] }).map((l) => l.name)).toEqual([b]);
  });

  it('gets one link by ifindex, by name and by alternative name (short and long)', () => {
    const ns = createNetns();
    const { a, b, index } = veth(ns);
    const long = `${a}-a-very-long-alternative-name`;
    const short = uniqueName('alt');
    ip(ns, 'link', 'property', 'add', 'dev', a, 'altname', long, 'altname', short);
    const byIndex = linkGet(ns.handle, index);
    expect(comparable(byIndex)).toEqual(comparable(linkGetByName(ns.handle, a)));
    expect(byIndex).toMatchObject({ index, name: a, kind: 'veth', link: ipLink(ns, b).ifindex, altNames: [long, short] });
    expect(linkGetByName(ns.handle, long).index).toBe(index);
    expect(linkGetByName(ns.handle, short).index).toBe(index);
    expect(linkGet(ns.handle, 1).name).toBe('lo');
  });

  it('a missing name or ifindex is NotFoundError with the kernel error as cause', () => {
    const ns = createNetns();
    expect(() => linkGetByName(ns.handle, 'ncnosuchlink')).toThrow(NotFoundError);
    expect(() => linkGetByName(ns.handle, 'nc-no-such-alternative-name-longer-than-15')).toThrow(NotFoundError);
    try { linkGet(ns.handle, 4242); } catch (e) {
      expect(e).toBeInstanceOf(NotFoundError);
      expect((e as NotFoundError).cause).toMatchObject({ errnoName: 'ENODEV', op: 'RTM_GETLINK' });
    }
    expect(() => linkGetByName(ns.handle, 'bad/name')).toThrow(ConfigError);
  });

  it('sets up and down', async () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    linkSetUp(ns.handle, index);
    expect(ipLink(ns, a).flags).toContain('UP');
    // The kernel settles operstate asynchronously (linkwatch): wait for it, then both must agree.
    await eventually(() => expect(ipLink(ns, a).operstate).toBe('LOWERLAYERDOWN'));
    expect(linkGet(ns.handle, index)).toMatchObject({ up: true, operState: 'LOWERLAYERDOWN' });
    linkSetDown(ns.handle, index);
    expect(ipLink(ns, a).flags).not.toContain('UP');
    expect(linkGet(ns.handle, index).up).toBe(false);
  });

  it('sets the MTU; above the device maximum → EINVAL with the extack text and ifindex', () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    linkSetMtu(ns.handle, index, 1400);
    expect(ipLink(ns, a).mtu).toBe(1400);
    const err = kernelError(() => linkSetMtu(ns.handle, index, 70000), 'EINVAL', index);
    expect(err.extack).toBe('mtu greater than device maximum');
    expect(err.message).toContain(`ifindex ${index}`);
    expect(() => linkSetMtu(ns.handle, index, 0)).toThrow(ConfigError);
  });

  it('sets the MAC; an all-zero address → EADDRNOTAVAIL', () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    linkSetMac(ns.handle, index, '02:12:34:56:78:9A');
    expect(ipLink(ns, a).address).toBe('02:12:34:56:78:9a');
    kernelError(() => linkSetMac(ns.handle, index, '00:00:00:00:00:00'), 'EADDRNOTAVAIL', index);
    expect(() => linkSetMac(ns.handle, index, 'nonsense')).toThrow(ConfigError);
  });

  it('renames while down; while up (allowed since Linux 6.2, EBUSY before); a taken name → EEXIST', () => {
    const ns = createNetns();
    const { b, index } = veth(ns);
    const n1 = uniqueName('rn');
    linkRename(ns.handle, index, n1);
    expect(ipLink(ns, n1).ifindex).toBe(index);
    linkSetUp(ns.handle, index);
    const n2 = uniqueName('rn');
    if (kernelAtLeast(6, 2)) {
      linkRename(ns.handle, index, n2);
      expect(ipLink(ns, n2)).toMatchObject({ ifindex: index, flags: expect.arrayContaining(['UP']) });
    } else {
      kernelError(() => linkRename(ns.handle, index, n2), 'EBUSY', index);
    }
    linkSetDown(ns.handle, index);
    kernelError(() => linkRename(ns.handle, index, b), 'EEXIST', index);
  });

  it('sets and clears the alias; sets txqueuelen', () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    linkSetAlias(ns.handle, index, 'pod uplink ✓');
    expect(ipLink(ns, a).ifalias).toBe('pod uplink ✓');
    expect(linkGet(ns.handle, index).alias).toBe('pod uplink ✓');
    linkSetAlias(ns.handle, index, '');
    expect(ipLink(ns, a).ifalias).toBeUndefined();
    expect(linkGet(ns.handle, index).alias).toBeUndefined();
    linkSetTxQueueLen(ns.handle, index, 500);
    expect(ipLink(ns, a).txqlen).toBe(500);
  });

  it('sets GSO/GRO sizes (and the IPv4 ones); too big → EINVAL with extack', () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    linkSetGsoMaxSize(ns.handle, index, 32768);
    linkSetGroMaxSize(ns.handle, index, 16384);
    expect(ipLink(ns, a)).toMatchObject({ gso_max_size: 32768, gro_max_size: 16384 });
    linkSet(ns.handle, index, { gsoIpv4MaxSize: 32000, groIpv4MaxSize: 16000, gsoMaxSegs: 1000 });
    if (kernelAtLeast(6, 3)) {
      expect(linkGet(ns.handle, index)).toMatchObject({ gsoIpv4MaxSize: 32000, groIpv4MaxSize: 16000, gsoMaxSegs: 1000 });
    } else {
      // Before 6.3 the kernel neither knows nor rejects IFLA_G[SR]O_IPV4_MAX_SIZE: it ignores them.
      expect(linkGet(ns.handle, index)).toMatchObject({ gsoMaxSegs: 1000 });
      expect(linkGet(ns.handle, index).gsoIpv4MaxSize).toBeUndefined();
    }
    expect(ipLink(ns, a).gso_max_segs).toBe(1000);
    const err = kernelError(() => linkSetGsoMaxSize(ns.handle, index, 600000), 'EINVAL', index);
    // The message came with the IPv4 sizes (6.3); 6.1 refuses without one.
    expect(err.extack).toBe(kernelAtLeast(6, 3) ? 'too big gso_max_size' : undefined);
  });

  it('enslaves to a bridge and releases', () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    const br = uniqueName('br');
    ip(ns, 'link', 'add', br, 'type', 'bridge');
    const brIndex = ipLink(ns, br).ifindex;
    linkSetMaster(ns.handle, index, brIndex);
    expect(ipLink(ns, a)).toMatchObject({ master: br, linkinfo: { info_slave_kind: 'bridge' } });
    expect(linkGet(ns.handle, index)).toMatchObject({ master: brIndex, slaveKind: 'bridge' });
    linkSetNoMaster(ns.handle, index);
    expect(ipLink(ns, a).master).toBeUndefined();
    // A veth is no master: the kernel refuses with EOPNOTSUPP (95).
    kernelError(() => linkSetMaster(ns.handle, brIndex, index), 95, brIndex);
  });

  it('moves to another namespace by fd, renamed with MTU, MAC, GSO/GRO and up, in one message', () => {
    const host = createNetns('ho');
    const pod = createNetns('po');
    const { a, b, index } = veth(host);
    const inPod = uniqueName('eth');
    linkSetNetns(host.handle, index, pod.handle, {
      name: inPod, mtu: 1450, mac: '02:aa:bb:cc:dd:ee', gsoMaxSize: 32768, groMaxSize: 32768, up: true,
    });
    expect(ipLinks(host).map((j) => j.ifname)).not.toContain(a);
    const j = ipLink(pod, inPod);
    expect(j).toMatchObject({
      ifname: inPod, mtu: 1450, address: '02:aa:bb:cc:dd:ee', gso_max_size: 32768, gro_max_size: 32768,
      flags: expect.arrayContaining(['UP']), link_netnsid: expect.any(Number),
    });
    const moved = linkGetByName(pod.handle, inPod);
    expect(moved).toMatchObject({ index: j.ifindex, mtu: 1450, up: true, link: ipLink(host, b).ifindex });
    expect(() => linkGetByName(host.handle, a)).toThrow(NotFoundError);
  });

  it('validates the whole change before sending anything', () => {
    const ns = createNetns();
    const { a, index } = veth(ns);
    expect(() => linkSet(ns.handle, index, { mtu: 1400, name: 'has space' })).toThrow(ConfigError);
    expect(ipLink(ns, a).mtu).toBe(1500);
  });
});
