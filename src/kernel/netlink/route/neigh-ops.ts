/**
 * Neighbour (ARP / NDP cache) operations (RTM_GETNEIGH / RTM_NEWNEIGH /
 * RTM_DELNEIGH): build request → execute on the namespace's rtnetlink
 * socket → decode.
 */
import type { NetnsHandle } from '../../netns/handle.ts';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.ts';
import { decodeNeigh, encodeNeigh, encodeNeighDump } from './neigh-codec.ts';
import type { Neigh, NeighFilter, NeighSpec } from './neigh-types.ts';
import { RTM } from './rtnl-constants.ts';

/**
 * Lists IPv4 and IPv6 neighbour entries, optionally of one link and/or one
 * family; with `proxy: true`, the proxy ARP / NDP entries instead. Unlike
 * `ip neigh show`, NUD_NOARP entries (multicast, loopback) are included.
 * The kernel filters by link itself (NDA_IFINDEX under strict checking); the
 * result is filtered again here for kernels that ignore the attribute.
 *
 * Equivalent to: `ip neigh show [dev DEV] [proxy] nud all` (`ip -4`/`ip -6` for a family)
 */
export function neighList(h: NetnsHandle, filter: NeighFilter = {}): Neigh[] {
  const w = encodeNeighDump(h.route.writer.reset(), filter);
  const proxy = filter.proxy === true;
  return h.route.dump(w, 'RTM_GETNEIGH', decodeNeigh).filter((n) =>
    (filter.index === undefined || n.index === filter.index)
    && (filter.family === undefined || n.family === filter.family)
    && n.proxy === proxy);
}

/**
 * Adds a neighbour entry (default state `permanent`); fails with EEXIST if
 * one for the address exists on the link.
 *
 * Equivalent to: `ip neigh add ADDR lladdr MAC dev DEV nud permanent [router]` (or `ip neigh add proxy ADDR dev DEV`)
 */
export function neighAdd(h: NetnsHandle, spec: NeighSpec): void {
  const w = encodeNeigh(h.route.writer.reset(), RTM.RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, spec);
  h.route.request(w, 'RTM_NEWNEIGH');
}

/**
 * Adds a neighbour entry or overwrites the one for the address on the link.
 *
 * Equivalent to: `ip neigh replace ADDR lladdr MAC dev DEV nud permanent`
 */
export function neighReplace(h: NetnsHandle, spec: NeighSpec): void {
  const w = encodeNeigh(h.route.writer.reset(), RTM.RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, spec);
  h.route.request(w, 'RTM_NEWNEIGH');
}

/**
 * Deletes the entry for `dst` on link `index` (the proxy entry when `proxy`);
 * fails with ENOENT when there is none.
 *
 * Equivalent to: `ip neigh del ADDR dev DEV` (or `ip neigh del proxy ADDR dev DEV`)
 */
export function neighDelete(h: NetnsHandle, spec: Pick<NeighSpec, 'index' | 'dst' | 'proxy'>): void {
  const w = encodeNeigh(h.route.writer.reset(), RTM.RTM_DELNEIGH, 0, spec);
  h.route.request(w, 'RTM_DELNEIGH');
}
