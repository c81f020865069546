/**
 * The inventory's plain data: what discovery reads from the kernel (a
 * snapshot), and what it produces (devices ready for a ResourceSlice, and
 * the interfaces it left out, each with a reason).
 */
import type { DeviceName, PciAddress } from '../common/ids.ts';
import type { AttachedPrograms } from '../kernel/bpf/ebpf-types.ts';
import type { EthtoolLinkModes } from '../kernel/netlink/genl/ethtool-types.ts';
import type { RdmaNetnsMode, RdmaPort } from '../kernel/netlink/rdma/rdma-types.ts';
import type { Addr } from '../kernel/netlink/route/addr-types.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { Route } from '../kernel/netlink/route/route-types.ts';
import type { IbDevice, PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import type { Attributes } from './attributes/limits.ts';

/** Everything discovery read, at one moment, from "the host" namespace and sysfs. */
export interface InventorySnapshot {
  readonly links: readonly Link[];
  readonly addrs: readonly Addr[];
  /** Default routes of the main table, both families (for uplink detection). */
  readonly defaultRoutes: readonly Route[];
  /** The PCI function behind each link (by ifindex), resolved by the collector (netlink parent device, sysfs). */
  readonly linkPci: ReadonlyMap<number, string>;
  /** PCI functions by address: network controllers, plus any a link or RDMA device points at. */
  readonly pci: ReadonlyMap<string, PciFunction>;
  readonly ib: readonly IbDevice[];
  /** RDMA ports from RDMA netlink (netdev association as seen from this namespace). */
  readonly rdmaPorts: readonly RdmaPort[];
  readonly rdmaNetnsMode?: RdmaNetnsMode;
  /** `/dev/infiniband/rdma_cm` exists. */
  readonly rdmaCm: boolean;
  /** Per ifindex. */
  readonly ethtool: ReadonlyMap<number, EthtoolLinkModes>;
  readonly ebpf: ReadonlyMap<number, AttachedPrograms>;
}

/**
 * `pci`: a PCI function with a kernel network driver (a NIC or SR-IOV PF);
 * `vf`: an SR-IOV virtual function; `virtual`: a netdev with no PCI function
 * (veth, macvlan, vxlan, dummy...); `rdma`: an RDMA device with no netdev
 * (InfiniBand-only HCA, or an IPoIB port left on the host).
 */
export type DeviceKind = 'pci' | 'vf' | 'virtual' | 'rdma';

export interface Device {
  /** Stable, DNS-label device name (PCI based where there is a PCI function). */
  readonly name: DeviceName;
  readonly kind: DeviceKind;
  readonly ifName?: string;
  readonly ifIndex?: number;
  readonly pciAddress?: PciAddress;
  readonly rdmaDevice?: string;
  /** RDMA character devices a container needs (for CDI), incl. `rdma_cm`. */
  readonly charDevices: readonly string[];
  /** Its netdev is in the host namespace now (false while it is in a pod). */
  readonly netdevPresent: boolean;
  /** As published in the ResourceSlice: qualified name → value, within the API limits. */
  readonly attributes: Attributes;
  /** Attributes left out to stay within the API's 32 per device. */
  readonly dropped: readonly string[];
}

export type ExclusionCode =
  | 'loopback' | 'uplink' | 'uplink-member' | 'plumbing' | 'veth' | 'userspace-driver' | 'unbound'
  | 'admin-name' | 'admin-cel' | 'invalid';

export interface Exclusion {
  readonly ifName?: string;
  readonly pciAddress?: string;
  readonly rdmaDevice?: string;
  readonly code: ExclusionCode;
  readonly reason: string;
}

export interface Inventory {
  readonly devices: readonly Device[];
  readonly exclusions: readonly Exclusion[];
  readonly rdmaNetnsMode?: RdmaNetnsMode;
}
