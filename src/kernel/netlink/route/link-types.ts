/**
 * The link object model: `Link` is a complete decoded record, `LinkChange`
 * a partial request, `LinkAddSpec` what creating a link needs. Kind-specific
 * data is a discriminated union on `kind`.
 */
import type { IfIndex } from '../../../common/ids.ts';
import type { OperState } from './link-constants.ts';

export type XdpMode = 'driver' | 'generic' | 'offload' | 'multi';

/** An XDP program attached to a link, as IFLA_XDP reports it. */
export interface LinkXdp {
  readonly mode: XdpMode;
  /** The program id (of the single program; in `multi` mode, of each mode's program below). */
  readonly progId?: number;
  readonly driverProgId?: number;
  readonly genericProgId?: number;
  readonly offloadProgId?: number;
}

export interface VethData { readonly kind: 'veth'; /** The peer's ifindex (from IFLA_LINK). */ readonly peerIndex?: IfIndex }
export interface VlanData { readonly kind: 'vlan'; readonly id: number; readonly protocol: '802.1Q' | '802.1ad' | number }
export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';
export interface MacvlanData { readonly kind: 'macvlan' | 'macvtap'; readonly mode: MacvlanMode }
export type IpvlanMode = 'l2' | 'l3' | 'l3s';
export interface IpvlanData { readonly kind: 'ipvlan' | 'ipvtap'; readonly mode: IpvlanMode; readonly flags?: number }
export interface VxlanData {
  readonly kind: 'vxlan';
  readonly id: number;
  readonly port?: number;
  readonly group?: string;
  readonly local?: string;
  readonly link?: IfIndex;
  readonly learning?: boolean;
}
export interface BridgeData { readonly kind: 'bridge'; readonly vlanFiltering?: boolean; readonly stpState?: number }
export interface VrfData { readonly kind: 'vrf'; readonly table: number }
export type BondMode = 'balance-rr' | 'active-backup' | 'balance-xor' | 'broadcast' | '802.3ad' | 'balance-tlb' | 'balance-alb';
export interface BondData { readonly kind: 'bond'; readonly mode: BondMode; readonly miimon?: number }
export interface DummyData { readonly kind: 'dummy' }
export interface TunData { readonly kind: 'tun'; readonly type?: 'tun' | 'tap' }
/** Any kind netclaim does not decode further. */
export interface OtherKindData { readonly kind: 'other'; readonly name: string }

export type LinkKindData =
  | VethData | VlanData | MacvlanData | IpvlanData | VxlanData | BridgeData | VrfData | BondData | DummyData | TunData | OtherKindData;

export type VfLinkState = 'auto' | 'enable' | 'disable';

/**
 * One SR-IOV virtual function of a physical function, as IFLA_VFINFO_LIST
 * reports it (link-vf.ts). A setting the driver does not report is absent.
 */
export interface LinkVf {
  /** The VF number (0-based), as in `ip link set dev PF vf N`. */
  readonly index: number;
  readonly mac?: string;
  /** 0: no VLAN filter. */
  readonly vlan?: number;
  readonly qos?: number;
  /** From IFLA_VF_VLAN_LIST; absent when the kernel sent only IFLA_VF_VLAN (802.1Q), or protocol 0 (never set). */
  readonly vlanProtocol?: '802.1Q' | '802.1ad' | number;
  readonly spoofChk?: boolean;
  readonly linkState?: VfLinkState;
  readonly trust?: boolean;
  /** Mbit/s; 0: no limit. */
  readonly minTxRate?: number;
  readonly maxTxRate?: number;
  readonly rssQueryEn?: boolean;
  /** InfiniBand VFs (IPoIB PFs): node and port GUID as `aa:bb:…` (8 bytes). */
  readonly nodeGuid?: string;
  readonly portGuid?: string;
}

/** A link as the kernel reports it (RTM_NEWLINK). */
export interface Link {
  readonly index: IfIndex;
  readonly name: string;
  /** ARPHRD_* hardware type (1 ether, 772 loopback, 32 infiniband, ...). */
  readonly type: number;
  readonly flags: number;
  readonly up: boolean;
  readonly operState: OperState;
  readonly mtu: number;
  readonly minMtu?: number;
  readonly maxMtu?: number;
  readonly mac?: string;
  readonly broadcast?: string;
  readonly permMac?: string;
  readonly txQueueLen?: number;
  readonly numTxQueues?: number;
  readonly numRxQueues?: number;
  readonly group?: number;
  readonly alias?: string;
  readonly altNames: readonly string[];
  /** IFLA_INFO_KIND, e.g. `veth`; absent for plain hardware NICs. */
  readonly kind?: string;
  readonly kindData?: LinkKindData;
  /** IFLA_INFO_SLAVE_KIND when enslaved (`bridge`, `bond`, `vrf`). */
  readonly slaveKind?: string;
  readonly master?: IfIndex;
  /** IFLA_LINK: the lower device (vlan/macvlan parent, veth peer). */
  readonly link?: IfIndex;
  /** IFLA_LINK_NETNSID: the namespace (id as seen from here) where `link` lives. */
  readonly linkNetnsId?: number;
  /** The parent device, e.g. `0000:3b:00.0`, and its bus, e.g. `pci` (no sysfs needed). */
  readonly parentDevName?: string;
  readonly parentDevBusName?: string;
  readonly physPortName?: string;
  readonly physPortId?: string;
  readonly physSwitchId?: string;
  readonly numVf?: number;
  /**
   * IFLA_NETNS_IMMUTABLE (6.15+): the kernel refuses to move this device to another namespace.
   * Absent on older kernels, where ethtool's `netns-local` feature says it (up to 6.11).
   */
  readonly netnsImmutable?: boolean;
  /** SR-IOV VFs (IFLA_VFINFO_LIST); only with the `vf` query option, and only from PFs whose driver reports VFs. */
  readonly vfs?: readonly LinkVf[];
  readonly carrier?: boolean;
  readonly gsoMaxSize?: number;
  readonly gsoMaxSegs?: number;
  readonly groMaxSize?: number;
  readonly gsoIpv4MaxSize?: number;
  readonly groIpv4MaxSize?: number;
  readonly tsoMaxSize?: number;
  readonly tsoMaxSegs?: number;
  readonly xdp?: LinkXdp;
}

/** A partial change to one link; only the fields set are sent. */
export interface LinkChange {
  readonly name?: string;
  readonly mtu?: number;
  readonly mac?: string;
  readonly alias?: string;
  readonly up?: boolean;
  readonly txQueueLen?: number;
  readonly gsoMaxSize?: number;
  readonly gsoMaxSegs?: number;
  readonly groMaxSize?: number;
  readonly gsoIpv4MaxSize?: number;
  readonly groIpv4MaxSize?: number;
  /** Enslave to this master (0 to release). */
  readonly master?: IfIndex | 0;
  /** Move to the namespace of this fd, in the same message as the other changes. */
  readonly netnsFd?: number;
  /**
   * With `netnsFd`: the ifindex to take in the target namespace (IFLA_NEW_IFINDEX,
   * honoured on moves since Linux 6.5; a taken one fails the move with EBUSY;
   * older kernels ignore it and keep the ifindex when it is free).
   */
  readonly newIfIndex?: number;
}

/** Kind-specific parameters for creating a link. */
export type LinkKindSpec =
  | { readonly kind: 'veth'; readonly peer: { readonly name: string; readonly netnsFd?: number; readonly mac?: string; readonly numTxQueues?: number; readonly numRxQueues?: number } }
  | { readonly kind: 'vlan'; readonly parent: IfIndex; readonly id: number; readonly protocol?: '802.1Q' | '802.1ad' }
  | { readonly kind: 'macvlan' | 'macvtap'; readonly parent: IfIndex; readonly mode?: MacvlanMode }
  | { readonly kind: 'ipvlan'; readonly parent: IfIndex; readonly mode?: IpvlanMode; /** IPVLAN_F_* bits (0: bridge). */ readonly flags?: number }
  | { readonly kind: 'vxlan'; readonly id: number; readonly port?: number; readonly group?: string; readonly local?: string; readonly parent?: IfIndex; readonly learning?: boolean }
  | { readonly kind: 'bridge'; readonly vlanFiltering?: boolean }
  | { readonly kind: 'vrf'; readonly table: number }
  | { readonly kind: 'bond'; readonly mode?: BondMode; readonly miimon?: number }
  | { readonly kind: 'dummy' };

/** Everything needed to create a link. */
export interface LinkAddSpec {
  readonly name: string;
  readonly spec: LinkKindSpec;
  readonly mtu?: number;
  readonly mac?: string;
  readonly up?: boolean;
  readonly numTxQueues?: number;
  readonly numRxQueues?: number;
  /** Create directly in the namespace of this fd. */
  readonly netnsFd?: number;
  readonly master?: IfIndex;
}
