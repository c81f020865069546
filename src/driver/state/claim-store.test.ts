import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDriverError, StateError } from '../../common/errors.ts';
import { scenarioRecord, UID } from '../../../test/fixtures/claim-store/crash-scenario.ts';
import type { ClaimRecord } from '../record-model.ts';
import { ClaimStore } from './claim-store.ts';

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nc-store-'));
  dir = join(root, 'claims');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const recA = scenarioRecord(UID.a, 1, 'pod-1');
const recB = scenarioRecord(UID.b, 1, 'pod-1');

function expectStateError(f: () => unknown, code: string): StateError {
  try {
    f();
  } catch (err) {
    expect(isDriverError(err)).toBe(true);
    expect(err).toBeInstanceOf(StateError);
    expect((err as StateError).code).toBe(code);
    return err as StateError;
  }
  throw new Error('expected a StateError');
}

function corruptOpen(name: string, content: string): ClaimStore {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), content);
  return ClaimStore.open(dir);
}

describe('ClaimStore', () => {
  it('shared (rolling update): refresh() sees the other instance\'s writes and deletes; open keeps young temp files', () => {
    const a = ClaimStore.open(dir, { shared: true });
    const b = ClaimStore.open(dir, { shared: true });
    try {
      a.put(recA);
      expect(b.get(UID.a)).toBeUndefined();
      b.refresh();
      expect(b.get(UID.a)).toEqual(recA);
      expect(b.byPod('pod-1').map((r) => r.claim.uid)).toEqual([UID.a]);
      a.delete(UID.a);
      b.refresh();
      expect(b.get(UID.a)).toBeUndefined();
      expect(b.byPod('pod-1')).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
    const inFlight = '.x.json.tmp-99-1';
    writeFileSync(join(dir, inFlight), 'half');
    ClaimStore.open(dir, { shared: true }).close();
    expect(existsSync(join(dir, inFlight))).toBe(true); // may be the other instance's write in progress
    ClaimStore.open(dir).close();
    expect(existsSync(join(dir, inFlight))).toBe(false);
  });

  it('shared: whatever one instance puts and deletes, the other\'s refresh() then sees exactly that (it re-reads only the files that changed)', () => {
    const uids = [UID.a, UID.b];
    const op = fc.record({ uid: fc.constantFrom(...uids), put: fc.boolean(), version: fc.integer({ min: 1, max: 4 }), pod: fc.constantFrom('pod-1', 'pod-2') });
    fc.assert(fc.property(fc.array(fc.array(op, { maxLength: 4 }), { minLength: 1, maxLength: 6 }), (rounds) => {
      rmSync(dir, { recursive: true, force: true });
      const a = ClaimStore.open(dir, { shared: true });
      const b = ClaimStore.open(dir, { shared: true });
      const want = new Map<string, ClaimRecord>();
      try {
        for (const ops of rounds) {
          for (const o of ops) {
            if (o.put) {
              const r = scenarioRecord(o.uid, o.version, o.pod);
              a.put(r);
              want.set(o.uid, r);
            } else {
              a.delete(o.uid);
              want.delete(o.uid);
            }
          }
          b.refresh();
          expect(new Map(b.list().map((r) => [r.claim.uid as string, r]))).toEqual(want);
          for (const pod of ['pod-1', 'pod-2']) expect(b.byPod(pod).map((r) => r.claim.uid).sort()).toEqual([...want.values()].filter((r) => r.podUid === pod).map((r) => r.claim.uid).sort());
        }
      } finally {
        a.close();
        b.close();
      }
    }), { numRuns: 60 });
  });

  it('creates its directory 0700 and writes records 0600 that read back after reopening', () => {
    const store = ClaimStore.open(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(store.size).toBe(0);
    store.put(recA);
    store.put(recB);
    expect(store.get(UID.a)).toEqual(recA);
    expect(store.list().map((r) => r.claim.uid).sort()).toEqual([UID.a, UID.b].sort());
    const file = join(dir, `${UID.a}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(recA);
    store.close();

    using again = ClaimStore.open(dir);
    expect(again.problems).toEqual([]);
    expect(again.get(UID.a)).toEqual(recA);
    expect(again.byPod('pod-1').map((r) => r.claim.uid).sort()).toEqual([UID.a, UID.b].sort());
  });

  it('moves the pod index when an overwrite changes the pod', () => {
    using store = ClaimStore.open(dir);
    store.put(recA);
    store.put(recB);
    const moved = scenarioRecord(UID.a, 2, 'pod-2');
    store.put(moved);
    expect(store.byPod('pod-1').map((r) => r.claim.uid)).toEqual([UID.b]);
    expect(store.byPod('pod-2')).toEqual([moved]);
    store.delete(UID.b);
    expect(store.byPod('pod-1')).toEqual([]);
    expect(store.byPod('no-such-pod')).toEqual([]);
  });

  it("deletes exactly one claim's record, and a missing one is fine", () => {
    using store = ClaimStore.open(dir);
    store.put(recA);
    store.put(recB);
    expect(store.delete(UID.a)).toBe(true);
    expect(store.get(UID.a)).toBeUndefined();
    expect(store.byPod('pod-1')).toEqual([recB]);
    expect(readdirSync(dir)).toEqual([`${UID.b}.json`]);
    expect(store.delete(UID.a)).toBe(false);
    expect(store.delete(UID.z)).toBe(false);
  });

  it('refuses unsafe claim UIDs and malformed records without writing', () => {
    using store = ClaimStore.open(dir);
    for (const uid of ['../etc', 'A-UPPER', '-lead', 'trail-', '', 'x'.repeat(65), 'a/b', 'a.json']) {
      expectStateError(() => store.put({ ...recA, claim: { ...recA.claim, uid } }), 'STATE_INVALID');
      expectStateError(() => store.delete(uid), 'STATE_INVALID');
    }
    expect(() => store.put({ ...recA, claim: { ...recA.claim, uid: 'x'.repeat(64) } })).not.toThrow();
    const wrong = { ...recA, version: 2 } as unknown as ClaimRecord;
    const e = expectStateError(() => store.put(wrong), 'STATE_INVALID');
    expect(e.context.reason).toMatch(/version 2/);
    expectStateError(() => store.put({ ...recA, devices: undefined } as unknown as ClaimRecord), 'STATE_INVALID');
    expect(readdirSync(dir)).toEqual([`${'x'.repeat(64)}.json`]);
  });

  describe('loading', () => {
    it('moves a record that is not JSON aside and reports it', () => {
      using store = corruptOpen(`${UID.a}.json`, '{"version":1,"claim":');
      expect(store.size).toBe(0);
      expect(store.problems).toHaveLength(1);
      const p = store.problems[0];
      expect(p.code).toBe('STATE_CORRUPT');
      expect(p.context.movedTo).toBe(join(dir, `${UID.a}.json.corrupt`));
      expect(p.cause).toBeInstanceOf(SyntaxError);
      expect(readFileSync(join(dir, `${UID.a}.json.corrupt`), 'utf8')).toBe('{"version":1,"claim":');
      expect(existsSync(join(dir, `${UID.a}.json`))).toBe(false);
    });

    it('rejects a record of another version, or whose UID is not its file name, and keeps the good ones', () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${UID.a}.json`), JSON.stringify({ ...recA, version: 2 }));
      writeFileSync(join(dir, `${UID.c}.json`), JSON.stringify(recB));
      writeFileSync(join(dir, `${UID.b}.json`), JSON.stringify(recB));
      using store = ClaimStore.open(dir);
      expect(store.list()).toEqual([recB]);
      const reasons = store.problems.map((p) => [p.code, p.context.reason]);
      expect(reasons).toEqual([
        ['STATE_CORRUPT', 'version 2, this build reads version 1'],
        ['STATE_CORRUPT', `claim.uid "${UID.b}" does not match the file name (${UID.c})`],
      ]);
      expect(readdirSync(dir).sort()).toEqual([`${UID.a}.json.corrupt`, `${UID.b}.json`, `${UID.c}.json.corrupt`].sort());
    });

    it('never overwrites an earlier .corrupt file, and does not report moved files again', () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${UID.a}.json.corrupt`), 'first');
      writeFileSync(join(dir, `${UID.a}.json`), 'second');
      ClaimStore.open(dir).close();
      expect(readFileSync(join(dir, `${UID.a}.json.corrupt`), 'utf8')).toBe('first');
      expect(readFileSync(join(dir, `${UID.a}.json.corrupt.1`), 'utf8')).toBe('second');
      using again = ClaimStore.open(dir);
      expect(again.problems).toEqual([]);
    });

    it('reports an unreadable record (a directory) and leaves it in place', () => {
      mkdirSync(join(dir, `${UID.a}.json`), { recursive: true });
      using store = ClaimStore.open(dir);
      expect(store.problems.map((p) => p.code)).toEqual(['STATE_CORRUPT']);
      expect((store.problems[0].cause as NodeJS.ErrnoException).code).toBe('EISDIR');
      expect(statSync(join(dir, `${UID.a}.json`)).isDirectory()).toBe(true);
    });

    it('removes temp files a crash left, and nothing else', () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `.${UID.a}.json.tmp-4242-7`), '{"torn":');
      writeFileSync(join(dir, '.keep'), '');
      writeFileSync(join(dir, 'README'), '');
      using store = ClaimStore.open(dir);
      expect(store.problems).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(['.keep', 'README']);
    });

    it('fails to open with STATE_WRITE_FAILED when the path is not a directory', () => {
      writeFileSync(join(root, 'file'), '');
      const e = expectStateError(() => ClaimStore.open(join(root, 'file')), 'STATE_WRITE_FAILED');
      expect(e.context.dir).toBe(join(root, 'file'));
    });
  });

  describe('write failures (real faults; tests run as root, so permissions would not stop a write)', () => {
    it('a put whose rename fails (the target is a directory) throws STATE_WRITE_FAILED and changes nothing', () => {
      using store = ClaimStore.open(dir);
      store.put(recA);
      const file = join(dir, `${UID.a}.json`);
      unlinkSync(file);
      mkdirSync(file);
      const e = expectStateError(() => store.put(scenarioRecord(UID.a, 2, 'pod-2')), 'STATE_WRITE_FAILED');
      expect(e.context).toMatchObject({ claimUid: UID.a, path: file, errno: 'EISDIR' });
      expect(store.get(UID.a)).toEqual(recA);
      expect(store.byPod('pod-2')).toEqual([]);
      expect(readdirSync(dir)).toEqual([`${UID.a}.json`]);
    });

    it('a delete whose unlink fails throws STATE_WRITE_FAILED and keeps the record', () => {
      using store = ClaimStore.open(dir);
      store.put(recA);
      const file = join(dir, `${UID.a}.json`);
      unlinkSync(file);
      mkdirSync(file);
      writeFileSync(join(file, 'x'), '');
      const e = expectStateError(() => store.delete(UID.a), 'STATE_WRITE_FAILED');
      expect(e.context.errno).toBe('EISDIR');
      expect(store.get(UID.a)).toEqual(recA);
      expect(store.byPod('pod-1')).toEqual([recA]);
    });

    it('a put into a directory that vanished throws STATE_WRITE_FAILED', () => {
      using store = ClaimStore.open(dir);
      rmSync(dir, { recursive: true });
      expectStateError(() => store.put(recA), 'STATE_WRITE_FAILED');
      expect(store.get(UID.a)).toBeUndefined();
    });

    it('a read-only directory refuses writes when not running as root', () => {
      if (process.getuid?.() === 0) return; // root bypasses mode bits; covered by the faults above
      using store = ClaimStore.open(dir);
      chmodSync(dir, 0o500);
      try {
        expectStateError(() => store.put(recA), 'STATE_WRITE_FAILED');
        expect(store.size).toBe(0);
      } finally {
        chmodSync(dir, 0o700);
      }
    });
  });

  it('close is idempotent and every later call throws STATE_INVALID', () => {
    const store = ClaimStore.open(dir);
    store.close();
    store.close();
    expectStateError(() => store.get(UID.a), 'STATE_INVALID');
    expectStateError(() => store.list(), 'STATE_INVALID');
    expectStateError(() => store.put(recA), 'STATE_INVALID');
    expectStateError(() => store.delete(UID.a), 'STATE_INVALID');
  });
});
