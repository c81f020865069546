/**
 * One address from a pool, unique across the cluster: pick a candidate,
 * create its allocation object (named by pool and address), and on
 * 'exists' (someone holds it) try another. No list per allocation:
 *
 * 1. Random probes (default 8): while the pool is far from full, the first
 *    create almost always succeeds (at load f, a probe fails with
 *    probability f), so an allocation costs one create, whatever the pool's
 *    size.
 * 2. Only when every probe hit a taken address, list the pool's allocations
 *    once (one request, served from the API server's watch cache) and walk
 *    the free addresses from a random start, creating until one succeeds:
 *    among any |taken|+1 consecutive candidates one is free, so the walk is
 *    bounded. When none is left, PREPARE_POOL_EXHAUSTED names the pool, its
 *    size and how many are allocated.
 *
 * Concurrent allocators (one per node) never hand out one address twice:
 * the API server refuses the second create of a name.
 */
import { randomBytes } from 'node:crypto';
import { DriverError } from '../../common/errors.ts';
import { allocationName } from './allocation-name.ts';
import type { Allocation, IpamPort } from './ipam-port.ts';
import { rangesAt, rangesSize, type AddressPool } from './pool-spec.ts';

export interface AllocateRequest {
  readonly pool: AddressPool;
  readonly node: string;
  readonly claim: Allocation['claim'];
  readonly request: string;
}

export interface AllocateOptions {
  /** A uniform random integer in [0, n). Default: crypto random. */
  readonly random?: (n: bigint) => bigint;
  /** Random probes before listing the pool (default 8). */
  readonly probes?: number;
}

export const DEFAULT_PROBES = 8;

export function cryptoRandom(n: bigint): bigint {
  // 64 bits more than needed: the modulo bias is below 2^-64.
  const bytes = Math.ceil(n.toString(16).length / 2) + 8;
  return BigInt(`0x${randomBytes(bytes).toString('hex')}`) % n;
}

export async function allocateAddress(port: IpamPort, req: AllocateRequest, opts: AllocateOptions = {}): Promise<Allocation> {
  const { pool, node } = req;
  const ranges = pool.usable(node);
  const size = rangesSize(ranges);
  if (size === 0n) {
    throw new DriverError('PREPARE_POOL_INVALID',
      `IPPool ${pool.name} has no address this node (${node}) may allocate: its per-node ranges (spec.nodes) do not name it, or exclude everything`,
      { context: { pool: pool.name, node } });
  }
  const random = opts.random ?? cryptoRandom;
  const make = (offset: bigint): Allocation => {
    const address = pool.address(offset);
    return {
      name: allocationName(pool.name, address), pool: pool.name, address, prefixLength: pool.prefixLength, node,
      claim: req.claim, request: req.request,
    };
  };
  const taken = new Set<bigint>();
  const probes = opts.probes ?? DEFAULT_PROBES;
  for (let i = 0; i < probes && BigInt(taken.size) < size; i++) {
    const offset = rangesAt(ranges, random(size));
    if (taken.has(offset)) continue;
    const a = await port.create(make(offset));
    if (a !== 'exists') return a;
    taken.add(offset);
  }
  for (const a of await port.listPool(pool.name)) {
    const off = pool.offsetOf(a.address);
    if (off !== undefined) taken.add(off);
  }
  const start = random(size);
  // Each create that fails is one more taken address inside the window, so the window grows by one.
  let limit = BigInt(taken.size) + 1n;
  for (let k = 0n; k < limit && k < size; k++) {
    const offset = rangesAt(ranges, (start + k) % size);
    if (taken.has(offset)) continue;
    const a = await port.create(make(offset));
    if (a !== 'exists') return a;
    taken.add(offset);
    limit++;
  }
  // Taken counts only usable offsets of this node (an allocation outside them, e.g. another node's range, does not fill ours).
  let used = 0n;
  for (const off of taken) if (ranges.some((r) => off >= r.first && off <= r.last)) used++;
  throw new DriverError('PREPARE_POOL_EXHAUSTED',
    `IPPool ${pool.name} (${pool.subnet}) is exhausted: all ${size} addresses${pool.perNode ? ` it has for node ${node}` : ''} are allocated; ` +
    'the kubelet retries, and the pod starts once one is freed (docs/ipam.md)',
    { context: { pool: pool.name, size: Number(size), allocated: Number(used), node } });
}
