/**
 * Address operations on one namespace: build request → execute → decode.
 */
import type { IfIndex } from '../../../common/ids.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.ts';
import { decodeAddr, encodeAddr, encodeAddrDump } from './addr-codec.ts';
import type { Addr, AddrFilter, AddrSpec } from './addr-types.ts';
import { RTM } from './rtnl-constants.ts';

/**
 * Lists addresses, optionally of one link and/or one family. The kernel
 * filters by family and (under strict checking) by ifindex; the filter is
 * applied here as well, so the result is right either way. A missing ifindex
 * fails with ENODEV.
 *
 * Equivalent to: `ip [-4|-6] addr show [dev X]`
 */
export function addrList(h: NetnsHandle, filter: AddrFilter = {}): Addr[] {
  const w = encodeAddrDump(h.route.writer.reset(), filter);
  const all = h.route.dump(w, 'RTM_GETADDR', decodeAddr);
  return all.filter((a) =>
    (filter.index === undefined || a.index === filter.index) && (filter.family === undefined || a.family === filter.family));
}

/**
 * Adds an address; fails with EEXIST if the link already has it.
 *
 * Equivalent to: `ip addr add 10.0.0.1/24 [peer P] [broadcast B] [label L] [scope S] [nodad] [noprefixroute] [valid_lft V preferred_lft P] dev X`
 */
export function addrAdd(h: NetnsHandle, index: IfIndex, spec: AddrSpec): void {
  const w = encodeAddr(h.route.writer.reset(), RTM.RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, spec);
  h.route.request(w, 'RTM_NEWADDR');
}

/**
 * Adds an address, or updates it (lifetimes, flags, metric) if it exists.
 *
 * Equivalent to: `ip addr replace 10.0.0.1/24 ... dev X`
 */
export function addrReplace(h: NetnsHandle, index: IfIndex, spec: AddrSpec): void {
  const w = encodeAddr(h.route.writer.reset(), RTM.RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, index, spec);
  h.route.request(w, 'RTM_NEWADDR');
}

/**
 * Deletes an address (matched by address, prefix length, peer and label);
 * fails with EADDRNOTAVAIL if the link does not have it.
 *
 * Equivalent to: `ip addr del 10.0.0.1/24 dev X`
 */
export function addrDelete(h: NetnsHandle, index: IfIndex, spec: AddrSpec): void {
  const w = encodeAddr(h.route.writer.reset(), RTM.RTM_DELADDR, 0, index, spec);
  h.route.request(w, 'RTM_DELADDR');
}
