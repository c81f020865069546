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
import type { AttributeNaming } from './attributes/names.ts';
import type { SuggestedConfig } from './cloud/types.ts';
import type { Sharing } from './shareable.ts';

/** Everything discovery read, at one moment, from "the host" namespace and sysfs. */
export interface InventorySnapshot {
  readonly links: readonly Link[];
  readonly addrs: readonly Addr[];
  /** Default routes of the main table, both families (for uplink detection). */
  readonly defaultRoutes: readonly Route[];
  /** The PCI function behind each link (by ifindex), resolved by the collector (netlink parent device, sysfs). */
  readonly linkPci: ReadonlyMap<number, string>;
  /** The VMBus device (instance GUID) behind each Hyper-V netvsc link, by ifindex. */
  readonly linkVmbus?: ReadonlyMap<number, string>;
  /** Links with a parent device the model does not know (virtio-mmio, sub-function, USB, dangling), with why. */
  readonly linkUnknown?: ReadonlyMap<number, string>;
  /**
   * Links whose `netns-local` ethtool feature is set (kernels before 6.12, which
   * report no IFLA_NETNS_IMMUTABLE); on 6.15+ the link itself says it.
   */
  readonly netnsLocal?: ReadonlySet<number>;
  /** PCI functions by address: network controllers, plus any a link or RDMA device points at. */
  readonly pci: ReadonlyMap<string, PciFunction>;
  readonly ib: readonly IbDevice[];
  /** RDMA ports from RDMA netlink (netdev association as seen from this namespace). */
  readonly rdmaPorts: readonly RdmaPort[];
  readonly rdmaNetnsMode?: RdmaNetnsMode;
  /** NUMA nodes of the host (sysfs), when known: DraNet publishes `numaNode` only on hosts with several. */
  readonly numaNodes?: number;
  /** PCI functions local to several NUMA nodes (kernel/sysfs/numa.ts), by address; the rest are absent. */
  readonly pciNumaNodes?: ReadonlyMap<string, readonly number[]>;
  /** `/dev/infiniband/rdma_cm` exists. */
  readonly rdmaCm: boolean;
  /** Per ifindex. */
  readonly ethtool: ReadonlyMap<number, EthtoolLinkModes>;
  readonly ebpf: ReadonlyMap<number, AttachedPrograms>;
}

/**
 * `pci`: a PCI function with a kernel network driver (a NIC or SR-IOV PF);
 * `vf`: an SR-IOV virtual function; `virtual`: a netdev with no bus device
 * (veth, macvlan, vxlan, dummy...; only kinds the admin opted in);
 * `rdma`: an RDMA device with no netdev (InfiniBand-only HCA, EFA, or an
 * IPoIB port left on the host); `synthetic`: a paravirtual NIC with no PCI
 * function (Hyper-V netvsc, with its accelerated VF when it has one).
 */
export type DeviceKind = 'pci' | 'vf' | 'virtual' | 'rdma' | 'synthetic';

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
  /**
   * Every object this device stands for (`netdev:<name>`, `pci:<address>`, `rdma:<name>`): its unit
   * (docs/inventory.md, "Ownership"). No object belongs to two devices, or to a device and an exclusion.
   */
  readonly objects?: readonly string[];
  /** Published because netclaim holds it (prepared for a pod), from its last known attributes where it is away. */
  readonly held?: boolean;
  /**
   * Its network settings as the node's cloud knows them (docs/cloud.md, "Suggested config"): the
   * driver's lowest config layer for it. Not published; only while its netdev is on the host.
   */
  readonly suggestedConfig?: SuggestedConfig;
  /** A shareable parent (shareable.ts): published with `allowMultipleAllocations` and claimed through sub-interfaces. */
  readonly sharing?: Sharing;
}

/**
 * Why an object is not published. Every PCI function, netdev and RDMA device
 * the snapshot shows is either part of exactly one published device or has
 * exactly one exclusion (docs/inventory.md, "Ownership"). When several causes
 * apply, the first in this list wins, so the result does not depend on the
 * order the kernel listed things in.
 *
 * - `loopback`: `lo`.
 * - `uplink`: carries a default route of the main table (any metric) or the
 *   node's InternalIP; also every object of the same unit (its PCI function,
 *   that function's other netdevs, its RDMA devices).
 * - `uplink-member`: something the uplink depends on: a bond/team/bridge
 *   member, a lower device (VLAN/macvlan parent), Hyper-V's enslaved VF, and
 *   their units.
 * - `representor`: a switchdev representor (or the PF unit carrying them).
 * - `netns-local`: the kernel refuses to move it (IFLA_NETNS_IMMUTABLE,
 *   ethtool `netns-local`, or a kind known to be immutable).
 * - `enslaved`: member of a bond, team, bridge, VRF or OVS bridge that is not
 *   the uplink's; moving it would silently take it out of its master.
 * - `unknown-topology`: a shape the model does not know (unknown bus,
 *   dangling link, a network function whose netdev could not be resolved).
 * - `userspace-driver`, `unbound`: a PCI function bound to vfio/uio, or to nothing.
 * - `admin-name`: the admin's `--exclude` globs.
 * - `plumbing`: container runtime / CNI / kube-proxy devices (by name or kind).
 * - `kind-not-included`: a virtual kind the admin did not opt in (`--include-kind`).
 * - `owned-elsewhere`: hardware whose netdev is not in the host namespace and
 *   that netclaim did not move (a CNI or another agent has it).
 * - `pf-of-held-vf`: an SR-IOV PF while one of its VFs is in a pod.
 * - `admin-cel`: the admin's CEL filter is false (or failed).
 * - `invalid`: attributes outside the API limits, or a duplicate name.
 */
export const EXCLUSION_CODES = [
  'loopback', 'uplink', 'uplink-member', 'representor', 'netns-local', 'enslaved', 'unknown-topology',
  'userspace-driver', 'unbound', 'admin-name', 'plumbing', 'kind-not-included', 'owned-elsewhere', 'pf-of-held-vf',
  'admin-cel', 'invalid',
] as const;

export type ExclusionCode = (typeof EXCLUSION_CODES)[number];

/** The kind of object an exclusion is about. */
export type ExclusionSubject = 'netdev' | 'pci' | 'rdma' | 'bus';

export interface Exclusion {
  readonly subject: ExclusionSubject;
  readonly ifName?: string;
  readonly pciAddress?: string;
  readonly rdmaDevice?: string;
  /** A non-PCI bus device (`vmbus:<guid>`, `auxiliary:mlx5_core.sf.2`) for subject `bus`. */
  readonly busDevice?: string;
  readonly code: ExclusionCode;
  readonly reason: string;
}

export interface Inventory {
  readonly devices: readonly Device[];
  readonly exclusions: readonly Exclusion[];
  readonly rdmaNetnsMode?: RdmaNetnsMode;
}

// ── Attributes from outside the kernel (cloud metadata: src/inventory/cloud, docs/cloud.md) ──

/** What outside data may join a device by: its identity, never its other attributes. */
export interface DeviceIdentity {
  readonly name: DeviceName;
  readonly kind: DeviceKind;
  readonly ifName?: string;
  /** The netdev's MAC and permanent MAC, while the netdev is on the host. */
  readonly mac?: string;
  readonly permMac?: string;
  readonly pciAddress?: string;
  readonly rdmaDevice?: string;
}

/**
 * Attributes for a device from a source other than the kernel, or nothing.
 * Called while the inventory is built, so it must answer from a cache and
 * never block; they are published after every kernel-derived attribute,
 * within the 32-attribute limit (the rest listed in the device's `dropped`).
 */
export type ExtraAttributes = (device: DeviceIdentity) => Attributes | undefined;

/** A device's default network configuration from a source other than the kernel, or nothing; from a cache, like ExtraAttributes. */
export type SuggestConfig = (device: DeviceIdentity) => SuggestedConfig | undefined;

/** A source of extra attributes with a schedule of its own: the watcher rebuilds when its values change. */
export interface AttributeProvider {
  attributesFor(device: DeviceIdentity, naming: AttributeNaming): Attributes | undefined;
  /** A default network configuration for the device, from the same cache (never waits). */
  suggestedConfig?(device: DeviceIdentity): SuggestedConfig | undefined;
  /** Calls `listener` after the cached values changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}
