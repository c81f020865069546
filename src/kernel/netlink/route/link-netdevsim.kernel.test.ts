/**
 * Links of netdevsim devices (simulated NICs): the parent device and bus,
 * switch port name and id, SR-IOV VFs, and MTU/MAC changes on a "hardware"
 * netdev, checked against `ip -d -j link`. netdevsim exists only in the QEMU
 * lane, so on the host every test here is skipped.
 */
import { describe, expect, it } from 'vitest';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';
import { createNetdevsim, hasNetdevsim, setNumVfs } from '../../../../test/kernel/netdevsim-fixture.ts';
import { createNetns, ip, ipJson, needsQemuLane, testLibc, type TestNetns, tool } from '../../../../test/kernel/netns-fixture.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { linkGet, linkGetByName, linkList, linkSetMac, linkSetMtu } from './link-ops.ts';
import type { Link, LinkVf } from './link-types.ts';
import { encodeVfInfoList } from './link-vf.ts';
import { RTM } from './rtnl-constants.ts';

const hasNsim = hasNetdevsim();
const skipNote = needsQemuLane('netdevsim');

/** One entry of iproute2 6.1's `vfinfo_list`. */
interface IpVf {
  vf: number; address?: string; vlan_list?: { vlan?: number; qos?: number; protocol?: string }[];
  rate?: { max_tx: number; min_tx: number }; spoofchk?: boolean; link_state?: string; trust?: boolean; query_rss_en?: boolean;
}
interface IpLink {
  ifindex: number; ifname: string; mtu: number; address?: string; min_mtu?: number; max_mtu?: number;
  parentbus?: string; parentdev?: string; phys_port_name?: string; phys_switch_id?: string; phys_port_id?: string;
  vfinfo_list?: IpVf[];
}

const ipLink = (ns: TestNetns, name: string): IpLink => ipJson<IpLink[]>(ns, '-d', 'link', 'show', 'dev', name)[0]!;

/**
 * A VF as ip prints it, in our shape: ip prints a vlan_list entry without
 * `vlan` for VLAN 0 (and then no protocol, which a driver may report as 0
 * until a VLAN is set), and leaves out qos 0 and the 802.1Q protocol.
 * Compare with `forIp(ours)`.
 */
function vfFromIp(v: IpVf): LinkVf {
  const vlan = v.vlan_list?.[0];
  return {
    index: v.vf, ...(v.address !== undefined ? { mac: v.address } : {}),
    vlan: vlan?.vlan ?? 0, qos: vlan?.qos ?? 0,
    ...(vlan?.vlan !== undefined ? { vlanProtocol: (vlan.protocol ?? '802.1Q') as LinkVf['vlanProtocol'] } : {}),
    ...(v.rate !== undefined ? { minTxRate: v.rate.min_tx, maxTxRate: v.rate.max_tx } : {}),
    ...(v.spoofchk !== undefined ? { spoofChk: v.spoofchk } : {}),
    ...(v.link_state !== undefined ? { linkState: v.link_state as LinkVf['linkState'] } : {}),
    ...(v.trust !== undefined ? { trust: v.trust } : {}),
    ...(v.query_rss_en !== undefined ? { rssQueryEn: v.query_rss_en } : {}),
  } as LinkVf;
}

/** Our VFs without what ip does not print: the protocol of VLAN 0. */
const forIp = (vfs: readonly LinkVf[] | undefined): LinkVf[] | undefined =>
  vfs?.map(({ vlanProtocol, ...v }) => (v.vlan === 0 || vlanProtocol === undefined ? v : { ...v, vlanProtocol }));

/**
 * A netdev's sysfs attribute, read inside the namespace (`ip netns exec`
 * remounts /sys there). Used for phys_switch_id: iproute2 6.1 prints at most
 * 31 bytes of it (a 64-char buffer), while netdevsim's id is 32 bytes.
 */
const sysfsAttr = (ns: TestNetns, name: string, attr: string): string =>
  tool('ip', ['netns', 'exec', ns.name, 'cat', `/sys/class/net/${name}/${attr}`]).trim();

/** The port identity fields compared with ip (absent ones stay absent). */
const portFields = (l: Link) => ({
  index: l.index, name: l.name, mtu: l.mtu, mac: l.mac, minMtu: l.minMtu, maxMtu: l.maxMtu,
  parentDevName: l.parentDevName, parentDevBusName: l.parentDevBusName,
  physPortName: l.physPortName, physSwitchId: l.physSwitchId, physPortId: l.physPortId,
});
const portFieldsFromIp = (j: IpLink) => ({
  index: j.ifindex, name: j.ifname, mtu: j.mtu, mac: j.address, minMtu: j.min_mtu, maxMtu: j.max_mtu,
  parentDevName: j.parentdev, parentDevBusName: j.parentbus,
  physPortName: j.phys_port_name, physSwitchId: j.phys_switch_id, physPortId: j.phys_port_id,
});

describe(`netdevsim links (${testLibc.backend})`, () => {
  it.skipIf(!hasNsim)(`ports: parent device and bus, port name and switch id as ip -d reports them (${skipNote})`, () => {
    const ns = createNetns();
    const dev = createNetdevsim(ns, { ports: 2 });
    const ours = linkList(ns.handle).filter((l) => l.parentDevName === dev.devName);
    expect(ours.map((l) => l.name).sort()).toEqual([...dev.netdevs].sort());
    for (const l of ours) {
      const j = ipLink(ns, l.name);
      expect(portFields(l)).toEqual({ ...portFieldsFromIp(j), physSwitchId: l.physSwitchId });
      expect(l.physSwitchId).toBe(sysfsAttr(ns, l.name, 'phys_switch_id'));
      expect(l.physSwitchId!.startsWith(j.phys_switch_id!)).toBe(true);
      expect(l).toMatchObject({ parentDevBusName: 'netdevsim', type: 1 });
      expect(l.physPortName).toMatch(/^p\d+$/);
    }
    // Both ports sit on the same simulated switch.
    expect(new Set(ours.map((l) => l.physSwitchId)).size).toBe(1);
    expect(ours[0]!.physSwitchId).toMatch(/^[0-9a-f]+$/);
  });

  it.skipIf(!hasNsim)(`SR-IOV: numVf and the VF list match ip's vfinfo_list after ip link set vf (${skipNote})`, () => {
    const ns = createNetns();
    const dev = createNetdevsim(ns, { vfs: 3 });
    const pf = dev.netdevs[0]!;
    ip(ns, 'link', 'set', 'dev', pf, 'vf', '1', 'mac', '02:11:22:33:44:55', 'vlan', '7', 'qos', '3',
      'spoofchk', 'on', 'trust', 'on', 'state', 'disable');
    ip(ns, 'link', 'set', 'dev', pf, 'vf', '2', 'vlan', '100', 'proto', '802.1ad');
    ip(ns, 'link', 'set', 'dev', pf, 'vf', '2', 'max_tx_rate', '300', 'min_tx_rate', '10');
    ip(ns, 'link', 'set', 'dev', pf, 'vf', '2', 'state', 'enable', 'query_rss', 'on');

    const byName = linkGetByName(ns.handle, pf, { vf: true });
    const oracle = ipLink(ns, pf).vfinfo_list ?? [];
    expect(oracle).toHaveLength(3);
    expect(byName.numVf).toBe(3);
    expect(forIp(byName.vfs)).toEqual(oracle.map(vfFromIp));
    expect(byName.vfs![1]).toEqual({
      index: 1, mac: '02:11:22:33:44:55', vlan: 7, qos: 3, vlanProtocol: '802.1Q', minTxRate: 0, maxTxRate: 0,
      spoofChk: true, linkState: 'disable', trust: true, rssQueryEn: false,
    });
    expect(byName.vfs![2]).toMatchObject({ vlan: 100, vlanProtocol: '802.1ad', minTxRate: 10, maxTxRate: 300, linkState: 'enable', rssQueryEn: true });

    // The same through a dump and a get by index; without the vf option neither field is there.
    const listed = linkList(ns.handle, { vf: true }).find((l) => l.name === pf)!;
    expect(listed.vfs).toEqual(byName.vfs);
    expect(linkGet(ns.handle, byName.index, { vf: true }).vfs).toEqual(byName.vfs);
    const plain = linkGet(ns.handle, byName.index);
    expect(plain.numVf).toBeUndefined();
    expect(plain.vfs).toBeUndefined();
  });

  it.skipIf(!hasNsim)(`SR-IOV: no VFs enabled is numVf 0 and an empty list; disabling VFs empties it (${skipNote})`, () => {
    const ns = createNetns();
    const dev = createNetdevsim(ns);
    const pf = dev.netdevs[0]!;
    expect(linkGetByName(ns.handle, pf, { vf: true })).toMatchObject({ numVf: 0, vfs: [] });
    setNumVfs(dev, 2);
    expect(linkGetByName(ns.handle, pf, { vf: true }).vfs?.map((v) => v.index)).toEqual([0, 1]);
    setNumVfs(dev, 0);
    expect(linkGetByName(ns.handle, pf, { vf: true })).toMatchObject({ numVf: 0, vfs: [] });
    expect(ipLink(ns, pf).vfinfo_list ?? []).toEqual([]);
  });

  it.skipIf(!hasNsim)(`SR-IOV: the kernel accepts encodeVfInfoList's request form, and refuses a VF past the last (${skipNote})`, () => {
    const ns = createNetns();
    const dev = createNetdevsim(ns, { vfs: 2 });
    const pf = linkGetByName(ns.handle, dev.netdevs[0]!);
    const setVfs = (vfs: readonly LinkVf[]): void => {
      const w = ns.handle.route.writer.reset().beginMessage(RTM.RTM_NEWLINK, 0);
      encodeIfInfoMsg(w, { index: pf.index });
      encodeVfInfoList(w, vfs);
      w.endMessage();
      ns.handle.route.request(w, 'RTM_NEWLINK');
    };
    const want: LinkVf = {
      index: 0, mac: '02:aa:bb:cc:dd:01', vlan: 42, qos: 5, vlanProtocol: '802.1ad', minTxRate: 20, maxTxRate: 400,
      spoofChk: true, linkState: 'enable', trust: true, rssQueryEn: true,
    };
    setVfs([want, { index: 1, vlan: 9, qos: 0, linkState: 'disable' }]);
    const got = linkGetByName(ns.handle, pf.name, { vf: true }).vfs!;
    expect(got[0]).toEqual(want);
    expect(got[1]).toMatchObject({ index: 1, vlan: 9, qos: 0, vlanProtocol: '802.1Q', linkState: 'disable' });
    expect(forIp(got)).toEqual((ipLink(ns, pf.name).vfinfo_list ?? []).map(vfFromIp));

    const err = kernelError(() => setVfs([{ index: 5, trust: true }]));
    expect(err.errnoName).toBe('EINVAL');
    expect(err.op).toBe('RTM_NEWLINK');
  });

  it.skipIf(!hasNsim)(`MTU and MAC set through our ops on a netdevsim netdev, as ip sees them (${skipNote})`, () => {
    const ns = createNetns();
    const dev = createNetdevsim(ns);
    const l = linkGetByName(ns.handle, dev.netdevs[0]!);
    linkSetMtu(ns.handle, l.index, 9000);
    linkSetMac(ns.handle, l.index, '02:00:5e:00:53:01');
    expect(ipLink(ns, l.name)).toMatchObject({ mtu: 9000, address: '02:00:5e:00:53:01' });
    expect(linkGet(ns.handle, l.index)).toMatchObject({ mtu: 9000, mac: '02:00:5e:00:53:01', parentDevName: dev.devName });
    const tooBig = kernelError(() => linkSetMtu(ns.handle, l.index, (l.maxMtu ?? 65535) + 1));
    expect(tooBig.errnoName).toBe('EINVAL');
    expect(tooBig.ifindex).toBe(l.index);
  });
});
