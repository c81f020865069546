/**
 * The driver's record model: what is stored per prepared claim
 * (state/claim-store.ts) and what the pod side journals into it. A record
 * holds, per allocated device, its plan (planned once in Prepare,
 * plan/plan-device.ts, from the pure plan types in plan/plan-types.ts), the
 * identity to find the device again, and, while the devices are in a pod,
 * the attach journal.
 *
 * Plain JSON data: written to disk as is and read back after a restart
 * (state/claim-record.ts checks its shape on the way in).
 */
import type { DhcpLease } from '../kernel/dhcp/dhcp-types.ts';
import type { CdiSpec } from './cdi/cdi-types.ts';
import type { CharDevice, HostSnapshot, PodInterfacePlan, RdmaPlan } from './plan/plan-types.ts';

/** How to find the device again (the kernel may rename a device it returns from a dying netns). */
export interface DeviceIdentity {
  /**
   * The inventory's kind when it was prepared (`pci`, `vf`, `virtual`, `synthetic`, `rdma`): only a
   * `virtual` netdev (no bus device) dies with a pod's namespace; the kernel gives every other one
   * back to the host. Absent in records written before it was stored.
   */
  readonly kind?: string;
  readonly ifName?: string;
  readonly ifIndex?: number;
  readonly pciAddress?: string;
  readonly permMac?: string;
  readonly rdmaDevice?: string;
}

/**
 * A sub-interface netclaim created for the claim on a shareable parent
 * (docs/sharing.md). The device plan is then the sub-interface's (its
 * identity, host snapshot and pod plan), `device` still names the parent as
 * allocated. Deleted at unprepare, never restored; the intent ledger
 * (sub-interface/sub-ledger.ts) names it from before it exists.
 */
export interface SubInterfaceRecord {
  readonly name: string;
  readonly type: 'macvlan' | 'ipvlan' | 'vlan';
  /** The parent's interface name and ifindex when it was created. */
  readonly parent: string;
  readonly parentIfIndex: number;
}

export interface DevicePlan {
  readonly request: string;
  readonly pool: string;
  readonly device: string;
  readonly shareId?: string;
  readonly identity: DeviceIdentity;
  /** Present when the claim got a sub-interface of the (shareable) device rather than the device. */
  readonly subInterface?: SubInterfaceRecord;
  /** Netdev devices only. */
  readonly host?: HostSnapshot;
  readonly pod?: PodInterfacePlan;
  readonly rdma?: RdmaPlan;
  /** The config's `rdma.workloadEnv`: this device is named in the claim's workload hints. */
  readonly workloadEnv: boolean;
  /** Environment for the containers (NCCL/UCX hints of the whole claim), `K=V`. */
  readonly env: readonly string[];
  /** Fully qualified CDI device ids returned to the kubelet for this device. */
  readonly cdiDeviceIds: readonly string[];
}

/**
 * One device as it is in the pod after attach (for claim status and verification): a netdev, or
 * (`kind: 'rdma'`) an RDMA device without one, moved into the pod's namespace (RDMA netns mode
 * `exclusive`) or handed over as character devices only (`shared`; `ifIndex` 0).
 */
export interface AttachedDevice {
  readonly device: string;
  /** Absent: a netdev (records written before RDMA entries existed have only those). */
  readonly kind?: 'rdma';
  readonly ifIndex: number;
  /** The netdev's name in the pod, or the RDMA device's name. */
  readonly name: string;
  readonly mac: string;
  /** Canonical CIDRs. */
  readonly ips: readonly string[];
  /** The DHCP lease of the interface (`interface.dhcp`), as last granted: a restarted daemon resumes renewing it. */
  readonly dhcp?: DhcpLease;
}

/**
 * The attach journal of a claim: written `attaching` before the first kernel
 * change and `attached` after the last, so a driver killed in between knows,
 * after its restart, that the pod's devices must be finished or rolled back.
 * `attached` lists every device of the claim (never none). It is cleared
 * only when every device is back on the host and restored, or proven gone
 * (docs/pods.md, invariant I2).
 */
export interface Attachment {
  readonly state: 'attaching' | 'attached';
  readonly sandboxId: string;
  /** The pod's namespace as the runtime named it. */
  readonly netns: string;
  /**
   * The pin holding that namespace while a device is in it (netns-pins.ts),
   * written before the pin is made and kept until the journal clears; absent
   * when pins are off (records from before pins, or a host that cannot mount).
   */
  readonly pin?: string;
  readonly devices: readonly AttachedDevice[];
  readonly at: string;
}

/**
 * What Prepare wrote for a claim's device metadata (KEP-5304,
 * claim-metadata.ts), kept in the record so that after a node reboot (the
 * CDI directory is a tmpfs) the same bytes can be written again without
 * re-planning from an inventory that may have changed (claim-cdi-restore.ts):
 * the metadata CDI ids already given to the kubelet must keep resolving.
 */
export interface StoredMetadata {
  readonly spec: CdiSpec;
  /** The files as first written (generation 1), at their host paths. */
  readonly files: readonly { readonly request: string; readonly hostPath: string; readonly content: string }[];
}

/** The stored state of one prepared claim (state/claim-store.ts). */
export interface ClaimRecord {
  readonly version: 1;
  readonly claim: { readonly uid: string; readonly namespace: string; readonly name: string };
  /** The pod the claim is reserved for (`status.reservedFor`), which NRI events name. */
  readonly podUid: string;
  readonly podName: string;
  readonly preparedAt: string;
  readonly devices: readonly DevicePlan[];
  /** CDI spec file written for this claim, if any. */
  readonly cdiSpec?: string;
  /** The device metadata Prepare wrote (absent: none, or a record from before it was stored). */
  readonly metadata?: StoredMetadata;
  /** Where its devices are now: absent while they are on the host. */
  readonly attachment?: Attachment;
  /** Addresses allocated from pools (IPPool) for the claim, released at unprepare (docs/ipam.md). */
  readonly addresses?: readonly PoolAddress[];
}

/**
 * An address the claim holds in a pool: an IPAllocation object named
 * `name`. `static`: the claim's own `interface.addresses` entry that lies in
 * a pool, registered so the pool never hands it out (and refused when taken).
 */
export interface PoolAddress {
  readonly request: string;
  readonly device: string;
  readonly pool: string;
  readonly name: string;
  /** The IPAllocation object's metadata.uid: a release deletes exactly this object. */
  readonly uid: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly routes: readonly { readonly destination: string; readonly gateway?: string }[];
  readonly static?: true;
}

/**
 * A device an admin claim (KEP-5018, `adminAccess: true` on its allocation
 * result) looks at without owning it: the device is never moved or changed,
 * whether another claim owns it or not. What the admin's pod gets is planned
 * once in Prepare (admin-access.ts): character devices of its RDMA device
 * (RDMA netns mode `shared` only) and environment describing the device.
 */
export interface AdminDevice {
  readonly request: string;
  readonly pool: string;
  readonly device: string;
  readonly shareId?: string;
  /** The device as the inventory knew it at Prepare (its netdev may be in the owner's pod). */
  readonly identity: DeviceIdentity;
  /** Its MAC as published (`mac` attribute). */
  readonly mac?: string;
  /** Namespace of the claim that owned the device at Prepare; absent when it was free. */
  readonly ownerNamespace?: string;
  readonly charDevices: readonly CharDevice[];
  /** `K=V` for the containers (admin-access-env.ts). */
  readonly env: readonly string[];
  readonly cdiDeviceIds: readonly string[];
}

/**
 * The stored state of one prepared admin claim: its own kind of record, kept
 * apart from owners' ClaimRecords (state/claim-store.ts lists, indexes and
 * hands the pod side owner records only), so that nothing that moves,
 * journals or restores devices ever sees it, and its unprepare removes
 * nothing but its own file and CDI spec. It has no `devices` or `podUid`, so
 * a build that predates it moves the file aside as unreadable instead of
 * attaching anything.
 */
export interface AdminRecord {
  readonly version: 1;
  readonly kind: 'admin';
  readonly claim: { readonly uid: string; readonly namespace: string; readonly name: string };
  /** The pods the claim is reserved for (an admin claim may be shared: nothing moves). */
  readonly pods: readonly { readonly uid: string; readonly name: string }[];
  readonly preparedAt: string;
  readonly access: readonly AdminDevice[];
  readonly cdiSpec?: string;
}
