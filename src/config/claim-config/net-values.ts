/**
 * Checks and canonical forms for the network values a claim config holds:
 * interface names, IP addresses and prefixes, hardware addresses, ethtool
 * names. Each `*Problem` function returns why a value is wrong, or undefined;
 * the messages complete "FIELD: ..." lines.
 *
 * The rules follow the kernel (dev_valid_name, IFNAMSIZ, ETH_GSTRING_LEN,
 * is_valid_ether_addr) and, for the text forms DraNet accepts, Go's parsers
 * (netip.ParsePrefix, net.ParseIP, net.ParseMAC), so DraNet configs parse
 * unchanged.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, ipFamily, ipFromBytes, ipToBytes, type IpFamily } from '../../common/ip.ts';

/** IFNAMSIZ - 1. */
export const IFNAME_MAX_BYTES = 15;
/** ETH_GSTRING_LEN - 1: the longest ethtool feature or private-flag name. */
export const ETH_GSTRING_MAX = 31;

/** Why `name` cannot name an interface, or undefined. */
export function ifNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) return 'must not be empty';
  if (bytes > IFNAME_MAX_BYTES) return `"${name}" is ${bytes} bytes, the kernel allows at most ${IFNAME_MAX_BYTES} (IFNAMSIZ)`;
  if (name === '.' || name === '..') return `"${name}" is not a valid interface name`;
  // dev_valid_name refuses '/', ':' and whitespace; '%' would make the kernel
  // treat the name as a template (eth%d) and pick one; control characters are
  // refused here although the kernel takes them.
  const bad = /[/:%\s\p{Cc}]/u.exec(name);
  if (bad) return `"${name}" contains ${JSON.stringify(bad[0])}; interface names cannot contain '/', ':', '%', whitespace or control characters`;
  return undefined;
}

/** The family of a literal IP address (no zone, no prefix), or undefined. */
export function ipLiteralFamily(s: string): IpFamily | undefined {
  if (s.includes('%')) return undefined; // Go's ParseIP refuses zones
  return isIPv4(s) || isIPv6(s) ? ipFamily(s) : undefined;
}

export function ipProblem(s: string): string | undefined {
  if (s.includes('%')) return `"${s}" has a zone; zones are not allowed`;
  return ipLiteralFamily(s) === undefined ? `"${s}" is not an IPv4 or IPv6 address` : undefined;
}

/** RFC 5952 text of an address: `2001:DB8:0::1` → `2001:db8::1`. */
export function canonicalIp(s: string): string {
  const b = ipToBytes(s);
  return ipFromBytes(b, 0, b.length);
}

export interface Prefix {
  readonly address: string;
  readonly length: number;
  readonly family: IpFamily;
}

/** `addr/len` with an explicit length, as netip.ParsePrefix wants it; undefined when malformed. */
export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const address = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const family = ipLiteralFamily(address);
  if (family === undefined || !/^(0|[1-9]\d{0,2})$/.test(len)) return undefined;
  const length = Number(len);
  if (length > (family === AF_INET ? 32 : 128)) return undefined;
  return { address, length, family };
}

export function prefixProblem(s: string): string | undefined {
  if (parsePrefix(s) !== undefined) return undefined;
  if (!s.includes('/') && ipLiteralFamily(s) !== undefined) {
    return `"${s}" has no prefix length; write it as a CIDR (host routes use /32 or /128)`;
  }
  return `"${s}" is not an IPv4 or IPv6 prefix like 192.0.2.1/24 or 2001:db8::1/64`;
}

/** An interface address keeps its host bits: `192.0.2.7/24`, canonical text. */
export function canonicalPrefix(s: string): string {
  const p = parsePrefix(s);
  return p === undefined ? s : `${canonicalIp(p.address)}/${p.length}`;
}

/**
 * A route or rule prefix names a network: the host bits are cleared, as Go's
 * net.ParseCIDR does for DraNet (`10.1.2.3/8` → `10.0.0.0/8`).
 */
export function networkPrefix(s: string): string {
  const p = parsePrefix(s);
  if (p === undefined) return s;
  const b = ipToBytes(p.address);
  for (let bit = p.length; bit < b.length * 8; bit++) b[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return `${ipFromBytes(b, 0, b.length)}/${p.length}`;
}

/** Lengths Go's net.ParseMAC accepts: EUI-48, EUI-64 and 20-byte IPoIB addresses. */
const MAC_LENGTHS = new Set([6, 8, 20]);

/** The bytes of `00:11:22:33:44:55`, `00-11-22-33-44-55` or `0011.2233.4455` (and the longer forms), or undefined. */
export function parseMac(s: string): Buffer | undefined {
  let hex: string;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2})*$/i.test(s)) hex = s.replace(/[:-]/g, '');
  else if (/^[0-9a-f]{4}(\.[0-9a-f]{4})+$/i.test(s)) hex = s.replaceAll('.', '');
  else return undefined;
  const b = Buffer.from(hex, 'hex');
  return MAC_LENGTHS.has(b.length) ? b : undefined;
}

export function macProblem(s: string): string | undefined {
  return parseMac(s) === undefined
    ? `"${s}" is not a hardware address (6, 8 or 20 bytes, like 00:11:22:33:44:55)`
    : undefined;
}

/** An interface's own address must also be one an Ethernet device takes (is_valid_ether_addr). */
export function interfaceMacProblem(s: string): string | undefined {
  const b = parseMac(s);
  if (b === undefined) return macProblem(s);
  if (b.length === 6 && (b[0]! & 1) === 1) return `"${s}" is a multicast address; an interface needs a unicast one`;
  if (b.length === 6 && b.every((x) => x === 0)) return `"${s}" is all zeros`;
  return undefined;
}

/** Lower-case, colon-separated hex pairs. */
export function canonicalMac(s: string): string {
  const b = parseMac(s);
  return b === undefined ? s : [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Why `name` cannot name an IPPool (a DNS label: it becomes part of allocation object names), or undefined. */
export function poolNameProblem(name: string): string | undefined {
  return DNS_LABEL.test(name) ? undefined : 'must be a DNS label: 1 to 63 lower-case letters, digits or "-", starting and ending with a letter or digit';
}
