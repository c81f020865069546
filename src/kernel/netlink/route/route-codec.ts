/**
 * RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE: struct rtmsg plus RTA_*
 * attributes (include/uapi/linux/rtnetlink.h; net/ipv4/fib_frontend.c,
 * net/ipv6/route.c). Table ids above 255 travel in RTA_TABLE, with
 * rtm_table 0 in requests (RT_TABLE_COMPAT in the kernel's messages).
 */
import { ProtocolError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { attrTable, readU32, readU8, readU16, walkAttrs } from '../attrs.ts';
import { AF_INET, AF_INET6 } from '../../../common/ip.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { ROUTE_FLAG_NAMES, RT_TABLE, RTA, RTM_F, RTMSG_LEN } from './route-constants.ts';
import { decodeMetrics, encodeMetrics } from './route-metrics.ts';
import {
  flagNames, prefName, protocolName, protocolValue, routeTypeName, routeTypeValue, scopeName,
} from './route-names.ts';
import { decodeMultipath, encodeGateway, encodeMultipath, readIpOf, readVia } from './route-nexthop.ts';
import { checkRouteFilter, resolveRouteSpec, type RouteGetRequest } from './route-spec.ts';
import type { Route, RouteFilter, RouteMetrics, RouteNexthop, RouteSpec } from './route-types.ts';
import { RTM } from './rtnl-constants.ts';

// ---- encoding ------------------------------------------------------------

const headerTable = (table: number): number => (table < 256 ? table : RT_TABLE.RT_TABLE_UNSPEC);

/**
 * Writes one RTM_NEWROUTE or RTM_DELROUTE message for `spec`. Throws a
 * ConfigError for an invalid spec (before writing anything).
 */
export function encodeRoute(w: NlWriter, type: number, flags: number, spec: RouteSpec): NlWriter {
  const r = resolveRouteSpec(spec, type === RTM.RTM_DELROUTE);
  w.beginMessage(type, flags);
  w.u8(r.family).u8(r.dstLen).u8(r.srcLen).u8(r.tos)
    .u8(headerTable(r.table)).u8(r.protocol).u8(r.scope).u8(r.type).u32(r.flags);
  if (r.dst) w.attrBytes(RTA.RTA_DST, r.dst);
  if (r.src) w.attrBytes(RTA.RTA_SRC, r.src);
  if (r.table >= 256) w.attrU32(RTA.RTA_TABLE, r.table);
  if (r.oif !== undefined) w.attrU32(RTA.RTA_OIF, r.oif);
  if (r.gateway) encodeGateway(w, r.family, r.gateway);
  if (r.priority !== undefined) w.attrU32(RTA.RTA_PRIORITY, r.priority);
  if (r.prefSrc) w.attrBytes(RTA.RTA_PREFSRC, r.prefSrc);
  if (r.metrics && type !== RTM.RTM_DELROUTE) encodeMetrics(w, r.metrics);
  if (r.nexthops) encodeMultipath(w, r.family, r.nexthops);
  if (r.pref !== undefined) w.attrU8(RTA.RTA_PREF, r.pref);
  w.endMessage();
  return w;
}

/**
 * Writes an RTM_GETROUTE dump request. Under strict checking the kernel
 * filters on table (rtm_table, or RTA_TABLE above 255), protocol, type and
 * RTA_OIF; table 0 (the default) dumps every table.
 */
export function encodeRouteDump(w: NlWriter, filter: RouteFilter = {}): NlWriter {
  checkRouteFilter(filter);
  const table = filter.table ?? 0;
  w.beginMessage(RTM.RTM_GETROUTE, 0);
  w.u8(filter.family ?? 0).u8(0).u8(0).u8(0)
    .u8(headerTable(table))
    .u8(filter.protocol === undefined ? 0 : protocolValue('RouteFilter', 'protocol', filter.protocol))
    .u8(0)
    .u8(filter.type === undefined ? 0 : routeTypeValue('RouteFilter', 'type', filter.type))
    .u32(0);
  if (table >= 256) w.attrU32(RTA.RTA_TABLE, table);
  if (filter.oif !== undefined) w.attrU32(RTA.RTA_OIF, filter.oif);
  w.endMessage();
  return w;
}

/** Writes an RTM_GETROUTE request for one destination (`ip route get`). */
export function encodeRouteGet(w: NlWriter, q: RouteGetRequest): NlWriter {
  const bits = q.dst.length * 8;
  w.beginMessage(RTM.RTM_GETROUTE, 0);
  w.u8(q.family).u8(bits).u8(q.src ? bits : 0).u8(0).u8(0).u8(0).u8(0).u8(0)
    .u32(q.fibMatch ? RTM_F.RTM_F_FIB_MATCH : 0);
  w.attrBytes(RTA.RTA_DST, q.dst);
  if (q.src) w.attrBytes(RTA.RTA_SRC, q.src);
  if (q.iif !== undefined) w.attrU32(RTA.RTA_IIF, q.iif);
  if (q.oif !== undefined) w.attrU32(RTA.RTA_OIF, q.oif);
  if (q.mark !== undefined) w.attrU32(RTA.RTA_MARK, q.mark);
  if (q.uid !== undefined) w.attrU32(RTA.RTA_UID, q.uid);
  w.endMessage();
  return w;
}

// ---- decoding ------------------------------------------------------------

interface RouteDraft {
  family: number;
  dst?: string;
  src?: string;
  table?: number;
  gateway?: string;
  oif?: number;
  iif?: number;
  prefSrc?: string;
  priority?: number;
  metrics?: RouteMetrics;
  nexthops?: RouteNexthop[];
  pref?: number;
  nhId?: number;
  encapType?: number;
}

const ROUTE_ATTRS = attrTable<RouteDraft>({
  [RTA.RTA_DST]: (b, o, l, d) => { d.dst = readIpOf(b, o, l, d.family, 'RTA_DST'); },
  [RTA.RTA_SRC]: (b, o, l, d) => { d.src = readIpOf(b, o, l, d.family, 'RTA_SRC'); },
  [RTA.RTA_IIF]: (b, o, l, d) => { d.iif = readU32(b, o, l); },
  [RTA.RTA_OIF]: (b, o, l, d) => { d.oif = readU32(b, o, l); },
  [RTA.RTA_GATEWAY]: (b, o, l, d) => { d.gateway = readIpOf(b, o, l, d.family, 'RTA_GATEWAY'); },
  [RTA.RTA_VIA]: (b, o, l, d) => {
    const via = readVia(b, o, l);
    if (via !== undefined) d.gateway = via;
  },
  [RTA.RTA_PRIORITY]: (b, o, l, d) => { d.priority = readU32(b, o, l); },
  [RTA.RTA_PREFSRC]: (b, o, l, d) => { d.prefSrc = readIpOf(b, o, l, d.family, 'RTA_PREFSRC'); },
  [RTA.RTA_METRICS]: (b, o, l, d) => { d.metrics = decodeMetrics(b, o, l); },
  [RTA.RTA_MULTIPATH]: (b, o, l, d) => { d.nexthops = decodeMultipath(b, o, l, d.family); },
  [RTA.RTA_TABLE]: (b, o, l, d) => { d.table = readU32(b, o, l); },
  [RTA.RTA_PREF]: (b, o, l, d) => { d.pref = readU8(b, o, l); },
  [RTA.RTA_NH_ID]: (b, o, l, d) => { d.nhId = readU32(b, o, l); },
  [RTA.RTA_ENCAP_TYPE]: (b, o, l, d) => { d.encapType = readU16(b, o, l); },
});

function prefix(addr: string | undefined, len: number, family: number): string {
  if (addr === undefined && len === 0) return 'default';
  return `${addr ?? (family === AF_INET ? '0.0.0.0' : '::')}/${len}`;
}

/**
 * Decodes one RTM_NEWROUTE message. Families other than IPv4 and IPv6
 * (multicast and MPLS tables, which an AF_UNSPEC dump includes) decode to
 * `undefined`.
 */
export function decodeRoute(buf: Buffer, m: NlMessage): Route | undefined {
  if (m.len < RTMSG_LEN) throw new ProtocolError(`rtmsg needs ${RTMSG_LEN} bytes, has ${m.len}`);
  const o = m.off;
  const family = buf[o]!;
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const d: RouteDraft = { family };
  walkAttrs(buf, o + RTMSG_LEN, o + m.len, ROUTE_ATTRS, d);
  const dstLen = buf[o + 1]!;
  const srcLen = buf[o + 2]!;
  const max = family === AF_INET ? 32 : 128;
  if (dstLen > max || srcLen > max) throw new ProtocolError(`route prefix length ${Math.max(dstLen, srcLen)} exceeds ${max}`);
  const rawFlags = buf.readUInt32LE(o + 8);
  return {
    family,
    dst: prefix(d.dst, dstLen, family),
    ...(d.src !== undefined || srcLen > 0 ? { src: prefix(d.src, srcLen, family) } : {}),
    tos: buf[o + 3]!,
    table: d.table ?? buf[o + 4]!,
    protocol: protocolName(buf[o + 5]!),
    scope: scopeName(buf[o + 6]!),
    type: routeTypeName(buf[o + 7]!),
    ...(d.gateway !== undefined ? { gateway: d.gateway } : {}),
    ...(d.oif !== undefined ? { oif: d.oif as IfIndex } : {}),
    ...(d.iif !== undefined ? { iif: d.iif as IfIndex } : {}),
    ...(d.prefSrc !== undefined ? { prefSrc: d.prefSrc } : {}),
    ...(d.priority !== undefined ? { priority: d.priority } : {}),
    ...(d.metrics !== undefined ? { metrics: d.metrics } : {}),
    ...(d.nexthops !== undefined ? { nexthops: d.nexthops } : {}),
    ...(d.pref !== undefined ? { pref: prefName(d.pref) } : {}),
    ...(d.nhId !== undefined ? { nhId: d.nhId } : {}),
    ...(d.encapType !== undefined ? { encapType: d.encapType } : {}),
    flags: flagNames(rawFlags, ROUTE_FLAG_NAMES),
    rawFlags,
  };
}
