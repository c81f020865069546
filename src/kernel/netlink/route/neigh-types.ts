/**
 * The neighbour (ARP / NDP cache) object model: `Neigh` is a complete decoded
 * record (RTM_NEWNEIGH as the kernel reports it), `NeighSpec` a request to
 * add, replace or delete one. Only IPv4 and IPv6 entries are modelled;
 * bridge FDB entries (AF_BRIDGE) are skipped.
 */
import type { IfIndex } from '../../../common/ids.ts';
import type { IpFamily } from '../../../common/ip.ts';
import type { NeighStateName } from './neigh-constants.ts';

export type NeighState = NeighStateName;

/** nda_cacheinfo, converted to milliseconds ago. */
export interface NeighCacheInfo {
  readonly confirmedMs: number;
  readonly usedMs: number;
  readonly updatedMs: number;
  readonly refcnt: number;
}

/** A neighbour entry as the kernel reports it. */
export interface Neigh {
  readonly family: IpFamily;
  readonly index: IfIndex;
  /** NDA_DST: the neighbour's IP address. */
  readonly dst: string;
  /** NDA_LLADDR: its link-layer address, `aa:bb:...`; absent while unresolved and on proxy entries. */
  readonly lladdr?: string;
  /** The NUD_* bits set, by name (`['none']` when none is). */
  readonly state: readonly NeighState[];
  /** ndm_flags, raw (NTF_*). */
  readonly flags: number;
  /** NDA_FLAGS_EXT, raw (NTF_EXT_*), when present. */
  readonly flagsExt?: number;
  /** NTF_ROUTER: the neighbour is a router (IPv6). */
  readonly router: boolean;
  /** NTF_PROXY: a proxy ARP / proxy NDP entry. */
  readonly proxy: boolean;
  /** NTF_EXT_LEARNED: installed by a control plane, not learned by NUD. */
  readonly externLearn: boolean;
  /** NTF_EXT_MANAGED: kept reachable by the kernel. */
  readonly managed: boolean;
  /** ndm_type (RTN_UNICAST 1, RTN_MULTICAST 5, ...). */
  readonly type: number;
  /** NDA_PROTOCOL (RTPROT_*): who installed the entry. */
  readonly protocol?: number;
  readonly probes?: number;
  readonly cacheInfo?: NeighCacheInfo;
}

/** A neighbour to add, replace or delete (delete uses only index, dst and proxy). */
export interface NeighSpec {
  readonly index: IfIndex;
  /** An IPv4 or IPv6 address; it sets the family. */
  readonly dst: string;
  /** A MAC, `aa:bb:cc:dd:ee:ff` (or any length of colon-separated hex bytes, e.g. 20-byte IPoIB). */
  readonly lladdr?: string;
  /** One state or several (OR-ed). Default: `permanent` (`none` when `managed`). */
  readonly state?: NeighState | readonly NeighState[];
  readonly router?: boolean;
  /** Adds a proxy ARP / proxy NDP entry (`ip neigh add proxy`); `lladdr` and `state` do not apply. */
  readonly proxy?: boolean;
  /** NTF_EXT_LEARNED. */
  readonly externLearn?: boolean;
  /** NTF_EXT_MANAGED (5.16+): the kernel resolves it and keeps it reachable; needs no `lladdr`, cannot be `permanent`. */
  readonly managed?: boolean;
  /** NDA_PROTOCOL (RTPROT_*, 0..255). */
  readonly protocol?: number;
}

/** Which entries `neighList` returns (all fields optional; none given lists the whole cache). */
export interface NeighFilter {
  readonly index?: IfIndex;
  readonly family?: IpFamily;
  /** List proxy entries (`ip neigh show proxy`) instead of the cache. */
  readonly proxy?: boolean;
}
