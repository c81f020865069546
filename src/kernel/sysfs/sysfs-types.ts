/**
 * What netclaim reads from sysfs (PCI functions and RDMA devices). Plain
 * records; the readers take a configurable sysfs root so tests can use
 * fixture trees modelled on real hardware.
 */
import type { PciAddress } from '../../common/ids.ts';

export interface PciSriov {
  /** `sriov_totalvfs` (absent on some virtual PFs, e.g. netdevsim on 6.1). */
  readonly totalVfs?: number;
  readonly numVfs: number;
  /** VF index → VF PCI address, from the `virtfnN` links. */
  readonly vfs: readonly { readonly index: number; readonly address: PciAddress }[];
}

export interface PciFunction {
  readonly address: PciAddress;
  /** Hex ids as sysfs prints them, without `0x`: vendor `15b3`, device `101e`. */
  readonly vendorId: string;
  readonly deviceId: string;
  readonly subsystemVendorId?: string;
  readonly subsystemDeviceId?: string;
  /** 24-bit class code as 6 hex digits, e.g. `020000` (Ethernet), `020700` (InfiniBand). */
  readonly classCode: string;
  /** Names from pci.ids, when known. */
  readonly vendorName?: string;
  readonly deviceName?: string;
  /** The board name for the subsystem ids, from pci.ids, when known. */
  readonly subsystemName?: string;
  /** The bound kernel driver (`mlx5_core`, `ice`, `vfio-pci`…); absent when unbound. */
  readonly driver?: string;
  /** NUMA node; absent when the platform reports -1. */
  readonly numaNode?: number;
  /** `resource.kubernetes.io/pcieRoot`: `pci<domain>:<bus>` of the root complex, e.g. `pci0000:00`. */
  readonly pcieRoot?: string;
  /** SR-IOV facts of a physical function. */
  readonly sriov?: PciSriov;
  /** For a virtual function: its PF and its VF index there. */
  readonly physfn?: { readonly address: PciAddress; readonly vfIndex?: number };
  /**
   * Netdev names under `net/`, and under `virtioN/net/` for a virtio-pci function (only those in the
   * namespace that mounted sysfs).
   */
  readonly netdevs: readonly string[];
  /** RDMA device names under `infiniband/`. */
  readonly rdmaDevices: readonly string[];
  /** The physical slot name (`bus/pci/slots/<name>` whose `address` is this device), if the firmware provides one. */
  readonly slot?: string;
  /** The firmware's `label` for the function (SMBIOS type 41 / ACPI _DSM), e.g. `NIC1`. */
  readonly label?: string;
}

export interface IbPort {
  readonly port: number;
  /** `ACTIVE`, `DOWN`... (`4: ACTIVE` in sysfs → `ACTIVE`). */
  readonly state?: string;
  readonly physState?: string;
  /** `InfiniBand` or `Ethernet` (RoCE). */
  readonly linkLayer?: string;
  /** `100 Gb/sec (2X NDR)` as sysfs prints it. */
  readonly rate?: string;
}

export interface RdmaCharDevice {
  /** `/dev/infiniband/uverbs0`, `/dev/infiniband/umad0`, `/dev/infiniband/issm0`, `/dev/infiniband/rdma_cm`. */
  readonly path: string;
  readonly kind: 'uverbs' | 'umad' | 'issm' | 'rdma_cm' | 'ucm';
  /** Device numbers from the class device's `dev` file (`231:192`), for OCI device entries. */
  readonly major?: number;
  readonly minor?: number;
}

/** An RDMA device from `/sys/class/infiniband/<name>`. */
export interface IbDevice {
  readonly name: string;
  /** `1: CA`, `4: RNIC`... → `CA`, `RNIC`. */
  readonly nodeType?: string;
  readonly nodeGuid?: string;
  readonly sysImageGuid?: string;
  readonly fwVersion?: string;
  /** The PCI function behind it; absent for software devices (rxe, siw). */
  readonly pciAddress?: PciAddress;
  readonly ports: readonly IbPort[];
  /** Per-device character devices (uverbs/umad/issm); `rdma_cm` is shared by all. */
  readonly charDevices: readonly RdmaCharDevice[];
}
