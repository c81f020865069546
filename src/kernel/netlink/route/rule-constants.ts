/**
 * Policy-routing rule attributes, actions and flags
 * (include/uapi/linux/fib_rules.h), kernel names kept. Values checked
 * against Linux 6.18 headers (FRA_DSCP..FRA_DSCP_MASK arrived in 6.13-6.15).
 */

/** struct fib_rule_hdr is 12 bytes: family, dst_len, src_len, tos, table, res1, res2, action (u8 each), flags u32. */
export const FIB_RULE_HDR_LEN = 12;

export const FRA = {
  FRA_DST: 1, FRA_SRC: 2, FRA_IIFNAME: 3, FRA_GOTO: 4, FRA_PRIORITY: 6, FRA_FWMARK: 10, FRA_FLOW: 11,
  FRA_TUN_ID: 12, FRA_SUPPRESS_IFGROUP: 13, FRA_SUPPRESS_PREFIXLEN: 14, FRA_TABLE: 15, FRA_FWMASK: 16,
  FRA_OIFNAME: 17, FRA_PAD: 18, FRA_L3MDEV: 19, FRA_UID_RANGE: 20, FRA_PROTOCOL: 21, FRA_IP_PROTO: 22,
  FRA_SPORT_RANGE: 23, FRA_DPORT_RANGE: 24, FRA_DSCP: 25, FRA_FLOWLABEL: 26, FRA_FLOWLABEL_MASK: 27,
  FRA_SPORT_MASK: 28, FRA_DPORT_MASK: 29, FRA_DSCP_MASK: 30,
} as const;

/** fib_rule_hdr.action values. */
export const FR_ACT = {
  FR_ACT_UNSPEC: 0, FR_ACT_TO_TBL: 1, FR_ACT_GOTO: 2, FR_ACT_NOP: 3,
  FR_ACT_BLACKHOLE: 6, FR_ACT_UNREACHABLE: 7, FR_ACT_PROHIBIT: 8,
} as const;

/** fib_rule_hdr.flags bits. */
export const FIB_RULE = {
  FIB_RULE_PERMANENT: 0x1, FIB_RULE_INVERT: 0x2, FIB_RULE_UNRESOLVED: 0x4,
  FIB_RULE_IIF_DETACHED: 0x8, FIB_RULE_OIF_DETACHED: 0x10, FIB_RULE_FIND_SADDR: 0x10000,
} as const;

/** The largest valid u32 (priorities, marks, table ids). */
export const U32_MAX = 0xffff_ffff;

/** FRA_SUPPRESS_PREFIXLEN / FRA_SUPPRESS_IFGROUP value meaning "not set" (the kernel's s32 -1). */
export const SUPPRESS_UNSET = 0xffff_ffff;

/** Action names as `ip rule` writes them, by FR_ACT_* value. */
export const RULE_ACTION_NAMES = {
  [FR_ACT.FR_ACT_TO_TBL]: 'table',
  [FR_ACT.FR_ACT_GOTO]: 'goto',
  [FR_ACT.FR_ACT_NOP]: 'nop',
  [FR_ACT.FR_ACT_BLACKHOLE]: 'blackhole',
  [FR_ACT.FR_ACT_UNREACHABLE]: 'unreachable',
  [FR_ACT.FR_ACT_PROHIBIT]: 'prohibit',
} as const;

export type RuleActionName = (typeof RULE_ACTION_NAMES)[keyof typeof RULE_ACTION_NAMES];

export const RULE_ACTION_CODES: Readonly<Record<RuleActionName, number>> = {
  table: FR_ACT.FR_ACT_TO_TBL,
  goto: FR_ACT.FR_ACT_GOTO,
  nop: FR_ACT.FR_ACT_NOP,
  blackhole: FR_ACT.FR_ACT_BLACKHOLE,
  unreachable: FR_ACT.FR_ACT_UNREACHABLE,
  prohibit: FR_ACT.FR_ACT_PROHIBIT,
};
