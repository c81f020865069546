/**
 * DHCPv4 message codec (RFC 2131 §2, options RFC 2132): pure functions over
 * Buffers. `decodeDhcp` throws ProtocolError (PROTOCOL_MALFORMED) naming what
 * is wrong for anything truncated or out of bounds; it never reads past the
 * buffer. Option overload (option 52, options inside `sname`/`file`) is not
 * read: the message is refused, since silently missing a lease time there
 * would be worse (no server in our tests sends it; dnsmasq and Kea do not by
 * default).
 */
import { ProtocolError } from '../../common/errors.ts';
import {
  BOOTP_FIXED_LEN, BOOTREPLY, BOOTREQUEST, DHCP_MESSAGE_TYPE_NAMES, DHCP_MESSAGE_TYPES, DHO, FLAG_BROADCAST,
  HLEN_ETHER, HTYPE_ETHER, MAGIC_COOKIE, MIN_MESSAGE_LEN,
} from './dhcp-constants.ts';
import type { DhcpMessage, DhcpOptions } from './dhcp-types.ts';

const malformed = (what: string): ProtocolError => new ProtocolError(`DHCP message: ${what}`);

export function ipv4ToBytes(addr: string, field: string): Buffer {
  const parts = addr.split('.');
  const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
  if (!ok) throw malformed(`${field}: "${addr}" is not an IPv4 address`);
  return Buffer.from(parts.map(Number));
}

export const ipv4FromBytes = (b: Buffer, off: number): string => `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;

export function macToBytes(mac: string, field = 'chaddr'): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw malformed(`${field}: "${mac}" is not a 6-byte MAC`);
  return Buffer.from(mac.replaceAll(':', ''), 'hex');
}

export const macFromBytes = (b: Buffer, off: number): string => [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** The prefix length of a contiguous IPv4 netmask; ProtocolError for a non-contiguous one. */
export function maskToPrefix(mask: string): number {
  const n = ipv4ToBytes(mask, 'subnet mask').readUInt32BE(0);
  const ones = 32 - Math.log2(((~n) >>> 0) + 1);
  if (!Number.isInteger(ones)) throw malformed(`subnet mask ${mask} is not contiguous`);
  return ones;
}

// ---- encode ----

class OptionWriter {
  readonly parts: Buffer[] = [];
  add(code: number, data: Buffer): void {
    // RFC 3396: an option longer than 255 octets is split into consecutive instances.
    for (let off = 0; off < data.length || off === 0; off += 255) {
      const chunk = data.subarray(off, off + 255);
      this.parts.push(Buffer.from([code, chunk.length]), chunk);
      if (data.length === 0) break;
    }
  }
  u32(code: number, v: number, field: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw malformed(`${field}: ${v} is not a uint32`);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.add(code, b);
  }
  ips(code: number, list: readonly string[], field: string): void {
    this.add(code, Buffer.concat(list.map((a) => ipv4ToBytes(a, field))));
  }
}

function encodeOptions(m: DhcpMessage): Buffer {
  const o = m.options;
  const w = new OptionWriter();
  w.add(DHO.MESSAGE_TYPE, Buffer.from([DHCP_MESSAGE_TYPES[m.type]]));
  if (o.clientId !== undefined) w.add(DHO.CLIENT_ID, Buffer.from(o.clientId, 'hex'));
  if (o.requestedAddress !== undefined) w.add(DHO.REQUESTED_ADDRESS, ipv4ToBytes(o.requestedAddress, 'requestedAddress'));
  if (o.serverId !== undefined) w.add(DHO.SERVER_ID, ipv4ToBytes(o.serverId, 'serverId'));
  if (o.subnetMask !== undefined) w.add(DHO.SUBNET_MASK, ipv4ToBytes(o.subnetMask, 'subnetMask'));
  if (o.routers !== undefined) w.ips(DHO.ROUTERS, o.routers, 'routers');
  if (o.dnsServers !== undefined) w.ips(DHO.DOMAIN_NAME_SERVERS, o.dnsServers, 'dnsServers');
  if (o.leaseTime !== undefined) w.u32(DHO.LEASE_TIME, o.leaseTime, 'leaseTime');
  if (o.renewalTime !== undefined) w.u32(DHO.RENEWAL_TIME, o.renewalTime, 'renewalTime');
  if (o.rebindingTime !== undefined) w.u32(DHO.REBINDING_TIME, o.rebindingTime, 'rebindingTime');
  if (o.hostName !== undefined) w.add(DHO.HOST_NAME, Buffer.from(o.hostName, 'utf8'));
  if (o.message !== undefined) w.add(DHO.MESSAGE, Buffer.from(o.message, 'utf8'));
  if (o.maxMessageSize !== undefined) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(o.maxMessageSize);
    w.add(DHO.MAX_MESSAGE_SIZE, b);
  }
  if (o.parameterRequestList !== undefined) w.add(DHO.PARAMETER_REQUEST_LIST, Buffer.from(o.parameterRequestList));
  for (const [code, hex] of Object.entries(o.other ?? {})) w.add(Number(code), Buffer.from(hex, 'hex'));
  w.parts.push(Buffer.from([DHO.END]));
  return Buffer.concat(w.parts);
}

/** The BOOTP/DHCP payload of a UDP datagram, padded to the 300 octets old relays expect. */
export function encodeDhcp(m: DhcpMessage): Buffer {
  const options = encodeOptions(m);
  const buf = Buffer.alloc(Math.max(MIN_MESSAGE_LEN, BOOTP_FIXED_LEN + 4 + options.length));
  buf[0] = m.op === 'request' ? BOOTREQUEST : BOOTREPLY;
  buf[1] = HTYPE_ETHER;
  buf[2] = HLEN_ETHER;
  buf.writeUInt32BE(m.xid >>> 0, 4);
  buf.writeUInt16BE(m.secs, 8);
  buf.writeUInt16BE(m.broadcast ? FLAG_BROADCAST : 0, 10);
  ipv4ToBytes(m.ciaddr, 'ciaddr').copy(buf, 12);
  ipv4ToBytes(m.yiaddr, 'yiaddr').copy(buf, 16);
  ipv4ToBytes(m.siaddr, 'siaddr').copy(buf, 20);
  ipv4ToBytes(m.giaddr, 'giaddr').copy(buf, 24);
  macToBytes(m.chaddr).copy(buf, 28);
  buf.writeUInt32BE(MAGIC_COOKIE, BOOTP_FIXED_LEN);
  options.copy(buf, BOOTP_FIXED_LEN + 4);
  return buf;
}

// ---- decode ----

/** Option code → its data, repeated instances concatenated (RFC 3396). */
function readOptions(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let i = BOOTP_FIXED_LEN + 4;
  for (;;) {
    if (i >= buf.length) throw malformed('options end without the END option (255)');
    const code = buf[i]!;
    if (code === DHO.END) return out;
    if (code === DHO.PAD) {
      i += 1;
      continue;
    }
    if (i + 1 >= buf.length) throw malformed(`option ${code}: truncated before its length`);
    const len = buf[i + 1]!;
    if (i + 2 + len > buf.length) throw malformed(`option ${code}: length ${len} runs past the end of the message`);
    const data = buf.subarray(i + 2, i + 2 + len);
    const prev = out.get(code);
    out.set(code, prev === undefined ? Buffer.from(data) : Buffer.concat([prev, data]));
    i += 2 + len;
  }
}

function fixed(o: Map<number, Buffer>, code: number, len: number, name: string): Buffer | undefined {
  const d = o.get(code);
  if (d !== undefined && d.length !== len) throw malformed(`option ${code} (${name}): length ${d.length}, expected ${len}`);
  return d;
}

function ipList(o: Map<number, Buffer>, code: number, name: string): string[] | undefined {
  const d = o.get(code);
  if (d === undefined) return undefined;
  if (d.length === 0 || d.length % 4 !== 0) throw malformed(`option ${code} (${name}): length ${d.length} is not a positive multiple of 4`);
  const out: string[] = [];
  for (let i = 0; i < d.length; i += 4) out.push(ipv4FromBytes(d, i));
  return out;
}

const KNOWN = new Set<number>([
  DHO.SUBNET_MASK, DHO.ROUTERS, DHO.DOMAIN_NAME_SERVERS, DHO.HOST_NAME, DHO.REQUESTED_ADDRESS, DHO.LEASE_TIME,
  DHO.OPTION_OVERLOAD, DHO.MESSAGE_TYPE, DHO.SERVER_ID, DHO.PARAMETER_REQUEST_LIST, DHO.MESSAGE, DHO.MAX_MESSAGE_SIZE,
  DHO.RENEWAL_TIME, DHO.REBINDING_TIME, DHO.CLIENT_ID,
]);

function decodeOptions(o: Map<number, Buffer>): DhcpOptions {
  if (o.has(DHO.OPTION_OVERLOAD)) throw malformed('option 52 (option overload) is not supported');
  const ip = (code: number, name: string): string | undefined => {
    const d = fixed(o, code, 4, name);
    return d === undefined ? undefined : ipv4FromBytes(d, 0);
  };
  const u32 = (code: number, name: string): number | undefined => fixed(o, code, 4, name)?.readUInt32BE(0);
  const text = (code: number): string | undefined => o.get(code)?.toString('utf8');
  const max = fixed(o, DHO.MAX_MESSAGE_SIZE, 2, 'max message size')?.readUInt16BE(0);
  const prl = o.get(DHO.PARAMETER_REQUEST_LIST);
  const cid = o.get(DHO.CLIENT_ID);
  const other: Record<number, string> = {};
  for (const [code, data] of o) if (!KNOWN.has(code)) other[code] = data.toString('hex');
  const out: Record<string, unknown> = {
    subnetMask: ip(DHO.SUBNET_MASK, 'subnet mask'),
    routers: ipList(o, DHO.ROUTERS, 'routers'),
    dnsServers: ipList(o, DHO.DOMAIN_NAME_SERVERS, 'DNS servers'),
    hostName: text(DHO.HOST_NAME),
    requestedAddress: ip(DHO.REQUESTED_ADDRESS, 'requested address'),
    leaseTime: u32(DHO.LEASE_TIME, 'lease time'),
    renewalTime: u32(DHO.RENEWAL_TIME, 'renewal time'),
    rebindingTime: u32(DHO.REBINDING_TIME, 'rebinding time'),
    serverId: ip(DHO.SERVER_ID, 'server identifier'),
    parameterRequestList: prl === undefined ? undefined : [...prl],
    message: text(DHO.MESSAGE),
    maxMessageSize: max,
    clientId: cid?.toString('hex'),
    other: Object.keys(other).length === 0 ? undefined : other,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as DhcpOptions;
}

/** Decodes a BOOTP/DHCP payload; throws ProtocolError for anything that is not a well-formed Ethernet DHCP message. */
export function decodeDhcp(buf: Buffer): DhcpMessage {
  if (buf.length < BOOTP_FIXED_LEN + 4) throw malformed(`${buf.length} octets, shorter than the ${BOOTP_FIXED_LEN + 4} of the fixed header and magic cookie`);
  const op = buf[0];
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw malformed(`op ${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`);
  if (buf[1] !== HTYPE_ETHER || buf[2] !== HLEN_ETHER) throw malformed(`htype ${buf[1]}/hlen ${buf[2]}: only Ethernet (1/6) is supported`);
  if (buf.readUInt32BE(BOOTP_FIXED_LEN) !== MAGIC_COOKIE) throw malformed(`magic cookie 0x${buf.readUInt32BE(BOOTP_FIXED_LEN).toString(16)} is not 0x63825363 (a BOOTP message, not DHCP)`);
  const o = readOptions(buf);
  const t = fixed(o, DHO.MESSAGE_TYPE, 1, 'message type');
  if (t === undefined) throw malformed('no message type option (53)');
  const type = DHCP_MESSAGE_TYPE_NAMES.get(t[0]!);
  if (type === undefined) throw malformed(`message type ${t[0]} is unknown`);
  o.delete(DHO.MESSAGE_TYPE);
  return {
    op: op === BOOTREQUEST ? 'request' : 'reply',
    type,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    broadcast: (buf.readUInt16BE(10) & FLAG_BROADCAST) !== 0,
    ciaddr: ipv4FromBytes(buf, 12),
    yiaddr: ipv4FromBytes(buf, 16),
    siaddr: ipv4FromBytes(buf, 20),
    giaddr: ipv4FromBytes(buf, 24),
    chaddr: macFromBytes(buf, 28),
    options: decodeOptions(o),
  };
}
