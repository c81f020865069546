/** eBPF programs attached to a network interface, as discovery reports them. */

export type TcDirection = 'ingress' | 'egress';

/** A classic tc filter (cls_bpf) on the clsact qdisc. */
export interface TcBpfFilter {
  readonly direction: TcDirection;
  readonly prio: number;
  readonly handle: number;
  /** Network-order protocol as tc shows it (`all`, `ip`, ...), numeric when unknown. */
  readonly protocol: string;
  /** The same protocol as a host-order ethertype (what RTM_DELTFILTER needs in tcm_info). */
  readonly protocolNumber?: number;
  /** TCA_CHAIN (0 unless the filter lives in another chain). */
  readonly chain?: number;
  readonly name?: string;
  readonly progId?: number;
  /** The program tag, 16 hex digits. */
  readonly tag?: string;
  readonly directAction?: boolean;
}

/** A tcx attachment (Linux ≥ 6.6), link-owned or not. */
export interface TcxProgram {
  readonly direction: TcDirection;
  readonly progId: number;
  readonly name?: string;
  /** The program tag, 16 hex digits. */
  readonly tag?: string;
  /** The bpf_link id when the attachment is owned by a link (detach with BPF_LINK_DETACH). */
  readonly linkId?: number;
}

export interface XdpProgram {
  readonly mode: 'driver' | 'generic' | 'offload';
  readonly progId: number;
  readonly name?: string;
  /** The program tag, 16 hex digits. */
  readonly tag?: string;
  /**
   * The one XDP bpf_link on the machine holding this program on an interface
   * with this ifindex. bpf_link_info has no namespace, so this is a candidate:
   * see src/kernel/bpf/ebpf-xdp.ts.
   */
  readonly linkId?: number;
  /** Several such links matched (same program, same ifindex, other namespaces): which one is ours is unknown. */
  readonly linkIdCandidates?: readonly number[];
}

export interface AttachedPrograms {
  readonly tcFilters: readonly TcBpfFilter[];
  readonly tcx: readonly TcxProgram[];
  readonly xdp: readonly XdpProgram[];
}
