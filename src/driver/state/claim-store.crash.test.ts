/**
 * Crash test (pino's exit.test.js pattern): a child process runs a sequence of
 * puts and deletes and is SIGKILLed at each named point of the store's write
 * and delete paths; the store is then reopened here and must hold every
 * acknowledged operation, the interrupted one fully old or fully new, no temp
 * file, and converge when the interrupted operation is repeated.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClaimRecord } from '../record-model.ts';
import { CRASH_OPS, modelAfter, scenarioRecord, type CrashOp } from '../../../test/fixtures/claim-store/crash-scenario.ts';
import { ClaimStore } from './claim-store.ts';
import { CRASH_AT_ENV, CRASH_POINT_NAMES, type CrashPointName } from './crash-points.ts';

// The worker's own binary when it is Node 24 (type stripping); otherwise the project's pinned Node.
const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../../test/fixtures/claim-store/crash-child.ts', import.meta.url).pathname;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function runChild(crashAt?: string): { dir: string; lines: string[]; signal: NodeJS.Signals | null; status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nc-store-crash-'));
  dirs.push(dir);
  const env = { ...process.env };
  delete env[CRASH_AT_ENV];
  if (crashAt !== undefined) env[CRASH_AT_ENV] = crashAt;
  const r = spawnSync(NODE, [CHILD, join(dir, 'claims')], { env, encoding: 'utf8', timeout: 30_000 });
  return { dir: join(dir, 'claims'), lines: r.stdout.split('\n').filter(Boolean), signal: r.signal, status: r.status, stderr: r.stderr };
}

/** Index of the op in which the k-th hit of `point` happens. */
function opOfHit(point: CrashPointName, k: number): number {
  const kind = point.includes('unlink') ? 'delete' : 'put';
  let seen = 0;
  for (const [i, op] of CRASH_OPS.entries()) if (op.kind === kind && ++seen === k) return i;
  throw new Error(`no hit ${k} of ${point}`);
}

function snapshot(store: ClaimStore): Map<string, ClaimRecord> {
  return new Map(store.list().map((r) => [r.claim.uid, r]));
}

function expectReopens(dir: string): ClaimStore {
  const store = ClaimStore.open(dir);
  expect(store.problems).toEqual([]);
  expect(readdirSync(dir).filter((n) => !/^[a-z0-9-]+\.json$/.test(n))).toEqual([]);
  return store;
}

function expectPodIndex(store: ClaimStore, model: Map<string, ClaimRecord>): void {
  for (const pod of ['pod-1', 'pod-2', 'pod-3']) {
    const want = [...model.values()].filter((r) => r.podUid === pod).map((r) => r.claim.uid).sort();
    expect(store.byPod(pod).map((r) => r.claim.uid).sort()).toEqual(want);
  }
}

function repeat(store: ClaimStore, op: CrashOp): void {
  if (op.kind === 'put') store.put(scenarioRecord(op.uid, op.version, op.podUid));
  else store.delete(op.uid);
}

/** Points at which the interrupted op is already visible to a reader (the page cache survives a process kill). */
const VISIBLE_FROM = new Set<CrashPointName>(['store.after-rename', 'store.after-dir-fsync', 'store.after-unlink']);
const STORE_POINTS = CRASH_POINT_NAMES.filter((p) => p.startsWith('store.'));
const CASES = STORE_POINTS.flatMap((point) =>
  (point.includes('unlink') ? [1, 2, 3] : [1, 3, 5]).map((k) => ({ point, k })));

describe('ClaimStore crash safety', () => {
  it('lists the prepare-flow points for the lead, and every store point is exercised', () => {
    expect(CRASH_POINT_NAMES).toEqual(expect.arrayContaining(['prepare.after-plan', 'prepare.after-store', 'prepare.after-cdi', 'unprepare.after-cdi-remove']));
    expect(STORE_POINTS).toHaveLength(7);
  });

  it('runs the whole sequence when no crash point is armed', () => {
    const r = runChild();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.lines.at(-1)).toBe('done');
    using store = expectReopens(r.dir);
    expect(snapshot(store)).toEqual(modelAfter(CRASH_OPS));
  });

  it.each(CASES)('killed at $point (hit $k) loses nothing acknowledged', ({ point, k }) => {
    const r = runChild(`${point}@${k}`);
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(r.lines).not.toContain('done');
    const acked = r.lines.filter((l) => l.startsWith('ack ')).length;
    const inFlight = opOfHit(point, k);
    expect(acked).toBe(inFlight);
    expect(r.lines.at(-1)).toBe(`begin ${inFlight}`);

    const before = modelAfter(CRASH_OPS.slice(0, inFlight));
    const after = modelAfter(CRASH_OPS.slice(0, inFlight + 1));
    const op = CRASH_OPS[inFlight];
    {
      using store = expectReopens(r.dir);
      const got = snapshot(store);
      for (const uid of new Set([...before.keys(), ...after.keys(), ...got.keys()])) {
        if (uid === op.uid) {
          // The interrupted op: fully old or fully new (the guarantee, power loss included) ...
          expect([before.get(uid), after.get(uid)]).toContainEqual(got.get(uid));
          // ... and, for a process kill, new exactly from the rename (unlink) on.
          expect(got.get(uid)).toEqual((VISIBLE_FROM.has(point) ? after : before).get(uid));
        } else {
          expect(got.get(uid)).toEqual(before.get(uid));
        }
      }
      expectPodIndex(store, got);
      // The kubelet retries: the repeated op converges.
      repeat(store, op);
      expect(snapshot(store)).toEqual(after);
    }
    using again = expectReopens(r.dir);
    expect(snapshot(again)).toEqual(after);
    expectPodIndex(again, after);
    repeat(again, op);
    expect(snapshot(again)).toEqual(after);
  });
});
