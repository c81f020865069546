/**
 * Neighbour (ARP / NDP) attributes, flags and states
 * (include/uapi/linux/neighbour.h), kernel names kept. Values checked
 * against Linux 6.18 headers.
 */

/** struct ndmsg is 12 bytes: family u8, pad1 u8, pad2 u16, ifindex s32, state u16, flags u8, type u8. */
export const NDMSG_LEN = 12;

/** AF_BRIDGE: bridge FDB entries share RTM_*NEIGH; netclaim does not model them. */
export const AF_BRIDGE = 7;

export const NDA = {
  NDA_DST: 1, NDA_LLADDR: 2, NDA_CACHEINFO: 3, NDA_PROBES: 4, NDA_VLAN: 5, NDA_PORT: 6, NDA_VNI: 7,
  NDA_IFINDEX: 8, NDA_MASTER: 9, NDA_LINK_NETNSID: 10, NDA_SRC_VNI: 11, NDA_PROTOCOL: 12, NDA_NH_ID: 13,
  NDA_FDB_EXT_ATTRS: 14, NDA_FLAGS_EXT: 15, NDA_NDM_STATE_MASK: 16, NDA_NDM_FLAGS_MASK: 17,
} as const;

/** ndm_flags bits. */
export const NTF = {
  NTF_USE: 1 << 0, NTF_SELF: 1 << 1, NTF_MASTER: 1 << 2, NTF_PROXY: 1 << 3, NTF_EXT_LEARNED: 1 << 4,
  NTF_OFFLOADED: 1 << 5, NTF_STICKY: 1 << 6, NTF_ROUTER: 1 << 7,
} as const;

/** NDA_FLAGS_EXT bits. */
export const NTF_EXT = {
  NTF_EXT_MANAGED: 1 << 0, NTF_EXT_LOCKED: 1 << 1, NTF_EXT_EXT_VALIDATED: 1 << 2,
} as const;

/** ndm_state bits (NUD_NONE is 0). */
export const NUD = {
  NUD_NONE: 0x00, NUD_INCOMPLETE: 0x01, NUD_REACHABLE: 0x02, NUD_STALE: 0x04, NUD_DELAY: 0x08,
  NUD_PROBE: 0x10, NUD_FAILED: 0x20, NUD_NOARP: 0x40, NUD_PERMANENT: 0x80,
} as const;

/** State names (lowercase `ip neigh` names) by bit, in bit order. */
export const NEIGH_STATE_BITS = {
  incomplete: NUD.NUD_INCOMPLETE,
  reachable: NUD.NUD_REACHABLE,
  stale: NUD.NUD_STALE,
  delay: NUD.NUD_DELAY,
  probe: NUD.NUD_PROBE,
  failed: NUD.NUD_FAILED,
  noarp: NUD.NUD_NOARP,
  permanent: NUD.NUD_PERMANENT,
} as const;

/** A state name; `none` is NUD_NONE (no bit set). */
export type NeighStateName = keyof typeof NEIGH_STATE_BITS | 'none';

/** nda_cacheinfo times are in clock_t ticks (USER_HZ, 100 on every Linux ABI). */
export const USER_HZ = 100;
