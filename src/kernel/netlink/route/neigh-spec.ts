/**
 * Validation of a NeighSpec before anything is sent: every bad field raises
 * a ConfigError that names it, with the value.
 */
import { ConfigError } from '../../../common/errors.ts';
import { ipFamily, ipToBytes, type IpFamily } from '../../../common/ip.ts';
import { NEIGH_STATE_BITS, type NeighStateName } from './neigh-constants.ts';
import type { NeighSpec } from './neigh-types.ts';

/** MAX_ADDR_LEN: the longest link-layer address a device can have. */
const MAX_ADDR_LEN = 32;
const HW_ADDR = /^[0-9a-f]{2}(?::[0-9a-f]{2})*$/i;

export interface CheckedNeighSpec {
  readonly family: IpFamily;
  readonly dst: Buffer;
  readonly lladdr?: Buffer;
  /** The OR of the NUD_* bits named by `spec.state`. */
  readonly state: number;
}

function bad(field: string, value: unknown, why: string): ConfigError {
  return new ConfigError(`neighbour ${field}: ${why} (got ${JSON.stringify(value)})`, { context: { field, value } });
}

/** `aa:bb:cc:dd:ee:ff` → bytes; ConfigError naming `field` otherwise. */
export function parseHwAddr(field: string, s: string): Buffer {
  if (typeof s !== 'string' || !HW_ADDR.test(s) || (s.length + 1) / 3 > MAX_ADDR_LEN) {
    throw bad(field, s, `must be colon-separated hex bytes like 02:00:00:00:00:01 (1..${MAX_ADDR_LEN} bytes)`);
  }
  return Buffer.from(s.replaceAll(':', ''), 'hex');
}

/** The NUD_* bits for one state name or a list of them. */
export function stateBits(field: string, state: NeighStateName | readonly NeighStateName[]): number {
  const names = typeof state === 'string' ? [state] : state;
  if (!Array.isArray(names) || names.length === 0) throw bad(field, state, 'must name at least one state');
  let bits = 0;
  for (const n of names) {
    if (n === 'none') continue;
    if (typeof n !== 'string' || !Object.hasOwn(NEIGH_STATE_BITS, n)) {
      throw bad(field, n, `unknown state; one of none, ${Object.keys(NEIGH_STATE_BITS).join(', ')}`);
    }
    bits |= NEIGH_STATE_BITS[n as keyof typeof NEIGH_STATE_BITS];
  }
  return bits;
}

/** Checks `spec`; `forDelete` checks only what a delete sends (index, dst). */
export function checkNeighSpec(spec: NeighSpec, forDelete = false): CheckedNeighSpec {
  if (!Number.isInteger(spec.index) || spec.index < 1 || spec.index > 0x7fff_ffff) {
    throw bad('index', spec.index, 'must be an ifindex in 1..2^31-1');
  }
  let family: IpFamily;
  try {
    family = ipFamily(spec.dst);
  } catch {
    throw bad('dst', spec.dst, 'must be an IPv4 or IPv6 address');
  }
  const dst = ipToBytes(spec.dst);
  if (forDelete) return { family, dst, state: 0 };
  const lladdr = spec.lladdr === undefined ? undefined : parseHwAddr('lladdr', spec.lladdr);
  if (spec.proxy && lladdr) throw bad('lladdr', spec.lladdr, 'does not apply to a proxy entry');
  // A managed entry is resolved by the kernel: it cannot be permanent (the kernel refuses).
  const state = stateBits('state', spec.state ?? (spec.managed ? 'none' : 'permanent'));
  if (spec.protocol !== undefined && (!Number.isInteger(spec.protocol) || spec.protocol < 0 || spec.protocol > 255)) {
    throw bad('protocol', spec.protocol, 'must be an integer in 0..255');
  }
  return { family, dst, state, ...(lladdr ? { lladdr } : {}) };
}
