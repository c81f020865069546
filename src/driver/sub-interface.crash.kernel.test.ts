/**
 * Crash test of per-claim sub-interfaces (docs/sharing.md): a child process
 * prepares or unprepares a claim on a shareable veth parent (inventory built
 * by the real pipeline, `--shareable-name`) and is SIGKILLed at each named
 * point: after the intent is recorded, after the link is created, after
 * planning, the CDI spec, the record's rename and store; on unprepare after
 * the link is deleted, the CDI spec removed and the record unlinked. A
 * restarted driver (its constructor reconciles) must leave no sub-interface
 * that no record names, lose no acknowledged record, and converge when the
 * kubelet repeats the call: one sub-interface after prepare, none (and an
 * empty ledger) after unprepare, the parent untouched.
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
import { DEFAULT_OPTIONS, type InventoryOptions } from '../inventory/options.ts';
import { createNetns, ip, ipJson, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';
import { CRASH_AT_ENV, type CrashPointName } from './state/crash-points.ts';
import { SubInterfaces } from './sub-interface/sub-interfaces.ts';

/**
 * Each test runs the driver in child processes (each loads the TypeScript sources): on a loaded
 * machine one took 10–15 s, so a test of two or three of them passed the 30 s default. Generous,
 * not unbounded: a child that hangs still fails its test.
 */
const CHILD_TIMEOUT_MS = 120_000;

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/claim-driver/sub-child.ts', import.meta.url).pathname;
const options = (parent: string): InventoryOptions => ({ ...DEFAULT_OPTIONS, includeKinds: ['*'], shareable: { kinds: [], names: [parent], maxSubInterfaces: 4 } });

/** Points before the record is durable (nothing acknowledged: the restart deletes what was created) and after. */
const PREPARE_POINTS: readonly (readonly [CrashPointName, 'gone' | 'kept'])[] = [
  ['subif.after-intent', 'gone'], ['subif.after-create', 'gone'], ['prepare.after-plan', 'gone'], ['prepare.after-cdi', 'gone'],
  ['store.after-temp-write', 'gone'], ['store.after-rename', 'kept'], ['prepare.after-store', 'kept'],
];
const UNPREPARE_POINTS: readonly CrashPointName[] = ['subif.after-delete', 'unprepare.after-cdi-remove', 'store.after-unlink'];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Setup { ns: TestNetns; dir: string; claim: AllocatedClaim; parent: string }

function setup(): Setup {
  const ns = createNetns('subcrash');
  const parent = uniqueName('sc');
  ip(ns, 'link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}p`);
  ip(ns, 'link', 'set', parent, 'up');
  const o = options(parent);
  const found = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, o), o).devices.find((d) => d.ifName === parent)!;
  expect(found.sharing).toEqual({ maxSubInterfaces: 4, whole: true }); // a veth can move: it also has a whole twin (docs/sharing.md)
  const dir = mkdtempSync(join(tmpdir(), 'nc-subif-crash-'));
  dirs.push(dir);
  const claim: AllocatedClaim = {
    namespace: 'ns', name: 'shared', uid: 'c0ffee00-0000-4000-8000-00000000005b' as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'p', uid: 'pod-1' }],
    allocation: {
      results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'node-a', device: found.name, shareId: '7f6c1e2a-0000-4000-8000-000000000001' }],
      config: [{ source: 'FromClass', opaque: { driver: DRIVER_NAME, parameters: { subInterface: { type: 'macvlan', mode: 'private' }, interface: { name: 'net1' } } } }],
    },
  };
  return { ns, dir, claim, parent };
}

function child(op: 'prepare' | 'unprepare', s: Setup, crashAt?: CrashPointName): { acked: unknown; signal: NodeJS.Signals | null; stderr: string } {
  const env = { ...process.env };
  delete env[CRASH_AT_ENV];
  if (crashAt !== undefined) env[CRASH_AT_ENV] = crashAt;
  const r = spawnSync(NODE, [CHILD, op, s.ns.path, s.dir, JSON.stringify(s.claim), s.parent], { env, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  const ack = r.stdout.split('\n').find((l) => l.startsWith('ack '));
  return { acked: ack === undefined ? undefined : JSON.parse(ack.slice(4)), signal: r.signal, stderr: r.stderr };
}

/** A restarted daemon: a fresh store, ledger and driver over the same directories (the constructor reconciles). */
function restarted(s: Setup): { driver: ClaimDriver; store: ClaimStore } {
  const store = ClaimStore.open(join(s.dir, 'state'));
  const o = options(s.parent);
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'node-a', claims: { get: () => Promise.resolve(s.claim) }, store,
    inventory: { current: buildInventory(collectSnapshot(s.ns.handle, { sysfsRoot: '/sys' }, o), o), hold: () => {}, release: () => {} },
    kernel: hostReads(s.ns.handle, '/sys'), cdiDir: join(s.dir, 'cdi'), subInterfaces: new SubInterfaces(s.ns.handle, join(s.dir, 'state')),
  });
  return { driver, store };
}

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'sub-interfaces').sort() : []);
const ledger = (s: Setup): string[] => files(join(s.dir, 'state', 'sub-interfaces'));
const subLinks = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n.startsWith('ncsub')).sort();
const ref = (c: AllocatedClaim): { namespace: string; name: string; uid: ClaimUid } => ({ namespace: c.namespace, name: c.name, uid: c.uid });

describe('per-claim sub-interfaces survive a kill at every named point', { timeout: CHILD_TIMEOUT_MS * 3 }, () => {
  it('a run without a crash point creates one macvlan, answers with the share id, and unprepare deletes it', () => {
    const s = setup();
    const p = child('prepare', s);
    expect(p.signal, p.stderr).toBeNull();
    expect(p.acked).toMatchObject({ [s.claim.uid]: { devices: [{ requestNames: ['nic'], shareId: '7f6c1e2a-0000-4000-8000-000000000001' }] } });
    expect(subLinks(s.ns)).toHaveLength(1);
    expect(ledger(s)).toHaveLength(1);
    expect(child('unprepare', s).acked).toEqual({ [s.claim.uid]: {} });
    expect(subLinks(s.ns)).toEqual([]);
    expect(ledger(s)).toEqual([]);
    expect(files(join(s.dir, 'state'))).toEqual([]);
  });

  for (const [point, after] of PREPARE_POINTS) {
    it(`prepare killed at ${point}: the restart ${after === 'gone' ? 'deletes the unrecorded sub-interface' : 'adopts the recorded one'}, a repeated prepare converges`, async () => {
      const s = setup();
      const killed = child('prepare', s, point);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const { driver, store } = restarted(s);
      try {
        expect(store.problems).toEqual([]);
        expect(subLinks(s.ns)).toHaveLength(after === 'gone' ? 0 : 1);
        expect(ledger(s)).toHaveLength(after === 'gone' ? 0 : 1);
        const again = (await driver.prepare([ref(s.claim)])).get(s.claim.uid);
        expect(again).toMatchObject({ devices: [{ requestNames: ['nic'] }] });
        expect(subLinks(s.ns)).toHaveLength(1);
        expect(store.get(s.claim.uid)!.devices[0]!.subInterface!.name).toBe(subLinks(s.ns)[0]);
        expect((await driver.unprepare([ref(s.claim)])).get(s.claim.uid)).toEqual({});
        expect(subLinks(s.ns)).toEqual([]);
        expect(ledger(s)).toEqual([]);
        expect(files(join(s.dir, 'state'))).toEqual([]);
        expect(ipJson<{ ifname: string }[]>(s.ns, 'link', 'show', 'dev', s.parent)).toHaveLength(1);
      } finally {
        store.close();
      }
    });
  }

  for (const point of UNPREPARE_POINTS) {
    it(`unprepare killed at ${point}: nothing is left after the restart and a repeated unprepare`, async () => {
      const s = setup();
      expect(child('prepare', s).signal).toBeNull();
      const killed = child('unprepare', s, point);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const { driver, store } = restarted(s);
      try {
        expect(store.problems).toEqual([]);
        expect((await driver.unprepare([ref(s.claim)])).get(s.claim.uid)).toEqual({});
        expect(subLinks(s.ns)).toEqual([]);
        expect(ledger(s)).toEqual([]);
        expect(files(join(s.dir, 'state'))).toEqual([]);
        expect(files(join(s.dir, 'cdi'))).toEqual([]);
      } finally {
        store.close();
      }
    });
  }
});
