/**
 * Validation of a RuleSpec before anything is sent: every bad field raises a
 * ConfigError that names it, with the value, so a caller's configuration
 * error never turns into an opaque EINVAL from the kernel.
 */
import { ConfigError } from '../../../common/errors.ts';
import { AF_INET, AF_INET6, parseCidr, type IpFamily } from '../../../common/ip.ts';
import { RULE_ACTION_CODES, U32_MAX } from './rule-constants.ts';
import type { NumRange, RuleSpec } from './rule-types.ts';

export interface CheckedRuleSpec {
  readonly family: IpFamily;
  readonly src?: { readonly address: string; readonly prefixLen: number };
  readonly dst?: { readonly address: string; readonly prefixLen: number };
}

const IFNAMSIZ = 16;

function bad(field: string, value: unknown, why: string): ConfigError {
  return new ConfigError(`rule ${field}: ${why} (got ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))})`, {
    context: { field, value },
  });
}

function intIn(field: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) throw bad(field, v, `must be an integer in ${min}..${max}`);
}

function cidr(field: string, v: string | undefined): ReturnType<typeof parseCidr> | undefined {
  if (v === undefined) return undefined;
  try {
    return parseCidr(v);
  } catch {
    throw bad(field, v, 'must be an IPv4 or IPv6 prefix like 10.0.0.0/8');
  }
}

function ifname(field: string, v: string | undefined): void {
  if (v === undefined) return;
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) >= IFNAMSIZ || /[\s/:]/.test(v)) {
    throw bad(field, v, `must be an interface name of 1..${IFNAMSIZ - 1} bytes without spaces, '/' or ':'`);
  }
}

function range(field: string, r: NumRange | undefined, min: number, max: number): void {
  if (r === undefined) return;
  intIn(`${field}.start`, r.start, min, max);
  intIn(`${field}.end`, r.end, min, max);
  if (r.start > r.end) throw bad(field, r, 'start must not exceed end');
}

/** Checks every field of `spec`; returns the family and parsed prefixes. */
export function checkRuleSpec(spec: RuleSpec): CheckedRuleSpec {
  if (spec.family !== undefined && spec.family !== AF_INET && spec.family !== AF_INET6) {
    throw bad('family', spec.family, 'must be AF_INET (2) or AF_INET6 (10)');
  }
  const src = cidr('src', spec.src);
  const dst = cidr('dst', spec.dst);
  const family = spec.family ?? src?.family ?? dst?.family ?? AF_INET;
  if (src && src.family !== family) throw bad('src', spec.src, `is not of family ${family}`);
  if (dst && dst.family !== family) throw bad('dst', spec.dst, `is not of family ${family}`);
  intIn('priority', spec.priority, 0, U32_MAX);
  intIn('table', spec.table, 1, U32_MAX);
  if (spec.action !== undefined && !Object.hasOwn(RULE_ACTION_CODES, spec.action)) {
    throw bad('action', spec.action, `must be one of ${Object.keys(RULE_ACTION_CODES).join(', ')}`);
  }
  if (spec.action === 'goto' && spec.goto === undefined) throw bad('goto', undefined, "is required with action 'goto'");
  if (spec.goto !== undefined && spec.action !== undefined && spec.action !== 'goto') {
    throw bad('goto', spec.goto, `is only valid with action 'goto', not '${spec.action}'`);
  }
  intIn('goto', spec.goto, 0, U32_MAX);
  if (spec.l3mdev && spec.table !== undefined) throw bad('table', spec.table, 'and l3mdev are mutually exclusive');
  ifname('iif', spec.iif);
  ifname('oif', spec.oif);
  intIn('fwmark', spec.fwmark, 0, U32_MAX);
  intIn('fwmask', spec.fwmask, 0, U32_MAX);
  intIn('suppressPrefixLen', spec.suppressPrefixLen, 0, family === AF_INET ? 32 : 128);
  intIn('suppressIfGroup', spec.suppressIfGroup, 0, U32_MAX - 1);
  intIn('protocol', spec.protocol, 0, 255);
  intIn('ipProto', spec.ipProto, 0, 255);
  intIn('tos', spec.tos, 0, 255);
  range('sport', spec.sport, 1, 0xffff);
  range('dport', spec.dport, 1, 0xffff);
  range('uidRange', spec.uidRange, 0, U32_MAX);
  return {
    family,
    ...(src ? { src: { address: src.address, prefixLen: src.prefixLen } } : {}),
    ...(dst ? { dst: { address: dst.address, prefixLen: dst.prefixLen } } : {}),
  };
}
