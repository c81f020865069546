/**
 * tcx (Linux 6.6+): eBPF programs on an interface's ingress/egress hooks
 * without a qdisc, attached through a bpf_link or with BPF_PROG_ATTACH. The
 * tc tool and Debian 12's bpftool cannot see them; BPF_PROG_QUERY can.
 *
 * BPF_PROG_QUERY names the interface by ifindex, which the kernel resolves
 * in the calling thread's network namespace (tcx_prog_query uses
 * current->nsproxy->net_ns), so the queries run inside the handle's setns
 * window. Program names are global (by id) and are read outside it.
 */
import { KernelError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { bpfProgInfoById, bpfProgQuery, type BpfProgQueryResult } from './bpf-syscall.ts';
import { BPF_ATTACH_TYPE } from './bpf-constants.ts';
import type { TcDirection, TcxProgram } from './ebpf-types.ts';

const EINVAL = 22;
const HOOKS: readonly (readonly [TcDirection, number])[] = [
  ['ingress', BPF_ATTACH_TYPE.BPF_TCX_INGRESS],
  ['egress', BPF_ATTACH_TYPE.BPF_TCX_EGRESS],
];

/**
 * The tcx programs of an interface, ingress first, each hook in execution
 * order. Kernels without tcx (before 6.6, or built without CONFIG_NET_XGRESS)
 * answer EINVAL: that reads as "none".
 * Equivalent to: `bpftool net show dev X` (the tcx part, bpftool ≥ 7.3)
 */
export function tcxProgramList(h: NetnsHandle, ifindex: number, l: Libc): TcxProgram[] {
  const results = h.within(() => {
    const out: (readonly [TcDirection, BpfProgQueryResult])[] = [];
    for (const [direction, attachType] of HOOKS) {
      const r = tcxQuery(l, ifindex, attachType);
      if (r === undefined) break;
      out.push([direction, r]);
    }
    return out;
  });
  return results.flatMap(([direction, r]) => r.progIds.map((progId, i) => {
    const info = bpfProgInfoById(l, progId);
    const linkId = r.linkIds[i] ?? 0;
    return {
      direction,
      progId,
      ...(info !== undefined && info.name !== '' ? { name: info.name } : {}),
      ...(info !== undefined ? { tag: info.tag } : {}),
      ...(linkId !== 0 ? { linkId } : {}),
    };
  }));
}

/** BPF_PROG_QUERY on one tcx hook; `undefined` when the kernel has no tcx (EINVAL). */
function tcxQuery(l: Libc, ifindex: number, attachType: number): BpfProgQueryResult | undefined {
  try {
    return bpfProgQuery(l, ifindex, attachType);
  } catch (err) {
    if (err instanceof KernelError && err.errno === EINVAL) return undefined;
    throw err;
  }
}
