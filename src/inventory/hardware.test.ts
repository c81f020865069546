/**
 * Discovery on sysfs trees modelled on real hardware (test/fixtures/sysfs),
 * with the links the kernel would report for them: every derived attribute.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSysfsTree } from '../../test/fixtures/sysfs/trees.ts';
import { defaultRoute, link, snapshot } from '../../test/inventory/snapshot-builders.ts';
import { buildInventory } from './build.ts';
import { sysfsFacts } from './collect.ts';
import type { Device } from './model.ts';
import { DEFAULT_OPTIONS } from './options.ts';

const trees: { dispose(): void }[] = [];
afterEach(() => { for (const t of trees.splice(0)) t.dispose(); });

/** The links netlink reports on such a host: parent device and bus as the kernel gives them. */
const LINKS = [
  link(4, 'ens1f0np0', { mac: 'a0:88:c2:b1:2c:3e', parentDevBusName: 'pci', parentDevName: '0000:17:00.0', physPortName: 'p0' }),
  link(10, 'ens1f0v0', { mac: '02:11:22:33:44:00', parentDevBusName: 'pci', parentDevName: '0000:17:00.2' }),
  link(11, 'ens1f0v1', { mac: '02:11:22:33:44:01', parentDevBusName: 'pci', parentDevName: '0000:17:00.3' }),
  link(5, 'ibp59s0', { type: 32, kind: 'ipoib', mtu: 4092, mac: '00:00:10:87:fe:80:00:00:00:00:00:00:b8:3f:d2:03:00:a1:b2:c4', parentDevBusName: 'pci', parentDevName: '0000:3b:00.0' }),
  link(6, 'ens2f0np0', { mac: 'b4:96:91:aa:bb:c0', parentDevBusName: 'pci', parentDevName: '0000:81:00.0' }),
  link(12, 'ens2f0v0', { mac: '02:aa:bb:cc:dd:00', parentDevBusName: 'pci', parentDevName: '0000:81:01.0' }),
  link(13, 'ens2f0v1', { mac: '02:aa:bb:cc:dd:01', parentDevBusName: 'pci', parentDevName: '0000:81:01.1' }),
  link(2, 'eth0', { mac: '52:54:00:12:34:56', parentDevBusName: 'virtio', parentDevName: 'virtio2' }),
];

function host(withUplink = false, numa?: (root: string) => void, listAttributes = false): { devices: readonly Device[]; exclusions: ReturnType<typeof buildInventory>['exclusions'] } {
  const tree = buildSysfsTree();
  trees.push(tree);
  numa?.(tree.root);
  const s = snapshot({
    links: [...snapshot().links, ...LINKS], ...sysfsFacts(tree.root, LINKS), ...(withUplink ? { defaultRoutes: [defaultRoute(2)] } : {}),
    // erdma binds the VM's virtio NIC whose MAC matches (drivers/infiniband/hw/erdma/erdma_main.c: erdma_enum_and_get_netdev,
    // ib_device_set_netdev(.., 1)), so RDMA netlink names eth0 as port 1's netdev.
    rdmaPorts: [{ devIndex: 4, devName: 'erdma_0', port: 1, state: 'ACTIVE', netdevIndex: 2, netdevName: 'eth0' }],
  });
  return buildInventory(s, { ...DEFAULT_OPTIONS, listAttributes });
}

const plain = (d: Device): Record<string, unknown> =>
  Object.fromEntries(Object.entries(d.attributes).map(([k, v]) => [k.replace(/^netclaim\.dev\//, ''), Object.values(v)[0]]));

describe('discovery on hardware-shaped sysfs trees', () => {
  it('finds every NIC function, VF and RDMA-only device, and leaves out vfio and unbound functions', () => {
    const inv = host();
    expect(inv.devices.map((d) => [d.name, d.kind, d.ifName ?? '-', d.rdmaDevice ?? '-'])).toEqual([
      ['pci-0000-00-03-0', 'pci', 'eth0', 'erdma_0'],
      ['pci-0000-17-00-0', 'pci', 'ens1f0np0', 'mlx5_0'],
      ['pci-0000-17-00-2', 'vf', 'ens1f0v0', 'mlx5_2'],
      ['pci-0000-17-00-3', 'vf', 'ens1f0v1', 'mlx5_3'],
      ['pci-0000-3b-00-0', 'pci', 'ibp59s0', 'mlx5_1'],
      ['pci-0000-81-00-0', 'pci', 'ens2f0np0', '-'],
      ['pci-0000-81-01-0', 'vf', 'ens2f0v0', '-'],
      ['pci-0000-81-01-1', 'vf', 'ens2f0v1', '-'],
    ]);
    expect(inv.exclusions.filter((e) => e.subject === 'pci').map((e) => [e.pciAddress, e.code])).toEqual([
      ['0000:af:00.0', 'userspace-driver'], ['0000:af:00.1', 'unbound'],
    ]);
  });

  it('ConnectX-7 PF: PCI identity, NUMA/pcieRoot for GPU alignment, SR-IOV, RoCE and its char devices', () => {
    const d = host().devices.find((x) => x.name === 'pci-0000-17-00-0')!;
    expect(plain(d)).toMatchObject({
      'resource.kubernetes.io/pcieRoot': 'pci0000:16', 'resource.kubernetes.io/numaNode': 0,
      ifName: 'ens1f0np0', pciAddress: '0000:17:00.0', kind: 'pci', virtual: false, sriovVf: false,
      sriov: true, sriovTotalVfs: 16, sriovVfs: 2, pciVendorId: '15b3', pciDeviceId: '1021',
      pciVendor: 'Mellanox Technologies', pciDevice: 'MT2910 Family [ConnectX-7]', pciSubsystem: '15b3:0041',
      driver: 'mlx5_core', numaNode: 0, rdma: true, rdmaDevice: 'mlx5_0', rdmaLinkLayer: 'ethernet', rdmaPortState: 'active',
      mac: 'a0:88:c2:b1:2c:3e', encapsulation: 'ether', type: 'device',
    });
    expect(d.charDevices).toEqual(['/dev/infiniband/uverbs0', '/dev/infiniband/umad0', '/dev/infiniband/issm0', '/dev/infiniband/rdma_cm']);
  });

  it('ConnectX-7 VF: its PF, VF index and its own RDMA device', () => {
    const d = host().devices.find((x) => x.name === 'pci-0000-17-00-3')!;
    expect(plain(d)).toMatchObject({ kind: 'vf', sriovVf: true, sriovPf: '0000:17:00.0', vfIndex: 1, pciDeviceId: '101e', rdmaDevice: 'mlx5_3', sriov: false });
    expect(plain(d)['sriovTotalVfs']).toBeUndefined();
  });

  it('IPoIB HCA: infiniband encapsulation and link layer', () => {
    const d = host().devices.find((x) => x.name === 'pci-0000-3b-00-0')!;
    expect(plain(d)).toMatchObject({ type: 'ipoib', encapsulation: 'infiniband', mtu: 4092, rdmaLinkLayer: 'infiniband', pciDevice: 'MT28908 Family [ConnectX-6]', 'resource.kubernetes.io/pcieRoot': 'pci0000:3a' });
    expect(plain(d)['mac']).toBe('00:00:10:87:fe:80:00:00:00:00:00:00:b8:3f:d2:03:00:a1:b2:c4');
  });

  it('eRDMA: the iWARP function goes with the virtio NIC it binds (one device, both functions), never as a netdev-less device', () => {
    const d = host().devices.find((x) => x.name === 'pci-0000-00-03-0')!;
    expect(d.objects).toEqual(['netdev:eth0', 'pci:0000:00:03.0', 'pci:0000:00:06.0', 'rdma:erdma_0']);
    expect(plain(d)).toMatchObject({ kind: 'pci', rdma: true, rdmaDevice: 'erdma_0', ifName: 'eth0', driver: 'virtio-pci', rdmaLinkLayer: 'ethernet' });
    expect(d.charDevices).toEqual(['/dev/infiniband/uverbs4', '/dev/infiniband/rdma_cm']);
    expect(host().devices.some((x) => x.pciAddress === '0000:00:06.0')).toBe(false);
  });

  it('--list-attributes: a function without a node (numa_node -1, local_cpulist every CPU) publishes numaNode as both nodes; one with a node keeps its scalar', () => {
    // Two nodes of four CPUs; local_cpulist as drivers/pci/pci-sysfs.c pci_dev_show_local_cpu prints it.
    const numa = (root: string): void => {
      const put = (p: string, v: string): void => { mkdirSync(join(root, p, '..'), { recursive: true }); writeFileSync(join(root, p), `${v}\n`); };
      put('devices/system/node/node0/cpulist', '0-3');
      put('devices/system/node/node1/cpulist', '4-7');
      put('bus/pci/devices/0000:00:03.0/local_cpulist', '0-7'); // the virtio NIC, numa_node -1
      put('bus/pci/devices/0000:17:00.0/local_cpulist', '0-3'); // the ConnectX-7 PF, numa_node 0
    };
    const numaOf = (inv: ReturnType<typeof host>, name: string): unknown => inv.devices.find((d) => d.name === name)!.attributes['resource.kubernetes.io/numaNode'];
    const listed = host(false, numa, true);
    expect(numaOf(listed, 'pci-0000-00-03-0')).toEqual({ ints: [0, 1] });
    expect(numaOf(listed, 'pci-0000-17-00-0')).toEqual({ int: 0 });
    expect(numaOf(host(false, numa), 'pci-0000-00-03-0')).toBeUndefined(); // without the flag: no scalar for -1, as before
  });

  it('E810 PF and iavf VFs on NUMA 1 under pci0000:80', () => {
    const inv = host();
    const pf = plain(inv.devices.find((x) => x.name === 'pci-0000-81-00-0')!);
    const vf = plain(inv.devices.find((x) => x.name === 'pci-0000-81-01-1')!);
    expect(pf).toMatchObject({ driver: 'ice', sriovTotalVfs: 128, sriovVfs: 2, numaNode: 1, 'resource.kubernetes.io/numaNode': 1, 'resource.kubernetes.io/pcieRoot': 'pci0000:80', pciVendor: 'Intel Corporation', pciDevice: 'Ethernet Controller E810-XXV for SFP', rdma: false });
    expect(vf).toMatchObject({ driver: 'iavf', sriovPf: '0000:81:00.0', vfIndex: 1, pciDevice: 'Ethernet Adaptive Virtual Function' });
  });

  it('virtio NIC: found through its virtio parent; when it is the uplink its PCI function (and the eRDMA bound to it) is left out too', () => {
    expect(plain(host().devices.find((x) => x.name === 'pci-0000-00-03-0')!)).toMatchObject({ driver: 'virtio-pci', pciVendorId: '1af4', ifName: 'eth0' });
    const withUplink = host(true);
    // The bug this guards: eth0 left out, its function 0000:00:03.0 published again as a netdev-less device.
    expect(withUplink.devices.filter((d) => d.ifName === 'eth0' || d.pciAddress === '0000:00:03.0' || d.pciAddress === '0000:00:06.0' || d.rdmaDevice === 'erdma_0')).toEqual([]);
    const codes = withUplink.exclusions.filter((e) => ['eth0', '0000:00:03.0', '0000:00:06.0', 'erdma_0'].includes(e.ifName ?? e.pciAddress ?? e.rdmaDevice ?? ''));
    expect(codes.map((e) => [e.subject, e.code, e.reason])).toEqual([
      ['netdev', 'uplink', "carries the node's IPv4 default route"],
      ['pci', 'uplink', "netdev eth0: carries the node's IPv4 default route"],
      ['pci', 'uplink', "netdev eth0: carries the node's IPv4 default route"],
      ['rdma', 'uplink', "netdev eth0: carries the node's IPv4 default route"],
    ]);
  });
});
