/**
 * The `dranet` naming publishes what kubernetes-sigs/dranet publishes for the
 * same device. Each test names the peer code it follows: `db.go`, `net.go` and
 * `sysfs.go` are dranet's pkg/inventory; vishvananda/netlink and jaypipes/ghw
 * are the libraries those read the kernel through.
 */
import { describe, expect, it } from 'vitest';
import type { PciAddress } from '../../common/ids.ts';
import type { OperState } from '../../kernel/netlink/route/link-constants.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import { addr, link, pciFn } from '../../../test/inventory/snapshot-builders.ts';
import { deviceAttributes } from './build.ts';
import type { DeviceFacts } from './facts.ts';
import type { Attributes } from './limits.ts';

const facts = (f: Partial<DeviceFacts> = {}): DeviceFacts => ({ kind: 'pci', addrs: [], ...f });
const dranet = (f: Partial<DeviceFacts>): Attributes => deviceAttributes(facts(f), 'dranet').attributes;
/** The value of `dra.net/<name>`, or undefined when not published. */
const value = (attrs: Attributes, name: string): unknown => {
  const v = attrs[`dra.net/${name}`];
  return v === undefined ? undefined : Object.values(v)[0];
};

// A ConnectX-7 PF and one of its VFs (the shapes of test/fixtures/sysfs).
const cx7 = pciFn('0000:17:00.0', {
  deviceId: '1021', subsystemVendorId: '15b3', subsystemDeviceId: '0041', vendorName: 'Mellanox Technologies',
  deviceName: 'MT2910 Family [ConnectX-7]', pcieRoot: 'pci0000:16', sriov: { totalVfs: 16, numVfs: 2, vfs: [] }, rdmaDevices: ['mlx5_0'],
});
const cx7Vf = pciFn('0000:17:00.2', { deviceId: '101e', subsystemVendorId: '15b3', subsystemDeviceId: '0041', physfn: { address: cx7.address, vfIndex: 0 } });
const pfLink = link(4, 'ens1f0np0', { mac: 'a0:88:c2:b1:2c:3e', parentDevBusName: 'pci', parentDevName: cx7.address });
const vfLink = link(10, 'ens1f0v0', { mac: '02:11:22:33:44:00', parentDevBusName: 'pci', parentDevName: cx7Vf.address });

describe('dranet naming: the values DraNet publishes', () => {
  it('publishes exactly DraNet\'s attributes for a RoCE PF, with its values', () => {
    // db.go addPCIAttributes (pciAddress, numaNode, pciVendor, pciDevice, pciSubsystem, pcieRoot),
    // addLinkAttributes (link ones; ipv4/ipv6/tc*/isSriovVf only when there is something), addRDMAAttributes.
    const a = dranet({ link: pfLink, pci: cx7, rdmaName: 'mlx5_0' });
    expect(a).toEqual({
      'resource.kubernetes.io/pcieRoot': { string: 'pci0000:16' }, 'resource.kubernetes.io/pciBusID': { string: '0000:17:00.0' },
      'resource.kubernetes.io/numaNode': { int: 0 },
      'dra.net/ifName': { string: 'ens1f0np0' }, 'dra.net/pciAddress': { string: '0000:17:00.0' }, 'dra.net/rdma': { bool: true },
      'dra.net/rdmaDevice': { string: 'mlx5_0' }, 'dra.net/virtual': { bool: false }, 'dra.net/sriov': { bool: true },
      'dra.net/mac': { string: 'a0:88:c2:b1:2c:3e' }, 'dra.net/mtu': { int: 1500 }, 'dra.net/state': { string: 'up' },
      'dra.net/type': { string: 'device' }, 'dra.net/encapsulation': { string: 'ether' }, 'dra.net/numaNode': { int: 0 },
      'dra.net/pciVendor': { string: 'Mellanox Technologies' }, 'dra.net/pciDevice': { string: 'MT2910 Family [ConnectX-7]' },
      'dra.net/pciSubsystem': { string: '0041' }, 'dra.net/sriovVfs': { int: 2 }, 'dra.net/ebpf': { bool: false },
      'dra.net/alias': { string: '' },
    });
  });

  it('type: a tun/tap link is "tuntap", a link without a kind "device", others their kind', () => {
    // db.go addLinkAttributes: AttrType = link.Type(); vishvananda/netlink link.go: Tuntap.Type() "tuntap",
    // Device.Type() "device" (no IFLA_INFO_KIND, link_linux.go LinkDeserialize), GenericLink.Type() the kind.
    const type = (l: Partial<Link>): unknown => value(dranet({ kind: 'virtual', link: link(7, 'x0', l) }), 'type');
    expect(type({ kind: 'tun' })).toBe('tuntap');
    expect(type({})).toBe('device');
    expect(type({ kind: 'veth' })).toBe('veth');
    expect(type({ kind: 'team' })).toBe('team');
    expect(type({ type: 32, kind: 'ipoib' })).toBe('ipoib');
    expect(type({ type: 32 })).toBe('device'); // no kind: vishvananda does not guess ipoib
  });

  it('pciSubsystem: the subsystem device id alone, not vendor:device', () => {
    // db.go addPCIAttributes: AttrPCISubsystem = pciDev.Subsystem.ID; ghw pkg/pci/pci_linux.go parseModaliasData
    // (subproductID, the modalias `sd` field in lower case) and findPCISubsystem (its ID is that id).
    const virtio = pciFn('0000:00:03.0', { vendorId: '1af4', deviceId: '1041', subsystemVendorId: '1af4', subsystemDeviceId: '1100', driver: 'virtio-pci' });
    expect(value(dranet({ pci: virtio }), 'pciSubsystem')).toBe('1100');
    expect(value(dranet({ pci: cx7 }), 'pciSubsystem')).toBe('0041');
  });

  it('alias and mac: "" when the link has none, and an all-zero address is none', () => {
    // db.go addLinkAttributes sets AttrAlias (link.Attrs().Alias) and AttrMac (HardwareAddr.String()) on every link;
    // vishvananda/netlink link_linux.go LinkDeserialize keeps IFLA_ADDRESS only when a byte is non-zero.
    const { mac: _none, ...wg } = link(7, 'wg0', { kind: 'wireguard', type: 65534 });
    const bare = dranet({ kind: 'virtual', link: wg });
    expect([value(bare, 'alias'), value(bare, 'mac')]).toEqual(['', '']);
    expect(value(dranet({ kind: 'virtual', link: link(8, 'ipip0', { kind: 'ipip', type: 768, mac: '00:00:00:00' }) }), 'mac')).toBe('');
    const ipoibMac = '00:00:10:87:fe:80:00:00:00:00:00:00:b8:3f:d2:03:00:a1:b2:c4';
    expect(value(dranet({ link: link(5, 'ibp59s0', { type: 32, kind: 'ipoib', mac: ipoibMac, alias: 'fabric A' }) }), 'mac')).toBe(ipoibMac);
    expect(value(dranet({ link: link(5, 'ibp59s0', { alias: 'fabric A' }) }), 'alias')).toBe('fabric A');
  });

  it('isSriovVf: only on a VF, and then true', () => {
    // db.go addLinkAttributes: AttrIsSriovVf is set only `if isSriovVirtualFunction`;
    // sysfs.go isSriovVf: <netdev>/device/physfn is a symlink.
    expect(value(dranet({ kind: 'vf', link: vfLink, pci: cx7Vf }), 'isSriovVf')).toBe(true);
    expect(value(dranet({ link: pfLink, pci: cx7 }), 'isSriovVf')).toBeUndefined();
    expect(value(dranet({ kind: 'virtual', link: link(7, 'veth1', { kind: 'veth' }) }), 'isSriovVf')).toBeUndefined();
  });

  it('a PCI function whose netdev is not in the host namespace has no link attributes: no sriov, virtual, isSriovVf, mac…', () => {
    // db.go: ifName, mac, mtu, encapsulation, alias, state, type, ipv4/6, tc*, ebpf, sriov, sriovVfs, isSriovVf and
    // virtual are all set in addLinkAttributes, which runs only for links in the host namespace.
    expect(Object.keys(dranet({ kind: 'vf', pci: { ...cx7Vf, rdmaDevices: ['mlx5_2'] }, rdmaName: 'mlx5_2' })).sort()).toEqual([
      'dra.net/numaNode', 'dra.net/pciAddress', 'dra.net/pciDevice', 'dra.net/pciSubsystem', 'dra.net/pciVendor', 'dra.net/rdma',
      'dra.net/rdmaDevice', 'resource.kubernetes.io/numaNode', 'resource.kubernetes.io/pciBusID', 'resource.kubernetes.io/pcieRoot',
    ]);
    expect(Object.keys(dranet({ pci: cx7 }))).not.toContain('dra.net/sriov');
  });

  it('state: the operational state as vishvananda/netlink names it', () => {
    // db.go addLinkAttributes: AttrState = link.Attrs().OperState.String(); vishvananda/netlink link.go LinkOperState.String().
    const state = (operState: OperState): unknown => value(dranet({ link: link(4, 'eth1', { operState }) }), 'state');
    expect(state('LOWERLAYERDOWN')).toBe('lower-layer-down');
    expect(state('NOTPRESENT')).toBe('not-present');
    expect(state('UP')).toBe('up');
    expect(state('UNKNOWN')).toBe('unknown');
    expect(state('DORMANT')).toBe('dormant');
  });

  it('encapsulation: vishvananda/netlink\'s ARPHRD names, `unknown<N>` for the rest', () => {
    // db.go addLinkAttributes: AttrEncapsulation = link.Attrs().EncapType; vishvananda/netlink nl/nl_linux.go IfInfomsg.EncapType().
    const encap = (type: number): unknown => value(dranet({ kind: 'virtual', link: link(7, 't0', { type }) }), 'encapsulation');
    expect([1, 32, 65534, 768, 776, 778, 772].map(encap)).toEqual(['ether', 'infiniband', 'none', 'ipip', 'sit', 'gre', 'loopback']);
    expect(encap(823)).toBe('unknown823'); // ARPHRD_IP6GRE is not in vishvananda's table
    expect(encap(280)).toBe('unknown280'); // ARPHRD_CAN
    expect(encap(519)).toBe('unknown519'); // ARPHRD_RAWIP
    expect(encap(0)).toBe('generic');
    expect(encap(789)).toBe('fcfb2');
  });

  it('ipv4/ipv6: global unicast addresses as Go tells them (not by scope), sorted, cut on whole addresses to 64 bytes', () => {
    // db.go addLinkAttributes: skips !address.IP.IsGlobalUnicast(), sort.Strings, buildIPList(ips, 64).
    const addrs = [
      addr(4, '10.0.0.2/24'), addr(4, '10.0.0.1/24', 'link'), addr(4, '169.254.3.4/16'), addr(4, '127.0.0.2/8', 'host'),
      addr(4, 'fe80::1/64', 'link'), addr(4, 'fd00::1/64'), addr(4, '2001:db8::1/64'), addr(4, 'ff02::1/128'),
    ];
    const a = dranet({ link: link(4, 'eth1'), addrs });
    expect(value(a, 'ipv4')).toBe('10.0.0.1/24,10.0.0.2/24');
    expect(value(a, 'ipv6')).toBe('2001:db8::1/64,fd00::1/64');
    // db_test.go TestBuildIPList: five /32s are exactly 64 bytes; the sixth is left out.
    const many = Array.from({ length: 6 }, (_, i) => addr(4, `10.96.0.${i + 1}/32`));
    expect(value(dranet({ link: link(4, 'eth1'), addrs: many }), 'ipv4')).toBe('10.96.0.1/32,10.96.0.2/32,10.96.0.3/32,10.96.0.4/32,10.96.0.5/32');
    expect(value(dranet({ link: link(4, 'eth1'), addrs: [addr(4, 'fe80::2/64', 'link')] }), 'ipv6')).toBeUndefined();
  });

  it('ebpf: true for tc or tcx programs only, false (not absent) otherwise; names sorted and unique', () => {
    // db.go addLinkAttributes: isEbpf from getTcFilters/getTcxFilters (net.go), AttrEBPF set on every link; XDP is not looked at.
    const xdpOnly = dranet({ link: pfLink, ebpf: { tcFilters: [], tcx: [], xdp: [{ mode: 'driver', progId: 3, name: 'xdp_fw' }] } });
    expect(value(xdpOnly, 'ebpf')).toBe(false);
    expect(value(dranet({ link: pfLink }), 'ebpf')).toBe(false);
    const tc = dranet({
      link: pfLink,
      ebpf: {
        tcFilters: [
          { direction: 'ingress', prio: 1, handle: 1, protocol: 'all', name: 'dummy_bpf.o:[classifier]' },
          { direction: 'egress', prio: 1, handle: 1, protocol: 'all', name: 'a.o:[tc]' },
          { direction: 'egress', prio: 2, handle: 1, protocol: 'all', name: 'a.o:[tc]' },
        ],
        tcx: [{ direction: 'ingress', progId: 9, name: 'handle_ingress' }],
        xdp: [],
      },
    });
    expect([value(tc, 'ebpf'), value(tc, 'tcFilterNames'), value(tc, 'tcxProgramNames')]).toEqual([true, 'a.o:[tc],dummy_bpf.o:[classifier]', 'handle_ingress']);
  });

  it('virtual: true only for a netdev with no parent device (under /sys/devices/virtual)', () => {
    // sysfs.go isVirtual: the /sys/class/net/<if> link resolves under /sys/devices/virtual; db.go sets AttrVirtual on every link.
    expect(value(dranet({ kind: 'virtual', link: link(7, 'veth1', { kind: 'veth' }) }), 'virtual')).toBe(true);
    expect(value(dranet({ kind: 'virtual', link: link(8, 'eni0np1', { parentDevBusName: 'netdevsim', parentDevName: 'netdevsim0' }) }), 'virtual')).toBe(false);
    expect(value(dranet({ link: pfLink, pci: cx7 }), 'virtual')).toBe(false);
  });

  it('a Hyper-V synthetic NIC: a plain device, not virtual; with Accelerated Networking, its VF\'s PCI attributes', () => {
    // db.go discoverNetworkInterfaces: no PCI address in the netvsc netdev's path and not under /sys/devices/virtual →
    // published "as if it were virtual" but with virtual=false; sriov from <netdev>/device/sriov_totalvfs (none on VMBus).
    const netvsc = link(3, 'eth1', { parentDevBusName: 'vmbus', parentDevName: '000d3a6e-0000-0000-0000-000000000001' });
    const a = dranet({ kind: 'synthetic', link: netvsc });
    expect([value(a, 'type'), value(a, 'virtual'), value(a, 'sriov'), value(a, 'rdma'), value(a, 'pciAddress')]).toEqual(['device', false, false, false, undefined]);
    // The accelerated VF (its PF is on the Hyper-V host: no physfn) is one device with the netvsc NIC here; DraNet
    // publishes it as a PCI device of its own (addPCIAttributes), whose PCI values these are.
    const vf = pciFn('0000:00:02.0' as PciAddress, { deviceId: '101a', subsystemVendorId: '15b3', subsystemDeviceId: '0190', vendorName: 'Mellanox Technologies' });
    const accel = dranet({ kind: 'synthetic', link: netvsc, pci: vf });
    expect([value(accel, 'pciAddress'), value(accel, 'pciSubsystem'), value(accel, 'isSriovVf'), value(accel, 'sriov'), value(accel, 'virtual')])
      .toEqual(['0000:00:02.0', '0190', undefined, false, false]);
  });

  it('sriov and sriovVfs: from the PCI function behind the netdev; sriovVfs only on SR-IOV PFs', () => {
    // db.go addLinkAttributes: isSRIOV := sriovTotalVFs(ifName) > 0, AttrSRIOVVfs only `if isSRIOV`
    // (sysfs.go: <netdev>/device/sriov_totalvfs and sriov_numvfs).
    const pf = dranet({ link: pfLink, pci: cx7 });
    expect([value(pf, 'sriov'), value(pf, 'sriovVfs')]).toEqual([true, 2]);
    const noVfs = dranet({ link: pfLink, pci: { ...cx7, sriov: { totalVfs: 0, numVfs: 0, vfs: [] } } });
    expect([value(noVfs, 'sriov'), value(noVfs, 'sriovVfs')]).toEqual([false, undefined]);
    const vf = dranet({ kind: 'vf', link: vfLink, pci: cx7Vf });
    expect([value(vf, 'sriov'), value(vf, 'sriovVfs')]).toEqual([false, undefined]);
  });

  it('pciVendor and pciDevice: "unknown" for ids pci.ids does not know', () => {
    // db.go addPCIAttributes publishes Vendor.Name and Product.Name; ghw pkg/pci/pci_linux.go findPCIVendor and
    // findPCIProduct return the name util.UNKNOWN ("unknown") for ids missing from pci.ids.
    const a = dranet({ pci: pciFn('0000:c1:00.0', { vendorId: 'abcd', deviceId: '0001' }) });
    expect([value(a, 'pciVendor'), value(a, 'pciDevice')]).toEqual(['unknown', 'unknown']);
  });

  it('numaNode: only on hosts with more than one NUMA node; the standard attribute regardless', () => {
    // db.go addPCIAttributes: AttrNUMANode only `if pciDev.Node != nil`; ghw pkg/pci/pci.go New takes the architecture from
    // topology (SMP when the host has one node) and pci_linux.go GetDevice fills Node only on a NUMA architecture.
    const one = dranet({ pci: cx7, hostNumaNodes: 1 });
    expect([value(one, 'numaNode'), one['resource.kubernetes.io/numaNode']]).toEqual([undefined, { int: 0 }]);
    expect(value(dranet({ pci: { ...cx7, numaNode: 1 }, hostNumaNodes: 2 }), 'numaNode')).toBe(1);
    expect(value(dranet({ pci: { ...cx7, numaNode: undefined as never } }), 'numaNode')).toBeUndefined(); // numa_node -1
  });

  it('rdma: on every device, false without an RDMA device; rdmaDevice for RoCE and RDMA-only devices', () => {
    // db.go addRDMAAttributes sets AttrRDMA on every device; pkg/apis/attributes.go: AttrRDMADevice is
    // "set for both netdev-linked RoCE/IB devices and IB-only / netdev-absent PCI devices".
    expect(value(dranet({ kind: 'virtual', link: link(7, 'veth1', { kind: 'veth' }) }), 'rdma')).toBe(false);
    const ibOnly = dranet({ kind: 'rdma', pci: pciFn('0000:00:06.0' as PciAddress, { vendorId: '1ded', classCode: '000000', driver: 'erdma' }), rdmaName: 'erdma_0' });
    expect([value(ibOnly, 'rdma'), value(ibOnly, 'rdmaDevice'), value(ibOnly, 'ifName')]).toEqual([true, 'erdma_0', undefined]);
  });

  it('publishes no netclaim-only attribute and drops nothing', () => {
    const { attributes, dropped } = deviceAttributes(facts({ link: pfLink, pci: cx7, rdmaName: 'mlx5_0', ethtool: { speed: 100000, duplex: 'full' } }), 'dranet');
    expect(dropped).toEqual([]);
    expect(Object.keys(attributes).every((k) => k.startsWith('dra.net/') || k.startsWith('resource.kubernetes.io/'))).toBe(true);
    expect(attributes['dra.net/speed']).toBeUndefined();
  });
});

describe('netclaim naming: its own values, unchanged', () => {
  it('keeps the kernel\'s kind, vendor:device subsystem, and sriovVf/virtual on every device', () => {
    const a = deviceAttributes(facts({ kind: 'virtual', link: link(7, 'tap0', { kind: 'tun' }) }), 'netclaim').attributes;
    expect([a['netclaim.dev/type'], a['netclaim.dev/virtual'], a['netclaim.dev/sriovVf'], a['netclaim.dev/alias']]).toEqual([{ string: 'tun' }, { bool: true }, { bool: false }, undefined]);
    expect(deviceAttributes(facts({ pci: cx7 }), 'netclaim').attributes['netclaim.dev/pciSubsystem']).toEqual({ string: '15b3:0041' });
  });
});
