/**
 * Route attributes, types, protocols, scopes and flags
 * (include/uapi/linux/rtnetlink.h, linux/icmpv6.h), kernel names kept, plus
 * the names `ip route` prints for them. RTA_FLOWLABEL (31) and RTPROT_OVN
 * (84) are newer than the 6.1 headers installed here; nothing here sends them.
 */

/** struct rtmsg is 12 bytes: family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags u32. */
export const RTMSG_LEN = 12;
/** struct rtnexthop is 8 bytes: len u16, flags u8, hops u8, ifindex s32; attributes follow. */
export const RTNEXTHOP_LEN = 8;

export const RTA = {
  RTA_DST: 1, RTA_SRC: 2, RTA_IIF: 3, RTA_OIF: 4, RTA_GATEWAY: 5, RTA_PRIORITY: 6, RTA_PREFSRC: 7,
  RTA_METRICS: 8, RTA_MULTIPATH: 9, RTA_FLOW: 11, RTA_CACHEINFO: 12, RTA_TABLE: 15, RTA_MARK: 16,
  RTA_MFC_STATS: 17, RTA_VIA: 18, RTA_NEWDST: 19, RTA_PREF: 20, RTA_ENCAP_TYPE: 21, RTA_ENCAP: 22,
  RTA_EXPIRES: 23, RTA_PAD: 24, RTA_UID: 25, RTA_TTL_PROPAGATE: 26, RTA_IP_PROTO: 27, RTA_SPORT: 28,
  RTA_DPORT: 29, RTA_NH_ID: 30, RTA_FLOWLABEL: 31,
} as const;

/** Route metrics, nested in RTA_METRICS (all u32 except RTAX_CC_ALGO, a string). */
export const RTAX = {
  RTAX_LOCK: 1, RTAX_MTU: 2, RTAX_WINDOW: 3, RTAX_RTT: 4, RTAX_RTTVAR: 5, RTAX_SSTHRESH: 6,
  RTAX_CWND: 7, RTAX_ADVMSS: 8, RTAX_REORDERING: 9, RTAX_HOPLIMIT: 10, RTAX_INITCWND: 11,
  RTAX_FEATURES: 12, RTAX_RTO_MIN: 13, RTAX_INITRWND: 14, RTAX_QUICKACK: 15, RTAX_CC_ALGO: 16,
  RTAX_FASTOPEN_NO_COOKIE: 17,
} as const;

/** rtm_type values (RTN_*). */
export const RTN = {
  RTN_UNSPEC: 0, RTN_UNICAST: 1, RTN_LOCAL: 2, RTN_BROADCAST: 3, RTN_ANYCAST: 4, RTN_MULTICAST: 5,
  RTN_BLACKHOLE: 6, RTN_UNREACHABLE: 7, RTN_PROHIBIT: 8, RTN_THROW: 9, RTN_NAT: 10, RTN_XRESOLVE: 11,
} as const;

/** Route type names as `ip route` prints them, indexed by RTN_* value. */
export const ROUTE_TYPE_NAMES = [
  'unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast',
  'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve',
] as const;
export type RouteTypeName = (typeof ROUTE_TYPE_NAMES)[number];

/** rtm_protocol values; protocols >= RTPROT_STATIC are not interpreted by the kernel. */
export const RTPROT = {
  RTPROT_UNSPEC: 0, RTPROT_REDIRECT: 1, RTPROT_KERNEL: 2, RTPROT_BOOT: 3, RTPROT_STATIC: 4,
  RTPROT_GATED: 8, RTPROT_RA: 9, RTPROT_MRT: 10, RTPROT_ZEBRA: 11, RTPROT_BIRD: 12,
  RTPROT_DNROUTED: 13, RTPROT_XORP: 14, RTPROT_NTK: 15, RTPROT_DHCP: 16, RTPROT_MROUTED: 17,
  RTPROT_KEEPALIVED: 18, RTPROT_BABEL: 42, RTPROT_OVN: 84, RTPROT_OPENR: 99, RTPROT_BGP: 186,
  RTPROT_ISIS: 187, RTPROT_OSPF: 188, RTPROT_RIP: 189, RTPROT_EIGRP: 192,
} as const;

/** Protocol names as iproute2's rt_protos table spells them. */
export const ROUTE_PROTOCOL_NAMES = {
  unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11,
  bird: 12, dnrouted: 13, xorp: 14, ntk: 15, dhcp: 16, mrouted: 17, keepalived: 18, babel: 42,
  ovn: 84, openr: 99, bgp: 186, isis: 187, ospf: 188, rip: 189, eigrp: 192,
} as const;
export type RouteProtocolName = keyof typeof ROUTE_PROTOCOL_NAMES;

/** enum rt_scope_t (shared by routes and addresses). */
export const RT_SCOPE = {
  RT_SCOPE_UNIVERSE: 0, RT_SCOPE_SITE: 200, RT_SCOPE_LINK: 253, RT_SCOPE_HOST: 254, RT_SCOPE_NOWHERE: 255,
} as const;

/** Scope names as `ip` prints them (`global` is RT_SCOPE_UNIVERSE). */
export const SCOPE_NAMES = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
export type ScopeName = keyof typeof SCOPE_NAMES;
/** A scope by name, or its number when it has none. */
export type RtScope = ScopeName | number;

/** Reserved routing table ids (enum rt_class_t). Ids above 255 travel in RTA_TABLE. */
export const RT_TABLE = {
  RT_TABLE_UNSPEC: 0, RT_TABLE_COMPAT: 252, RT_TABLE_DEFAULT: 253, RT_TABLE_MAIN: 254, RT_TABLE_LOCAL: 255,
} as const;

/** rtm_flags bits (RTM_F_*); the low byte carries RTNH_F_* flags of a single-path route. */
export const RTM_F = {
  RTM_F_NOTIFY: 0x100, RTM_F_CLONED: 0x200, RTM_F_EQUALIZE: 0x400, RTM_F_PREFIX: 0x800,
  RTM_F_LOOKUP_TABLE: 0x1000, RTM_F_FIB_MATCH: 0x2000, RTM_F_OFFLOAD: 0x4000, RTM_F_TRAP: 0x8000,
  RTM_F_OFFLOAD_FAILED: 0x20000000,
} as const;

/** rtnh_flags bits (RTNH_F_*). */
export const RTNH_F = {
  RTNH_F_DEAD: 1, RTNH_F_PERVASIVE: 2, RTNH_F_ONLINK: 4, RTNH_F_OFFLOAD: 8, RTNH_F_LINKDOWN: 16,
  RTNH_F_UNRESOLVED: 32, RTNH_F_TRAP: 64,
} as const;

/** Flag names as `ip route` prints them, by bit. */
export const ROUTE_FLAG_NAMES = [
  [RTNH_F.RTNH_F_DEAD, 'dead'], [RTNH_F.RTNH_F_PERVASIVE, 'pervasive'], [RTNH_F.RTNH_F_ONLINK, 'onlink'],
  [RTNH_F.RTNH_F_OFFLOAD, 'offload'], [RTNH_F.RTNH_F_LINKDOWN, 'linkdown'],
  [RTNH_F.RTNH_F_UNRESOLVED, 'unresolved'], [RTNH_F.RTNH_F_TRAP, 'trap'],
  [RTM_F.RTM_F_NOTIFY, 'notify'], [RTM_F.RTM_F_CLONED, 'cloned'], [RTM_F.RTM_F_EQUALIZE, 'equalize'],
  [RTM_F.RTM_F_PREFIX, 'prefix'], [RTM_F.RTM_F_LOOKUP_TABLE, 'lookup_table'],
  [RTM_F.RTM_F_FIB_MATCH, 'fib_match'], [RTM_F.RTM_F_OFFLOAD, 'rt_offload'], [RTM_F.RTM_F_TRAP, 'rt_trap'],
  [RTM_F.RTM_F_OFFLOAD_FAILED, 'rt_offload_failed'],
] as const;
export type RouteFlagName = (typeof ROUTE_FLAG_NAMES)[number][1];

/** RTA_PREF values: the IPv6 router preference (ICMPV6_ROUTER_PREF_*). */
export const ICMPV6_ROUTER_PREF = {
  ICMPV6_ROUTER_PREF_MEDIUM: 0, ICMPV6_ROUTER_PREF_HIGH: 1, ICMPV6_ROUTER_PREF_INVALID: 2, ICMPV6_ROUTER_PREF_LOW: 3,
} as const;
export const ROUTE_PREF_NAMES = { medium: 0, high: 1, low: 3 } as const;
export type RoutePrefName = keyof typeof ROUTE_PREF_NAMES;

/** The largest u32 (tables, priorities, metrics). */
export const U32_MAX = 0xffff_ffff;
