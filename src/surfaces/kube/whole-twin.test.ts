/**
 * Whole vs shared use of one parent (docs/sharing.md): the publisher's twin
 * devices, the counter slices planSlices adds for them, and the fallback
 * check when a server drops the counters. The API rules these follow were
 * checked against v1.37.2 (test/conformance/sharing-counters.conformance.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDnsLabel } from '../../inventory/attributes/limits.ts';
import { wholeTwinName, wholeTwinOf } from '../../inventory/shareable.ts';
import { sharingDropped } from './sharing-fallback.ts';
import { withWholeTwin } from './slice-publisher.ts';
import { counterSets, planSlices, sharingSliceFields, type PlanOptions, type SliceDevice } from './slices.ts';

const opts: PlanOptions = { driver: 'netclaim.dev', nodeName: 'node-1', nodeUid: 'u', generation: 1 };
const sharedDev = (name: string): SliceDevice => ({ name, attributes: { 'netclaim.dev/ifName': { string: name } }, ...sharingSliceFields('netclaim.dev', { maxSubInterfaces: 4 }) });

describe('withWholeTwin', () => {
  it('a movable parent: the shareable device and a whole twin without capacity, both consuming the parent\'s one counter', () => {
    const [shared, whole] = withWholeTwin(sharedDev('eth1'), { maxSubInterfaces: 4, whole: true });
    const consumes = [{ counterSet: 'eth1', counters: { parent: { value: '1' } } }];
    expect(shared).toMatchObject({ name: 'eth1', allowMultipleAllocations: true, consumesCounters: consumes });
    expect(whole).toEqual({ name: 'eth1-whole', attributes: shared!.attributes, consumesCounters: consumes });
  });
  it('a parent that cannot move (bond, bridge) and a plain device: as before, no counters', () => {
    expect(withWholeTwin(sharedDev('bond0'), { maxSubInterfaces: 4 })).toEqual([sharedDev('bond0')]);
    expect(withWholeTwin({ name: 'eth2', attributes: {} }, undefined)).toEqual([{ name: 'eth2', attributes: {} }]);
  });
});

describe('planSlices with counters', () => {
  it('counter sets go in slices of their own after the devices (8 each), counted in resourceSliceCount', () => {
    const devices = Array.from({ length: 10 }, (_, i) => withWholeTwin(sharedDev(`eth${i}`), { maxSubInterfaces: 4, whole: true })).flat();
    const slices = planSlices([...devices, { name: 'lo0', attributes: {} }], opts);
    expect(slices.map((s) => [s.spec.devices.length, s.spec.sharedCounters?.length ?? 0])).toEqual([[21, 0], [0, 8], [0, 2]]);
    expect(slices.every((s) => s.spec.pool.resourceSliceCount === 3)).toBe(true);
    expect(slices[1]!.spec.sharedCounters![0]).toEqual({ name: 'eth0', counters: { parent: { value: '1' } } });
    expect(slices.map((s) => s.metadata.name)).toEqual(['node-1-netclaim.dev-0', 'node-1-netclaim.dev-1', 'node-1-netclaim.dev-2']);
  });
  it('devices consuming counters lower the per-slice limit to 64, as taints do', () => {
    const devices = Array.from({ length: 40 }, (_, i) => withWholeTwin(sharedDev(`e${String(i).padStart(2, '0')}`), { maxSubInterfaces: 4, whole: true })).flat();
    expect(planSlices(devices, opts).filter((s) => s.spec.devices.length > 0).map((s) => s.spec.devices.length)).toEqual([64, 16]);
  });
  it('a set holds as much as its largest consumer takes, per counter (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('x', 'y'), fc.integer({ min: 1, max: 9 })), { maxLength: 12 }), (uses) => {
      const devices: SliceDevice[] = uses.map(([set, counter, v], i) => ({ name: `d${i}`, attributes: {}, consumesCounters: [{ counterSet: set, counters: { [counter]: { value: String(v) } } }] }));
      for (const s of counterSets(devices)) {
        for (const [counter, q] of Object.entries(s.counters)) {
          expect(Number(q.value)).toBe(Math.max(...uses.filter(([st, c]) => st === s.name && c === counter).map(([, , v]) => v)));
        }
      }
    }));
  });
});

describe('wholeTwinName', () => {
  it('is a DNS label of at most 63, maps back to its parent, and tells long parents apart (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    fc.assert(fc.property(label, label, (a, b) => {
      expect(isDnsLabel(wholeTwinName(a))).toBe(true);
      expect(wholeTwinOf(wholeTwinName(a), [{ name: a, sharing: { maxSubInterfaces: 1, whole: true } }])?.name).toBe(a);
      if (a !== b) expect(wholeTwinName(a)).not.toBe(wholeTwinName(b));
    }));
    expect(wholeTwinOf('eth1-whole', [{ name: 'eth1', sharing: { maxSubInterfaces: 1 } }])).toBeUndefined(); // not movable: no twin
  });
});

describe('sharingDropped', () => {
  it('a twin stored without its counters (DRAPartitionableDevices off) makes sharing unsafe', () => {
    const sent = planSlices(withWholeTwin(sharedDev('eth1'), { maxSubInterfaces: 4, whole: true }), opts)[0]!.spec;
    const stored = { ...sent, devices: sent.devices.map(({ consumesCounters: _c, ...d }) => d) };
    expect(sharingDropped(sent, stored)).toEqual(['eth1', 'eth1-whole']);
    expect(sharingDropped(sent, sent)).toEqual([]);
  });
});
