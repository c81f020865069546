import { describe, expect, it } from 'vitest';
import { createNetns, deleteNetns, ip, ipJson, kernelHasLinkKind, needsQemuLane, testLibc, uniqueName, type TestNetns, tool } from '../../../../test/kernel/netns-fixture.ts';
import { ConfigError } from '../../../common/errors.ts';
import { ifIndex, type IfIndex } from '../../../common/ids.ts';
import {
  bondAdd, bridgeAdd, dummyAdd, ipvlanAdd, linkAdd, linkDelete, linkDeleteByName, macvlanAdd, vethAdd, vlanAdd, vrfAdd, vxlanAdd,
} from './link-add.ts';
import { linkGetByName } from './link-ops.ts';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';

/** The `ip -j -d link` fields compared here. */
interface IpLink {
  ifindex: number; ifname: string; flags: string[]; mtu: number; address?: string; link?: string;
  link_netnsid?: number; master?: string; num_tx_queues?: number; num_rx_queues?: number;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

const show = (ns: TestNetns, name: string): IpLink => ipJson<IpLink[]>(ns, '-d', 'link', 'show', 'dev', name)[0]!;
const names = (ns: TestNetns): string[] => ipJson<IpLink[]>(ns, 'link', 'show').map((l) => l.ifname);
const indexOf = (ns: TestNetns, name: string): IfIndex => ifIndex(show(ns, name).ifindex);

/** A veth pair made with `ip` to serve as a parent; returns the first end's name and index. */
function parentIn(ns: TestNetns): { name: string; index: IfIndex } {
  const name = uniqueName('pa');
  ip(ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', uniqueName('pb'));
  return { name, index: indexOf(ns, name) };
}

/** Like kernelHasLinkKind, for kinds that need a lower device (vlan, ipvlan): probed on a veth. */
function kernelHasLowerKind(kind: string, ...typeArgs: string[]): boolean {
  const probe = createNetns('pk');
  try {
    ip(probe, 'link', 'add', 'ncprobe0', 'type', 'veth', 'peer', 'name', 'ncprobe1');
    tool('ip', ['-n', probe.name, 'link', 'add', 'link', 'ncprobe0', 'name', 'ncprobe', 'type', kind, ...typeArgs]);
    return true;
  } catch {
    return false;
  } finally {
    deleteNetns(probe);
  }
}

const hasDummy = kernelHasLinkKind('dummy');
const hasVrf = kernelHasLinkKind('vrf', 'table', '10');
const hasBond = kernelHasLinkKind('bond');
const hasVlan = kernelHasLowerKind('vlan', 'id', '5');
const hasIpvlan = kernelHasLowerKind('ipvlan', 'mode', 'l2');
const hasBridgeVlanFiltering = kernelHasLinkKind('bridge', 'vlan_filtering', '1');


describe(`linkAdd (${testLibc.backend})`, () => {
  it('veth: both ends, mtu, mac, queues, up (keeping MULTICAST), peer index decoded', () => {
    const ns = createNetns();
    const a = uniqueName('va');
    const b = uniqueName('vb');
    vethAdd(ns.handle, a, { name: b, mac: '02:00:00:00:0b:0b', numTxQueues: 3, numRxQueues: 3 }, {
      mtu: 1400, mac: '02:00:00:00:0a:0a', up: true, numTxQueues: 2, numRxQueues: 2,
    });
    const ja = show(ns, a);
    const jb = show(ns, b);
    expect(ja.linkinfo?.info_kind).toBe('veth');
    expect(jb.linkinfo?.info_kind).toBe('veth');
    expect(ja).toMatchObject({ mtu: 1400, address: '02:00:00:00:0a:0a', num_tx_queues: 2, num_rx_queues: 2, link: b });
    expect(ja.flags).toEqual(expect.arrayContaining(['UP', 'BROADCAST', 'MULTICAST']));
    expect(jb).toMatchObject({ address: '02:00:00:00:0b:0b', num_tx_queues: 3, num_rx_queues: 3, link: a });
    expect(jb.flags).not.toContain('UP');
    expect(linkGetByName(ns.handle, a).kindData).toEqual({ kind: 'veth', peerIndex: jb.ifindex });
  });

  it('veth with the peer created directly in another netns', () => {
    const ns = createNetns();
    const pod = createNetns('pod');
    const a = uniqueName('va');
    const b = uniqueName('vb');
    vethAdd(ns.handle, a, { name: b, netnsFd: pod.handle.fd, mac: '02:00:00:00:0c:0c' });
    expect(names(ns)).toEqual(['lo', a]);
    expect(names(pod)).toEqual(['lo', b]);
    expect(show(ns, a).link_netnsid).toBeTypeOf('number');
    expect(show(pod, b)).toMatchObject({ address: '02:00:00:00:0c:0c', linkinfo: { info_kind: 'veth' } });
  });

  it('creates the link itself in the namespace of netnsFd', () => {
    const ns = createNetns();
    const pod = createNetns('pod');
    const br = uniqueName('br');
    bridgeAdd(ns.handle, br, {}, { netnsFd: pod.handle.fd, mtu: 1450 });
    expect(names(ns)).toEqual(['lo']);
    expect(show(pod, br)).toMatchObject({ mtu: 1450, linkinfo: { info_kind: 'bridge' } });
  });

  it('macvlan and macvtap: parent and mode', () => {
    const ns = createNetns();
    const parent = parentIn(ns);
    const mv = uniqueName('mv');
    macvlanAdd(ns.handle, mv, { parent: parent.index, mode: 'bridge' }, { mac: '02:00:00:00:0d:0d' });
    expect(show(ns, mv)).toMatchObject({
      link: parent.name, address: '02:00:00:00:0d:0d', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } },
    });
    expect(linkGetByName(ns.handle, mv).kindData).toEqual({ kind: 'macvlan', mode: 'bridge' });
    const mt = uniqueName('mt');
    linkAdd(ns.handle, { name: mt, spec: { kind: 'macvtap', parent: parent.index, mode: 'private' } });
    expect(show(ns, mt).linkinfo).toMatchObject({ info_kind: 'macvtap', info_data: { mode: 'private' } });
    expect(linkGetByName(ns.handle, mt).kindData).toEqual({ kind: 'macvtap', mode: 'private' });
  });

  it('vxlan over IPv4: id, port, group, local, learning, lower device', () => {
    const ns = createNetns();
    const parent = parentIn(ns);
    const vx = uniqueName('vx');
    vxlanAdd(ns.handle, vx, { id: 4242, group: '239.1.1.1', local: '10.1.2.3', parent: parent.index, port: 4789, learning: false });
    expect(show(ns, vx).linkinfo).toMatchObject({
      info_kind: 'vxlan',
      info_data: { id: 4242, group: '239.1.1.1', local: '10.1.2.3', link: parent.name, port: 4789, learning: false },
    });
    expect(linkGetByName(ns.handle, vx).kindData).toEqual({
      kind: 'vxlan', id: 4242, group: '239.1.1.1', local: '10.1.2.3', link: parent.index, port: 4789, learning: false,
    });
  });

  it('vxlan over IPv6 with the kernel defaults for port and learning', () => {
    const ns = createNetns();
    const vx = uniqueName('vx');
    vxlanAdd(ns.handle, vx, { id: 16777215, group: 'fd00::1', local: 'fd00::2' });
    expect(show(ns, vx).linkinfo).toMatchObject({
      info_kind: 'vxlan', info_data: { id: 16777215, remote6: 'fd00::1', local6: 'fd00::2', learning: true },
    });
    expect(linkGetByName(ns.handle, vx).kindData).toMatchObject({ kind: 'vxlan', id: 16777215, group: 'fd00::1', local: 'fd00::2', learning: true });
  });

  it('bridge, and a veth created straight into it (master)', () => {
    const ns = createNetns();
    const br = uniqueName('br');
    bridgeAdd(ns.handle, br, {}, { up: true });
    expect(show(ns, br).linkinfo).toMatchObject({ info_kind: 'bridge', info_data: { vlan_filtering: 0 } });
    expect(linkGetByName(ns.handle, br).kindData).toMatchObject({ kind: 'bridge', vlanFiltering: false });
    const a = uniqueName('va');
    vethAdd(ns.handle, a, { name: uniqueName('vb') }, { master: indexOf(ns, br) });
    expect(show(ns, a).master).toBe(br);
  });

  it.skipIf(!hasBridgeVlanFiltering)(`bridge with vlan_filtering (${needsQemuLane('CONFIG_BRIDGE_VLAN_FILTERING')})`, () => {
    const ns = createNetns();
    const br = uniqueName('br');
    bridgeAdd(ns.handle, br, { vlanFiltering: true });
    expect(show(ns, br).linkinfo).toMatchObject({ info_kind: 'bridge', info_data: { vlan_filtering: 1 } });
    expect(linkGetByName(ns.handle, br).kindData).toMatchObject({ kind: 'bridge', vlanFiltering: true });
  });

  it.skipIf(!hasVlan)(`vlan: parent, id, 802.1ad (${needsQemuLane('8021q')})`, () => {
    const ns = createNetns();
    const parent = parentIn(ns);
    const vl = uniqueName('vl');
    vlanAdd(ns.handle, vl, { parent: parent.index, id: 100, protocol: '802.1ad' }, { mtu: 1400 });
    expect(show(ns, vl)).toMatchObject({
      link: parent.name, mtu: 1400, linkinfo: { info_kind: 'vlan', info_data: { protocol: '802.1ad', id: 100 } },
    });
    expect(linkGetByName(ns.handle, vl).kindData).toEqual({ kind: 'vlan', id: 100, protocol: '802.1ad' });
  });

  it.skipIf(!hasIpvlan)(`ipvlan: parent and mode (${needsQemuLane('ipvlan')})`, () => {
    const ns = createNetns();
    const parent = parentIn(ns);
    const iv = uniqueName('iv');
    ipvlanAdd(ns.handle, iv, { parent: parent.index, mode: 'l2' });
    expect(show(ns, iv)).toMatchObject({ link: parent.name, linkinfo: { info_kind: 'ipvlan', info_data: { mode: 'l2' } } });
    expect(linkGetByName(ns.handle, iv).kindData).toMatchObject({ kind: 'ipvlan', mode: 'l2' });
  });

  it.skipIf(!hasDummy)(`dummy (${needsQemuLane('dummy')})`, () => {
    const ns = createNetns();
    const d = uniqueName('du');
    dummyAdd(ns.handle, d, { up: true, mac: '02:00:00:00:0e:0e' });
    expect(show(ns, d)).toMatchObject({ address: '02:00:00:00:0e:0e', linkinfo: { info_kind: 'dummy' } });
    expect(show(ns, d).flags).toContain('UP');
    expect(linkGetByName(ns.handle, d).kindData).toEqual({ kind: 'dummy' });
  });

  it.skipIf(!hasVrf)(`vrf: table (${needsQemuLane('vrf')})`, () => {
    const ns = createNetns();
    const v = uniqueName('vrf');
    vrfAdd(ns.handle, v, { table: 1010 });
    expect(show(ns, v).linkinfo).toMatchObject({ info_kind: 'vrf', info_data: { table: 1010 } });
    expect(linkGetByName(ns.handle, v).kindData).toEqual({ kind: 'vrf', table: 1010 });
  });

  it.skipIf(!hasBond)(`bond: mode and miimon (${needsQemuLane('bonding')})`, () => {
    const ns = createNetns();
    const b = uniqueName('bo');
    bondAdd(ns.handle, b, { mode: 'active-backup', miimon: 100 });
    expect(show(ns, b).linkinfo).toMatchObject({ info_kind: 'bond', info_data: { mode: 'active-backup', miimon: 100 } });
    expect(linkGetByName(ns.handle, b).kindData).toEqual({ kind: 'bond', mode: 'active-backup', miimon: 100 });
  });
});

describe(`linkDelete (${testLibc.backend})`, () => {
  it('deletes by index and by name; a veth takes its peer along', () => {
    const ns = createNetns();
    const a = uniqueName('va');
    vethAdd(ns.handle, a, { name: uniqueName('vb') });
    const br = uniqueName('br');
    bridgeAdd(ns.handle, br);
    linkDelete(ns.handle, indexOf(ns, a));
    expect(names(ns)).toEqual(['lo', br]);
    linkDeleteByName(ns.handle, br);
    expect(names(ns)).toEqual(['lo']);
  });

  it('a missing link is ENODEV', () => {
    const ns = createNetns();
    expect(kernelError(() => linkDeleteByName(ns.handle, 'ncnothere'))).toMatchObject({ errnoName: 'ENODEV', op: 'RTM_DELLINK' });
    expect(kernelError(() => linkDelete(ns.handle, ifIndex(999_999)))).toMatchObject({ errnoName: 'ENODEV', op: 'RTM_DELLINK' });
  });
});

describe(`linkAdd errors (${testLibc.backend})`, () => {
  it('a taken name is EEXIST', () => {
    const ns = createNetns();
    const br = uniqueName('br');
    bridgeAdd(ns.handle, br);
    const err = kernelError(() => vethAdd(ns.handle, br, { name: uniqueName('vb') }));
    expect(err).toMatchObject({ errnoName: 'EEXIST', op: 'RTM_NEWLINK', code: 'KERNEL_NETLINK_ERROR' });
    expect(names(ns)).toEqual(['lo', br]);
  });

  it('a missing parent is ENODEV', () => {
    const ns = createNetns();
    const err = kernelError(() => macvlanAdd(ns.handle, uniqueName('mv'), { parent: ifIndex(999_999) }));
    expect(err).toMatchObject({ errnoName: 'ENODEV', op: 'RTM_NEWLINK' });
    expect(names(ns)).toEqual(['lo']);
  });

  it('an MTU the device cannot take is EINVAL with the kernel\'s extack message', () => {
    const ns = createNetns();
    const err = kernelError(() => bridgeAdd(ns.handle, uniqueName('br'), {}, { mtu: 50 }));
    expect(err).toMatchObject({ errnoName: 'EINVAL', op: 'RTM_NEWLINK' });
    expect(err.extack).toMatch(/mtu less than device minimum/i);
    expect(err.message).toContain(err.extack);
    expect(names(ns)).toEqual(['lo']);
  });

  it('a macvlan on loopback is EINVAL', () => {
    const ns = createNetns();
    expect(kernelError(() => macvlanAdd(ns.handle, uniqueName('mv'), { parent: indexOf(ns, 'lo') })).errnoName).toBe('EINVAL');
    expect(names(ns)).toEqual(['lo']);
  });

  it('an invalid vlan id is a ConfigError naming the field, and nothing is created', () => {
    const ns = createNetns();
    const parent = parentIn(ns);
    const before = names(ns);
    const vl = uniqueName('vl');
    expect(() => vlanAdd(ns.handle, vl, { parent: parent.index, id: 4095 })).toThrow(ConfigError);
    expect(() => vlanAdd(ns.handle, vl, { parent: parent.index, id: 4095 })).toThrow(/spec\.id/);
    expect(() => vethAdd(ns.handle, vl, { name: 'a-name-too-long1' })).toThrow(/spec\.peer\.name/);
    expect(names(ns)).toEqual(before);
  });
});
