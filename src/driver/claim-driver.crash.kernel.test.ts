/**
 * Crash test of the prepare and unprepare paths: a child process runs one
 * ClaimDriver call and is SIGKILLed at each named point (crash-points.ts) on
 * the way: planning, CDI spec, each step of the store's atomic write, and of
 * the delete. After each kill a fresh driver over the same directories must
 * find every acknowledged result intact and converge when the kubelet
 * repeats the call: the same answer, exactly one record and one CDI file
 * after prepare, none after unprepare, no temp files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../inventory/options.ts';
import { createNetns, ip, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';
import { CRASH_AT_ENV, type CrashPointName } from './state/crash-points.ts';

/**
 * Each test runs the driver in child processes (each loads the TypeScript sources): on a loaded
 * machine one took 10–15 s, so a test of two or three of them passed the 30 s default. Generous,
 * not unbounded: a child that hangs still fails its test.
 */
const CHILD_TIMEOUT_MS = 120_000;

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/claim-driver/driver-child.ts', import.meta.url).pathname;
const OPTIONS = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };

const PREPARE_POINTS: readonly CrashPointName[] = [
  'prepare.after-plan', 'prepare.after-cdi', 'store.before-temp-write', 'store.after-temp-write', 'store.after-fsync',
  'store.after-rename', 'store.after-dir-fsync', 'prepare.after-store',
];
const UNPREPARE_POINTS: readonly CrashPointName[] = ['unprepare.after-cdi-remove', 'store.before-unlink', 'store.after-unlink'];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { ns: TestNetns; dir: string; claim: AllocatedClaim } {
  const ns = createNetns('crash');
  const dev = uniqueName('c');
  ip(ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
  ip(ns, 'addr', 'add', '10.40.0.2/24', 'dev', dev);
  const device = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS).devices.find((d) => d.ifName === dev)!.name;
  const dir = mkdtempSync(join(tmpdir(), 'nc-driver-crash-'));
  dirs.push(dir);
  const claim: AllocatedClaim = {
    namespace: 'ns', name: 'crashy', uid: 'c0ffee00-0000-4000-8000-000000000001' as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'p', uid: 'pod-1' }],
    allocation: { results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'node-a', device }], config: [] },
  };
  return { ns, dir, claim };
}

function child(op: 'prepare' | 'unprepare', s: ReturnType<typeof setup>, crashAt?: CrashPointName): { acked: unknown; signal: NodeJS.Signals | null; stderr: string } {
  const env = { ...process.env };
  delete env[CRASH_AT_ENV];
  if (crashAt !== undefined) env[CRASH_AT_ENV] = crashAt;
  const r = spawnSync(NODE, [CHILD, op, s.ns.path, s.dir, JSON.stringify(s.claim)], { env, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  const ack = r.stdout.split('\n').find((l) => l.startsWith('ack '));
  return { acked: ack === undefined ? undefined : JSON.parse(ack.slice(4)), signal: r.signal, stderr: r.stderr };
}

/** A fresh driver in this process over the same directories (a restarted daemon). */
function restarted(s: ReturnType<typeof setup>): { driver: ClaimDriver; store: ClaimStore } {
  const store = ClaimStore.open(join(s.dir, 'state'));
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'node-a', claims: { get: () => Promise.resolve(s.claim) }, store,
    inventory: { current: buildInventory(collectSnapshot(s.ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS), hold: () => {}, release: () => {} },
    kernel: hostReads(s.ns.handle, '/sys'), cdiDir: join(s.dir, 'cdi'),
  });
  return { driver, store };
}

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
const ref = (c: AllocatedClaim): { namespace: string; name: string; uid: ClaimUid } => ({ namespace: c.namespace, name: c.name, uid: c.uid });

describe('prepare and unprepare survive a kill at every named point', { timeout: CHILD_TIMEOUT_MS * 3 }, () => {
  it('a run without a crash point acknowledges prepare and unprepare', () => {
    const s = setup();
    const p = child('prepare', s);
    expect(p.signal, p.stderr).toBeNull();
    expect(p.acked).toMatchObject({ [s.claim.uid]: { devices: [{ requestNames: ['nic'] }] } });
    expect(child('unprepare', s).acked).toEqual({ [s.claim.uid]: {} });
    expect(files(join(s.dir, 'state'))).toEqual([]);
    expect(files(join(s.dir, 'cdi'))).toEqual([]);
  });

  for (const point of PREPARE_POINTS) {
    it(`prepare killed at ${point}: a repeated prepare converges`, async () => {
      const s = setup();
      const clean = child('prepare', s);
      const expected = (clean.acked as Record<string, unknown>)[s.claim.uid];
      child('unprepare', s);

      const killed = child('prepare', s, point);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      expect(killed.acked).toBeUndefined();
      const { driver, store } = restarted(s);
      try {
        expect(store.problems).toEqual([]);
        expect((await driver.prepare([ref(s.claim)])).get(s.claim.uid)).toEqual(expected);
        expect(files(join(s.dir, 'state'))).toEqual([`${s.claim.uid}.json`]);
        expect(files(join(s.dir, 'cdi'))).toEqual([`netclaim.dev-net_${s.claim.uid}.json`]);
        expect((await driver.unprepare([ref(s.claim)])).get(s.claim.uid)).toEqual({});
        expect(files(join(s.dir, 'state'))).toEqual([]);
        expect(files(join(s.dir, 'cdi'))).toEqual([]);
      } finally {
        store.close();
      }
    });
  }

  for (const point of UNPREPARE_POINTS) {
    it(`unprepare killed at ${point}: the acknowledged prepare was intact, a repeated unprepare converges`, async () => {
      const s = setup();
      const prepared = child('prepare', s).acked as Record<string, unknown>;
      const killed = child('unprepare', s, point);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const { driver, store } = restarted(s);
      try {
        expect(store.problems).toEqual([]);
        // Before the record's unlink the claim is still prepared, and answers as it did.
        if (point !== 'store.after-unlink') expect((await driver.prepare([ref(s.claim)])).get(s.claim.uid)).toEqual(prepared[s.claim.uid]);
        expect((await driver.unprepare([ref(s.claim)])).get(s.claim.uid)).toEqual({});
        expect(files(join(s.dir, 'state'))).toEqual([]);
        expect(files(join(s.dir, 'cdi'))).toEqual([]);
      } finally {
        store.close();
      }
    });
  }
});
