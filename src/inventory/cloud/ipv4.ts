/**
 * The little IPv4 arithmetic the metadata services need: a dotted netmask
 * to a prefix length, the network of an address, and a subnet's first host
 * (the gateway AWS and Azure document for every subnet).
 */
import { isIPv4 } from 'node:net';

const toInt = (a: string): number => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
const toText = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** `255.255.240.0` → 20; undefined for anything that is not a contiguous IPv4 netmask. */
export function netmaskToPrefix(mask: string): number | undefined {
  if (!isIPv4(mask)) return undefined;
  const n = toInt(mask);
  for (let p = 0; p <= 32; p++) if (maskOf(p) === n) return p;
  return undefined;
}

/** The network of `address/prefix` as a CIDR: `10.128.0.70`, 20 → `10.128.0.0/20`. */
export function networkOf(address: string, prefix: number): string | undefined {
  if (!isIPv4(address) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  return `${toText((toInt(address) & maskOf(prefix)) >>> 0)}/${prefix}`;
}

/** A well-formed IPv4 CIDR with host bits clear (`10.0.1.0/24`), else undefined. */
export function ipv4Network(cidr: string): { readonly address: string; readonly prefix: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || !isIPv4(m[1]!)) return undefined;
  const prefix = Number(m[2]);
  if (prefix > 32 || networkOf(m[1]!, prefix) !== `${m[1]}/${prefix}`) return undefined;
  return { address: m[1]!, prefix };
}

/** The subnet's base address + 1 (`10.0.1.0/24` → `10.0.1.1`); undefined for a /31 or /32. */
export function firstHost(cidr: string): string | undefined {
  const net = ipv4Network(cidr);
  if (!net || net.prefix > 30) return undefined;
  return toText((toInt(net.address) + 1) >>> 0);
}
