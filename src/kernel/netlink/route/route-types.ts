/**
 * The route object model: `Route` is a complete decoded record
 * (RTM_NEWROUTE from the kernel), `RouteSpec` what adding, replacing or
 * deleting one needs.
 */
import type { IfIndex } from '../../../common/ids.ts';
import type { IpFamily } from '../../../common/ip.ts';
import type {
  RouteFlagName, RoutePrefName, RouteProtocolName, RouteTypeName, RtScope,
} from './route-constants.ts';

export type RouteType = RouteTypeName | number;
export type RouteProtocol = RouteProtocolName | number;
export type RoutePref = RoutePrefName | number;

/** RTA_METRICS (RTAX_*); all u32 except `ccAlgo`. */
export interface RouteMetrics {
  /** RTAX_LOCK: bitmask of locked metrics (bit n = RTAX n). */
  readonly lock?: number;
  readonly mtu?: number;
  readonly window?: number;
  readonly rtt?: number;
  readonly rttvar?: number;
  readonly ssthresh?: number;
  readonly cwnd?: number;
  readonly advmss?: number;
  readonly reordering?: number;
  readonly hoplimit?: number;
  readonly initcwnd?: number;
  readonly features?: number;
  readonly rtoMin?: number;
  readonly initrwnd?: number;
  readonly quickack?: number;
  /** Congestion control algorithm name, e.g. `cubic`. */
  readonly ccAlgo?: string;
  readonly fastopenNoCookie?: number;
}

/** One path of a multipath (ECMP) route. */
export interface RouteNexthop {
  /** Gateway (RTA_GATEWAY, or RTA_VIA when its family differs from the route's). */
  readonly gateway?: string;
  readonly oif: IfIndex;
  /** 1..256 (rtnh_hops + 1). */
  readonly weight: number;
  readonly flags: readonly RouteFlagName[];
}

/** A route as the kernel reports it. */
export interface Route {
  readonly family: IpFamily;
  /** `default` or a CIDR (`10.0.0.0/24`; host routes as `/32`, `/128`). */
  readonly dst: string;
  /** Source prefix (RTA_SRC, `ip route ... from`), as a CIDR. */
  readonly src?: string;
  readonly tos: number;
  /** RTA_TABLE when present (ids > 255), else rtm_table. */
  readonly table: number;
  readonly protocol: RouteProtocol;
  readonly scope: RtScope;
  readonly type: RouteType;
  /** Gateway (RTA_GATEWAY, or RTA_VIA when its family differs from the route's). */
  readonly gateway?: string;
  readonly oif?: IfIndex;
  readonly iif?: IfIndex;
  /** Preferred source address (RTA_PREFSRC, `ip route ... src`). */
  readonly prefSrc?: string;
  /** RTA_PRIORITY (`metric`). */
  readonly priority?: number;
  readonly metrics?: RouteMetrics;
  readonly nexthops?: readonly RouteNexthop[];
  /** RTA_PREF: IPv6 router preference. */
  readonly pref?: RoutePref;
  /** RTA_NH_ID: the nexthop object the route uses. */
  readonly nhId?: number;
  /** RTA_ENCAP_TYPE when the route has lightweight-tunnel encapsulation (not decoded further). */
  readonly encapType?: number;
  readonly flags: readonly RouteFlagName[];
  readonly rawFlags: number;
}

/** One path of a multipath route to add. */
export interface RouteNexthopSpec {
  readonly gateway?: string;
  readonly oif?: IfIndex;
  /** 1..256, default 1. */
  readonly weight?: number;
  /** Gateway is on the link even if no prefix says so (RTNH_F_ONLINK). */
  readonly onlink?: boolean;
}

/**
 * A route to add, replace or delete. On delete, only the fields given are
 * matched (plus `dst` and `table`).
 */
export interface RouteSpec {
  /** `default`, a CIDR, or an address (a host route). */
  readonly dst: string;
  /**
   * Needed only when nothing else tells the family (`default` without a
   * gateway or source); defaults to IPv4 there, as `ip route` does.
   */
  readonly family?: IpFamily;
  /** Source prefix (RTA_SRC; IPv6 source routing). */
  readonly src?: string;
  readonly tos?: number;
  /** Default: main (254). Ids > 255 are sent in RTA_TABLE. */
  readonly table?: number;
  /** Default on add: `boot`, as `ip route` does. */
  readonly protocol?: RouteProtocol;
  /** Default on add: `link` for a unicast route without a gateway, `host` for local, else `global`. */
  readonly scope?: RtScope;
  /** Default `unicast`. */
  readonly type?: RouteType;
  /** IPv4 routes may have an IPv6 gateway (sent as RTA_VIA). */
  readonly gateway?: string;
  readonly oif?: IfIndex;
  /** The gateway is on the link (RTNH_F_ONLINK). */
  readonly onlink?: boolean;
  readonly prefSrc?: string;
  readonly priority?: number;
  readonly metrics?: RouteMetrics;
  /** Multipath: excludes `gateway`, `oif` and `onlink`. */
  readonly nexthops?: readonly RouteNexthopSpec[];
  /** IPv6 only. */
  readonly pref?: RoutePref;
}

/** Narrows a route dump; the kernel filters where it can (strict checking), the rest is done here. */
export interface RouteFilter {
  readonly family?: IpFamily;
  /** Default (or 0, RT_TABLE_UNSPEC): all tables. */
  readonly table?: number;
  readonly oif?: IfIndex;
  readonly protocol?: RouteProtocol;
  readonly type?: RouteType;
}

/** Extra keys of a route lookup (`ip route get`). */
export interface RouteGetOptions {
  readonly src?: string;
  readonly oif?: IfIndex;
  readonly iif?: IfIndex;
  readonly mark?: number;
  readonly uid?: number;
  /** Return the FIB entry that matched instead of the resolved route (RTM_F_FIB_MATCH). */
  readonly fibMatch?: boolean;
}
