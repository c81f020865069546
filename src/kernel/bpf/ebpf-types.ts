/** eBPF programs attached to a network interface, as discovery reports them. */

export type TcDirection = 'ingress' | 'egress';

/** A classic tc filter (cls_bpf) on the clsact qdisc. */
export interface TcBpfFilter {
  readonly direction: TcDirection;
  readonly prio: number;
  readonly handle: number;
  /** Network-order protocol as tc shows it (`all`, `ip`, ...), numeric when unknown. */
  readonly protocol: string;
  readonly name?: string;
  readonly progId?: number;
  readonly directAction?: boolean;
}

/** A tcx attachment (Linux ≥ 6.6), link-owned or not. */
export interface TcxProgram {
  readonly direction: TcDirection;
  readonly progId: number;
  readonly name?: string;
  /** The bpf_link id when the attachment is owned by a link (detach with BPF_LINK_DETACH). */
  readonly linkId?: number;
}

export interface XdpProgram {
  readonly mode: 'driver' | 'generic' | 'offload';
  readonly progId: number;
  readonly name?: string;
  readonly linkId?: number;
}

export interface AttachedPrograms {
  readonly tcFilters: readonly TcBpfFilter[];
  readonly tcx: readonly TcxProgram[];
  readonly xdp: readonly XdpProgram[];
}
