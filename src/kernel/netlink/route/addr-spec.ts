/**
 * Checks an AddrSpec and resolves it into wire values (a ConfigError naming
 * the field for anything the kernel would reject or silently misread).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6, ipToBytes, parseCidr, type IpFamily } from '../../../common/ip.ts';
import { ADDR_PROTO_NAMES, ADDR_REQUEST_FLAGS, INFINITY_LIFE_TIME } from './addr-constants.ts';
import type { AddrFilter, AddrLifetime, AddrProto, AddrSpec } from './addr-types.ts';
import { RT_SCOPE } from './route-constants.ts';
import { checkInt, fieldError, scopeValue } from './route-names.ts';

const WHAT = 'AddrSpec';
const IFNAMSIZ = 16;

/** An AddrSpec resolved to wire values. */
export interface AddrRequest {
  readonly family: IpFamily;
  readonly address: Buffer;
  readonly prefixLen: number;
  readonly peer?: Buffer;
  readonly broadcast?: Buffer;
  readonly label?: string;
  readonly scope: number;
  readonly flags: number;
  /** Both lifetimes, set when either was given. */
  readonly lifetimes?: { readonly preferred: number; readonly valid: number };
  readonly metric?: number;
  readonly proto?: number;
}

function familyOf(field: string, addr: string): IpFamily {
  if (isIPv4(addr)) return AF_INET;
  if (isIPv6(addr)) return AF_INET6;
  throw fieldError(WHAT, field, `"${addr}" is not an IP address`);
}

function sameFamily(field: string, addr: string, family: IpFamily): Buffer {
  if (familyOf(field, addr) !== family) {
    throw fieldError(WHAT, field, `"${addr}" is not ${family === AF_INET ? 'IPv4' : 'IPv6'} like the address`);
  }
  return ipToBytes(addr);
}

function addressAndPrefix(spec: AddrSpec): { address: string; family: IpFamily; prefixLen: number } {
  if (spec.cidr !== undefined) {
    if (spec.address !== undefined) throw fieldError(WHAT, 'address', 'give either cidr or address, not both');
    if (spec.prefixLen !== undefined) throw fieldError(WHAT, 'prefixLen', 'give either cidr or prefixLen, not both');
    try {
      return parseCidr(spec.cidr);
    } catch (err) {
      throw fieldError(WHAT, 'cidr', `"${spec.cidr}" is not an address with a prefix length (${(err as Error).message})`);
    }
  }
  if (spec.address === undefined) throw fieldError(WHAT, 'address', 'an address (or cidr) is required');
  const family = familyOf('address', spec.address);
  const max = family === AF_INET ? 32 : 128;
  const prefixLen = spec.prefixLen === undefined ? max : checkInt(WHAT, 'prefixLen', spec.prefixLen, 0, max);
  return { address: spec.address, family, prefixLen };
}

function lifetime(field: string, v: AddrLifetime): number {
  return v === 'forever' ? INFINITY_LIFE_TIME : checkInt(WHAT, field, v, 0, INFINITY_LIFE_TIME - 1);
}

function lifetimes(spec: AddrSpec): AddrRequest['lifetimes'] {
  if (spec.validLft === undefined && spec.preferredLft === undefined) return undefined;
  const valid = lifetime('validLft', spec.validLft ?? 'forever');
  const preferred = spec.preferredLft === undefined ? valid : lifetime('preferredLft', spec.preferredLft);
  if (valid === 0) throw fieldError(WHAT, 'validLft', 'must be greater than 0');
  if (preferred > valid) throw fieldError(WHAT, 'preferredLft', `${spec.preferredLft} exceeds validLft ${spec.validLft ?? 'forever'}`);
  return { preferred, valid };
}

function requestFlags(spec: AddrSpec): number {
  let flags = 0;
  for (const f of spec.flags ?? []) {
    if (!Object.hasOwn(ADDR_REQUEST_FLAGS, f)) {
      throw fieldError(WHAT, 'flags', `unknown flag "${f}" (known: ${Object.keys(ADDR_REQUEST_FLAGS).join(', ')})`);
    }
    flags |= ADDR_REQUEST_FLAGS[f];
  }
  return flags;
}

function protoValue(p: AddrProto): number {
  if (typeof p === 'number') return checkInt(WHAT, 'proto', p, 0, 255);
  if (!Object.hasOwn(ADDR_PROTO_NAMES, p)) throw fieldError(WHAT, 'proto', `unknown name "${p}"`);
  return ADDR_PROTO_NAMES[p];
}

function defaultScope(family: IpFamily, address: Buffer): number {
  return family === AF_INET && address[0] === 127 ? RT_SCOPE.RT_SCOPE_HOST : RT_SCOPE.RT_SCOPE_UNIVERSE;
}

/** Checks `spec` and resolves it; throws a ConfigError naming the first bad field. */
export function resolveAddrSpec(spec: AddrSpec): AddrRequest {
  const { address, family, prefixLen } = addressAndPrefix(spec);
  const bytes = ipToBytes(address);
  if (family === AF_INET6 && spec.broadcast !== undefined) throw fieldError(WHAT, 'broadcast', 'IPv6 has no broadcast address');
  if (family === AF_INET6 && spec.label !== undefined) throw fieldError(WHAT, 'label', 'IPv6 addresses have no label');
  if (spec.label !== undefined && (spec.label === '' || Buffer.byteLength(spec.label) >= IFNAMSIZ)) {
    throw fieldError(WHAT, 'label', `"${spec.label}" must be 1..${IFNAMSIZ - 1} bytes`);
  }
  const lft = lifetimes(spec);
  const proto = spec.proto === undefined ? undefined : protoValue(spec.proto);
  return {
    family,
    address: bytes,
    prefixLen,
    ...(spec.peer !== undefined ? { peer: sameFamily('peer', spec.peer, family) } : {}),
    ...(spec.broadcast !== undefined ? { broadcast: sameFamily('broadcast', spec.broadcast, family) } : {}),
    ...(spec.label !== undefined ? { label: spec.label } : {}),
    scope: spec.scope === undefined ? defaultScope(family, bytes) : scopeValue(WHAT, 'scope', spec.scope),
    flags: requestFlags(spec),
    ...(lft !== undefined ? { lifetimes: lft } : {}),
    ...(spec.metric !== undefined ? { metric: checkInt(WHAT, 'metric', spec.metric, 0, 0xffff_ffff) } : {}),
    ...(proto !== undefined ? { proto } : {}),
  };
}

/** Checks a dump filter (ifindex and family). */
export function checkAddrFilter(f: AddrFilter): AddrFilter {
  if (f.index !== undefined) checkInt('AddrFilter', 'index', f.index, 1, 0x7fff_ffff);
  if (f.family !== undefined && f.family !== AF_INET && f.family !== AF_INET6) {
    throw fieldError('AddrFilter', 'family', `${f.family} is neither AF_INET nor AF_INET6`);
  }
  return f;
}
