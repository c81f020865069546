/**
 * tc filter operations over rtnetlink. Each op takes the NetnsHandle of the
 * namespace the interface lives in.
 */
import type { NetnsHandle } from '../../netns/handle.ts';
import { checkUint } from './link-validate.ts';
import { RTM } from './rtnl-constants.ts';
import { decodeTcFilter, encodeTcFilter, encodeTcFilterDump } from './tc-filter-codec.ts';
import type { TcFilter, TcFilterRef } from './tc-filter-types.ts';

/**
 * The filters of one parent of an interface (e.g. TC_PARENT_INGRESS for the
 * clsact/ingress qdisc's ingress hook), in the kernel's order: by priority,
 * and within one priority newest first. Prio heads are skipped.
 *
 * The kernel answers an empty dump, not an error, when the parent's qdisc
 * does not exist (no clsact) and even when no interface has `ifindex`
 * (tc_dump_tfilter returns what it has so far), on Linux 6.1 and 6.18 alike.
 * Equivalent to: `tc filter show dev X ingress|egress|parent P`
 */
export function tcFilterList(h: NetnsHandle, ifindex: number, parent: number): TcFilter[] {
  checkUint(ifindex, 'ifindex', 1, 0x7fff_ffff);
  checkUint(parent, 'parent', 0, 0xffff_ffff);
  const w = encodeTcFilterDump(h.route.writer.reset(), ifindex, parent);
  return h.route.dump(w, 'RTM_GETTFILTER', decodeTcFilter);
}

/**
 * Deletes one filter of a parent of an interface, named as a dump reports it
 * (handle, prio, protocol, kind and chain; a decoded TcFilter will do).
 * Handle 0 deletes the whole priority. The kernel answers ENOENT when no
 * such filter (or prio, or qdisc) exists, EINVAL when the kind differs.
 * Equivalent to: `tc filter del dev X parent P [chain C] prio N protocol PROTO handle H KIND`
 */
export function tcFilterDelete(h: NetnsHandle, ifindex: number, parent: number, filter: TcFilterRef): void {
  checkUint(ifindex, 'ifindex', 1, 0x7fff_ffff);
  checkUint(parent, 'parent', 0, 0xffff_ffff);
  checkUint(filter.handle, 'handle', 0, 0xffff_ffff);
  checkUint(filter.prio, 'prio', 1, 0xffff);
  checkUint(filter.protocol, 'protocol', 0, 0xffff);
  const w = encodeTcFilter(h.route.writer.reset(), RTM.RTM_DELTFILTER, 0, {
    ifindex, parent, handle: filter.handle, prio: filter.prio, protocol: filter.protocol, kind: filter.kind,
    ...(filter.chain !== undefined ? { chain: filter.chain } : {}),
  });
  h.route.request(w, 'RTM_DELTFILTER');
}
