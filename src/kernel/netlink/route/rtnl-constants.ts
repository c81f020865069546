/**
 * rtnetlink message types and multicast groups (include/uapi/linux/rtnetlink.h).
 * Per-object attribute constants live next to each object's codec.
 */
export const RTM = {
  RTM_NEWLINK: 16, RTM_DELLINK: 17, RTM_GETLINK: 18, RTM_SETLINK: 19,
  RTM_NEWADDR: 20, RTM_DELADDR: 21, RTM_GETADDR: 22,
  RTM_NEWROUTE: 24, RTM_DELROUTE: 25, RTM_GETROUTE: 26,
  RTM_NEWNEIGH: 28, RTM_DELNEIGH: 29, RTM_GETNEIGH: 30,
  RTM_NEWRULE: 32, RTM_DELRULE: 33, RTM_GETRULE: 34,
  RTM_NEWQDISC: 36, RTM_DELQDISC: 37, RTM_GETQDISC: 38,
  RTM_NEWTFILTER: 44, RTM_DELTFILTER: 45, RTM_GETTFILTER: 46,
  RTM_NEWLINKPROP: 108, RTM_DELLINKPROP: 109,
} as const;

/** Message type → kernel name, for error messages and event logs. */
export const RTM_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(RTM).map(([k, v]) => [v, k] as const));

export const rtmName = (type: number): string => RTM_NAMES.get(type) ?? `RTM_${type}`;

/** Multicast groups (enum rtnetlink_groups); membership uses these numbers. */
export const RTNLGRP = {
  RTNLGRP_LINK: 1,
  RTNLGRP_NEIGH: 3,
  RTNLGRP_IPV4_IFADDR: 5,
  RTNLGRP_IPV4_ROUTE: 7,
  RTNLGRP_IPV4_RULE: 8,
  RTNLGRP_IPV6_IFADDR: 9,
  RTNLGRP_IPV6_ROUTE: 11,
  RTNLGRP_IPV6_RULE: 19,
} as const;
