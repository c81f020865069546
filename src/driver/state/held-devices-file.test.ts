/**
 * The held-devices cache is written without fsyncs (held-devices-file.ts), so a
 * power loss may leave it empty, cut short or old. Invariant: whatever is on
 * disk, `load` never throws and returns only devices that were saved whole;
 * anything it cannot read as a whole file is reported and ignored.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, expect, test } from 'vitest';
import type { Device } from '../../inventory/model.ts';
import { heldDevicesFile } from './held-devices-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const stateDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'nc-held-'));
  dirs.push(d);
  return d;
};

const device = (i: number): Device => ({
  name: `dev-${i}` as Device['name'], kind: 'virtual', ifName: `ncv${i}`, attributes: { 'netclaim.dev/ifName': { string: `ncv${i}` } },
  dropped: [], charDevices: [], netdevPresent: true, held: true,
} as Device);

test('what is saved loads back', () => {
  const dir = stateDir();
  const file = heldDevicesFile(dir);
  expect(file.load()).toEqual([]);
  file.save([device(1), device(2)]);
  expect(heldDevicesFile(dir).load()).toEqual([device(1), device(2)]);
  file.save([device(2)]);
  expect(heldDevicesFile(dir).load()).toEqual([device(2)]);
});

test('a file a power loss left empty or cut short is ignored and reported, never thrown', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, cut) => {
    const dir = stateDir();
    const problems: string[] = [];
    const file = heldDevicesFile(dir, { onProblem: (what) => problems.push(what) });
    const saved = Array.from({ length: n }, (_, i) => device(i));
    file.save(saved);
    const path = join(dir, 'inventory', 'held-devices.json');
    const whole = readFileSync(path).length;
    const keep = Math.floor(cut * whole);
    truncateSync(path, keep);
    const loaded = file.load();
    if (keep === whole) {
      expect(loaded).toEqual(saved);
      expect(problems).toEqual([]);
    } else {
      expect(loaded).toEqual([]);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('ignoring');
    }
  }), { numRuns: 200 });
});

test('a file of another shape is ignored; a device without the fields the inventory relies on is dropped', () => {
  const dir = stateDir();
  const problems: string[] = [];
  const file = heldDevicesFile(dir, { onProblem: (what) => problems.push(what) });
  file.save([device(1)]);
  const path = join(dir, 'inventory', 'held-devices.json');
  writeFileSync(path, JSON.stringify({ version: 2, devices: [] }));
  expect(file.load()).toEqual([]);
  expect(problems).toHaveLength(1);
  writeFileSync(path, JSON.stringify({ version: 1, devices: [device(1), { name: 'x' }] }));
  expect(file.load()).toEqual([device(1)]);
});
