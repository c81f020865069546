/**
 * bpf(2) constants (include/uapi/linux/bpf.h, if_link.h). Debian 12's UAPI
 * headers (Linux 6.1) lack the tcx names (Linux 6.6), so every value is
 * written out here rather than taken from a header; the numbers are ABI and
 * never change.
 */

/** enum bpf_cmd: the first argument of bpf(2). */
export const BPF_CMD = {
  BPF_PROG_LOAD: 5,
  BPF_OBJ_PIN: 6,
  BPF_PROG_ATTACH: 8,
  BPF_PROG_DETACH: 9,
  BPF_PROG_GET_NEXT_ID: 11,
  BPF_PROG_GET_FD_BY_ID: 13,
  BPF_OBJ_GET_INFO_BY_FD: 15,
  BPF_PROG_QUERY: 16,
  BPF_LINK_CREATE: 28,
  BPF_LINK_GET_FD_BY_ID: 30,
  BPF_LINK_GET_NEXT_ID: 31,
  BPF_LINK_DETACH: 34,
} as const;

/** Command number → kernel name, for KernelError ops (`bpf(BPF_PROG_QUERY)`). */
const CMD_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(BPF_CMD).map(([k, v]) => [v, k] as const));
export const bpfCmdOp = (cmd: number): string => `bpf(${CMD_NAMES.get(cmd) ?? `cmd ${cmd}`})`;

/** enum bpf_prog_type (the ones netclaim meets on interfaces). */
export const BPF_PROG_TYPE = {
  BPF_PROG_TYPE_SCHED_CLS: 3,
  BPF_PROG_TYPE_SCHED_ACT: 4,
  BPF_PROG_TYPE_XDP: 6,
} as const;

/** enum bpf_attach_type; BPF_TCX_* are Linux 6.6+ (absent from 6.1 headers). */
export const BPF_ATTACH_TYPE = {
  BPF_XDP: 37,
  BPF_TCX_INGRESS: 46,
  BPF_TCX_EGRESS: 47,
} as const;

/** enum bpf_link_type (bpf_link_info.type). */
export const BPF_LINK_TYPE = {
  BPF_LINK_TYPE_XDP: 6,
  BPF_LINK_TYPE_TCX: 11,
  BPF_LINK_TYPE_NETKIT: 13,
} as const;

/** XDP_FLAGS_* (if_link.h): IFLA_XDP_FLAGS and BPF_LINK_CREATE flags for XDP. */
export const XDP_FLAGS = {
  XDP_FLAGS_UPDATE_IF_NOEXIST: 1 << 0,
  XDP_FLAGS_SKB_MODE: 1 << 1,
  XDP_FLAGS_DRV_MODE: 1 << 2,
  XDP_FLAGS_HW_MODE: 1 << 3,
} as const;

/** Fixed sizes: names in bpf_prog_info/bpf_attr are 16 bytes, tags 8. */
export const BPF_OBJ_NAME_LEN = 16;
export const BPF_TAG_SIZE = 8;

/** BPF_MPROG_MAX (include/linux/bpf_mprog.h): at most this many programs per tcx hook. */
export const BPF_MPROG_MAX = 64;
