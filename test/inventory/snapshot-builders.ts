/** Small builders for inventory snapshots in unit tests (plain records, no kernel). */
import type { IfIndex, PciAddress } from '../../src/common/ids.ts';
import type { Addr } from '../../src/kernel/netlink/route/addr-types.ts';
import type { Link } from '../../src/kernel/netlink/route/link-types.ts';
import type { Route } from '../../src/kernel/netlink/route/route-types.ts';
import type { IbDevice, PciFunction } from '../../src/kernel/sysfs/sysfs-types.ts';
import type { InventorySnapshot } from '../../src/inventory/model.ts';

export function link(index: number, name: string, extra: Partial<Link> = {}): Link {
  return {
    index: index as IfIndex, name, type: 1, flags: 0x1043, up: true, operState: 'UP', mtu: 1500,
    mac: `02:00:00:00:00:${index.toString(16).padStart(2, '0')}`, altNames: [], ...extra,
  } as Link;
}

export function pciFn(address: string, extra: Partial<PciFunction> = {}): PciFunction {
  return {
    address: address as PciAddress, vendorId: '15b3', deviceId: '1021', classCode: '020000', driver: 'mlx5_core',
    numaNode: 0, pcieRoot: 'pci0000:3a', netdevs: [], rdmaDevices: [], ...extra,
  };
}

export function defaultRoute(oif: number, family: 2 | 10 = 2, priority?: number, extra: Partial<Route> = {}): Route {
  return {
    family, dst: 'default', tos: 0, table: 254, protocol: 'boot', scope: 'global', type: 'unicast',
    oif: oif as IfIndex, ...(priority !== undefined ? { priority } : {}), flags: [], rawFlags: 0, ...extra,
  } as Route;
}

export function addr(index: number, cidr: string, scope: Addr['scope'] = 'global'): Addr {
  const [address, p] = cidr.split('/') as [string, string];
  return { index: index as IfIndex, family: address.includes(':') ? 10 : 2, address, prefixLen: Number(p), scope, flags: [], rawFlags: 0 } as Addr;
}

export function ibDevice(name: string, extra: Partial<IbDevice> = {}): IbDevice {
  return {
    name, nodeType: 'CA', ports: [{ port: 1, state: 'ACTIVE', linkLayer: 'Ethernet' }],
    charDevices: [{ path: `/dev/infiniband/uverbs0`, kind: 'uverbs' }], ...extra,
  };
}

export function snapshot(parts: Partial<InventorySnapshot> = {}): InventorySnapshot {
  return {
    links: [link(1, 'lo', { type: 772, flags: 0x49, operState: 'UNKNOWN', mac: '00:00:00:00:00:00' })],
    addrs: [], defaultRoutes: [], linkPci: new Map(), pci: new Map(), ib: [], rdmaPorts: [], rdmaCm: false,
    ethtool: new Map(), ebpf: new Map(), ...parts,
  };
}

export const pciMap = (...fns: PciFunction[]): Map<string, PciFunction> => new Map(fns.map((f) => [f.address, f]));
