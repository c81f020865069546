/**
 * IP addresses between text and wire bytes. Formatting follows RFC 5952
 * (lowercase, longest zero run compressed, IPv4-mapped tail), the same text
 * `ip -j` prints, so kernel tests can compare strings directly.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ProtocolError } from './errors.ts';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_UNSPEC = 0;

export type IpFamily = typeof AF_INET | typeof AF_INET6;

export function ipFamily(addr: string): IpFamily {
  if (isIPv4(addr)) return AF_INET;
  if (isIPv6(addr)) return AF_INET6;
  throw new TypeError(`not an IP address: "${addr}"`);
}

export function ipToBytes(addr: string): Buffer {
  if (isIPv4(addr)) return Buffer.from(addr.split('.').map(Number));
  if (!isIPv6(addr)) throw new TypeError(`not an IP address: "${addr}"`);
  const out = Buffer.alloc(16);
  let text = addr.split('%')[0]!;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const b = ipToBytes(v4tail[1]!);
    const hi = (b[0]! << 8) | b[1]!;
    const lo = (b[2]! << 8) | b[3]!;
    text = text.slice(0, v4tail.index) + `${hi.toString(16)}:${lo.toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function ipFromBytes(buf: Buffer, off: number, len: number): string {
  if (len === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  if (len !== 16) throw new ProtocolError(`IP address must be 4 or 16 bytes, got ${len}`);
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(off + i * 2));
  // ::ffff:a.b.c.d (IPv4-mapped) is printed with a dotted tail.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** `10.0.0.1/24` → address and prefix length (prefix defaults to the full length). */
export function parseCidr(cidr: string): { readonly address: string; readonly prefixLen: number; readonly family: IpFamily } {
  const [address, prefix] = cidr.split('/') as [string, string | undefined];
  const family = ipFamily(address);
  const max = family === AF_INET ? 32 : 128;
  const prefixLen = prefix === undefined ? max : Number(prefix);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max || (prefix !== undefined && !/^\d+$/.test(prefix))) {
    throw new TypeError(`bad prefix length in "${cidr}"`);
  }
  return { address, prefixLen, family };
}

/** `addr` lies in the network of `cidr` (same family, first prefixLen bits equal). */
export function cidrContains(cidr: string, addr: string): boolean {
  const net = parseCidr(cidr);
  if (ipFamily(addr) !== net.family) return false;
  const a = ipToBytes(net.address);
  const b = ipToBytes(addr);
  const full = Math.floor(net.prefixLen / 8);
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = net.prefixLen % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[full]! & mask) === (b[full]! & mask);
}
