/**
 * Ethernet II + IPv4 + UDP framing for DHCP over an AF_PACKET SOCK_RAW
 * socket: a client without an address cannot use a UDP socket to hear the
 * server's reply to it, so it builds and reads whole frames (RFC 2131 §4.1).
 * Pure functions. `decodeFrame` returns undefined for frames that are not
 * UDP/IPv4 to `dstPort` (a packet socket sees all IPv4 on the link) and
 * throws ProtocolError only for a frame that claims to be one and is broken.
 */
import { ProtocolError } from '../../common/errors.ts';
import { ipv4FromBytes, ipv4ToBytes, macFromBytes, macToBytes } from './dhcp-codec.ts';

export const ETH_P_IP = 0x0800;
export const ETH_HLEN = 14;
const IPPROTO_UDP = 17;
const IPV4_HLEN = 20;
const UDP_HLEN = 8;
/** A default TTL for a datagram that never leaves the link (or crosses one relay). */
const TTL = 64;

export interface UdpFrame {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Buffer;
}

const malformed = (what: string): ProtocolError => new ProtocolError(`UDP/IPv4 frame: ${what}`);

/** The Internet checksum (RFC 1071) of `buf`, folded, starting from `sum`. */
export function inetChecksum(buf: Buffer, sum = 0): number {
  let s = sum;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length % 2 === 1) s += buf[buf.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return (~s) & 0xffff;
}

function udpChecksum(src: Buffer, dst: Buffer, udp: Buffer): number {
  const pseudo = Buffer.alloc(12);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 4);
  pseudo[9] = IPPROTO_UDP;
  pseudo.writeUInt16BE(udp.length, 10);
  const c = inetChecksum(Buffer.concat([pseudo, udp]));
  return c === 0 ? 0xffff : c; // RFC 768: a computed zero is sent as all ones
}

export function encodeFrame(f: UdpFrame): Buffer {
  const total = ETH_HLEN + IPV4_HLEN + UDP_HLEN + f.payload.length;
  if (total - ETH_HLEN > 0xffff) throw malformed(`payload of ${f.payload.length} octets is too large`);
  const buf = Buffer.alloc(total);
  macToBytes(f.dstMac, 'dstMac').copy(buf, 0);
  macToBytes(f.srcMac, 'srcMac').copy(buf, 6);
  buf.writeUInt16BE(ETH_P_IP, 12);
  const ip = buf.subarray(ETH_HLEN, ETH_HLEN + IPV4_HLEN);
  ip[0] = 0x45;
  ip.writeUInt16BE(total - ETH_HLEN, 2);
  ip[8] = TTL;
  ip[9] = IPPROTO_UDP;
  const src = ipv4ToBytes(f.srcIp, 'srcIp');
  const dst = ipv4ToBytes(f.dstIp, 'dstIp');
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(inetChecksum(ip), 10);
  const udp = buf.subarray(ETH_HLEN + IPV4_HLEN);
  udp.writeUInt16BE(f.srcPort, 0);
  udp.writeUInt16BE(f.dstPort, 2);
  udp.writeUInt16BE(UDP_HLEN + f.payload.length, 4);
  f.payload.copy(udp, UDP_HLEN);
  udp.writeUInt16BE(udpChecksum(src, dst, udp), 6);
  return buf;
}

/**
 * The UDP datagram in an Ethernet frame, if it is UDP/IPv4 to `dstPort`
 * (any port when absent). The IPv4 header checksum is verified; the UDP
 * checksum is not: with checksum offload (veth, most NICs) a packet socket
 * sees the sender's frame before the checksum is filled in
 * (TP_STATUS_CSUMNOTREADY), so a strict check would drop good replies; the
 * DHCP decode and the xid/chaddr match guard what follows. Fragments are not
 * reassembled (DHCP messages fit one frame).
 */
export function decodeFrame(buf: Buffer, dstPort?: number): UdpFrame | undefined {
  if (buf.length < ETH_HLEN + IPV4_HLEN) return undefined;
  if (buf.readUInt16BE(12) !== ETH_P_IP) return undefined;
  const ipStart = ETH_HLEN;
  const version = buf[ipStart]! >> 4;
  const ihl = (buf[ipStart]! & 0x0f) * 4;
  if (version !== 4) return undefined;
  if (buf[ipStart + 9] !== IPPROTO_UDP) return undefined;
  if (ihl < IPV4_HLEN || ipStart + ihl + UDP_HLEN > buf.length) throw malformed(`IPv4 header length ${ihl} leaves no room for a UDP header in ${buf.length} octets`);
  const ipTotal = buf.readUInt16BE(ipStart + 2);
  if (ipTotal < ihl + UDP_HLEN || ipStart + ipTotal > buf.length) throw malformed(`IPv4 total length ${ipTotal} does not fit the ${buf.length - ipStart} octets received`);
  if ((buf.readUInt16BE(ipStart + 6) & 0x3fff) !== 0) return undefined; // a fragment
  const ipHeader = buf.subarray(ipStart, ipStart + ihl);
  if (inetChecksum(ipHeader) !== 0) throw malformed('IPv4 header checksum is wrong');
  const udpStart = ipStart + ihl;
  const port = buf.readUInt16BE(udpStart + 2);
  if (dstPort !== undefined && port !== dstPort) return undefined;
  const udpLen = buf.readUInt16BE(udpStart + 4);
  if (udpLen < UDP_HLEN || udpStart + udpLen > ipStart + ipTotal) throw malformed(`UDP length ${udpLen} does not fit the IPv4 datagram`);
  const udp = buf.subarray(udpStart, udpStart + udpLen);
  return {
    dstMac: macFromBytes(buf, 0),
    srcMac: macFromBytes(buf, 6),
    srcIp: ipv4FromBytes(buf, ipStart + 12),
    dstIp: ipv4FromBytes(buf, ipStart + 16),
    srcPort: udp.readUInt16BE(0),
    dstPort: port,
    payload: Buffer.from(udp.subarray(UDP_HLEN)),
  };
}
