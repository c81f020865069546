/**
 * Classic tc eBPF: cls_bpf filters on the clsact (or ingress) qdisc's two
 * hooks, as discovery reports them. Filters of other kinds (u32, flower...)
 * are left out; so are prio heads.
 */
import type { NetnsHandle } from '../netns/handle.ts';
import { protocolName } from '../netlink/route/tc-filter-codec.ts';
import { TC_PARENT_EGRESS, TC_PARENT_INGRESS } from '../netlink/route/tc-filter-constants.ts';
import { tcFilterList } from '../netlink/route/tc-filter-ops.ts';
import type { TcFilter } from '../netlink/route/tc-filter-types.ts';
import type { TcBpfFilter, TcDirection } from './ebpf-types.ts';

/**
 * The cls_bpf filters of an interface, ingress first, each hook in the
 * kernel's order. No clsact qdisc means no filters (an empty list).
 * Equivalent to: `tc filter show dev X ingress; tc filter show dev X egress`
 */
export function tcBpfFilterList(h: NetnsHandle, ifindex: number): TcBpfFilter[] {
  return [
    ...tcFilterList(h, ifindex, TC_PARENT_INGRESS).flatMap((f) => toBpfFilter(f, 'ingress')),
    ...tcFilterList(h, ifindex, TC_PARENT_EGRESS).flatMap((f) => toBpfFilter(f, 'egress')),
  ];
}

function toBpfFilter(f: TcFilter, direction: TcDirection): TcBpfFilter[] {
  if (f.kind !== 'bpf') return [];
  const b = f.bpf;
  return [{
    direction,
    prio: f.prio,
    handle: f.handle,
    protocol: protocolName(f.protocol),
    protocolNumber: f.protocol,
    ...(f.chain !== undefined ? { chain: f.chain } : {}),
    ...(b?.name !== undefined ? { name: b.name } : {}),
    ...(b?.progId !== undefined ? { progId: b.progId } : {}),
    ...(b?.tag !== undefined ? { tag: b.tag } : {}),
    ...(b !== undefined ? { directAction: b.directAction } : {}),
  }];
}
