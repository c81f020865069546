/**
 * ClaimDriver against the real kernel: devices are veth interfaces in a
 * throwaway "host" namespace, the store and CDI directories are real
 * directories, and claims come from an in-memory ClaimSource (the API
 * server version of this test is test/conformance/claim-driver.conformance.test.ts).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from '../inventory/options.ts';
import type { ClaimRef } from './driver-port.ts';
import { createNetns, ip, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim, EventSink } from './claim.ts';
import { ClaimDriver, type InventoryView } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';
import { MemoryClaims } from '../../test/fixtures/claim-driver/memory-claims.ts';

const POOL = 'node-a';
const OPTIONS: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };

interface Env {
  ns: TestNetns;
  dir: string;
  devs: string[];
  claims: MemoryClaims;
  events: { reason: string; message: string }[];
  held: Set<string>;
  store: ClaimStore;
  driver: ClaimDriver;
  deviceOf: (ifName: string) => string;
}

let env: Env;
const stores: ClaimStore[] = [];

function newDriver(e: Omit<Env, 'driver' | 'store'>): { store: ClaimStore; driver: ClaimDriver } {
  const store = ClaimStore.open(join(e.dir, 'state'));
  stores.push(store);
  const inv = (): InventoryView['current'] => buildInventory(collectSnapshot(e.ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS);
  const inventory: InventoryView = { get current() { return inv(); }, hold: (n) => e.held.add(n), release: (n) => e.held.delete(n) };
  const events: EventSink = { claimWarning: (_c, reason, message) => e.events.push({ reason, message }) };
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: POOL, claims: e.claims, store, inventory, events,
    kernel: hostReads(e.ns.handle, '/sys'), cdiDir: join(e.dir, 'cdi'),
  });
  return { store, driver };
}

let seq = 0;
function claim(name: string, devices: readonly { request: string; device: string }[], parameters?: unknown, pods = 1): AllocatedClaim {
  seq += 1;
  const uid = `0c1a1m00-0000-4000-8000-${String(seq).padStart(12, '0')}` as ClaimUid;
  return {
    namespace: 'team-a', name, uid,
    reservedFor: Array.from({ length: pods }, (_, i) => ({ resource: 'pods', name: `job-${i}`, uid: `p0d-${seq}-${i}` })),
    allocation: {
      results: devices.map((d) => ({ ...d, driver: DRIVER_NAME, pool: POOL })),
      config: parameters === undefined ? [] : [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters } }],
    },
  };
}

beforeEach(() => {
  const ns = createNetns('drv');
  const devs = [uniqueName('d'), uniqueName('d'), uniqueName('d')];
  for (const d of devs) ip(ns, 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
  ip(ns, 'addr', 'add', '10.30.0.5/24', 'dev', devs[0]!);
  ip(ns, 'link', 'set', devs[0]!, 'up');
  ip(ns, 'route', 'add', '10.31.0.0/16', 'via', '10.30.0.1', 'dev', devs[0]!, 'table', '100');
  ip(ns, 'rule', 'add', 'from', '10.30.0.0/24', 'lookup', '100', 'pref', '1000');
  const dir = mkdtempSync(join(tmpdir(), 'nc-driver-'));
  const base = { ns, dir, devs, claims: new MemoryClaims(), events: [], held: new Set<string>(), deviceOf: (_: string) => '' };
  const first = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS);
  base.deviceOf = (ifName: string): string => {
    const d = first.devices.find((x) => x.ifName === ifName);
    if (d === undefined) throw new Error(`no device for ${ifName}`);
    return d.name;
  };
  env = { ...base, ...newDriver(base) };
});

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(env.dir, { recursive: true, force: true });
});

describe('ClaimDriver', () => {
  it('prepares a claim: answers per device, stores the plan with the host snapshot, writes the CDI hints', async () => {
    const dev = env.deviceOf(env.devs[0]!);
    const ref = env.claims.add(claim('nic', [{ request: 'nic', device: dev }], { interface: { name: 'net1', mtu: 1400 } }));
    const res = await env.driver.prepare([ref]);
    const cdiId = `netclaim.dev/net=${ref.uid}-${dev}`;
    expect(res.get(ref.uid)).toEqual({ devices: [{ requestNames: ['nic'], poolName: POOL, deviceName: dev, cdiDeviceIds: [cdiId] }] });

    const record = env.store.get(ref.uid)!;
    expect(record).toMatchObject({ claim: { uid: ref.uid, namespace: 'team-a', name: 'nic' }, podName: 'job-0' });
    const plan = record.devices[0]!;
    expect(plan.host).toMatchObject({ ifName: env.devs[0], mtu: 1500, up: true, addresses: [{ cidr: '10.30.0.5/24' }] });
    expect(plan.pod).toMatchObject({
      name: 'net1', mtu: 1400, addresses: ['10.30.0.5/24'],
      routes: [{ destination: '10.31.0.0/16', gateway: '10.30.0.1', table: 100 }],
      rules: [{ priority: 1000, source: '10.30.0.0/24', table: 100 }],
    });
    expect(env.held).toEqual(new Set([dev]));

    const spec = JSON.parse(readFileSync(record.cdiSpec!, 'utf8')) as { kind: string; containerEdits: { env: string[] }; devices: { name: string }[] };
    expect(spec.kind).toBe('netclaim.dev/net');
    expect(spec.containerEdits.env).toEqual(['NCCL_SOCKET_IFNAME==net1', 'UCX_NET_DEVICES=net1']);
    expect(spec.devices.map((d) => `netclaim.dev/net=${d.name}`)).toEqual([cdiId]);
  });

  it('is idempotent: a repeated prepare answers from the store, also after a restart, without fetching', async () => {
    const ref = env.claims.add(claim('nic', [{ request: 'nic', device: env.deviceOf(env.devs[1]!) }]));
    const first = await env.driver.prepare([ref]);
    expect(env.claims.fetches).toBe(1);
    expect(await env.driver.prepare([ref])).toEqual(first);
    const restarted = newDriver(env);
    expect(await restarted.driver.prepare([ref])).toEqual(first);
    expect(env.claims.fetches).toBe(1);
  });

  it('answers per claim: one bad claim never fails the others, each error names its cause', async () => {
    const good = env.claims.add(claim('good', [{ request: 'nic', device: env.deviceOf(env.devs[0]!) }]));
    const invalid = env.claims.add(claim('invalid', [{ request: 'nic', device: env.deviceOf(env.devs[1]!) }], { interface: { mtu: 20 } }));
    const twoPods = env.claims.add(claim('shared', [{ request: 'nic', device: env.deviceOf(env.devs[2]!) }], undefined, 2));
    const gone = env.claims.add(claim('gone', [{ request: 'nic', device: 'no-such-device' }]));
    const missing: ClaimRef = { namespace: 'team-a', name: 'never-created', uid: 'ffffffff-0000-4000-8000-000000000000' as ClaimUid };
    const recreated = { ...env.claims.add(claim('recreated', [{ request: 'nic', device: env.deviceOf(env.devs[2]!) }])), uid: 'eeeeeeee-0000-4000-8000-000000000000' as ClaimUid };

    const res = await env.driver.prepare([good, invalid, twoPods, gone, missing, recreated]);
    expect(res.get(good.uid)).toHaveProperty('devices');
    expect(res.get(invalid.uid)).toEqual({ error: expect.stringMatching(/^CONFIG_CLAIM_INVALID: .*request nic .*interface\.mtu/) });
    expect(res.get(twoPods.uid)).toEqual({ error: expect.stringMatching(/^PREPARE_RESERVATION: .*2 pods/) });
    expect(res.get(gone.uid)).toEqual({ error: expect.stringMatching(/^PREPARE_DEVICE_NOT_FOUND: .*no-such-device/) });
    expect(res.get(missing.uid)).toEqual({ error: expect.stringMatching(/^NOT_FOUND: /) });
    expect(res.get(recreated.uid)).toEqual({ error: expect.stringMatching(/^PREPARE_CLAIM_MISMATCH: /) });
    expect(env.store.list().map((r) => r.claim.name)).toEqual(['good']);
    expect(env.events.map((e) => e.reason)).toEqual(Array(5).fill('ClaimPrepareFailed'));
    // Nothing was written for the failed claims.
    expect(readdirSync(join(env.dir, 'cdi'))).toEqual([`netclaim.dev-net_${good.uid}.json`]);
  });

  it('refuses a device another claim holds', async () => {
    const dev = env.deviceOf(env.devs[0]!);
    const a = env.claims.add(claim('a', [{ request: 'nic', device: dev }]));
    const b = env.claims.add(claim('b', [{ request: 'nic', device: dev }]));
    await env.driver.prepare([a]);
    expect((await env.driver.prepare([b])).get(b.uid)).toEqual({ error: expect.stringMatching(/^PREPARE_DEVICE_CONFLICT: .*team-a\/a/) });
  });

  it('unprepare removes exactly that claim: record, CDI file, hold; other claims of the same pod stay', async () => {
    const a = claim('a', [{ request: 'nic', device: env.deviceOf(env.devs[0]!) }]);
    const b = { ...claim('b', [{ request: 'nic', device: env.deviceOf(env.devs[1]!) }]), reservedFor: a.reservedFor };
    const refs = [env.claims.add(a), env.claims.add(b)];
    await env.driver.prepare(refs);
    expect(env.store.byPod(a.reservedFor[0]!.uid).map((r) => r.claim.name).sort()).toEqual(['a', 'b']);

    expect((await env.driver.unprepare([refs[0]!])).get(a.uid)).toEqual({});
    expect(env.store.get(a.uid)).toBeUndefined();
    expect(env.store.get(b.uid)).toBeDefined();
    expect(existsSync(join(env.dir, 'cdi', `netclaim.dev-net_${a.uid}.json`))).toBe(false);
    expect(existsSync(join(env.dir, 'cdi', `netclaim.dev-net_${b.uid}.json`))).toBe(true);
    expect(env.held).toEqual(new Set([env.deviceOf(env.devs[1]!)]));
    // Again, and for a claim never prepared: success.
    const never: ClaimRef = { namespace: 'x', name: 'y', uid: 'dddddddd-0000-4000-8000-000000000000' as ClaimUid };
    expect(await env.driver.unprepare([refs[0]!, never])).toEqual(new Map([[a.uid, {}], [never.uid, {}]]));
  });

  it('a restarted driver holds the devices of stored claims (they stay published while in a pod)', async () => {
    const dev = env.deviceOf(env.devs[2]!);
    await env.driver.prepare([env.claims.add(claim('c', [{ request: 'nic', device: dev }]))]);
    env.held.clear();
    newDriver(env);
    expect(env.held).toEqual(new Set([dev]));
  });
});
