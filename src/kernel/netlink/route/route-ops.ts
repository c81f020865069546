/**
 * Route operations on one namespace: build request → execute → decode.
 */
import { ProtocolError } from '../../../common/errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { KernelError } from '../../errors.ts';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.ts';
import { protocolName, protocolValue, routeTypeName, routeTypeValue } from './route-names.ts';
import { decodeRoute, encodeRoute, encodeRouteDump, encodeRouteGet } from './route-codec.ts';
import { resolveRouteGet } from './route-spec.ts';
import type { Route, RouteFilter, RouteGetOptions, RouteSpec } from './route-types.ts';
import { RTM } from './rtnl-constants.ts';

const ENOENT = 2;

function matches(r: Route, f: RouteFilter, protocol: Route['protocol'] | undefined, type: Route['type'] | undefined): boolean {
  if (f.family !== undefined && r.family !== f.family) return false;
  if (f.table !== undefined && f.table !== 0 && r.table !== f.table) return false;
  if (f.oif !== undefined && r.oif !== f.oif && !r.nexthops?.some((n) => n.oif === f.oif)) return false;
  if (protocol !== undefined && r.protocol !== protocol) return false;
  if (type !== undefined && r.type !== type) return false;
  return true;
}

/**
 * Lists routes of every table (or one), optionally one family, one output
 * link (single or any multipath leg), protocol or type. The kernel filters
 * under strict checking; the filter is applied here as well, so the result
 * is right either way. A table that does not exist yields no routes.
 *
 * Equivalent to: `ip [-4|-6] route show table all [table T] [dev X] [proto P] [type T]`
 */
export function routeList(h: NetnsHandle, filter: RouteFilter = {}): Route[] {
  const w = encodeRouteDump(h.route.writer.reset(), filter);
  let all: Route[];
  try {
    all = h.route.dump(w, 'RTM_GETROUTE', decodeRoute);
  } catch (err) {
    // A family-specific dump of a table the family has never used: "FIB table does not exist".
    if (err instanceof KernelError && err.errno === ENOENT && filter.table) return [];
    throw err;
  }
  // Decoded records carry names where one exists: compare in that form.
  const protocol = filter.protocol === undefined ? undefined : protocolName(protocolValue('RouteFilter', 'protocol', filter.protocol));
  const type = filter.type === undefined ? undefined : routeTypeName(routeTypeValue('RouteFilter', 'type', filter.type));
  return all.filter((r) => matches(r, filter, protocol, type));
}

/**
 * Adds a route; fails with EEXIST if the table already has one for the
 * same destination, tos and priority.
 *
 * Equivalent to: `ip route add [type] DST [via GW] [dev X] [table T] [proto P] [scope S] [src S] [metric M] [mtu N ...] [nexthop via GW dev X weight W ...]`
 */
export function routeAdd(h: NetnsHandle, spec: RouteSpec): void {
  const w = encodeRoute(h.route.writer.reset(), RTM.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, spec);
  h.route.request(w, 'RTM_NEWROUTE');
}

/**
 * Adds a route, or replaces the one with the same destination, tos and
 * priority.
 *
 * Equivalent to: `ip route replace DST ...`
 */
export function routeReplace(h: NetnsHandle, spec: RouteSpec): void {
  const w = encodeRoute(h.route.writer.reset(), RTM.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, spec);
  h.route.request(w, 'RTM_NEWROUTE');
}

/**
 * Deletes a route, matched by destination and table plus whichever of
 * gateway, oif, priority, protocol, scope, type and tos are given; fails
 * with ESRCH if none matches.
 *
 * Equivalent to: `ip route del DST [via GW] [dev X] [table T] [metric M]`
 */
export function routeDelete(h: NetnsHandle, spec: RouteSpec): void {
  const w = encodeRoute(h.route.writer.reset(), RTM.RTM_DELROUTE, 0, spec);
  h.route.request(w, 'RTM_DELROUTE');
}

/**
 * Looks up the route the kernel would use for `dst` (a resolved, cloned
 * route; with `fibMatch`, the FIB entry that matched). Fails with
 * ENETUNREACH when no route matches.
 *
 * Equivalent to: `ip route get DST [from S] [iif X] [oif X] [mark M] [uid U] [fibmatch]`
 */
export function routeGet(h: NetnsHandle, dst: string, opts: RouteGetOptions = {}): Route {
  const w = encodeRouteGet(h.route.writer.reset(), resolveRouteGet(dst, opts));
  let route: Route | undefined;
  h.route.request(w, 'RTM_GETROUTE', (buf, m) => {
    if (m.type === RTM.RTM_NEWROUTE) route ??= decodeRoute(buf, m);
  });
  if (!route) throw new ProtocolError(`RTM_GETROUTE ${dst}: the kernel acked without a route`, { context: { dst } }, 'PROTOCOL_UNEXPECTED');
  return route;
}
