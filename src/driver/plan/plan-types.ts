/**
 * The parts of a device's plan, computed once in Prepare: what the device
 * becomes in the pod (PodInterfacePlan, RdmaPlan) and what it was on the
 * host (HostSnapshot, to restore it on release). The record that holds them
 * per claim, with the device's identity and the attach journal, is the
 * driver's record model (../record-model.ts).
 *
 * Plain JSON data: it is written to disk as is and read back after a restart.
 */
import type { IpFamily } from '../../common/ip.ts';
import type {
  EthtoolChannelsConfig, EthtoolCoalesceConfig, EthtoolRingsConfig, NeighborConfig, RouteConfig, RuleConfig, VrfConfig,
} from '../../config/claim-config/types.ts';

/** An address as it was on the host. */
export interface SnapshotAddr {
  /** Canonical `address/length`. */
  readonly cidr: string;
  readonly family: IpFamily;
  /** RT_SCOPE_* number (0 universe/global, 253 link, 254 host). */
  readonly scope: number;
  readonly label?: string;
  /** Peer address (point-to-point), canonical CIDR. */
  readonly peer?: string;
  /** IFA_F_* flag names the kernel reported (`permanent`, `noprefixroute`...). */
  readonly flags: readonly string[];
  /** Valid and preferred lifetimes in seconds; absent for forever. */
  readonly validLft?: number;
  readonly preferredLft?: number;
}

/** One leg of a multipath route. */
export interface SnapshotNexthop {
  readonly gateway?: string;
  /** Output interface, as an ifindex in the host namespace (the device's own legs carry the snapshot's ifIndex). */
  readonly ifIndex: number;
  /** 1..256. */
  readonly weight: number;
  /** RTNH_F_ONLINK. */
  readonly onlink?: boolean;
}

/** A route whose output interface was the device, in any table (local table excluded). */
export interface SnapshotRoute {
  readonly family: IpFamily;
  /** `default` or a CIDR. */
  readonly destination: string;
  /** The gateway; for a multipath route, the gateway of the device's first leg (all legs are in `nexthops`). */
  readonly gateway?: string;
  readonly source?: string;
  readonly scope: number;
  readonly table: number;
  /** RTPROT_* number (2 kernel, 3 boot, 4 static...). */
  readonly protocol: number;
  readonly priority?: number;
  /** RTN_* number (1 unicast...). */
  readonly type: number;
  readonly mtu?: number;
  /** RTNH_F_ONLINK on a single-path route (the gateway is on the link though no prefix says so). */
  readonly onlink?: boolean;
  /** Every leg of a multipath route, the device's and other interfaces' (IPv4 drops the whole route when one leg's device leaves the namespace). */
  readonly nexthops?: readonly SnapshotNexthop[];
}

/** A policy rule that looks up a table the device's routes live in. */
export interface SnapshotRule {
  readonly family: IpFamily;
  readonly priority?: number;
  readonly table: number;
  readonly source?: string;
  readonly destination?: string;
  readonly iifName?: string;
  readonly oifName?: string;
  readonly fwmark?: number;
  readonly fwmask?: number;
}

export interface SnapshotNeighbor {
  readonly family: IpFamily;
  readonly destination: string;
  readonly hardwareAddr: string;
}

/** ethtool settings of the device; each part absent when the driver does not support reading it. */
export interface SnapshotEthtool {
  /** Active state of every changeable feature (kernel names). */
  readonly features?: Readonly<Record<string, boolean>>;
  /** Every feature the device knows, changeable or not (for name resolution). */
  readonly knownFeatures?: readonly string[];
  readonly privateFlags?: Readonly<Record<string, boolean>>;
  readonly rings?: Readonly<Record<string, number | boolean | string>>;
  /** Maximums the driver reports (`rxMax`...), for checking requested sizes. */
  readonly ringsMax?: Readonly<Record<string, number>>;
  readonly channels?: Readonly<Record<string, number>>;
  readonly channelsMax?: Readonly<Record<string, number>>;
  readonly coalesce?: Readonly<Record<string, number | boolean>>;
}

/**
 * The device as it was on the host before it was given to a pod: everything
 * that restoring it puts back. Read in Prepare (driver/plan/host-snapshot.ts).
 */
export interface HostSnapshot {
  readonly ifName: string;
  readonly ifIndex: number;
  readonly mtu: number;
  readonly mac?: string;
  /** Permanent MAC (IFLA_PERM_ADDRESS), part of the device's identity. */
  readonly permMac?: string;
  readonly up: boolean;
  readonly alias?: string;
  readonly gsoMaxSize?: number;
  readonly groMaxSize?: number;
  readonly gsoIpv4MaxSize?: number;
  readonly groIpv4MaxSize?: number;
  /** Max MTU the device accepts (IFLA_MAX_MTU). */
  readonly maxMtu?: number;
  /** An SR-IOV VF's PF MTU: a VF's MTU cannot usefully exceed it. */
  readonly pfMtu?: number;
  readonly addresses: readonly SnapshotAddr[];
  readonly routes: readonly SnapshotRoute[];
  readonly rules: readonly SnapshotRule[];
  /** Permanent neighbour entries on the device. */
  readonly neighbors: readonly SnapshotNeighbor[];
  readonly ethtool: SnapshotEthtool;
  /** Per-interface sysctls, keyed `ipv4.NAME` / `ipv6.NAME` (the keys the config may set, plus forwarding/arp_*). */
  readonly sysctls: Readonly<Record<string, string>>;
  /** eBPF programs attached when the snapshot was taken, for the record. */
  readonly ebpf: { readonly xdp: boolean; readonly tc: number; readonly tcx: number };
}

export interface CharDevice {
  readonly path: string;
  readonly type: 'c';
  readonly major: number;
  readonly minor: number;
}

/** What the device becomes in the pod. Addresses, routes, rules and neighbours include the host's copied ones. */
export interface PodInterfacePlan {
  readonly name: string;
  readonly mtu?: number;
  readonly mac?: string;
  readonly gsoMaxSize?: number;
  readonly groMaxSize?: number;
  readonly gsoIPv4MaxSize?: number;
  readonly groIPv4MaxSize?: number;
  /** Canonical CIDRs. */
  readonly addresses: readonly string[];
  readonly routes: readonly RouteConfig[];
  readonly rules: readonly RuleConfig[];
  readonly neighbors: readonly NeighborConfig[];
  /** `ipv4.NAME` / `ipv6.NAME` → value, applied before the link comes up. */
  readonly sysctls: Readonly<Record<string, string>>;
  readonly vrf?: VrfConfig;
  readonly ethtool?: {
    /** Kernel feature names (legacy names and globs resolved against the device). */
    readonly features: Readonly<Record<string, boolean>>;
    readonly privateFlags: Readonly<Record<string, boolean>>;
    readonly rings?: EthtoolRingsConfig;
    readonly channels?: EthtoolChannelsConfig;
    readonly coalesce?: EthtoolCoalesceConfig;
  };
  readonly disableEbpfPrograms: boolean;
  /** `interface.dhcp`: an IPv4 lease is acquired in the pod at attach (step `dhcp`), within `timeoutMs`. */
  readonly dhcp?: { readonly timeoutMs: number };
}

export interface RdmaPlan {
  readonly device: string;
  readonly charDevices: readonly CharDevice[];
}

