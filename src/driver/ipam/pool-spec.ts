/**
 * An address pool (`IPPool`, netclaim.dev/v1alpha1, cluster-scoped; the CRD
 * is in deploy/helm/netclaim/templates/ipam-crds.yaml, docs/ipam.md) as the
 * driver reads it: plain data, parsed strictly from the object's spec. The
 * API server validates the shape (OpenAPI schema); this parser checks what a
 * schema cannot (addresses inside the subnet, one family throughout) and is
 * the driver's own guard against an older or hand-edited object. A refusal
 * is PREPARE_POOL_INVALID naming the field.
 *
 * Addresses are handled as offsets from the subnet's first address (bigint:
 * an IPv6 /64 has 2^64 of them). The usable set is the subnet less its
 * network address, the IPv4 broadcast address (prefixes up to /30), the
 * gateway and every excluded range; with per-node ranges, a node allocates
 * only inside its own ranges.
 */
import { DriverError } from '../../common/errors.ts';
import { poolNameProblem } from '../../config/claim-config/net-values.ts';
import { AF_INET, ipFamily, ipFromBytes, ipToBytes, parseCidr, type IpFamily } from '../../common/ip.ts';

export interface PoolRoute {
  readonly destination: string;
  readonly gateway?: string;
}

/** A closed interval of offsets from the subnet's first address. */
export interface OffsetRange {
  readonly first: bigint;
  readonly last: bigint;
}

export interface AddressPool {
  readonly name: string;
  readonly family: IpFamily;
  /** The subnet in canonical CIDR form (host bits clear). */
  readonly subnet: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  /** Routes set with each address; a route without a gateway gets the pool's. */
  readonly routes: readonly PoolRoute[];
  /** Usable offsets for a node (sorted, disjoint, non-empty ranges). */
  usable(node: string): readonly OffsetRange[];
  /** The pool has per-node ranges (spec.nodes). */
  readonly perNode: boolean;
  /** The offset may be allocated at all (inside the subnet, not reserved or excluded), on any node. */
  allocatable(offset: bigint): boolean;
  /** The address at an offset. */
  address(offset: bigint): string;
  /** The offset of an address, or undefined when it is outside the subnet (or of the other family). */
  offsetOf(address: string): bigint | undefined;
}


export function ipToBigint(addr: string): bigint {
  return BigInt(`0x${ipToBytes(addr).toString('hex')}`);
}

export function bigintToIp(n: bigint, family: IpFamily): string {
  const len = family === AF_INET ? 4 : 16;
  const buf = Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex');
  return ipFromBytes(buf, 0, len);
}

type Obj = Readonly<Record<string, unknown>>;

/** The pool from an IPPool object's name and spec; throws PREPARE_POOL_INVALID naming the field. */
export function parsePool(name: string, spec: unknown): AddressPool {
  const bad = (field: string, why: string): never => {
    throw new DriverError('PREPARE_POOL_INVALID', `IPPool ${name}: spec.${field} ${why}`, { context: { pool: name, field } });
  };
  const nameProblem = poolNameProblem(name);
  if (nameProblem !== undefined) throw new DriverError('PREPARE_POOL_INVALID', `IPPool ${JSON.stringify(name)}: metadata.name ${nameProblem}`, { context: { pool: name } });
  if (typeof spec !== 'object' || spec === null) return bad('', 'is missing');
  const s = spec as Obj;
  if (typeof s['subnet'] !== 'string') return bad('subnet', 'is required (CIDR, e.g. 10.10.0.0/16)');
  let net: ReturnType<typeof parseCidr>;
  try {
    net = parseCidr(s['subnet']);
  } catch {
    return bad('subnet', `${JSON.stringify(s['subnet'])} is not a CIDR`);
  }
  if (!s['subnet'].includes('/')) bad('subnet', 'needs a prefix length');
  const family = net.family;
  const bits = family === AF_INET ? 32 : 128;
  const hostBits = BigInt(bits - net.prefixLen);
  const base = (ipToBigint(net.address) >> hostBits) << hostBits;
  const top = (1n << hostBits) - 1n;
  if (net.prefixLen > bits - 1) bad('subnet', 'leaves no address to allocate');
  const offsetOf = (field: string, addr: unknown): bigint => {
    if (typeof addr !== 'string') return bad(field, 'must be an IP address');
    let f: IpFamily;
    try {
      f = ipFamily(addr);
    } catch {
      return bad(field, `${JSON.stringify(addr)} is not an IP address`);
    }
    if (f !== family) return bad(field, `${addr} is not of the subnet's family`);
    const off = ipToBigint(addr) - base;
    if (off < 0n || off > top) return bad(field, `${addr} is outside the subnet ${s['subnet']}`);
    return off;
  };
  const rangeOf = (field: string, text: unknown): OffsetRange => {
    if (typeof text !== 'string') return bad(field, 'must be a CIDR or a range "first-last"');
    if (text.includes('/')) {
      let r: ReturnType<typeof parseCidr>;
      try {
        r = parseCidr(text);
      } catch {
        return bad(field, `${JSON.stringify(text)} is not a CIDR`);
      }
      const hb = BigInt(bits - r.prefixLen);
      const first = offsetOf(field, bigintToIp((ipToBigint(r.address) >> hb) << hb, family));
      const last = first + (1n << hb) - 1n;
      if (last > top) bad(field, `${text} reaches outside the subnet ${s['subnet']}`);
      return { first, last };
    }
    const parts = text.split('-');
    if (parts.length !== 2) return bad(field, `${JSON.stringify(text)} is neither a CIDR nor a range "first-last"`);
    const first = offsetOf(field, parts[0]!.trim());
    const last = offsetOf(field, parts[1]!.trim());
    if (last < first) bad(field, `${text}: the last address is below the first`);
    return { first, last };
  };
  const gateway = s['gateway'] === undefined ? undefined : offsetOf('gateway', s['gateway']);
  const list = (field: string): readonly unknown[] => {
    const v = s[field];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : bad(field, 'must be a list');
  };
  const excluded = list('exclude').map((x, i) => rangeOf(`exclude[${i}]`, x));
  const routes = list('routes').map((r, i): PoolRoute => {
    const o = (typeof r === 'object' && r !== null ? r : bad(`routes[${i}]`, 'must be an object')) as Obj;
    const dst = o['destination'];
    if (typeof dst !== 'string') return bad(`routes[${i}].destination`, 'is required (CIDR)');
    try {
      if (parseCidr(dst).family !== family || !dst.includes('/')) throw new Error('family');
    } catch {
      return bad(`routes[${i}].destination`, `${JSON.stringify(dst)} is not a CIDR of the subnet's family`);
    }
    const gw = o['gateway'] ?? s['gateway'];
    if (gw === undefined) return bad(`routes[${i}].gateway`, 'is required when the pool has no gateway');
    if (typeof gw !== 'string' || (() => { try { return ipFamily(gw) !== family; } catch { return true; } })()) {
      return bad(`routes[${i}].gateway`, `${JSON.stringify(gw)} is not an IP address of the subnet's family`);
    }
    return { destination: dst, gateway: gw };
  });
  const nodeRanges = new Map<string, OffsetRange[]>();
  list('nodes').forEach((n, i) => {
    const o = (typeof n === 'object' && n !== null ? n : bad(`nodes[${i}]`, 'must be an object')) as Obj;
    if (typeof o['nodeName'] !== 'string' || o['nodeName'] === '') bad(`nodes[${i}].nodeName`, 'is required');
    const ranges = (Array.isArray(o['ranges']) ? o['ranges'] : bad(`nodes[${i}].ranges`, 'must be a list')) as unknown[];
    const list2 = nodeRanges.get(o['nodeName'] as string) ?? [];
    ranges.forEach((r, j) => list2.push(rangeOf(`nodes[${i}].ranges[${j}]`, r)));
    nodeRanges.set(o['nodeName'] as string, list2);
  });
  // Never handed out: the network address (IPv6: the subnet-router anycast), the IPv4 broadcast, the gateway.
  const reserved: OffsetRange[] = [{ first: 0n, last: 0n }, ...excluded];
  if (family === AF_INET && hostBits >= 2n) reserved.push({ first: top, last: top });
  if (gateway !== undefined) reserved.push({ first: gateway, last: gateway });
  const all = subtract([{ first: 0n, last: top }], reserved);
  const cache = new Map<string, readonly OffsetRange[]>();
  return {
    name, family, subnet: `${bigintToIp(base, family)}/${net.prefixLen}`, prefixLength: net.prefixLen, routes,
    ...(s['gateway'] === undefined ? {} : { gateway: bigintToIp(base + gateway!, family) }),
    perNode: nodeRanges.size > 0,
    allocatable: (offset) => all.some((r) => offset >= r.first && offset <= r.last),
    address: (offset) => bigintToIp(base + offset, family),
    offsetOf(address) {
      let f: IpFamily;
      try {
        f = ipFamily(address);
      } catch {
        return undefined;
      }
      const off = f === family ? ipToBigint(address) - base : -1n;
      return off < 0n || off > top ? undefined : off;
    },
    usable(node: string): readonly OffsetRange[] {
      if (nodeRanges.size === 0) return all;
      let u = cache.get(node);
      if (u === undefined) {
        u = intersect(all, union(nodeRanges.get(node) ?? []));
        cache.set(node, u);
      }
      return u;
    },
  };
}

/** Sorted, merged copy of the ranges. */
export function union(ranges: readonly OffsetRange[]): OffsetRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: OffsetRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.first <= last.last + 1n) out[out.length - 1] = { first: last.first, last: r.last > last.last ? r.last : last.last };
    else out.push(r);
  }
  return out;
}

/** `from` less every range of `cut`. */
export function subtract(from: readonly OffsetRange[], cut: readonly OffsetRange[]): OffsetRange[] {
  let out = union(from);
  for (const c of union(cut)) {
    const next: OffsetRange[] = [];
    for (const r of out) {
      if (c.last < r.first || c.first > r.last) {
        next.push(r);
        continue;
      }
      if (c.first > r.first) next.push({ first: r.first, last: c.first - 1n });
      if (c.last < r.last) next.push({ first: c.last + 1n, last: r.last });
    }
    out = next;
  }
  return out;
}

export function intersect(a: readonly OffsetRange[], b: readonly OffsetRange[]): OffsetRange[] {
  const out: OffsetRange[] = [];
  for (const x of a) {
    for (const y of b) {
      const first = x.first > y.first ? x.first : y.first;
      const last = x.last < y.last ? x.last : y.last;
      if (first <= last) out.push({ first, last });
    }
  }
  return union(out);
}

/** How many offsets the ranges hold. */
export function rangesSize(ranges: readonly OffsetRange[]): bigint {
  let n = 0n;
  for (const r of ranges) n += r.last - r.first + 1n;
  return n;
}

/** The index-th offset of the ranges (0 ≤ index < rangesSize). */
export function rangesAt(ranges: readonly OffsetRange[], index: bigint): bigint {
  let i = index;
  for (const r of ranges) {
    const n = r.last - r.first + 1n;
    if (i < n) return r.first + i;
    i -= n;
  }
  throw new RangeError(`index ${index} beyond the pool`);
}
