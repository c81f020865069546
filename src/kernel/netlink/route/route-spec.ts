/**
 * Checks a RouteSpec and resolves it into wire values, filling in the
 * defaults `ip route` uses (a ConfigError naming the field for anything the
 * kernel would reject or silently misread).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6, ipToBytes, type IpFamily } from '../../../common/ip.ts';
import { RT_SCOPE, RT_TABLE, RTN, RTNH_F, RTPROT, U32_MAX } from './route-constants.ts';
import { checkInt, fieldError, prefValue, protocolValue, routeTypeValue, scopeValue } from './route-names.ts';
import { checkMetrics } from './route-metrics.ts';
import type { RouteFilter, RouteGetOptions, RouteMetrics, RouteNexthopSpec, RouteSpec } from './route-types.ts';

const WHAT = 'RouteSpec';

/** An address on the wire: its family travels with it (RTA_VIA needs it). */
export interface WireAddr { readonly family: IpFamily; readonly bytes: Buffer }

export interface NexthopRequest {
  readonly gateway?: WireAddr;
  readonly oif: number;
  readonly hops: number;
  readonly flags: number;
}

/** A RouteSpec resolved to wire values. */
export interface RouteRequest {
  readonly family: IpFamily;
  readonly dst?: Buffer;
  readonly dstLen: number;
  readonly src?: Buffer;
  readonly srcLen: number;
  readonly tos: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
  readonly gateway?: WireAddr;
  readonly oif?: number;
  readonly prefSrc?: Buffer;
  readonly priority?: number;
  readonly metrics?: RouteMetrics;
  readonly nexthops?: readonly NexthopRequest[];
  readonly pref?: number;
}

/** Route lookup keys, resolved (see RouteGetOptions). */
export interface RouteGetRequest {
  readonly family: IpFamily;
  readonly dst: Buffer;
  readonly src?: Buffer;
  readonly oif?: number;
  readonly iif?: number;
  readonly mark?: number;
  readonly uid?: number;
  readonly fibMatch?: boolean;
}

const familyName = (f: IpFamily): string => (f === AF_INET ? 'IPv4' : 'IPv6');

function familyOf(field: string, addr: string): IpFamily {
  if (isIPv4(addr)) return AF_INET;
  if (isIPv6(addr)) return AF_INET6;
  throw fieldError(WHAT, field, `"${addr}" is not an IP address`);
}

/** `a.b.c.d/n` → bytes and prefix length; host bits must be clear. */
function prefix(field: string, cidr: string, family: IpFamily): { bytes: Buffer; len: number } {
  const [addr, lenText] = cidr.split('/') as [string, string | undefined];
  if (familyOf(field, addr) !== family) throw fieldError(WHAT, field, `"${cidr}" is not ${familyName(family)} like the route`);
  const max = family === AF_INET ? 32 : 128;
  const len = lenText === undefined ? max : /^\d+$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= max)) throw fieldError(WHAT, field, `"${cidr}" has a bad prefix length (0..${max})`);
  const bytes = ipToBytes(addr);
  for (let bit = len; bit < max; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) throw fieldError(WHAT, field, `"${cidr}" has host bits set beyond /${len}`);
  }
  return { bytes, len };
}

function routeFamily(spec: RouteSpec): IpFamily {
  const fromDst = spec.dst === 'default' ? undefined : familyOf('dst', spec.dst.split('/')[0]!);
  if (spec.family !== undefined) {
    if (spec.family !== AF_INET && spec.family !== AF_INET6) throw fieldError(WHAT, 'family', `${spec.family} is neither AF_INET nor AF_INET6`);
    if (fromDst !== undefined && fromDst !== spec.family) throw fieldError(WHAT, 'family', `dst "${spec.dst}" is ${familyName(fromDst)}`);
    return spec.family;
  }
  const hint = spec.gateway ?? spec.nexthops?.find((n) => n.gateway)?.gateway ?? spec.prefSrc ?? spec.src?.split('/')[0];
  // A bad hint is reported later, under its own field name.
  return fromDst ?? (hint !== undefined && isIPv6(hint) ? AF_INET6 : AF_INET);
}

function gateway(field: string, addr: string, family: IpFamily): WireAddr {
  const gwFamily = familyOf(field, addr);
  if (family === AF_INET6 && gwFamily === AF_INET) throw fieldError(WHAT, field, `IPv6 routes cannot use the IPv4 gateway "${addr}"`);
  return { family: gwFamily, bytes: ipToBytes(addr) };
}

function nexthop(n: RouteNexthopSpec, i: number, family: IpFamily): NexthopRequest {
  const field = `nexthops[${i}]`;
  if (n.gateway === undefined && n.oif === undefined) throw fieldError(WHAT, field, 'needs a gateway or an oif');
  return {
    ...(n.gateway !== undefined ? { gateway: gateway(`${field}.gateway`, n.gateway, family) } : {}),
    oif: n.oif === undefined ? 0 : checkInt(WHAT, `${field}.oif`, n.oif, 1, 0x7fff_ffff),
    hops: checkInt(WHAT, `${field}.weight`, n.weight ?? 1, 1, 256) - 1,
    flags: n.onlink ? RTNH_F.RTNH_F_ONLINK : 0,
  };
}

function defaultScope(type: number, hasGateway: boolean): number {
  if (type === RTN.RTN_LOCAL || type === RTN.RTN_NAT) return RT_SCOPE.RT_SCOPE_HOST;
  if (type === RTN.RTN_BROADCAST || type === RTN.RTN_MULTICAST || type === RTN.RTN_ANYCAST) return RT_SCOPE.RT_SCOPE_LINK;
  if ((type === RTN.RTN_UNICAST || type === RTN.RTN_UNSPEC) && !hasGateway) return RT_SCOPE.RT_SCOPE_LINK;
  return RT_SCOPE.RT_SCOPE_UNIVERSE;
}

const REJECT_TYPES: ReadonlySet<number> = new Set([RTN.RTN_BLACKHOLE, RTN.RTN_UNREACHABLE, RTN.RTN_PROHIBIT, RTN.RTN_THROW]);

/**
 * Checks `spec` and resolves it. `forDelete` leaves protocol and type unset
 * (0, matching any) and the scope at RT_SCOPE_NOWHERE unless given, as
 * `ip route del` does.
 */
export function resolveRouteSpec(spec: RouteSpec, forDelete = false): RouteRequest {
  if (typeof spec.dst !== 'string') throw fieldError(WHAT, 'dst', 'is required (`default` or a CIDR)');
  const family = routeFamily(spec);
  const dst = spec.dst === 'default' ? { bytes: undefined, len: 0 } : prefix('dst', spec.dst, family);
  const src = spec.src === undefined ? undefined : prefix('src', spec.src, family);
  if (src && family === AF_INET) throw fieldError(WHAT, 'src', 'source prefixes (RTA_SRC) are IPv6 only; use prefSrc for a preferred source');
  const type = spec.type === undefined ? (forDelete ? RTN.RTN_UNSPEC : RTN.RTN_UNICAST) : routeTypeValue(WHAT, 'type', spec.type);
  const nexthops = spec.nexthops?.map((n, i) => nexthop(n, i, family));
  if (nexthops) {
    if (nexthops.length === 0) throw fieldError(WHAT, 'nexthops', 'is empty');
    for (const k of ['gateway', 'oif', 'onlink'] as const) {
      if (spec[k] !== undefined) throw fieldError(WHAT, k, 'cannot be combined with nexthops (give it per nexthop)');
    }
  }
  const gw = spec.gateway === undefined ? undefined : gateway('gateway', spec.gateway, family);
  if (REJECT_TYPES.has(type) && (gw || nexthops)) throw fieldError(WHAT, 'type', `a ${spec.type} route has no gateway`);
  if (spec.prefSrc !== undefined && familyOf('prefSrc', spec.prefSrc) !== family) {
    throw fieldError(WHAT, 'prefSrc', `"${spec.prefSrc}" is not ${familyName(family)} like the route`);
  }
  if (spec.pref !== undefined && family !== AF_INET6) throw fieldError(WHAT, 'pref', 'router preference is IPv6 only');
  const hasGateway = gw !== undefined || (nexthops?.some((n) => n.gateway) ?? false);
  const scope = spec.scope !== undefined ? scopeValue(WHAT, 'scope', spec.scope)
    : forDelete ? RT_SCOPE.RT_SCOPE_NOWHERE : defaultScope(type, hasGateway);
  return {
    family,
    ...(dst.bytes && dst.len > 0 ? { dst: dst.bytes } : {}),
    dstLen: dst.len,
    ...(src && src.len > 0 ? { src: src.bytes } : {}),
    srcLen: src?.len ?? 0,
    tos: spec.tos === undefined ? 0 : checkInt(WHAT, 'tos', spec.tos, 0, 255),
    table: spec.table === undefined ? RT_TABLE.RT_TABLE_MAIN : checkInt(WHAT, 'table', spec.table, 1, U32_MAX),
    protocol: spec.protocol !== undefined ? protocolValue(WHAT, 'protocol', spec.protocol)
      : forDelete ? RTPROT.RTPROT_UNSPEC : RTPROT.RTPROT_BOOT,
    scope,
    type,
    flags: spec.onlink ? RTNH_F.RTNH_F_ONLINK : 0,
    ...(gw ? { gateway: gw } : {}),
    ...(spec.oif !== undefined ? { oif: checkInt(WHAT, 'oif', spec.oif, 1, 0x7fff_ffff) } : {}),
    ...(spec.prefSrc !== undefined ? { prefSrc: ipToBytes(spec.prefSrc) } : {}),
    ...(spec.priority !== undefined ? { priority: checkInt(WHAT, 'priority', spec.priority, 0, U32_MAX) } : {}),
    ...(spec.metrics !== undefined ? { metrics: checkMetrics(WHAT, spec.metrics) } : {}),
    ...(nexthops ? { nexthops } : {}),
    ...(spec.pref !== undefined ? { pref: prefValue(WHAT, 'pref', spec.pref) } : {}),
  };
}

/** Checks the keys of a route lookup (`ip route get`) and resolves them. */
export function resolveRouteGet(dst: string, opts: RouteGetOptions = {}): RouteGetRequest {
  const what = 'RouteGet';
  const family = isIPv4(dst) ? AF_INET : isIPv6(dst) ? AF_INET6 : undefined;
  if (family === undefined) throw fieldError(what, 'dst', `"${dst}" is not an IP address`);
  if (opts.src !== undefined && !(family === AF_INET ? isIPv4(opts.src) : isIPv6(opts.src))) {
    throw fieldError(what, 'src', `"${opts.src}" is not ${familyName(family)} like the destination`);
  }
  return {
    family,
    dst: ipToBytes(dst),
    ...(opts.src !== undefined ? { src: ipToBytes(opts.src) } : {}),
    ...(opts.oif !== undefined ? { oif: checkInt(what, 'oif', opts.oif, 1, 0x7fff_ffff) } : {}),
    ...(opts.iif !== undefined ? { iif: checkInt(what, 'iif', opts.iif, 1, 0x7fff_ffff) } : {}),
    ...(opts.mark !== undefined ? { mark: checkInt(what, 'mark', opts.mark, 0, U32_MAX) } : {}),
    ...(opts.uid !== undefined ? { uid: checkInt(what, 'uid', opts.uid, 0, U32_MAX) } : {}),
    ...(opts.fibMatch ? { fibMatch: true } : {}),
  };
}

/** Checks a dump filter; table 0 (RT_TABLE_UNSPEC) means every table, like no table. */
export function checkRouteFilter(f: RouteFilter): RouteFilter {
  const what = 'RouteFilter';
  if (f.family !== undefined && f.family !== AF_INET && f.family !== AF_INET6) {
    throw fieldError(what, 'family', `${f.family} is neither AF_INET nor AF_INET6`);
  }
  if (f.table !== undefined) checkInt(what, 'table', f.table, 0, U32_MAX);
  if (f.oif !== undefined) checkInt(what, 'oif', f.oif, 1, 0x7fff_ffff);
  if (f.protocol !== undefined) protocolValue(what, 'protocol', f.protocol);
  if (f.type !== undefined) routeTypeValue(what, 'type', f.type);
  return f;
}
