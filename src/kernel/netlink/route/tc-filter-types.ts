/**
 * The tc filter object model: `TcFilter` is one decoded RTM_NEWTFILTER
 * (a real filter, never a prio head); `TcBpfOptions` the cls_bpf part of it.
 */

/** cls_bpf options (TCA_OPTIONS of a filter of kind `bpf`). */
export interface TcBpfOptions {
  /** TCA_BPF_NAME: the name tc was given (an object file section, or what the loader chose). */
  readonly name?: string;
  /** TCA_BPF_ID: the eBPF program id; absent for a classic-BPF (TCA_BPF_OPS) filter. */
  readonly progId?: number;
  /** TCA_BPF_TAG as 16 hex digits. */
  readonly tag?: string;
  /** TCA_BPF_FLAGS has TCA_BPF_FLAG_ACT_DIRECT (tc's `da`). */
  readonly directAction: boolean;
  /** TCA_BPF_FLAGS_GEN (TCA_CLS_FLAGS_*: skip_hw, skip_sw, in_hw...), when sent. */
  readonly genFlags?: number;
  /** TCA_BPF_CLASSID, when set. */
  readonly classid?: number;
}

export interface TcFilter {
  readonly ifindex: number;
  /** The parent the filter hangs off, e.g. 0xfffffff2 (clsact ingress). */
  readonly parent: number;
  readonly handle: number;
  /** Priority (tcm_info high 16 bits; tc's `pref`). */
  readonly prio: number;
  /** Ethertype in host order (tcm_info low 16 bits are network order), e.g. 0x0003 for `all`. */
  readonly protocol: number;
  /** TCA_KIND: the classifier (`bpf`, `u32`, `flower`, `matchall`...). */
  readonly kind: string;
  /** TCA_CHAIN, when the kernel sends it. */
  readonly chain?: number;
  /** Only for kind `bpf`. */
  readonly bpf?: TcBpfOptions;
}

/** What RTM_NEWTFILTER/RTM_DELTFILTER send (the delete needs ifindex, parent, handle, prio, protocol, kind). */
export interface TcFilterSpec {
  readonly ifindex: number;
  readonly parent: number;
  /** 0 lets the classifier choose (add) or names the whole priority (delete). */
  readonly handle?: number;
  readonly prio: number;
  /** Host-order ethertype (ETH_P_ALL = 3 for `protocol all`). */
  readonly protocol: number;
  readonly kind: string;
  readonly chain?: number;
  /** cls_bpf options for an add: the program fd, its name, direct-action (default on). */
  readonly bpf?: { readonly fd: number; readonly name?: string; readonly directAction?: boolean };
}

/** What names one existing filter for RTM_DELTFILTER (a decoded TcFilter has all of it). */
export interface TcFilterRef {
  readonly handle: number;
  readonly prio: number;
  /** Host-order ethertype. */
  readonly protocol: number;
  readonly kind: string;
  readonly chain?: number;
}
