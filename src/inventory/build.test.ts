import { describe, expect, it } from 'vitest';
import { addr, defaultRoute, ibDevice, link, pciFn, pciMap, snapshot } from '../../test/inventory/snapshot-builders.ts';
import { buildInventory } from './build.ts';
import { compileDeviceFilter } from './filter-cel.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from './options.ts';

const opts = (o: Partial<InventoryOptions> = {}): InventoryOptions => ({ ...DEFAULT_OPTIONS, ...o });
/** Virtual test links are published only when their kind is opted in. */
const virt = (o: Partial<InventoryOptions> = {}): InventoryOptions => opts({ includeKinds: ['*'], ...o });
const names = (inv: ReturnType<typeof buildInventory>): string[] => inv.devices.map((d) => d.name);
const why = (inv: ReturnType<typeof buildInventory>, ifName: string): string | undefined => inv.exclusions.find((e) => e.ifName === ifName)?.code;

describe('buildInventory: what is published', () => {
  it('publishes virtual netdevs only of the kinds the admin opted in, by name; never loopback', () => {
    const s = snapshot({ links: [link(1, 'lo', { type: 772, flags: 0x49 }), link(2, 'ncv0', { kind: 'veth' }), link(3, 'macv0', { kind: 'macvlan' }), link(4, 'vx0', { kind: 'vxlan' })] });
    const inv = buildInventory(s, opts());
    expect(names(inv)).toEqual([]);
    expect(why(inv, 'lo')).toBe('loopback');
    expect(['ncv0', 'macv0', 'vx0'].map((n) => why(inv, n))).toEqual(['kind-not-included', 'kind-not-included', 'kind-not-included']);
    expect(inv.exclusions.find((e) => e.ifName === 'vx0')?.reason).toMatch(/--include-kind vxlan/);
    expect(names(buildInventory(s, opts({ includeKinds: ['macvlan', 'veth'] })))).toEqual(['macv0', 'ncv0']);
    expect(names(buildInventory(s, virt()))).toEqual(['macv0', 'ncv0', 'vx0']);
    expect(why(buildInventory(s, virt()), 'lo')).toBe('loopback');
  });

  it('kernel-created and CNI plumbing stays out even with every kind opted in (ifb0/ifb1 from the ifb module, tunl0, cni0, OVN)', () => {
    const links = [link(2, 'ifb0', { kind: 'ifb' }), link(3, 'ifb1', { kind: 'ifb' }), link(4, 'tunl0', { kind: 'ipip' }), link(5, 'cni0', { kind: 'bridge' }), link(6, 'ovn-k8s-mp0', { kind: 'openvswitch' }), link(7, 'data0', { kind: 'macvlan' })];
    const inv = buildInventory(snapshot({ links }), virt());
    expect(names(inv)).toEqual(['data0']);
    expect(['ifb0', 'ifb1', 'tunl0'].map((n) => why(inv, n))).toEqual(['plumbing', 'plumbing', 'plumbing']);
    // A bridge is immovable before it is plumbing: the kernel's answer wins.
    expect([why(inv, 'cni0'), why(inv, 'ovn-k8s-mp0')]).toEqual(['netns-local', 'netns-local']);
  });

  it('leaves out every default-route uplink of the main table, any metric (backup routes too), both families, multipath hops', () => {
    const links = [1, 2, 3, 4, 5, 6].map((i) => link(i + 10, `eth${i}`));
    const routes = [
      defaultRoute(11, 2, 100), defaultRoute(12, 2, 100), // ECMP tie: both uplinks
      defaultRoute(13, 2, 200), // a backup route: the node still needs it
      defaultRoute(14, 10, 50, { nexthops: [{ oif: 15, weight: 1, flags: [] }, { oif: 14, weight: 1, flags: [] }] as never }),
      defaultRoute(16, 2, 1, { table: 100 }), // a default in a custom table does not count
    ];
    const inv = buildInventory(snapshot({ links, defaultRoutes: routes }), virt());
    expect(names(inv)).toEqual(['eth6']);
    for (const n of ['eth1', 'eth2', 'eth3', 'eth4', 'eth5']) expect(why(inv, n)).toBe('uplink');
    expect(inv.exclusions.find((e) => e.ifName === 'eth3')?.reason).toBe("carries the node's IPv4 default route (metric 200)");
  });

  it('leaves out every bond/bridge member below an uplink, nested too, but not macvlan children', () => {
    const links = [
      link(10, 'br0', { kind: 'bridge' }), link(11, 'bond0', { kind: 'bond', master: 10 as never }),
      link(12, 'eth0', { master: 11 as never }), link(13, 'eth1', { master: 11 as never }),
      link(14, 'macv0', { kind: 'macvlan', link: 10 as never }), link(15, 'eth2'),
    ];
    const inv = buildInventory(snapshot({ links, defaultRoutes: [defaultRoute(10)] }), virt());
    expect(names(inv)).toEqual(['eth2', 'macv0']);
    expect(why(inv, 'br0')).toBe('uplink');
    expect(inv.exclusions.find((e) => e.ifName === 'eth1')).toMatchObject({ code: 'uplink-member', reason: 'member of bond0, which the uplink br0 depends on' });
    expect(inv.exclusions.find((e) => e.ifName === 'bond0')).toMatchObject({ code: 'uplink-member', reason: 'member of uplink br0' });
  });

  it('leaves out runtime/CNI plumbing and the admin\'s name globs', () => {
    const links = [link(2, 'docker0', { kind: 'bridge' }), link(3, 'cilium_host', { kind: 'veth' }), link(4, 'flannel.1', { kind: 'vxlan' }), link(5, 'data0', { kind: 'macvlan' }), link(6, 'data1', { kind: 'macvlan' })];
    const inv = buildInventory(snapshot({ links }), virt({ excludeNames: ['data1'] }));
    expect(names(inv)).toEqual(['data0']);
    expect(['docker0', 'cilium_host', 'flannel.1'].map((n) => why(inv, n))).toEqual(['netns-local', 'plumbing', 'plumbing']);
    expect(why(inv, 'data1')).toBe('admin-name');
  });

  it('names PCI NICs by address, VFs carry their PF and index, PFs their SR-IOV counts', () => {
    const pf = pciFn('0000:3b:00.0', { sriov: { totalVfs: 8, numVfs: 1, vfs: [{ index: 0, address: '0000:3b:00.2' as never }] }, vendorName: 'Mellanox Technologies', deviceName: 'MT2910 Family [ConnectX-7]', subsystemVendorId: '15b3', subsystemDeviceId: '0051' });
    const vf = pciFn('0000:3b:00.2', { deviceId: '101e', physfn: { address: '0000:3b:00.0' as never, vfIndex: 0 } });
    const s = snapshot({
      links: [link(1, 'lo', { type: 772, flags: 8 }), link(5, 'ens1f0np0'), link(6, 'ens1f0v0')],
      linkPci: new Map([[5, pf.address], [6, vf.address]]), pci: pciMap(pf, vf),
    });
    const [a, b] = buildInventory(s, opts()).devices;
    expect(a).toMatchObject({ name: 'pci-0000-3b-00-0', kind: 'pci', ifName: 'ens1f0np0', pciAddress: '0000:3b:00.0', netdevPresent: true });
    expect(a!.attributes).toMatchObject({
      'resource.kubernetes.io/pcieRoot': { string: 'pci0000:3a' }, 'resource.kubernetes.io/numaNode': { int: 0 },
      'netclaim.dev/sriov': { bool: true }, 'netclaim.dev/sriovTotalVfs': { int: 8 }, 'netclaim.dev/sriovVfs': { int: 1 },
      'netclaim.dev/pciVendor': { string: 'Mellanox Technologies' }, 'netclaim.dev/pciSubsystem': { string: '15b3:0051' },
      'netclaim.dev/driver': { string: 'mlx5_core' }, 'netclaim.dev/sriovVf': { bool: false },
    });
    expect(b).toMatchObject({ name: 'pci-0000-3b-00-2', kind: 'vf' });
    expect(b!.attributes).toMatchObject({ 'netclaim.dev/sriovVf': { bool: true }, 'netclaim.dev/sriovPf': { string: '0000:3b:00.0' }, 'netclaim.dev/vfIndex': { int: 0 } });
  });

  it('a PCI NIC whose netdev is not here is owned elsewhere, unless netclaim holds it (then its last attributes stay)', () => {
    const nic = pciFn('0000:5e:00.0');
    const inv = buildInventory(snapshot({ pci: pciMap(nic) }), opts());
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.filter((e) => e.subject === 'pci')).toMatchObject([{ pciAddress: '0000:5e:00.0', code: 'owned-elsewhere', reason: expect.stringMatching(/^a network function with no netdev in the host namespace/) }]);
    // Published before it went into a pod: held, it stays, with the link attributes it had.
    const before = buildInventory(snapshot({ links: [link(9, 'ens5')], linkPci: new Map([[9, nic.address]]), pci: pciMap(nic) }), opts()).devices[0]!;
    const held = buildInventory(snapshot({ pci: pciMap(nic) }), opts(), [before]);
    expect(held.devices).toHaveLength(1);
    expect(held.devices[0]).toMatchObject({ name: 'pci-0000-5e-00-0', netdevPresent: false, held: true, ifName: 'ens5' });
    expect(held.devices[0]!.attributes['netclaim.dev/ifName']).toEqual({ string: 'ens5' });
    expect(held.devices[0]!.attributes['netclaim.dev/pciAddress']).toEqual({ string: '0000:5e:00.0' });
    expect(held.exclusions.filter((e) => e.subject !== 'netdev' || e.ifName !== 'lo')).toEqual([]);
  });

  it('leaves out functions bound to userspace drivers or unbound', () => {
    const vfio = pciFn('0000:af:00.0', { driver: 'vfio-pci' });
    const unbound = pciFn('0000:af:00.1', { driver: undefined as never });
    const inv = buildInventory(snapshot({ pci: pciMap(vfio, { ...unbound, driver: undefined } as never) }), opts());
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.filter((e) => e.subject === 'pci').map((e) => [e.pciAddress, e.code])).toEqual([['0000:af:00.0', 'userspace-driver'], ['0000:af:00.1', 'unbound']]);
  });

  it('publishes an InfiniBand-only HCA as an RDMA device with its char devices', () => {
    const hca = pciFn('0000:c1:00.0', { classCode: '020700', rdmaDevices: ['mlx5_4'] });
    const ib = ibDevice('mlx5_4', { pciAddress: hca.address, ports: [{ port: 1, state: 'ACTIVE', linkLayer: 'InfiniBand' }] });
    const inv = buildInventory(snapshot({ pci: pciMap(hca), ib: [ib], rdmaCm: true }), opts());
    expect(inv.devices).toHaveLength(1);
    expect(inv.devices[0]).toMatchObject({ name: 'pci-0000-c1-00-0', rdmaDevice: 'mlx5_4', charDevices: ['/dev/infiniband/uverbs0', '/dev/infiniband/rdma_cm'] });
    expect(inv.devices[0]!.attributes).toMatchObject({ 'netclaim.dev/rdma': { bool: true }, 'netclaim.dev/rdmaLinkLayer': { string: 'infiniband' }, 'netclaim.dev/rdmaPortState': { string: 'active' } });
  });

  it('associates a RoCE netdev with its RDMA device through RDMA netlink (soft-RoCE too)', () => {
    const s = snapshot({
      links: [link(7, 'dum0', { kind: 'dummy' })],
      ib: [ibDevice('rxe0')],
      rdmaPorts: [{ devIndex: 0, devName: 'rxe0', port: 1, state: 'ACTIVE', netdevIndex: 7, netdevName: 'dum0' }],
    });
    const [d] = buildInventory(s, opts({ includeKinds: ['dummy'] })).devices;
    expect(d).toMatchObject({ name: 'dum0', kind: 'virtual', rdmaDevice: 'rxe0', objects: ['netdev:dum0', 'rdma:rxe0'] });
    expect(buildInventory(s, opts()).exclusions.map((e) => [e.subject, e.code])).toEqual([['netdev', 'kind-not-included'], ['rdma', 'kind-not-included']]);
    expect(d!.attributes).toMatchObject({ 'netclaim.dev/rdma': { bool: true }, 'netclaim.dev/rdmaDevice': { string: 'rxe0' } });
  });

  it('does not publish an RDMA device whose netdev was left out', () => {
    const s = snapshot({
      links: [link(7, 'eth0')], defaultRoutes: [defaultRoute(7)], ib: [ibDevice('rxe0')],
      rdmaPorts: [{ devIndex: 0, devName: 'rxe0', port: 1, netdevIndex: 7 }],
    });
    const inv = buildInventory(s, opts());
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.find((e) => e.rdmaDevice === 'rxe0')).toMatchObject({ code: 'uplink' });
  });

  it('fits attributes into the API limits: IP lists cut on whole addresses, alias cut to 64', () => {
    const addrs = Array.from({ length: 10 }, (_, i) => addr(5, `10.0.0.${i + 10}/24`));
    const s = snapshot({ links: [link(5, 'data0', { kind: 'macvlan', alias: 'x'.repeat(100) })], addrs: [...addrs, addr(5, 'fe80::1/64', 'link')] });
    const a = buildInventory(s, virt()).devices[0]!.attributes;
    const ipv4 = (a['netclaim.dev/ipv4'] as { string: string }).string;
    expect(ipv4.length).toBeLessThanOrEqual(64);
    expect(ipv4.split(',').every((c) => /^10\.0\.0\.\d+\/24$/.test(c))).toBe(true);
    expect(a['netclaim.dev/ipv6']).toBeUndefined(); // link-local only
    expect((a['netclaim.dev/alias'] as { string: string }).string).toHaveLength(64);
  });

  it('names non-DNS interface names with base32 and uses DraNet names in compatibility mode', () => {
    const s = snapshot({ links: [link(5, 'Data_0', { kind: 'macvlan' })] });
    const d = buildInventory(s, virt({ naming: 'dranet' })).devices[0]!;
    expect(d.name).toBe('net-irqxiyk7ga'); // RFC 4648 base32 of "Data_0", as DraNet names it
    expect(Object.keys(d.attributes).every((k) => k.startsWith('dra.net/') || k.startsWith('resource.kubernetes.io/'))).toBe(true);
    expect(d.attributes['dra.net/ifName']).toEqual({ string: 'Data_0' });
  });

  it('applies the admin CEL filter and reports evaluation errors as exclusions', () => {
    const s = snapshot({ links: [link(5, 'big', { kind: 'macvlan', mtu: 9000 }), link(6, 'small', { kind: 'macvlan' })] });
    const inv = buildInventory(s, virt({ filter: compileDeviceFilter('device.attributes["netclaim.dev"].mtu > 1500') }));
    expect(names(inv)).toEqual(['big']);
    expect(why(inv, 'small')).toBe('admin-cel');
    const err = buildInventory(s, virt({ filter: compileDeviceFilter('device.attributes["netclaim.dev"].speed > 1') }));
    expect(err.devices).toEqual([]);
    expect(err.exclusions.find((e) => e.ifName === 'big')?.reason).toMatch(/^filter error:/);
    expect(() => compileDeviceFilter('device.attributes[', '--filter')).toThrow(/--filter: invalid CEL expression/);
  });
});

describe('buildInventory: the ownership model, bug by bug', () => {
  const roce = (address: string, rdma: string, extra: Parameters<typeof pciFn>[1] = {}) => pciFn(address, { rdmaDevices: [rdma], ...extra });
  const port = (devName: string, netdevIndex: number) => ({ devIndex: 0, devName, port: 1, state: 'ACTIVE', netdevIndex });

  it('a RoCE uplink takes its PCI function and its RDMA device with it (no claim gets the uplink HCA)', () => {
    const pf = roce('0000:17:00.0', 'mlx5_0');
    const s = snapshot({
      links: [link(4, 'ens1f0np0')], linkPci: new Map([[4, pf.address]]), pci: pciMap(pf), ib: [ibDevice('mlx5_0', { pciAddress: pf.address })],
      rdmaPorts: [port('mlx5_0', 4)], defaultRoutes: [defaultRoute(4)],
    });
    const inv = buildInventory(s, opts());
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.filter((e) => e.code === 'uplink').map((e) => e.subject)).toEqual(['netdev', 'pci', 'rdma']);
  });

  it('bonds, bridges and other links the kernel will not move are never published, whatever kinds are opted in', () => {
    const s = snapshot({ links: [link(5, 'bond1', { kind: 'bond' }), link(6, 'br1', { kind: 'bridge' }), link(7, 'vrf-red', { kind: 'vrf' }), link(8, 'm0', { kind: 'macvlan', netnsImmutable: true })] });
    const inv = buildInventory(s, virt());
    expect(inv.devices).toEqual([]);
    expect(['bond1', 'br1', 'vrf-red', 'm0'].map((n) => why(inv, n))).toEqual(['netns-local', 'netns-local', 'netns-local', 'netns-local']);
    // Up to 6.11 the kernel says it through ethtool's netns-local feature.
    expect(why(buildInventory(snapshot({ links: [link(9, 'x0', { kind: 'macvlan' })], netnsLocal: new Set([9]) }), virt()), 'x0')).toBe('netns-local');
  });

  it('members of a bond that is not the uplink are never published (moving one silently leaves the bond), nor their functions', () => {
    const a = pciFn('0000:3b:00.0');
    const b = pciFn('0000:3b:00.1');
    const s = snapshot({
      links: [link(5, 'bond1', { kind: 'bond' }), link(6, 'ens1f0', { master: 5 as never, slaveKind: 'bond' }), link(7, 'ens1f1', { master: 5 as never, slaveKind: 'bond' })],
      linkPci: new Map([[6, a.address], [7, b.address]]), pci: pciMap(a, b),
    });
    const inv = buildInventory(s, opts());
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.filter((e) => e.subject === 'pci').map((e) => [e.pciAddress, e.code])).toEqual([['0000:3b:00.0', 'enslaved'], ['0000:3b:00.1', 'enslaved']]);
  });

  it('the interface holding the node\'s InternalIP is an uplink even without a default route', () => {
    const nic = pciFn('0000:5e:00.0');
    const s = snapshot({ links: [link(5, 'ens5')], linkPci: new Map([[5, nic.address]]), pci: pciMap(nic), addrs: [addr(5, '2001:db8::7/64')] });
    expect(buildInventory(s, opts()).devices).toHaveLength(1);
    const inv = buildInventory(s, opts({ nodeIps: ['2001:DB8:0::7'] }));
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.find((e) => e.pciAddress === nic.address)).toMatchObject({ code: 'uplink', reason: "netdev ens5: holds the node's InternalIP 2001:db8::7" });
  });

  it('a VLAN uplink excludes its parent and the parent\'s function; a macvlan on top of the uplink stays publishable', () => {
    const nic = pciFn('0000:5e:00.0');
    const s = snapshot({
      links: [link(5, 'ens5'), link(6, 'ens5.100', { kind: 'vlan', link: 5 as never }), link(7, 'mv0', { kind: 'macvlan', link: 6 as never })],
      linkPci: new Map([[5, nic.address]]), pci: pciMap(nic), defaultRoutes: [defaultRoute(6)],
    });
    const inv = buildInventory(s, opts({ includeKinds: ['macvlan'] }));
    expect(names(inv)).toEqual(['mv0']);
    expect([why(inv, 'ens5.100'), why(inv, 'ens5')]).toEqual(['uplink', 'uplink-member']);
    expect(inv.exclusions.find((e) => e.pciAddress === nic.address)).toMatchObject({ code: 'uplink-member', reason: 'netdev ens5: lower device of uplink ens5.100' });
  });

  it('switchdev: representors and the PF that carries them are never published; the VFs are', () => {
    const pf = pciFn('0000:17:00.0', { sriov: { totalVfs: 8, numVfs: 1, vfs: [{ index: 0, address: '0000:17:00.2' as never }] } });
    const vf = pciFn('0000:17:00.2', { physfn: { address: pf.address, vfIndex: 0 } });
    const sw = { physSwitchId: 'a088c20300b12c3e' };
    const s = snapshot({
      links: [link(4, 'p0', { ...sw, physPortName: 'p0' }), link(5, 'pf0vf0', { ...sw, physPortName: 'pf0vf0', netnsImmutable: true }), link(6, 'ens1f0v0')],
      linkPci: new Map([[4, pf.address], [5, pf.address], [6, vf.address]]), pci: pciMap(pf, vf),
    });
    const inv = buildInventory(s, opts());
    expect(names(inv)).toEqual(['pci-0000-17-00-2']);
    expect([why(inv, 'p0'), why(inv, 'pf0vf0')]).toEqual(['representor', 'representor']);
    // Legacy mode: the PF's port is named p0 too, but no representors share its switch id.
    const legacy = snapshot({ links: [link(4, 'ens1f0np0', { ...sw, physPortName: 'p0' })], linkPci: new Map([[4, pf.address]]), pci: pciMap(pf) });
    expect(names(buildInventory(legacy, opts()))).toEqual(['pci-0000-17-00-0']);
  });

  it('an SR-IOV PF is not published while one of its VFs is in a pod; a VF of an excluded PF stays publishable', () => {
    const pf = pciFn('0000:17:00.0', { sriov: { totalVfs: 8, numVfs: 1, vfs: [{ index: 0, address: '0000:17:00.2' as never }] } });
    const vf = pciFn('0000:17:00.2', { physfn: { address: pf.address, vfIndex: 0 } });
    const s = snapshot({ links: [link(4, 'ens1f0np0'), link(6, 'ens1f0v0')], linkPci: new Map([[4, pf.address], [6, vf.address]]), pci: pciMap(pf, vf) });
    const free = buildInventory(s, opts());
    expect(names(free)).toEqual(['pci-0000-17-00-0', 'pci-0000-17-00-2']);
    const vfDevice = free.devices[1]!;
    const away = snapshot({ links: [link(4, 'ens1f0np0')], linkPci: new Map([[4, pf.address]]), pci: pciMap(pf, vf) });
    const inv = buildInventory(away, opts(), [vfDevice]);
    expect(names(inv)).toEqual(['pci-0000-17-00-2']);
    expect(inv.exclusions.find((e) => e.pciAddress === pf.address)).toMatchObject({ code: 'pf-of-held-vf', reason: 'its VF 0000:17:00.2 is in a pod' });
    // The PF as the uplink: its VF is still publishable.
    expect(names(buildInventory({ ...s, defaultRoutes: [defaultRoute(4)] }, opts()))).toEqual(['pci-0000-17-00-2']);
  });

  it('a shape the model does not know is never published: it is listed as unknown-topology with what puzzled it', () => {
    const s = snapshot({ links: [link(5, 'eth1', { parentDevBusName: 'virtio', parentDevName: 'virtio3' })], linkUnknown: new Map([[5, 'eth1: virtio device virtio3 has no PCI function above it']]) });
    const inv = buildInventory(s, virt());
    expect(inv.devices).toEqual([]);
    expect(inv.exclusions.find((e) => e.ifName === 'eth1')).toMatchObject({ code: 'unknown-topology', reason: 'eth1: virtio device virtio3 has no PCI function above it' });
  });

  it('Hyper-V: the synthetic NIC is published with its accelerated VF as one device; the uplink\'s VF goes with the uplink', () => {
    const vf0 = roce('f628:00:02.0', 'mlx5_0');
    const vf1 = roce('a1b2:00:02.0', 'mlx5_1');
    const guid0 = '000d3a6e-0001-0001-0001-000000000000';
    const guid1 = '000d3a6e-0002-0002-0002-000000000000';
    const s = snapshot({
      links: [
        link(2, 'eth0', { parentDevBusName: 'vmbus', parentDevName: guid0 }), link(3, 'enP63016s1', { master: 2 as never, flags: 0x1843 }),
        link(4, 'eth1', { parentDevBusName: 'vmbus', parentDevName: guid1 }), link(5, 'enP41394s2', { master: 4 as never, flags: 0x1843 }),
      ],
      linkPci: new Map([[3, vf0.address], [5, vf1.address]]), linkVmbus: new Map([[2, guid0], [4, guid1]]), pci: pciMap(vf0, vf1),
      ib: [ibDevice('mlx5_0', { pciAddress: vf0.address }), ibDevice('mlx5_1', { pciAddress: vf1.address })], defaultRoutes: [defaultRoute(2)],
    });
    const inv = buildInventory(s, opts());
    expect(inv.devices.map((d) => [d.name, d.kind, d.ifName, d.pciAddress, d.rdmaDevice])).toEqual([[`vmbus-${guid1}`, 'synthetic', 'eth1', vf1.address, 'mlx5_1']]);
    // The VF is part of the uplink's unit: the strongest cause (uplink) covers it, its function and its RDMA device.
    expect(inv.exclusions.filter((e) => e.code === 'uplink').map((e) => e.ifName ?? e.pciAddress ?? e.rdmaDevice)).toEqual(['enP63016s1', 'eth0', vf0.address, 'mlx5_0']);
  });
});
