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
