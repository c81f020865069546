/**
 * Gateways and RTA_MULTIPATH. A gateway of the route's own family travels as
 * RTA_GATEWAY, one of the other family as RTA_VIA (struct rtvia: family u16,
 * then the address). RTA_MULTIPATH is an array of struct rtnexthop (len u16,
 * flags u8, hops u8, ifindex s32), each followed by its own attributes;
 * weight = hops + 1.
 */
import { ProtocolError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { attrTable, checkRegion, walkAttrs } from '../attrs.ts';
import { NLA_HDRLEN, nlAlign } from '../constants.ts';
import { AF_INET, AF_INET6, ipFromBytes } from '../../../common/ip.ts';
import type { NlWriter } from '../writer.ts';
import { ROUTE_FLAG_NAMES, RTA, RTNEXTHOP_LEN } from './route-constants.ts';
import { flagNames } from './route-names.ts';
import type { NexthopRequest, WireAddr } from './route-spec.ts';
import type { RouteNexthop } from './route-types.ts';

const RTVIA_HDR = 2;

/** Bytes the gateway attribute of `gw` takes in a route of `family`. */
function gatewaySize(family: number, gw: WireAddr): number {
  return nlAlign(NLA_HDRLEN + (gw.family === family ? 0 : RTVIA_HDR) + gw.bytes.length);
}

/** Writes RTA_GATEWAY, or RTA_VIA when the gateway's family differs from the route's. */
export function encodeGateway(w: NlWriter, family: number, gw: WireAddr): void {
  if (gw.family === family) {
    w.attrBytes(RTA.RTA_GATEWAY, gw.bytes);
    return;
  }
  const via = Buffer.alloc(RTVIA_HDR + gw.bytes.length);
  via.writeUInt16LE(gw.family, 0);
  gw.bytes.copy(via, RTVIA_HDR);
  w.attrBytes(RTA.RTA_VIA, via);
}

/** Writes RTA_MULTIPATH for a route of `family`. */
export function encodeMultipath(w: NlWriter, family: number, hops: readonly NexthopRequest[]): void {
  const nest = w.nestStart(RTA.RTA_MULTIPATH, false);
  for (const nh of hops) {
    const len = RTNEXTHOP_LEN + (nh.gateway ? gatewaySize(family, nh.gateway) : 0);
    w.u16(len).u8(nh.flags).u8(nh.hops).s32(nh.oif);
    if (nh.gateway) encodeGateway(w, family, nh.gateway);
  }
  w.nestEnd(nest);
}

/** Reads an address attribute that must match `family`'s length. */
export function readIpOf(buf: Buffer, off: number, len: number, family: number, what: string): string {
  const want = family === AF_INET ? 4 : 16;
  if (len !== want) throw new ProtocolError(`${what} of ${len} bytes in a family ${family} route`);
  return ipFromBytes(buf, off, len);
}

/** Reads struct rtvia; families other than IPv4/IPv6 (MPLS, packet) give `undefined`. */
export function readVia(buf: Buffer, off: number, len: number): string | undefined {
  if (len < RTVIA_HDR) throw new ProtocolError(`RTA_VIA needs ${RTVIA_HDR} bytes, has ${len}`);
  const family = buf.readUInt16LE(off);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  return readIpOf(buf, off + RTVIA_HDR, len - RTVIA_HDR, family, 'RTA_VIA address');
}

interface NexthopDraft { family: number; gateway?: string }

const NEXTHOP_ATTRS = attrTable<NexthopDraft>({
  [RTA.RTA_GATEWAY]: (b, o, l, d) => { d.gateway = readIpOf(b, o, l, d.family, 'RTA_GATEWAY'); },
  [RTA.RTA_VIA]: (b, o, l, d) => {
    const via = readVia(b, o, l);
    if (via !== undefined) d.gateway = via;
  },
});

/** Decodes the payload of RTA_MULTIPATH at `buf[off, off+len)` in a route of `family`. */
export function decodeMultipath(buf: Buffer, off: number, len: number, family: number): RouteNexthop[] {
  const end = off + len;
  checkRegion(buf, off, end, 'RTA_MULTIPATH');
  const out: RouteNexthop[] = [];
  let pos = off;
  while (end - pos >= RTNEXTHOP_LEN) {
    const nhLen = buf.readUInt16LE(pos);
    if (nhLen < RTNEXTHOP_LEN || nhLen > end - pos) {
      throw new ProtocolError(`rtnexthop length ${nhLen} at offset ${pos} exceeds RTA_MULTIPATH`);
    }
    const d: NexthopDraft = { family };
    walkAttrs(buf, pos + RTNEXTHOP_LEN, pos + nhLen, NEXTHOP_ATTRS, d);
    out.push({
      ...(d.gateway !== undefined ? { gateway: d.gateway } : {}),
      oif: buf.readInt32LE(pos + 4) as IfIndex,
      weight: buf[pos + 3]! + 1,
      flags: flagNames(buf[pos + 2]!, ROUTE_FLAG_NAMES),
    });
    pos += nlAlign(nhLen);
  }
  if (pos < end) throw new ProtocolError(`trailing bytes in RTA_MULTIPATH at ${pos}`);
  return out;
}
