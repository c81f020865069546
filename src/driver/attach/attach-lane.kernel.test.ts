/**
 * Attach targets and features this host's kernel lacks (VRF, VLAN, ipvlan,
 * bonding, netdevsim): written in full, skipped here with the lane named,
 * run in the QEMU lane (npm run test:vm).
 */
import { describe, expect, it } from 'vitest';
import { ifState, linkNames, planFor, settledIfState, sysctls, type IfState } from '../../../test/kernel/attach-fixture.ts';
import { ethtool, hasEthtool } from '../../../test/kernel/ethtool-oracle.ts';
import { createNetdevsim, hasNetdevsim } from '../../../test/kernel/netdevsim-fixture.ts';
import {
  createNetns, deleteNetns, eventually, ip, ipJson, kernelHasLinkKind, needsQemuLane, testLibc, tool, uniqueName, type TestNetns,
} from '../../../test/kernel/netns-fixture.ts';
import { canUseRxe, inQemuLane, kernelHasSymbol } from '../../../test/kernel/vm-guard.ts';
import { isDriverError } from '../../common/errors.ts';
import { KernelError } from '../../kernel/errors.ts';
import { rdmaDevList, rdmaNetnsModeGet } from '../../kernel/netlink/rdma/rdma-ops.ts';
import { linkGetByName } from '../../kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../../kernel/netns/handle.ts';
import { attachDevice, detachDevice, type AttachContext, type AttachStep } from './attach-device.ts';

const l = testLibc;
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

const hasVrf = kernelHasLinkKind('vrf', 'table', '10');
const hasVlan = kernelHasLowerKind('vlan', 'id', '5');
const hasIpvlan = kernelHasLowerKind('ipvlan', 'mode', 'l2');
const hasBond = kernelHasLinkKind('bond');

const sysctlW = (ns: TestNetns, ...kv: string[]): void => { tool('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', ...kv]); };

function namespaces(): { host: TestNetns; pod: TestNetns } {
  const host = createNetns('lh');
  const pod = createNetns('lp');
  for (const ns of [host, pod]) sysctlW(ns, 'net.ipv6.conf.default.accept_dad=0');
  return { host, pod };
}

/** A veth in `host` (its peer up too, for carrier), up, with an address. */
function veth(host: TestNetns, cidr: string): string {
  const [a, b] = [uniqueName('a'), uniqueName('b')];
  ip(host, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip(host, 'link', 'set', b, 'up');
  ip(host, 'link', 'set', a, 'up');
  ip(host, 'addr', 'add', cidr, 'dev', a);
  return a;
}

/**
 * What the kernel itself gives `dev` back as after a namespace round trip made by `ip` alone
 * (netclaim nowhere): moved to a scratch namespace and back, up again, `cidr` re-added, settled.
 * It is the oracle for "as it was" on a NIC whose driver changes state when it is closed, and a
 * namespace move closes the device: Linux 7.3's netdevsim turns its carrier off in ndo_stop
 * (nsim_stop, drivers/net/netdevsim/netdev.c) and its ndo_open does not turn it on again (only
 * linking a peer port does), so after any close — a plain `ip link set down; … up` too — the port
 * stays NO-CARRIER, operstate DOWN, without an IPv6 link-local. 6.1's netdevsim has no ndo_stop
 * and keeps its carrier. (Shown with ip alone in the lane: docs/qemu-lane.md, "Known limits".)
 */
async function afterIpRoundTrip(host: TestNetns, dev: string, cidr: string): Promise<IfState> {
  const scratch = createNetns('lx');
  ip(host, 'link', 'set', dev, 'netns', scratch.name);
  ip(scratch, 'link', 'set', dev, 'netns', host.name);
  ip(host, 'link', 'set', dev, 'up');
  ip(host, 'addr', 'add', cidr, 'dev', dev);
  deleteNetns(scratch);
  // operstate follows the carrier through linkwatch, up to a second late (longer under TCG):
  // wait until the two agree before the settled read.
  await eventually(() => {
    const s = ifState(host, dev);
    expect(s.flags.includes('NO-CARRIER') ? s.link['operstate'] : 'carrier').toBe(s.flags.includes('NO-CARRIER') ? 'DOWN' : 'carrier');
  }, 10_000);
  return settledIfState(host, dev);
}

const ctx = (host: TestNetns, pod: TestNetns, fault?: (s: AttachStep) => void): AttachContext =>
  ({ host: host.handle, pod: pod.handle, libc: l, ...(fault === undefined ? {} : { fault }) });

function vrfOf(ns: TestNetns, name: string): { table?: number; up: boolean } | undefined {
  const [v] = ipJson<{ flags: string[]; linkinfo?: { info_kind: string; info_data?: { table: number } } }[]>(ns, '-d', 'link', 'show', 'dev', name);
  return v === undefined ? undefined : { ...(v.linkinfo?.info_data ? { table: v.linkinfo.info_data.table } : {}), up: v.flags.includes('UP') };
}

describe(`attach in the QEMU lane (${l.backend})`, () => {
  it.skipIf(!hasVrf)(`VRF: created with its table, shared, enslaved, routes in its table, l3mdev sysctls on; a failure deletes the VRF it created (${needsQemuLane('vrf')})`, async () => {
    const { host, pod } = namespaces();
    const a = veth(host, '10.80.0.1/24');
    const c = veth(host, '10.82.0.1/24');
    const before = await settledIfState(host, a);
    const vrf = { name: 'ncvrf', table: 1100 };
    const planA = planFor(host, a, { interface: { name: 'net1', vrf }, routes: [{ destination: '10.81.0.0/16', gateway: '10.80.0.254' }] });
    const planC = planFor(host, c, { interface: { name: 'net2', vrf } });
    expect(planA.pod?.routes).toEqual([{ destination: '10.81.0.0/16', gateway: '10.80.0.254', scope: 0, table: 1100 }]);

    // A fault after the VRF step deletes the VRF this call created and puts the l3mdev sysctls back.
    const l3 = ['net.ipv4.tcp_l3mdev_accept', 'net.ipv4.udp_l3mdev_accept'];
    const l3Before = sysctls(pod, l3);
    expect(() => attachDevice(ctx(host, pod, (s) => { if (s === 'addresses') throw new Error('boom'); }), planA)).toThrow(/step addresses/);
    expect(linkNames(pod)).toEqual(['lo']);
    expect(sysctls(pod, l3)).toEqual(l3Before);
    await eventually(() => expect(ifState(host, a)).toEqual(before));

    const r = attachDevice(ctx(host, pod), planA);
    expect(r.steps).toContain('vrf');
    attachDevice(ctx(host, pod), planC);
    expect(vrfOf(pod, 'ncvrf')).toEqual({ table: 1100, up: true });
    for (const dev of ['net1', 'net2']) expect(ipJson<{ master?: string }[]>(pod, 'link', 'show', 'dev', dev)[0]!.master).toBe('ncvrf');
    expect(ipJson<{ dst: string; gateway?: string }[]>(pod, 'route', 'show', 'table', '1100'))
      .toEqual(expect.arrayContaining([expect.objectContaining({ dst: '10.81.0.0/16', gateway: '10.80.0.254' })]));
    expect(sysctls(pod, l3)).toEqual({ [l3[0]!]: '1', [l3[1]!]: '1' });

    // A failure of the second device leaves the VRF the first one uses.
    detachDevice({ host: host.handle, pod: pod.handle, libc: l }, planC);
    expect(() => attachDevice(ctx(host, pod, (s) => { if (s === 'routes') throw new Error('boom'); }), planC)).toThrow(/step routes/);
    expect(vrfOf(pod, 'ncvrf')).toEqual({ table: 1100, up: true });

    expect(detachDevice({ host: host.handle, pod: pod.handle, libc: l }, planA).problems).toEqual([]);
    await eventually(() => expect(ifState(host, a)).toEqual(before));
    // The VRF stays in the pod and dies with its namespace.
    expect(linkNames(pod)).toEqual(['lo', 'ncvrf']);
  });

  it.skipIf(!hasVlan)(`VLAN sub-interface as the device: moved, configured, given back as it was (${needsQemuLane('vlan (8021q)')})`, async () => {
    const { host, pod } = namespaces();
    const p = veth(host, '10.88.0.1/24');
    const v = uniqueName('v');
    ip(host, 'link', 'add', 'link', p, 'name', v, 'type', 'vlan', 'id', '10');
    ip(host, 'link', 'set', v, 'up');
    ip(host, 'addr', 'add', '10.90.0.1/24', 'dev', v);
    ip(host, 'route', 'add', '10.91.0.0/16', 'via', '10.90.0.254', 'proto', 'static');
    const before = await settledIfState(host, v);
    const plan = planFor(host, v, { interface: { name: 'net1', mtu: 1400 } });
    const r = attachDevice(ctx(host, pod), plan);
    const [link] = ipJson<{ mtu: number; linkinfo: { info_kind: string; info_data: { id: number } } }[]>(pod, '-d', 'link', 'show', 'dev', 'net1');
    expect(link).toMatchObject({ mtu: 1400, linkinfo: { info_kind: 'vlan', info_data: { id: 10 } } });
    expect(ipJson<{ dst: string }[]>(pod, 'route', 'show', '10.91.0.0/16')).toHaveLength(1);
    expect(r.ips).toEqual(['10.90.0.1/24']);
    expect(detachDevice({ host: host.handle, pod: pod.handle, libc: l }, plan).problems).toEqual([]);
    await eventually(() => expect(ifState(host, v)).toEqual(before));
  });

  it.skipIf(!hasIpvlan)(`ipvlan sub-interface as the device (${needsQemuLane('ipvlan')})`, async () => {
    const { host, pod } = namespaces();
    const p = veth(host, '10.86.0.1/24');
    const v = uniqueName('i');
    ip(host, 'link', 'add', 'link', p, 'name', v, 'type', 'ipvlan', 'mode', 'l2');
    ip(host, 'link', 'set', v, 'up');
    ip(host, 'addr', 'add', '10.87.0.1/24', 'dev', v);
    const before = await settledIfState(host, v);
    const plan = planFor(host, v, { interface: { name: 'net1' }, routes: [{ destination: '10.89.0.0/16', gateway: '10.87.0.254' }] });
    attachDevice(ctx(host, pod), plan);
    expect(ipJson<{ linkinfo: { info_kind: string } }[]>(pod, '-d', 'link', 'show', 'dev', 'net1')[0]!.linkinfo.info_kind).toBe('ipvlan');
    expect(attachDevice(ctx(host, pod), plan).converged).toBe(true);
    expect(detachDevice({ host: host.handle, pod: pod.handle, libc: l }, plan).problems).toEqual([]);
    await eventually(() => expect(ifState(host, v)).toEqual(before));
  });

  it.skipIf(!hasBond)(`a bond cannot change namespace: the attach fails at move and the host is as before (${needsQemuLane('bonding')})`, async () => {
    const { host, pod } = namespaces();
    const bond = uniqueName('bd');
    const [s, t] = [uniqueName('s'), uniqueName('t')];
    ip(host, 'link', 'add', bond, 'type', 'bond');
    // A slave with carrier, so the bond has carrier too before and after the attach bounces it.
    ip(host, 'link', 'add', s, 'type', 'veth', 'peer', 'name', t);
    ip(host, 'link', 'set', t, 'up');
    ip(host, 'link', 'set', s, 'master', bond);
    ip(host, 'link', 'set', bond, 'up');
    ip(host, 'addr', 'add', '10.84.0.1/24', 'dev', bond);
    const before = await settledIfState(host, bond);
    const plan = planFor(host, bond, { interface: { name: 'net1' } });
    let err: unknown;
    try {
      attachDevice(ctx(host, pod), plan);
    } catch (e) {
      err = e;
    }
    expect(isDriverError(err) && err.code).toBe('ATTACH_FAILED');
    expect((err as Error).message).toContain('failed at step move');
    expect((err as Error).cause).toBeInstanceOf(KernelError);
    expect(linkNames(pod)).toEqual(['lo']);
    await eventually(() => expect(ifState(host, bond)).toEqual(before));
  });

  it.skipIf(!hasNetdevsim() || !hasEthtool)(`a netdevsim NIC: rings and coalescing set in the pod and put back on the host (${needsQemuLane('netdevsim')})`, async () => {
    const { host, pod } = namespaces();
    const dev = createNetdevsim(host).netdevs[0]!;
    ip(host, 'link', 'set', dev, 'up');
    ip(host, 'addr', 'add', '10.93.0.1/24', 'dev', dev);
    expect((await settledIfState(host, dev)).flags).toContain('LOWER_UP');
    // "Before" is what the kernel gives back after a round trip by ip alone, and the kernel's
    // answer is asserted: a netdevsim with ndo_stop (7.x) loses its carrier for good, 6.1's keeps it.
    const before = { state: await afterIpRoundTrip(host, dev, '10.93.0.1/24'), g: ethtool(host, '-g', dev), c: ethtool(host, '-c', dev) };
    expect(before.state.flags.includes('LOWER_UP')).toBe(!kernelHasSymbol('nsim_stop'));
    const plan = planFor(host, dev, { interface: { name: 'net1' }, ethtool: { rings: { rx: 256 }, coalesce: { rxUsecs: 77 } } });
    attachDevice(ctx(host, pod), plan);
    expect(ethtool(pod, '-g', 'net1')).toMatch(/Current hardware settings:[\s\S]*RX:\s+256/);
    expect(ethtool(pod, '-c', 'net1')).toMatch(/rx-usecs:\s+77/);
    expect(detachDevice({ host: host.handle, pod: pod.handle, libc: l }, plan).problems).toEqual([]);
    expect(ethtool(host, '-g', dev)).toBe(before.g);
    expect(ethtool(host, '-c', dev)).toBe(before.c);
    await eventually(() => expect(ifState(host, dev)).toEqual(before.state), 10_000);
  });

  it.skipIf(!hasNetdevsim() || !inQemuLane())(
    `a physical device outlives its pod: the kernel returns it to the initial namespace, detach finds it there and restores its name (${needsQemuLane('netdevsim and the VM\'s own init namespace')})`,
    async () => {
      const { host, pod } = namespaces();
      const dev = createNetdevsim(host).netdevs[0]!;
      ip(host, 'link', 'set', dev, 'up');
      const plan = planFor(host, dev, { interface: { name: uniqueName('p') } });
      attachDevice(ctx(host, pod), plan);
      deleteNetns(pod);
      const root = NetnsHandle.current({ libc: l });
      try {
        const rootName = (): string | undefined => JSON.parse(tool('ip', ['-j', 'link', 'show']) as string)
          .find((x: { ifname: string; address: string }) => x.address === plan.host!.mac)?.ifname;
        await eventually(() => expect(rootName()).toBeDefined());
        const r = detachDevice({ host: root, libc: l }, plan);
        expect(r.found).toBe('host');
        expect(r.problems).toEqual([]);
        expect(rootName()).toBe(plan.host!.ifName);
      } finally {
        root.close();
      }
    },
  );

  it.skipIf(!canUseRxe())(`RDMA in exclusive mode: the RDMA device follows its netdev, or a refusal rolls the netdev back (${needsQemuLane('soft-RoCE in the VM\'s init namespace')})`, (t) => {
    const root = NetnsHandle.current({ libc: l });
    const [a, b, rxe] = [uniqueName('ra'), uniqueName('rb'), uniqueName('rxe')];
    try {
      // The lane switches RDMA to exclusive mode before its ffi-rs pass only (allowed while no other namespace exists).
      if (rdmaNetnsModeGet(root) !== 'exclusive') t.skip();
      tool('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      tool('ip', ['link', 'set', b, 'up']);
      tool('ip', ['link', 'set', a, 'up']);
      tool('rdma', ['link', 'add', rxe, 'type', 'rxe', 'netdev', a]);
      const host: TestNetns = { name: 'init', path: '/proc/1/ns/net', handle: root };
      const pod = createNetns('rp');
      const plan = { ...planFor(host, a, { interface: { name: 'net1' } }), rdma: { device: rxe, charDevices: [] } };
      let err: unknown;
      try {
        const r = attachDevice({ host: root, pod: pod.handle, libc: l, rdmaExclusive: true }, plan);
        expect(r.steps).toContain('rdma');
        expect(rdmaDevList(pod.handle).map((d) => d.name)).toContain(rxe);
      } catch (e) {
        err = e;
      }
      // Soft-RoCE is no real HCA: it unregisters its RDMA device when its netdev leaves the
      // namespace (rxe_notify, NETDEV_UNREGISTER), and on Linux 6.1 it cannot change namespace
      // at all (EOPNOTSUPP). Either way the attach fails at the rdma step and the netdev goes back.
      const rxeAlive = rdmaDevList(root).some((x) => x.name === rxe);
      if (err !== undefined) {
        expect(isDriverError(err) && err.code).toBe('ATTACH_FAILED');
        expect((err as Error).message).toContain('failed at step rdma');
        expect(linkNames(pod)).toEqual(['lo']);
        expect(linkGetByName(root, a).name).toBe(a);
      }
      const d = detachDevice({ host: root, pod: pod.handle, libc: l, rdmaExclusive: true }, plan);
      expect(d.found).toBe(err === undefined ? 'pod' : 'host');
      expect(d.problems).toEqual(rxeAlive || err === undefined ? [] : [{ step: 'rdma', message: `RDMA device ${rxe} is neither in the pod nor on the host` }]);
      if (err === undefined) expect(rdmaDevList(root).map((x) => x.name)).toContain(rxe);
      expect(linkGetByName(root, a).name).toBe(a);
    } finally {
      try { tool('rdma', ['link', 'delete', rxe]); } catch { /* not created */ }
      try { tool('ip', ['link', 'del', a]); } catch { /* not created */ }
      root.close();
    }
  });
});
