/**
 * Checks a LinkAddSpec before anything is sent, so a bad request fails with a
 * ConfigError naming the field (`spec.id`, `spec.peer.name`, ...) instead of
 * a bare EINVAL, and nothing is half-created. Limits are the kernel's own:
 * dev_valid_name(), VLAN_VID_MASK, the 24-bit VNI, RT_TABLE_UNSPEC.
 */
import { ConfigError } from '../../../common/errors.ts';
import { ipFamily } from '../../../common/ip.ts';
import type { LinkAddSpec, LinkKindSpec } from './link-types.ts';
import { linkNameProblem } from './link-validate.ts';

/** The kernel's bound on IFLA_NUM_TX_QUEUES / IFLA_NUM_RX_QUEUES (rtnl_create_link). */
export const MAX_QUEUES = 4096;

export const MACVLAN_MODES = ['private', 'vepa', 'bridge', 'passthru', 'source'] as const;
export const IPVLAN_MODES = ['l2', 'l3', 'l3s'] as const;
export const BOND_MODES = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'] as const;

function fail(op: string, field: string, why: string, value: unknown): never {
  throw new ConfigError(`${op}: ${field} ${why} (got ${JSON.stringify(value)})`, { context: { field, value } });
}

/** A valid interface name as dev_valid_name() sees it (the rules live in link-validate.ts). */
export function checkIfName(op: string, field: string, name: unknown): void {
  if (typeof name !== 'string') fail(op, field, 'must be a string', name);
  const problem = linkNameProblem(name);
  if (problem !== undefined) fail(op, field, problem, name);
}

/** `aa:bb:cc:dd:ee:ff` → 6 bytes; a ConfigError naming `field` otherwise. */
export function parseMac(op: string, field: string, mac: string): Buffer {
  if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) {
    fail(op, field, 'must be a MAC address like "02:00:00:00:00:01"', mac);
  }
  const b = Buffer.from(mac.replaceAll(':', ''), 'hex');
  if (b[0]! & 1) fail(op, field, 'must be a unicast address (multicast bit set)', mac);
  if (b.every((x) => x === 0)) fail(op, field, 'must not be all zeros', mac);
  return b;
}

function checkInt(op: string, field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(op, field, `must be an integer in ${min}..${max}`, v);
}

function checkOneOf(op: string, field: string, v: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(v as string)) fail(op, field, `must be one of ${allowed.join(', ')}`, v);
}

function checkIp(op: string, field: string, v: unknown): 4 | 6 {
  try {
    return ipFamily(v as string) === 2 ? 4 : 6;
  } catch {
    return fail(op, field, 'must be an IPv4 or IPv6 address', v);
  }
}

const U32_MAX = 0xffffffff;

/** Throws a ConfigError naming the first invalid field of `s`. */
export function validateLinkAddSpec(s: LinkAddSpec, op = 'linkAdd'): void {
  checkIfName(op, 'name', s.name);
  if (s.mtu !== undefined) checkInt(op, 'mtu', s.mtu, 1, U32_MAX);
  if (s.mac !== undefined) parseMac(op, 'mac', s.mac);
  if (s.numTxQueues !== undefined) checkInt(op, 'numTxQueues', s.numTxQueues, 1, MAX_QUEUES);
  if (s.numRxQueues !== undefined) checkInt(op, 'numRxQueues', s.numRxQueues, 1, MAX_QUEUES);
  if (s.netnsFd !== undefined) checkInt(op, 'netnsFd', s.netnsFd, 0, 0x7fffffff);
  if (s.master !== undefined) checkInt(op, 'master', s.master, 1, 0x7fffffff);
  if (typeof s.spec !== 'object' || s.spec === null) fail(op, 'spec', 'must be an object', s.spec);
  validateKindSpec(op, s.spec);
}

function validateKindSpec(op: string, k: LinkKindSpec): void {
  const parent = (p: unknown): void => checkInt(op, 'spec.parent', p, 1, 0x7fffffff);
  switch (k.kind) {
    case 'veth': {
      if (typeof k.peer !== 'object' || k.peer === null) fail(op, 'spec.peer', 'must be an object', k.peer);
      checkIfName(op, 'spec.peer.name', k.peer.name);
      if (k.peer.mac !== undefined) parseMac(op, 'spec.peer.mac', k.peer.mac);
      if (k.peer.netnsFd !== undefined) checkInt(op, 'spec.peer.netnsFd', k.peer.netnsFd, 0, 0x7fffffff);
      if (k.peer.numTxQueues !== undefined) checkInt(op, 'spec.peer.numTxQueues', k.peer.numTxQueues, 1, MAX_QUEUES);
      if (k.peer.numRxQueues !== undefined) checkInt(op, 'spec.peer.numRxQueues', k.peer.numRxQueues, 1, MAX_QUEUES);
      return;
    }
    case 'vlan':
      parent(k.parent);
      checkInt(op, 'spec.id', k.id, 1, 4094);
      if (k.protocol !== undefined) checkOneOf(op, 'spec.protocol', k.protocol, ['802.1Q', '802.1ad']);
      return;
    case 'macvlan':
    case 'macvtap':
      parent(k.parent);
      if (k.mode !== undefined) checkOneOf(op, 'spec.mode', k.mode, MACVLAN_MODES);
      return;
    case 'ipvlan':
      parent(k.parent);
      if (k.mode !== undefined) checkOneOf(op, 'spec.mode', k.mode, IPVLAN_MODES);
      if (k.flags !== undefined) checkInt(op, 'spec.flags', k.flags, 0, 0x03);
      return;
    case 'vxlan': {
      checkInt(op, 'spec.id', k.id, 0, 0xffffff);
      if (k.port !== undefined) checkInt(op, 'spec.port', k.port, 1, 0xffff);
      if (k.parent !== undefined) parent(k.parent);
      const g = k.group !== undefined ? checkIp(op, 'spec.group', k.group) : undefined;
      const l = k.local !== undefined ? checkIp(op, 'spec.local', k.local) : undefined;
      if (g !== undefined && l !== undefined && g !== l) fail(op, 'spec.local', `must be IPv${g} like spec.group`, k.local);
      if (k.learning !== undefined && typeof k.learning !== 'boolean') fail(op, 'spec.learning', 'must be a boolean', k.learning);
      return;
    }
    case 'bridge':
      if (k.vlanFiltering !== undefined && typeof k.vlanFiltering !== 'boolean') fail(op, 'spec.vlanFiltering', 'must be a boolean', k.vlanFiltering);
      return;
    case 'vrf':
      checkInt(op, 'spec.table', k.table, 1, U32_MAX);
      return;
    case 'bond':
      if (k.mode !== undefined) checkOneOf(op, 'spec.mode', k.mode, BOND_MODES);
      if (k.miimon !== undefined) checkInt(op, 'spec.miimon', k.miimon, 0, 0x7fffffff);
      return;
    case 'dummy':
      return;
    default:
      fail(op, 'spec.kind', 'is not a kind netclaim can create', (k as { kind?: unknown }).kind);
  }
}
