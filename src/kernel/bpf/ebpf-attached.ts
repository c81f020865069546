/**
 * eBPF discovery for one interface: classic tc filters (cls_bpf on clsact),
 * tcx programs and XDP programs, with program names and owning bpf_links.
 *
 * Namespaces: rtnetlink requests go through the handle's own socket. bpf(2)
 * is not namespaced (program and link ids are global), except where it
 * takes an ifindex: BPF_PROG_QUERY for tcx resolves the ifindex in the
 * calling thread's namespace, so it runs inside `h.within()` (a synchronous
 * setns window). The same ifindex in another namespace is another interface.
 */
import { libc as defaultLibc, type Libc } from '../libc/index.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { linkGet } from '../netlink/route/link-ops.ts';
import type { Link } from '../netlink/route/link-types.ts';
import { tcBpfFilterList } from './ebpf-tc.ts';
import { tcxProgramList } from './ebpf-tcx.ts';
import type { AttachedPrograms } from './ebpf-types.ts';
import { xdpProgramList } from './ebpf-xdp.ts';

export interface EbpfQueryOptions {
  /** The FFI backend for bpf(2); the process default when omitted. */
  readonly libc?: Libc;
}

/**
 * Everything eBPF attached to interface `ifindex` of `h`'s namespace. Pass
 * `link` (from linkList/linkGet in the same namespace) to reuse its IFLA_XDP
 * report; without it the link is read first (a missing interface throws
 * NotFoundError).
 * Equivalent to: `tc filter show dev X ingress/egress; bpftool net show dev X; ip -d link show dev X`
 */
export function ebpfAttachedList(h: NetnsHandle, ifindex: number, link?: Link, opts: EbpfQueryOptions = {}): AttachedPrograms {
  const l = opts.libc ?? defaultLibc();
  const xdp = (link ?? linkGet(h, ifindex)).xdp;
  return {
    tcFilters: tcBpfFilterList(h, ifindex),
    tcx: tcxProgramList(h, ifindex, l),
    xdp: xdpProgramList(ifindex, xdp, l),
  };
}
