/**
 * Crash test of Prepare with an address pool: a child process prepares a
 * claim whose config names a pool and is SIGKILLed at each named point from
 * "addresses allocated" to "record stored". A fresh driver over the same
 * directories must converge when the kubelet repeats the call and the
 * reconcile runs: exactly one allocation for the claim, the one its record
 * names, planned into the pod; unprepare leaves none. The allocation store is
 * a directory with O_EXCL creates (test/fixtures/ipam/dir-port.ts), so it
 * outlives the child as the API server would.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirIpam } from '../../test/fixtures/ipam/dir-port.ts';
import { createNetns, ip, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../inventory/options.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';
import { CRASH_AT_ENV, type CrashPointName } from './state/crash-points.ts';

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/claim-driver/driver-child.ts', import.meta.url).pathname;
const OPTIONS = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
const POINTS: readonly CrashPointName[] = ['ipam.after-allocate', 'prepare.after-plan', 'prepare.after-cdi', 'store.after-temp-write', 'store.after-rename', 'prepare.after-store'];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Setup { ns: TestNetns; dir: string; claim: AllocatedClaim; ipam: DirIpam }

function setup(): Setup {
  const ns = createNetns('ipcrash');
  const dev = uniqueName('c');
  ip(ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
  const device = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS).devices.find((d) => d.ifName === dev)!.name;
  const dir = mkdtempSync(join(tmpdir(), 'nc-ipam-crash-'));
  dirs.push(dir);
  const ipam = new DirIpam(join(dir, 'ipam'));
  ipam.definePool('rail0', { subnet: '10.44.0.0/24', gateway: '10.44.0.1' });
  const claim: AllocatedClaim = {
    namespace: 'ns', name: 'crashy', uid: 'c0ffee00-0000-4000-8000-00000000aaaa' as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'p', uid: 'pod-1' }],
    allocation: {
      results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'node-a', device }],
      config: [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters: { interface: { addressPools: ['rail0'] } } } }],
    },
  };
  return { ns, dir, claim, ipam };
}

/** A child's start-up on a loaded machine (stress-ng beside the tier) can take tens of seconds; as claim-driver.crash.kernel.test.ts. */
const CHILD_TIMEOUT_MS = 120_000;

function child(s: Setup, crashAt: CrashPointName): { signal: NodeJS.Signals | null; stderr: string } {
  const env = { ...process.env, [CRASH_AT_ENV]: crashAt, NETCLAIM_TEST_IPAM_DIR: join(s.dir, 'ipam') };
  const r = spawnSync(NODE, [CHILD, 'prepare', s.ns.path, s.dir, JSON.stringify(s.claim)], { env, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  return { signal: r.signal, stderr: r.stderr };
}

describe('prepare with a pool survives a kill at every named point', { timeout: CHILD_TIMEOUT_MS * 3 }, () => {
  for (const point of POINTS) {
    it(`killed at ${point}: a repeated prepare and the reconcile leave exactly the recorded allocation; unprepare none`, async () => {
      const s = setup();
      const killed = child(s, point);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      expect(s.ipam.all()).toHaveLength(1);
      const store = ClaimStore.open(join(s.dir, 'state'));
      try {
        const driver = new ClaimDriver({
          driverName: DRIVER_NAME, poolName: 'node-a', claims: { get: () => Promise.resolve(s.claim) }, store,
          inventory: { current: buildInventory(collectSnapshot(s.ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS), hold: () => {}, release: () => {} },
          kernel: hostReads(s.ns.handle, '/sys'), cdiDir: join(s.dir, 'cdi'), ipam: { port: s.ipam, node: 'node-a' },
        });
        const ref = { namespace: s.claim.namespace, name: s.claim.name, uid: s.claim.uid };
        expect((await driver.prepare([ref])).get(s.claim.uid)).not.toHaveProperty('error');
        await driver.reconcileAddresses(0);
        const record = store.get(s.claim.uid)!;
        expect(record.addresses?.map((a) => a.name)).toEqual(s.ipam.all().map((a) => a.name));
        expect(record.devices[0]!.pod?.addresses).toEqual([`${record.addresses![0]!.address}/24`]);
        expect((await driver.unprepare([ref])).get(s.claim.uid)).toEqual({});
        expect(s.ipam.all()).toEqual([]);
      } finally {
        store.close();
      }
    });
  }
});
