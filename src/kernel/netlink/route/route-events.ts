/**
 * rtnetlink change events as a typed async stream: link, address, route, rule
 * and neighbour messages from the multicast groups, decoded with the same
 * decoders as the dumps. An `overrun` means events were lost: re-dump.
 *
 * Equivalent to: `ip monitor link address route rule neigh`
 */
import type { Libc } from '../../libc/index.ts';
import { libc as defaultLibc } from '../../libc/index.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { NETLINK_ROUTE } from '../constants.ts';
import type { NlMessage } from '../message.ts';
import { NetlinkMonitor } from '../monitor.ts';
import { decodeAddr } from './addr-codec.ts';
import type { Addr } from './addr-types.ts';
import { decodeLink } from './link-codec.ts';
import type { Link } from './link-types.ts';
import { decodeNeigh } from './neigh-codec.ts';
import type { Neigh } from './neigh-types.ts';
import { decodeRoute } from './route-codec.ts';
import type { Route } from './route-types.ts';
import { decodeRule } from './rule-codec.ts';
import type { Rule } from './rule-types.ts';
import { RTM, RTNLGRP } from './rtnl-constants.ts';

export type RouteEventAction = 'new' | 'del';

export type RouteEvent =
  | { readonly object: 'link'; readonly action: RouteEventAction; readonly link: Link }
  | { readonly object: 'addr'; readonly action: RouteEventAction; readonly addr: Addr }
  | { readonly object: 'route'; readonly action: RouteEventAction; readonly route: Route }
  | { readonly object: 'rule'; readonly action: RouteEventAction; readonly rule: Rule }
  | { readonly object: 'neigh'; readonly action: RouteEventAction; readonly neigh: Neigh };

export type RouteEventObject = RouteEvent['object'];

/** Which multicast groups carry each object's changes (IPv4 and IPv6). */
const GROUPS: Readonly<Record<RouteEventObject, readonly number[]>> = {
  link: [RTNLGRP.RTNLGRP_LINK],
  addr: [RTNLGRP.RTNLGRP_IPV4_IFADDR, RTNLGRP.RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP.RTNLGRP_IPV4_ROUTE, RTNLGRP.RTNLGRP_IPV6_ROUTE],
  rule: [RTNLGRP.RTNLGRP_IPV4_RULE, RTNLGRP.RTNLGRP_IPV6_RULE],
  neigh: [RTNLGRP.RTNLGRP_NEIGH],
};

/** Decodes one multicast message; messages of other types (or families we skip) give undefined. */
export function decodeRouteEvent(buf: Buffer, m: NlMessage): RouteEvent | undefined {
  switch (m.type) {
    case RTM.RTM_NEWLINK:
    case RTM.RTM_DELLINK:
      return { object: 'link', action: m.type === RTM.RTM_NEWLINK ? 'new' : 'del', link: decodeLink(buf, m) };
    case RTM.RTM_NEWADDR:
    case RTM.RTM_DELADDR: {
      const addr = decodeAddr(buf, m);
      return addr && { object: 'addr', action: m.type === RTM.RTM_NEWADDR ? 'new' : 'del', addr };
    }
    case RTM.RTM_NEWROUTE:
    case RTM.RTM_DELROUTE: {
      const route = decodeRoute(buf, m);
      return route && { object: 'route', action: m.type === RTM.RTM_NEWROUTE ? 'new' : 'del', route };
    }
    case RTM.RTM_NEWRULE:
    case RTM.RTM_DELRULE: {
      const rule = decodeRule(buf, m);
      return rule && { object: 'rule', action: m.type === RTM.RTM_NEWRULE ? 'new' : 'del', rule };
    }
    case RTM.RTM_NEWNEIGH:
    case RTM.RTM_DELNEIGH: {
      const neigh = decodeNeigh(buf, m);
      return neigh && { object: 'neigh', action: m.type === RTM.RTM_NEWNEIGH ? 'new' : 'del', neigh };
    }
    default:
      return undefined;
  }
}

export interface RouteEventsOptions {
  /** Which objects to watch (default: links, addresses and routes). */
  readonly objects?: readonly RouteEventObject[];
  readonly libc?: Libc;
  readonly pollMs?: number;
  readonly highWater?: number;
}

/** Opens a stream of rtnetlink change events inside `h`'s namespace. Close it when done. */
export function routeEventsOpen(h: NetnsHandle, options: RouteEventsOptions = {}): NetlinkMonitor<RouteEvent> {
  const objects = options.objects ?? ['link', 'addr', 'route'];
  const groups = [...new Set(objects.flatMap((o) => GROUPS[o]))];
  return new NetlinkMonitor(h, NETLINK_ROUTE, groups, decodeRouteEvent, {
    libc: options.libc ?? defaultLibc(),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.highWater !== undefined ? { highWater: options.highWater } : {}),
  });
}
