/**
 * Address attributes and flags (include/uapi/linux/if_addr.h), kernel names
 * kept. Values checked against Linux 6.18 headers.
 */

/** struct ifaddrmsg is 8 bytes: family u8, prefixlen u8, flags u8, scope u8, index u32. */
export const IFADDRMSG_LEN = 8;
/** struct ifa_cacheinfo is 16 bytes: prefered u32, valid u32, cstamp u32, tstamp u32. */
export const IFA_CACHEINFO_LEN = 16;

export const IFA = {
  IFA_ADDRESS: 1, IFA_LOCAL: 2, IFA_LABEL: 3, IFA_BROADCAST: 4, IFA_ANYCAST: 5, IFA_CACHEINFO: 6,
  IFA_MULTICAST: 7, IFA_FLAGS: 8, IFA_RT_PRIORITY: 9, IFA_TARGET_NETNSID: 10, IFA_PROTO: 11,
} as const;

/** ifa_flags bits; IFA_FLAGS (u32) carries the full set and wins over the u8 header field. */
export const IFA_F = {
  IFA_F_SECONDARY: 0x01, IFA_F_TEMPORARY: 0x01, IFA_F_NODAD: 0x02, IFA_F_OPTIMISTIC: 0x04,
  IFA_F_DADFAILED: 0x08, IFA_F_HOMEADDRESS: 0x10, IFA_F_DEPRECATED: 0x20, IFA_F_TENTATIVE: 0x40,
  IFA_F_PERMANENT: 0x80, IFA_F_MANAGETEMPADDR: 0x100, IFA_F_NOPREFIXROUTE: 0x200,
  IFA_F_MCAUTOJOIN: 0x400, IFA_F_STABLE_PRIVACY: 0x800,
} as const;

/** Flag names by bit. Bit 0x01 is `secondary` for IPv4 and `temporary` for IPv6. */
export const ADDR_FLAG_NAMES = [
  [IFA_F.IFA_F_NODAD, 'nodad'], [IFA_F.IFA_F_OPTIMISTIC, 'optimistic'], [IFA_F.IFA_F_DADFAILED, 'dadfailed'],
  [IFA_F.IFA_F_HOMEADDRESS, 'homeaddress'], [IFA_F.IFA_F_DEPRECATED, 'deprecated'],
  [IFA_F.IFA_F_TENTATIVE, 'tentative'], [IFA_F.IFA_F_PERMANENT, 'permanent'],
  [IFA_F.IFA_F_MANAGETEMPADDR, 'managetempaddr'], [IFA_F.IFA_F_NOPREFIXROUTE, 'noprefixroute'],
  [IFA_F.IFA_F_MCAUTOJOIN, 'mcautojoin'], [IFA_F.IFA_F_STABLE_PRIVACY, 'stableprivacy'],
] as const;

/** The flags a request may set (the kernel computes the others). */
export const ADDR_REQUEST_FLAGS = {
  nodad: IFA_F.IFA_F_NODAD,
  optimistic: IFA_F.IFA_F_OPTIMISTIC,
  homeaddress: IFA_F.IFA_F_HOMEADDRESS,
  managetempaddr: IFA_F.IFA_F_MANAGETEMPADDR,
  noprefixroute: IFA_F.IFA_F_NOPREFIXROUTE,
  mcautojoin: IFA_F.IFA_F_MCAUTOJOIN,
} as const;

/** ifa_proto values (IFAPROT_*), named as `ip` prints them. */
export const IFAPROT = { IFAPROT_UNSPEC: 0, IFAPROT_KERNEL_LO: 1, IFAPROT_KERNEL_RA: 2, IFAPROT_KERNEL_LL: 3 } as const;
export const ADDR_PROTO_NAMES = { unspec: 0, kernel_lo: 1, kernel_ra: 2, kernel_ll: 3 } as const;
export type AddrProtoName = keyof typeof ADDR_PROTO_NAMES;

/** ifa_cacheinfo lifetime meaning "forever" (INFINITY_LIFE_TIME). */
export const INFINITY_LIFE_TIME = 0xffff_ffff;
