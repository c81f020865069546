import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryIpam } from '../../../test/fixtures/ipam/memory-port.ts';
import { isDriverError } from '../../common/errors.ts';
import { allocateAddress } from './allocate.ts';
import { allocateClaimAddresses, reconcileAddresses, releaseAddresses } from './claim-addresses.ts';
import { parsePool, rangesSize } from './pool-spec.ts';

const claim = (i: number): { uid: string; namespace: string; name: string } => ({ uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, namespace: 'ns', name: `c${i}` });

describe('allocateAddress', () => {
  it('concurrent allocators never hand out one address twice, and the one past the pool size gets a clean exhaustion', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 16 }), async (size, extra, probes) => {
      const port = new MemoryIpam();
      const pool = parsePool('p', { subnet: '10.0.0.0/24', exclude: [`10.0.0.${size + 1}-10.0.0.254`] });
      expect(rangesSize(pool.usable('n'))).toBe(BigInt(size));
      const results = await Promise.allSettled(Array.from({ length: size + extra }, (_, i) =>
        allocateAddress(port, { pool, node: `n${i % 5}`, claim: claim(i), request: 'nic' }, { probes })));
      const got = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.address] : []));
      expect(new Set(got).size).toBe(got.length);
      expect(got.length).toBe(size);
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(isDriverError(r.reason) && r.reason.code).toBe('PREPARE_POOL_EXHAUSTED');
          expect((r.reason as Error).message).toContain(`IPPool p (10.0.0.0/24) is exhausted: all ${size} addresses`);
        }
      }
    }), { numRuns: 60 });
  });

  it('costs one create per allocation while the pool is far from full (no list)', async () => {
    const port = new MemoryIpam();
    const pool = parsePool('big', { subnet: '10.0.0.0/16' });
    for (let i = 0; i < 500; i++) await allocateAddress(port, { pool, node: 'n', claim: claim(i), request: 'nic' });
    expect(port.requests.filter((r) => r === 'list')).toEqual([]);
    expect(port.requests.length).toBeLessThan(520);
  });

  it('a node outside every per-node range is told so, not "exhausted"', async () => {
    const pool = parsePool('p', { subnet: '10.0.0.0/24', nodes: [{ nodeName: 'a', ranges: ['10.0.0.0/28'] }] });
    await expect(allocateAddress(new MemoryIpam(), { pool, node: 'b', claim: claim(1), request: 'nic' })).rejects.toMatchObject({ code: 'PREPARE_POOL_INVALID' });
  });
});

describe('allocateClaimAddresses', () => {
  const ctx = (port: MemoryIpam, i = 1): Parameters<typeof allocateClaimAddresses>[1] => ({ port, node: 'n1', claim: claim(i) });

  it('one address per pool per device, with the pool routes; all released again', async () => {
    const port = new MemoryIpam();
    port.specs.set('v4', { subnet: '10.1.0.0/24', gateway: '10.1.0.1', routes: [{ destination: '10.0.0.0/8' }] });
    port.specs.set('v6', { subnet: 'fd00::/64' });
    const got = await allocateClaimAddresses([{ request: 'nic', device: 'd0', pools: ['v4', 'v6'], statics: [] }], ctx(port));
    expect(got.map((a) => a.pool)).toEqual(['v4', 'v6']);
    expect(got[0]!.routes).toEqual([{ destination: '10.0.0.0/8', gateway: '10.1.0.1' }]);
    expect(port.objects.size).toBe(2);
    await releaseAddresses(port, claim(1).uid, got);
    await releaseAddresses(port, claim(1).uid, got); // idempotent
    expect(port.objects.size).toBe(0);
  });

  it('all or nothing: a failure on the second pool gives the first address back', async () => {
    const port = new MemoryIpam();
    port.specs.set('a', { subnet: '10.1.0.0/24' });
    port.specs.set('b', { subnet: '10.2.0.0/30' }); // 2 addresses
    await allocateClaimAddresses([{ request: 'x', device: 'd', pools: ['b'], statics: [] }], ctx(port, 7));
    await allocateClaimAddresses([{ request: 'x', device: 'd', pools: ['b'], statics: [] }], ctx(port, 8));
    const err = await allocateClaimAddresses([{ request: 'nic', device: 'd0', pools: ['a'], statics: [] }, { request: 'rdma', device: 'd1', pools: ['b'], statics: [] }], ctx(port)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PREPARE_POOL_EXHAUSTED' });
    expect((err as Error).message).toMatch(/^claim ns\/c1: request rdma \(device d1\): interface.addressPools: IPPool b \(10.2.0.0\/30\) is exhausted: all 2 addresses/);
    expect([...port.objects.values()].map((a) => a.claim.name).sort()).toEqual(['c7', 'c8']);
  });

  it('refuses two pools of a family, a pool with static addresses of its family, DHCP with an IPv4 pool, a missing pool', async () => {
    const port = new MemoryIpam();
    port.specs.set('a', { subnet: '10.1.0.0/24' });
    port.specs.set('b', { subnet: '10.2.0.0/24' });
    const run = (w: Parameters<typeof allocateClaimAddresses>[0][number]): Promise<unknown> => allocateClaimAddresses([w], ctx(port)).catch((e: unknown) => e);
    expect(await run({ request: 'r', device: 'd', pools: ['a', 'b'], statics: [] })).toMatchObject({ code: 'PREPARE_POOL_INVALID', message: expect.stringContaining('two IPv4 pools (a, b)') });
    expect(await run({ request: 'r', device: 'd', pools: ['a'], statics: ['192.0.2.1/24'] })).toMatchObject({ code: 'PREPARE_POOL_INVALID', message: expect.stringContaining('interface.addresses has the IPv4 address 192.0.2.1/24') });
    expect(await run({ request: 'r', device: 'd', pools: ['a'], statics: [], dhcp: true })).toMatchObject({ code: 'PREPARE_POOL_INVALID', message: expect.stringContaining('interface.dhcp') });
    expect(await run({ request: 'r', device: 'd', pools: ['nope'], statics: [] })).toMatchObject({ code: 'PREPARE_POOL_INVALID', message: expect.stringContaining('IPPool nope does not exist') });
    expect(port.objects.size).toBe(0);
  });

  it('a static address inside a pool is registered there, and refused when another claim has it', async () => {
    const port = new MemoryIpam();
    port.specs.set('a', { subnet: '10.1.0.0/24', exclude: ['10.1.0.200/29'] });
    const first = await allocateClaimAddresses([{ request: 'r', device: 'd', pools: [], statics: ['10.1.0.5/24', '192.0.2.1/24'] }], ctx(port, 1));
    expect(first).toMatchObject([{ pool: 'a', address: '10.1.0.5', static: true }]);
    // Retried by the same claim: its own registration, accepted.
    expect(await allocateClaimAddresses([{ request: 'r', device: 'd', pools: [], statics: ['10.1.0.5/24'] }], ctx(port, 1))).toHaveLength(1);
    const err = await allocateClaimAddresses([{ request: 'r', device: 'd', pools: [], statics: ['10.1.0.5/24'] }], ctx(port, 2)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PREPARE_ADDRESS_TAKEN', message: expect.stringContaining('10.1.0.5/24 lies in IPPool a and is already allocated to claim ns/c1') });
    // An excluded address is the admin's to give statically: not registered.
    expect(await allocateClaimAddresses([{ request: 'r', device: 'd', pools: [], statics: ['10.1.0.201/24'] }], ctx(port, 3))).toEqual([]);
  });
});

describe('reconcileAddresses', () => {
  it('deletes the node\'s allocations nothing keeps, leaves kept ones, young ones and other nodes\' alone', async () => {
    const port = new MemoryIpam();
    const pool = parsePool('p', { subnet: '10.0.0.0/24' });
    const kept = await allocateAddress(port, { pool, node: 'n1', claim: claim(1), request: 'r' });
    const leaked = await allocateAddress(port, { pool, node: 'n1', claim: claim(2), request: 'r' });
    const other = await allocateAddress(port, { pool, node: 'n2', claim: claim(3), request: 'r' });
    expect(await reconcileAddresses(port, 'n1', (a) => a.name === kept.name, Date.parse(leaked.created!) + 1000)).toEqual([]); // young
    expect(await reconcileAddresses(port, 'n1', (a) => a.name === kept.name)).toEqual([leaked.name]);
    expect([...port.objects.keys()].sort()).toEqual([kept.name, other.name].sort());
  });
});
