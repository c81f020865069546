/**
 * The ownership model's invariants, attacked with random topologies (PCI
 * functions with 0–2 netdevs, virtio parents, SR-IOV VFs, RoCE and
 * InfiniBand RDMA devices bound to their netdevs or not, userspace drivers,
 * virtual links of every kind stacked on each other, bonds and bridges with
 * members, default routes of any metric, the node's InternalIP, devices
 * held in pods with their netdevs gone):
 *   (a) no object belongs to two devices, or to a device and an exclusion;
 *   (b) every published device can reach a pod: a movable netdev, an
 *       RDMA-only device, or one netclaim already holds;
 *   (c) the result depends only on the topology, not on the order the
 *       kernel listed things in;
 *   (d) every object of the snapshot is in exactly one state;
 * plus: nothing the uplink depends on is ever published, and held devices
 * stay published.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { RdmaPort } from '../kernel/netlink/rdma/rdma-types.ts';
import type { IbDevice, PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import { addr, defaultRoute, ibDevice, link, pciFn, snapshot } from '../../test/inventory/snapshot-builders.ts';
import { buildInventory } from './build.ts';
import { IMMOVABLE_KINDS } from './exclusions.ts';
import type { Device, Inventory, InventorySnapshot } from './model.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from './options.ts';
import { uplinkClosure } from './uplink.ts';

const FN = fc.record({
  netdevs: fc.integer({ min: 0, max: 2 }),
  virtio: fc.boolean(),
  driver: fc.constantFrom('mlx5_core', 'ice', 'virtio-pci', 'vfio-pci', 'none'),
  rdma: fc.constantFrom('none', 'roce-bound', 'roce-unbound', 'ib'),
  vfs: fc.integer({ min: 0, max: 2 }),
  immutable: fc.boolean(),
  switchdev: fc.boolean(),
});
const VIRT = fc.record({
  kind: fc.constantFrom('macvlan', 'vlan', 'veth', 'dummy', 'bond', 'bridge', 'ifb', 'vxlan', 'ipoib'),
  lower: fc.nat(),
  master: fc.option(fc.nat(), { nil: undefined }),
  name: fc.constantFrom('data', 'ifb', 'cni', 'docker', 'net'),
});
const TOPOLOGY = fc.record({
  fns: fc.array(FN, { maxLength: 5 }),
  virt: fc.array(VIRT, { maxLength: 6 }),
  enslave: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
  routes: fc.array(fc.record({ on: fc.nat(), metric: fc.nat(1000), family: fc.constantFrom(2 as const, 10 as const) }), { maxLength: 3 }),
  nodeIpOn: fc.option(fc.nat(), { nil: undefined }),
  includeKinds: fc.subarray(['macvlan', 'vlan', 'veth', 'dummy', 'vxlan', 'bond', 'ipoib', '*']),
  held: fc.nat(3),
});
type Topology = typeof TOPOLOGY extends fc.Arbitrary<infer T> ? T : never;

/** A kernel-consistent snapshot from the random description. */
function toSnapshot(t: Topology): InventorySnapshot {
  const links: Link[] = [link(1, 'lo', { type: 772, flags: 0x49 })];
  const pci: PciFunction[] = [];
  const linkPci = new Map<number, string>();
  const ib: IbDevice[] = [];
  const rdmaPorts: RdmaPort[] = [];
  let ifindex = 2;
  let uverbs = 0;
  t.fns.forEach((f, i) => {
    const bus = (0x10 + i).toString(16).padStart(2, '0');
    const pf = `0000:${bus}:00.0`;
    const vfAddrs = Array.from({ length: f.vfs }, (_, v) => `0000:${bus}:00.${v + 1}`);
    const driver = f.driver === 'none' ? undefined : f.driver;
    pci.push({ ...pciFn(pf, { sriov: { totalVfs: 4, numVfs: f.vfs, vfs: vfAddrs.map((a, v) => ({ index: v, address: a as never })) } }), ...(driver ? { driver } : { driver: undefined }) } as PciFunction);
    for (const [v, a] of vfAddrs.entries()) pci.push(pciFn(a, { physfn: { address: pf as never, vfIndex: v }, deviceId: '101e' }));
    const userspace = f.driver === 'vfio-pci' || f.driver === 'none';
    const functions = [pf, ...vfAddrs];
    for (const a of functions) {
      if (userspace && a === pf) continue;
      const nets: Link[] = [];
      const count = a === pf ? f.netdevs : 1;
      for (let n = 0; n < count; n++) {
        const index = ifindex++;
        const switchdev = a === pf && f.switchdev;
        const l = link(index, `en${bus}f${a.slice(-1)}n${n}`, {
          parentDevBusName: f.virtio && a === pf ? 'virtio' : 'pci', parentDevName: f.virtio && a === pf ? `virtio${i}` : a,
          ...(f.immutable && a === pf ? { netnsImmutable: true } : { netnsImmutable: false }),
          ...(switchdev ? { physSwitchId: `aa${bus}`, physPortName: n === 0 ? 'p0' : `pf0vf${n - 1}` } : {}),
        });
        nets.push(l);
        links.push(l);
        linkPci.set(index, a);
      }
      if (f.rdma !== 'none' && !userspace) {
        const name = `mlx5_${uverbs}`;
        ib.push(ibDevice(name, { pciAddress: a as never, ports: [{ port: 1, state: 'ACTIVE', linkLayer: f.rdma === 'ib' ? 'InfiniBand' : 'Ethernet' }], charDevices: [{ path: `/dev/infiniband/uverbs${uverbs}`, kind: 'uverbs' }] }));
        const net = nets[0];
        if (f.rdma === 'roce-bound' && net) rdmaPorts.push({ devIndex: uverbs, devName: name, port: 1, state: 'ACTIVE', netdevIndex: net.index, netdevName: net.name });
        uverbs++;
      }
    }
  });
  const hardware = links.length;
  for (const v of t.virt) {
    const index = ifindex++;
    const lower = links[v.lower % links.length]!;
    const stacked = v.kind === 'macvlan' || v.kind === 'vlan' || v.kind === 'ipoib';
    links.push(link(index, `${v.name}${index}`, { kind: v.kind, ...(stacked && lower.index !== 1 ? { link: lower.index } : {}) }));
  }
  // Enslave links to bonds/bridges (never the loopback, never a master to itself).
  const masters = links.filter((l) => l.kind === 'bond' || l.kind === 'bridge');
  for (const [m, s] of t.enslave) {
    if (masters.length === 0 || links.length < 3) break;
    const master = masters[m % masters.length]!;
    const slaveAt = 1 + (s % (links.length - 1));
    const slave = links[slaveAt]!;
    if (slave.index === master.index || slave.master !== undefined || slave.kind === 'bond' || slave.kind === 'bridge') continue;
    links[slaveAt] = { ...slave, master: master.index, ...(master.kind !== undefined ? { slaveKind: master.kind } : {}) };
  }
  const routable = links.slice(1);
  const defaultRoutes = routable.length === 0 ? [] : t.routes.map((r) => defaultRoute(routable[r.on % routable.length]!.index, r.family, r.metric));
  const addrs = t.nodeIpOn !== undefined && routable.length > 0 ? [addr(routable[t.nodeIpOn % routable.length]!.index, '10.9.0.7/24')] : [];
  void hardware;
  return snapshot({ links, pci: new Map(pci.map((f) => [f.address, f])), linkPci, ib, rdmaPorts, defaultRoutes, addrs });
}

const optionsOf = (t: Topology): InventoryOptions => ({ ...DEFAULT_OPTIONS, includeKinds: t.includeKinds, nodeIps: ['10.9.0.7'] });

/** Every object of a snapshot, as devices and exclusions name them. */
function objectsOf(s: InventorySnapshot): string[] {
  return [...s.links.map((l) => `netdev:${l.name}`), ...[...s.pci.keys()].map((a) => `pci:${a}`), ...s.ib.map((d) => `rdma:${d.name}`)].sort();
}

function exclusionObject(e: Inventory['exclusions'][number]): string {
  return e.subject === 'netdev' ? `netdev:${e.ifName}` : e.subject === 'pci' ? `pci:${e.pciAddress}` : `rdma:${e.rdmaDevice}`;
}

/** Puts the device into a pod: its netdevs leave the host namespace (a virtual one is gone from here altogether). */
function moveAway(s: InventorySnapshot, d: Device): InventorySnapshot {
  const gone = new Set((d.objects ?? []).filter((o) => o.startsWith('netdev:')).map((o) => o.slice('netdev:'.length)));
  const keep = s.links.filter((l) => !gone.has(l.name));
  const idx = new Set(keep.map((l) => l.index as number));
  return {
    ...s,
    links: keep.map((l) => (l.master !== undefined && !idx.has(l.master) ? (({ master: _m, ...rest }) => rest as Link)(l) : l)),
    linkPci: new Map([...s.linkPci].filter(([i]) => idx.has(i))),
    rdmaPorts: s.rdmaPorts.map((p) => (p.netdevIndex !== undefined && !idx.has(p.netdevIndex) ? { devIndex: p.devIndex, devName: p.devName, port: p.port } : p)),
    defaultRoutes: s.defaultRoutes.filter((r) => r.oif === undefined || idx.has(r.oif)),
    addrs: s.addrs.filter((a) => idx.has(a.index)),
  };
}

function checkInvariants(s: InventorySnapshot, inv: Inventory, o: InventoryOptions, held: readonly Device[]): void {
  const owners = new Map<string, string>();
  const claim = (obj: string, by: string): void => {
    expect(owners.get(obj), `${obj} is in ${owners.get(obj)} and in ${by}`).toBeUndefined();
    owners.set(obj, by);
  };
  for (const d of inv.devices) {
    for (const obj of d.objects ?? []) claim(obj, `device ${d.name}`);
    // (a) what a device names is among its own objects (held devices away from here name what is gone)
    if (!d.held) {
      if (d.ifName !== undefined) expect(d.objects).toContain(`netdev:${d.ifName}`);
      if (d.rdmaDevice !== undefined) expect(d.objects).toContain(`rdma:${d.rdmaDevice}`);
    }
  }
  for (const e of inv.exclusions) claim(exclusionObject(e), `exclusion ${e.code}`);
  // (d) exactly one state each: every object is placed, and nothing else is
  const placed = [...owners.keys()].filter((k) => !held.some((h) => h.objects?.includes(k) && !objectsOf(s).includes(k))).sort();
  expect(placed).toEqual(objectsOf(s));
  // (b) every published device can reach a pod
  const byName = new Map(s.links.map((l) => [l.name, l]));
  const byIndex = new Map(s.links.map((l) => [l.index as number, l]));
  for (const d of inv.devices) {
    if (d.held) continue;
    if (d.ifName !== undefined) {
      const l = byName.get(d.ifName)!;
      expect(l.netnsImmutable, `${d.name}: immutable ${d.ifName}`).not.toBe(true);
      expect(IMMOVABLE_KINDS.has(l.kind ?? ''), `${d.name}: ${l.kind}`).toBe(false);
      const master = l.master !== undefined ? byIndex.get(l.master) : undefined;
      expect(master?.kind === 'bond' || master?.kind === 'bridge', `${d.name}: enslaved to ${master?.name}`).toBe(false);
    } else {
      expect(d.kind).toBe('rdma');
      const ib = s.ib.find((x) => x.name === d.rdmaDevice)!;
      expect(ib.ports.every((p) => p.linkLayer !== 'Ethernet')).toBe(true);
    }
  }
  // The uplink and everything it depends on: never published, nor anything of their units.
  const { uplinks, members } = uplinkClosure(s.links, s.defaultRoutes, s.addrs, o.nodeIps);
  for (const i of [...uplinks.keys(), ...members.keys()]) {
    const name = byIndex.get(i)!.name;
    expect(inv.devices.some((d) => d.objects?.includes(`netdev:${name}`)), `uplink closure ${name} published`).toBe(false);
    const fn = s.linkPci.get(i);
    if (fn !== undefined) expect(inv.devices.some((d) => d.objects?.includes(`pci:${fn}`)), `uplink function ${fn} published`).toBe(false);
  }
  // Held devices stay published.
  for (const h of held) expect(inv.devices.find((d) => d.name === h.name), `held ${h.name}`).toMatchObject({ held: true });
}

/** The same snapshot with every list in another order. */
function reordered(s: InventorySnapshot, seed: number): InventorySnapshot {
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    let x = seed || 1;
    for (let i = out.length - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const j = x % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  return {
    ...s, links: shuffle(s.links), ib: shuffle(s.ib), rdmaPorts: shuffle(s.rdmaPorts), defaultRoutes: shuffle(s.defaultRoutes),
    pci: new Map(shuffle([...s.pci])), linkPci: new Map(shuffle([...s.linkPci])),
  };
}

/**
 * Found by (c) in a unit-tier run (1 failure in about 1,500 runs): a PF's netdev is the lower
 * device of two macvlans enslaved to the bond that holds the node's IP, and the exclusion's reason
 * named whichever macvlan the kernel listed first. Kept as a fixed example of (c).
 */
const COUNTEREXAMPLE_C: [Topology, number] = [{
  fns: [{ netdevs: 2, virtio: false, driver: 'mlx5_core', rdma: 'none', vfs: 2, immutable: false, switchdev: false }],
  virt: [
    { kind: 'bond', lower: 0, master: undefined, name: 'data' }, { kind: 'macvlan', lower: 539810649, master: undefined, name: 'data' },
    { kind: 'macvlan', lower: 0, master: undefined, name: 'data' }, { kind: 'macvlan', lower: 169594883, master: undefined, name: 'data' },
    { kind: 'macvlan', lower: 0, master: undefined, name: 'data' },
  ],
  enslave: [[0, 2031346607], [0, 1224999043]], routes: [], nodeIpOn: 1581721483, includeKinds: [], held: 0,
}, 1];

describe('ownership invariants over random topologies', () => {
  it('(a)(b)(d) one state per object, no shared objects, every device reachable; held devices stay when their netdevs leave', { timeout: 60_000 }, () => {
    fc.assert(fc.property(TOPOLOGY, (t) => {
      const s = toSnapshot(t);
      const o = optionsOf(t);
      const inv = buildInventory(s, o);
      checkInvariants(s, inv, o, []);
      // Hold some published devices and move them into pods: they stay, nothing else changes state twice.
      const held = inv.devices.slice(0, t.held).map((d) => ({ ...d, held: true }));
      const away = held.reduce(moveAway, s);
      checkInvariants(away, buildInventory(away, o, held), o, held);
    }), { numRuns: 300 });
  });

  it('(c) the result does not depend on the order the kernel listed things in', { timeout: 60_000 }, () => {
    fc.assert(fc.property(TOPOLOGY, fc.integer({ min: 1, max: 1 << 30 }), (t, seed) => {
      const s = toSnapshot(t);
      const o = optionsOf(t);
      expect(buildInventory(reordered(s, seed), o)).toEqual(buildInventory(s, o));
    }), { numRuns: 300, examples: [COUNTEREXAMPLE_C] });
  });
});
