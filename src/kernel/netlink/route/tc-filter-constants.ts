/**
 * Traffic-control constants for filters and the clsact qdisc
 * (include/uapi/linux/rtnetlink.h enum TCA_*, pkt_sched.h TC_H_*,
 * pkt_cls.h enum TCA_BPF_*, if_ether.h ETH_P_*).
 */

/** sizeof(struct tcmsg): family u8, pad u8, pad u16, ifindex s32, handle u32, parent u32, info u32. */
export const TCMSG_LEN = 20;

/** Top-level attributes of qdisc/class/filter messages. */
export const TCA = {
  TCA_KIND: 1, TCA_OPTIONS: 2, TCA_STATS: 3, TCA_XSTATS: 4, TCA_RATE: 5, TCA_FCNT: 6, TCA_STATS2: 7,
  TCA_STAB: 8, TCA_PAD: 9, TCA_DUMP_INVISIBLE: 10, TCA_CHAIN: 11, TCA_HW_OFFLOAD: 12,
  TCA_INGRESS_BLOCK: 13, TCA_EGRESS_BLOCK: 14, TCA_DUMP_FLAGS: 15, TCA_EXT_WARN_MSG: 16,
} as const;

/** cls_bpf options inside TCA_OPTIONS. */
export const TCA_BPF = {
  TCA_BPF_ACT: 1, TCA_BPF_POLICE: 2, TCA_BPF_CLASSID: 3, TCA_BPF_OPS_LEN: 4, TCA_BPF_OPS: 5, TCA_BPF_FD: 6,
  TCA_BPF_NAME: 7, TCA_BPF_FLAGS: 8, TCA_BPF_FLAGS_GEN: 9, TCA_BPF_TAG: 10, TCA_BPF_ID: 11,
} as const;

/** TCA_BPF_FLAGS bits. */
export const TCA_BPF_FLAG_ACT_DIRECT = 1 << 0;

/** TCA_BPF_FLAGS_GEN / generic classifier flags (TCA_CLS_FLAGS_*). */
export const TCA_CLS_FLAGS = {
  TCA_CLS_FLAGS_SKIP_HW: 1 << 0, TCA_CLS_FLAGS_SKIP_SW: 1 << 1, TCA_CLS_FLAGS_IN_HW: 1 << 2,
  TCA_CLS_FLAGS_NOT_IN_HW: 1 << 3, TCA_CLS_FLAGS_VERBOSE: 1 << 4,
} as const;

/**
 * Handles. The clsact (and ingress) qdisc sits at TC_H_CLSACT with handle
 * ffff:0; its filters hang off ffff:fff2 (ingress) and ffff:fff3 (egress).
 */
export const TC_H = {
  TC_H_ROOT: 0xffffffff,
  TC_H_CLSACT: 0xfffffff1,
  TC_H_INGRESS: 0xfffffff1,
  TC_H_MIN_INGRESS: 0xfff2,
  TC_H_MIN_EGRESS: 0xfff3,
} as const;

export const tcHandle = (major: number, minor: number): number => (((major & 0xffff) << 16) | (minor & 0xffff)) >>> 0;

/** Parents of the clsact hooks: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS|EGRESS). */
export const TC_PARENT_INGRESS = 0xfffffff2;
export const TC_PARENT_EGRESS = 0xfffffff3;
/** The clsact qdisc's own handle, ffff:0. */
export const TC_CLSACT_HANDLE = 0xffff0000;

/** ETH_P_ALL: a filter that matches every protocol (tc's `protocol all`). */
export const ETH_P_ALL = 0x0003;

/**
 * Protocol names as iproute2 prints them (lib/ll_proto.c llproto_names, first
 * match wins); anything else tc prints as `[decimal]` (see protocolName).
 */
export const ETH_P_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0060, 'loop'], [0x0200, 'pup'], [0x0201, 'pupat'], [0x0800, 'ip'], [0x0805, 'x25'], [0x0806, 'arp'],
  [0x08ff, 'bpq'], [0x0a00, 'ieeepup'], [0x0a01, 'ieeepupat'], [0x6000, 'dec'], [0x6001, 'dna_dl'],
  [0x6002, 'dna_rc'], [0x6003, 'dna_rt'], [0x6004, 'lat'], [0x6005, 'diag'], [0x6006, 'cust'], [0x6007, 'sca'],
  [0x8035, 'rarp'], [0x809b, 'atalk'], [0x80f3, 'aarp'], [0x8137, 'ipx'], [0x86dd, 'ipv6'], [0x8863, 'ppp_disc'],
  [0x8864, 'ppp_ses'], [0x884c, 'atmmpoa'], [0x8884, 'atmfate'], [0x0001, '802_3'], [0x0002, 'ax25'],
  [0x0003, 'all'], [0x0004, '802_2'], [0x0005, 'snap'], [0x0006, 'ddcmp'], [0x0007, 'wan_ppp'], [0x0008, 'ppp_mp'],
  [0x0009, 'localtalk'], [0x000c, 'can'], [0x0010, 'ppptalk'], [0x0011, 'tr_802_2'], [0x0015, 'mobitex'],
  [0x0016, 'control'], [0x0017, 'irda'], [0x0018, 'econet'], [0x88ca, 'tipc'], [0x88a2, 'aoe'], [0x8100, '802.1Q'],
  [0x8892, 'profinet'], [0x88a4, 'ethercat'], [0x88a8, '802.1ad'], [0x8847, 'mpls_uc'], [0x8848, 'mpls_mc'],
  [0x6558, 'teb'], [0x8902, 'cfm'], [0x88cc, 'LLDP'],
]);
