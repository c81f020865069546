/**
 * What the inventory knows about one device, from every source: the input of
 * both namings' attribute values (build.ts for netclaim's, dranet.ts for
 * DraNet's).
 */
import type { AttachedPrograms } from '../../kernel/bpf/ebpf-types.ts';
import type { EthtoolLinkModes } from '../../kernel/netlink/genl/ethtool-types.ts';
import type { RdmaPort } from '../../kernel/netlink/rdma/rdma-types.ts';
import type { Addr } from '../../kernel/netlink/route/addr-types.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { IbDevice, PciFunction } from '../../kernel/sysfs/sysfs-types.ts';
import type { DeviceKind } from '../model.ts';

export interface DeviceFacts {
  readonly kind: DeviceKind;
  /** Its netdev; absent while the netdev is in a pod, and for RDMA-only devices. */
  readonly link?: Link;
  /** The netdev's addresses (empty without one). */
  readonly addrs: readonly Addr[];
  /** Its PCI function; absent for virtual and synthetic (Hyper-V netvsc) devices. */
  readonly pci?: PciFunction;
  readonly rdmaName?: string;
  readonly ib?: IbDevice;
  readonly rdmaPort?: RdmaPort;
  readonly ethtool?: EthtoolLinkModes;
  readonly ebpf?: AttachedPrograms;
  /**
   * How many NUMA nodes the host has (`/sys/devices/system/node/node*`), when
   * known. Only the `dranet` naming reads it: DraNet publishes
   * `dra.net/numaNode` only on hosts with more than one.
   */
  readonly hostNumaNodes?: number;
  /** The NUMA nodes its PCI function is local to, when several (kernel/sysfs/numa.ts); absent otherwise. */
  readonly numaNodes?: readonly number[];
}
