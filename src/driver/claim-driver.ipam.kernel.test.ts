/**
 * ClaimDriver with address pools, against the real kernel (veth devices in a
 * throwaway "host" namespace, a real store directory): the address a pool
 * gives is planned into the pod, recorded with the claim, released at
 * unprepare; a failed Prepare gives it back; a restart keeps it; a leak of a
 * crash between create and store is reconciled away. The pool store here is
 * the in-memory stand-in for the API server's name uniqueness
 * (test/fixtures/ipam/memory-port.ts); test/conformance/ipam.conformance.test.ts
 * runs the allocator against kube-apiserver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryIpam } from '../../test/fixtures/ipam/memory-port.ts';
import { createNetns, ip, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { DRIVER_NAME } from '../common/driver.ts';
import { NotFoundError } from '../common/errors.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from '../inventory/options.ts';
import type { AllocatedClaim, ClaimSource } from './claim.ts';
import { ClaimDriver, type InventoryView } from './claim-driver.ts';
import type { ClaimRef } from './driver-port.ts';
import { hostReads } from './host-reads.ts';
import { allocateAddress } from './ipam/allocate.ts';
import { parsePool } from './ipam/pool-spec.ts';
import { ClaimStore } from './state/claim-store.ts';

const NODE = 'node-a';
const OPTIONS: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };

let ns: TestNetns;
let dir: string;
let devs: string[];
let ipam: MemoryIpam;
const claims = new Map<string, AllocatedClaim>();
const stores: ClaimStore[] = [];
const source: ClaimSource = {
  get: (namespace, name) => {
    const c = claims.get(`${namespace}/${name}`);
    return c === undefined ? Promise.reject(new NotFoundError(`${namespace}/${name} not found`)) : Promise.resolve(c);
  },
};

function newDriver(): { store: ClaimStore; driver: ClaimDriver } {
  const store = ClaimStore.open(join(dir, 'state'));
  stores.push(store);
  const inventory: InventoryView = {
    get current() { return buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS); },
    hold: () => {}, release: () => {},
  };
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: NODE, claims: source, store, inventory,
    kernel: hostReads(ns.handle, '/sys'), cdiDir: join(dir, 'cdi'), ipam: { port: ipam, node: NODE },
  });
  return { store, driver };
}

function deviceOf(ifName: string): string {
  const d = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS).devices.find((x) => x.ifName === ifName);
  if (d === undefined) throw new Error(`no device for ${ifName}`);
  return d.name;
}

let seq = 0;
function addClaim(name: string, device: string, parameters: unknown): ClaimRef {
  seq += 1;
  const uid = `1aa00000-0000-4000-8000-${String(seq).padStart(12, '0')}` as ClaimUid;
  claims.set(`team-a/${name}`, {
    namespace: 'team-a', name, uid, reservedFor: [{ resource: 'pods', name: `pod-${seq}`, uid: `pod-uid-${seq}` }],
    allocation: {
      results: [{ request: 'nic', driver: DRIVER_NAME, pool: NODE, device }],
      config: [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters } }],
    },
  });
  return { namespace: 'team-a', name, uid };
}

beforeEach(() => {
  ns = createNetns('ipam');
  devs = [uniqueName('d'), uniqueName('d')];
  for (const d of devs) ip(ns, 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
  dir = mkdtempSync(join(tmpdir(), 'nc-ipam-'));
  ipam = new MemoryIpam();
  ipam.specs.set('rail0', { subnet: '10.40.0.0/29', gateway: '10.40.0.1', routes: [{ destination: '10.0.0.0/8' }] }); // 5 addresses
  ipam.specs.set('tiny', { subnet: '10.41.0.0/30' }); // 2 addresses
  claims.clear();
});

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ClaimDriver with address pools', () => {
  it('plans the pool address and routes into the pod, records them, releases them at unprepare (idempotent)', async () => {
    const { store, driver } = newDriver();
    const ref = addClaim('nic', deviceOf(devs[0]!), { interface: { name: 'net1', addressPools: ['rail0'] } });
    const res = await driver.prepare([ref]);
    expect(res.get(ref.uid)).not.toHaveProperty('error');
    const record = store.get(ref.uid)!;
    expect(record.addresses).toHaveLength(1);
    const a = record.addresses![0]!;
    expect(a).toMatchObject({ request: 'nic', pool: 'rail0', prefixLength: 29 });
    expect(record.devices[0]!.pod).toMatchObject({ name: 'net1', addresses: [`${a.address}/29`] });
    expect(JSON.stringify(record.devices[0]!.pod)).toContain('10.0.0.0/8');
    expect([...ipam.objects.values()].map((o) => o.claim.uid)).toEqual([ref.uid]);

    expect(await driver.unprepare([ref])).toEqual(new Map([[ref.uid, {}]]));
    expect(ipam.objects.size).toBe(0);
    expect(await driver.unprepare([ref])).toEqual(new Map([[ref.uid, {}]]));
  });

  it('an exhausted pool fails Prepare naming the pool and its size; nothing is kept', async () => {
    const { store, driver } = newDriver();
    const refs = [addClaim('a', deviceOf(devs[0]!), { interface: { addressPools: ['tiny'] } }), addClaim('b', deviceOf(devs[1]!), { interface: { addressPools: ['tiny'] } })];
    await driver.prepare(refs);
    expect(ipam.objects.size).toBe(2);
    ip(ns, 'link', 'add', 'ncx0', 'type', 'veth', 'peer', 'name', 'ncx0p');
    const third = addClaim('c', deviceOf('ncx0'), { interface: { addressPools: ['tiny'] } });
    const res = (await driver.prepare([third])).get(third.uid) as { error: string };
    expect(res.error).toMatch(/^PREPARE_POOL_EXHAUSTED: claim team-a\/c: request nic .*IPPool tiny \(10\.41\.0\.0\/30\) is exhausted: all 2 addresses are allocated/);
    expect(store.get(third.uid)).toBeUndefined();
    expect(ipam.objects.size).toBe(2);
  });

  it('a Prepare that fails after allocating gives the address back', async () => {
    const { store, driver } = newDriver();
    // A config the planner refuses for this device (an ethtool feature a veth does not have) fails after allocation.
    const ref = addClaim('bad', deviceOf(devs[0]!), { interface: { addressPools: ['rail0'] }, ethtool: { features: { 'no-such-feature': true } } });
    const res = (await driver.prepare([ref])).get(ref.uid) as { error: string };
    expect(res.error).toMatch(/PREPARE_DEVICE_CONFLICT|CONFIG_CLAIM_INVALID/);
    expect(store.get(ref.uid)).toBeUndefined();
    expect(ipam.objects.size).toBe(0);
    expect(ipam.requests).toContain('delete');
  });

  it('a restart keeps stored allocations (answered from the store, nothing allocated again) and reconciles a leak away', async () => {
    const first = newDriver();
    const ref = addClaim('nic', deviceOf(devs[0]!), { interface: { addressPools: ['rail0'] } });
    await first.driver.prepare([ref]);
    // The leak of a crash between create and store: an allocation of this node no record names.
    const leak = await allocateAddress(ipam, { pool: parsePool('rail0', ipam.specs.get('rail0')), node: NODE, claim: { uid: 'crashed-claim', namespace: 'team-a', name: 'gone' }, request: 'nic' });
    first.store.close();
    stores.splice(stores.indexOf(first.store), 1);

    const second = newDriver();
    const creates = ipam.requests.filter((r) => r === 'create').length;
    expect((await second.driver.prepare([ref])).get(ref.uid)).not.toHaveProperty('error');
    expect(ipam.requests.filter((r) => r === 'create').length).toBe(creates);
    expect(await second.driver.reconcileAddresses(0)).toEqual([leak.name]);
    expect([...ipam.objects.values()].map((o) => o.claim.uid)).toEqual([ref.uid]);
    await second.driver.unprepare([ref]);
    expect(ipam.objects.size).toBe(0);
  });

  it('a static address another claim holds in a pool is refused', async () => {
    const { driver } = newDriver();
    const a = addClaim('a', deviceOf(devs[0]!), { interface: { addresses: ['10.40.0.3/29'] } });
    expect((await driver.prepare([a])).get(a.uid)).not.toHaveProperty('error');
    const b = addClaim('b', deviceOf(devs[1]!), { interface: { addresses: ['10.40.0.3/29'] } });
    expect(((await driver.prepare([b])).get(b.uid) as { error: string }).error)
      .toMatch(/^PREPARE_ADDRESS_TAKEN: claim team-a\/b: .*10\.40\.0\.3\/29 lies in IPPool rail0 and is already allocated to claim team-a\/a/);
    await driver.unprepare([a]);
    expect(ipam.objects.size).toBe(0);
  });
});
