import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { isDnsSubdomain, planSlices, sliceName, type PlanOptions, type SliceDevice } from './slices.ts';

const opts: PlanOptions = { driver: 'netclaim.dev', nodeName: 'node-1', nodeUid: 'uid-1', generation: 3 };
const dev = (name: string, taints = false): SliceDevice => ({
  name, attributes: { 'netclaim.dev/kind': { string: 'pci' } },
  ...(taints ? { taints: [{ key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' as const }] } : {}),
});
const names = (n: number, prefix = 'd'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

/** DNS labels, biased towards shared prefixes so sorting and ties matter. */
const deviceName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const deviceList = fc.uniqueArray(deviceName, { maxLength: 400 }).map((ns) => ns.map((n) => dev(n)));

describe('planSlices', () => {
  it('publishes 5 devices as one slice with the pool, node, driver and owner reference', () => {
    const [s, ...rest] = planSlices(['c', 'a', 'b', 'e', 'd'].map((n) => dev(n)), opts);
    expect(rest).toHaveLength(0);
    expect(s).toEqual({
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice',
      metadata: { name: 'node-1-netclaim.dev-0', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'uid-1', controller: true }] },
      spec: { driver: 'netclaim.dev', nodeName: 'node-1', pool: { name: 'node-1', generation: 3, resourceSliceCount: 1 }, devices: ['a', 'b', 'c', 'd', 'e'].map((n) => dev(n)) },
    });
  });

  it('cuts 300 devices into 128, 128, 44 and 300 tainted ones into 64s', () => {
    const plain = planSlices(names(300).map((n) => dev(n)), opts);
    expect(plain.map((s) => s.spec.devices.length)).toEqual([128, 128, 44]);
    expect(plain.map((s) => s.spec.pool.resourceSliceCount)).toEqual([3, 3, 3]);
    expect(plain.map((s) => s.metadata.name)).toEqual(['node-1-netclaim.dev-0', 'node-1-netclaim.dev-1', 'node-1-netclaim.dev-2']);
    const tainted = planSlices(names(300).map((n, i) => dev(n, i === 7)), opts);
    expect(tainted.map((s) => s.spec.devices.length)).toEqual([64, 64, 64, 64, 44]);
    expect(planSlices(names(300).map((n) => dev(n)), { ...opts, maxPerSlice: 200 })).toHaveLength(3); // capped at the API limit
    // A list-valued attribute (KEP-5491) caps slices at 64 as taints do (kube-apiserver v1.37.2 refuses a 65th device).
    const listed = planSlices(names(100).map((n, i) => (i === 3 ? { ...dev(n), attributes: { 'resource.kubernetes.io/numaNode': { ints: [0, 1] } } } : dev(n))), opts);
    expect(listed.map((s) => s.spec.devices.length)).toEqual([64, 36]);
    expect(planSlices(names(10).map((n) => dev(n)), { ...opts, maxPerSlice: 4 }).map((s) => s.spec.devices.length)).toEqual([4, 4, 2]);
  });

  it('publishes an empty pool as one empty slice, and the pool name when given', () => {
    const [s, ...rest] = planSlices([], { ...opts, poolName: 'rack-1/node-1' });
    expect(rest).toHaveLength(0);
    expect(s!.spec.devices).toEqual([]);
    expect(s!.spec.pool).toEqual({ name: 'rack-1/node-1', generation: 3, resourceSliceCount: 1 });
  });

  it('sends only the API fields of a device (inventory devices carry more)', () => {
    const inventoryDevice = { ...dev('a'), kind: 'pci', ifIndex: 4, charDevices: [], dropped: [], taints: [] };
    expect(planSlices([inventoryDevice], opts)[0]!.spec.devices[0]).toEqual(dev('a'));
  });

  it('refuses duplicate or invalid device names, bad node/driver/pool/generation/maxPerSlice', () => {
    const bad: Array<[SliceDevice[], Partial<PlanOptions>]> = [
      [[dev('a'), dev('b'), dev('a')], {}], [[dev('Eth_1')], {}], [[dev('x'.repeat(64))], {}],
      [[], { nodeName: 'Node_1' }], [[], { driver: 'x'.repeat(64) }], [[], { poolName: 'a//b' }],
      [[], { generation: -1 }], [[], { maxPerSlice: 0 }],
    ];
    for (const [devices, o] of bad) {
      let err: unknown;
      try { planSlices(devices, { ...opts, ...o }); } catch (e) { err = e; }
      expect(isDriverError(err) && err.code, JSON.stringify(o)).toBe('KUBE_SLICE_INVALID');
    }
  });

  it('names slices within 253 characters for the longest node names, distinct per node', () => {
    const long1 = `${'a'.repeat(120)}.${'b'.repeat(132)}`; // 253
    const long2 = `${'a'.repeat(120)}.${'b'.repeat(131)}c`;
    const n1 = sliceName(long1, 'netclaim.dev', 12);
    const n2 = sliceName(long2, 'netclaim.dev', 12);
    expect(n1.length).toBeLessThanOrEqual(253);
    expect(isDnsSubdomain(n1) && isDnsSubdomain(n2)).toBe(true);
    expect(n1).not.toBe(n2);
    expect(n1.endsWith('-12')).toBe(true);
    expect(sliceName('node-1', 'Example.COM_driver', 0)).toBe('node-1-example.com-driver-0');
  });
});

describe('planSlices properties', () => {
  it('every slice within the limit, every device exactly once, names valid, counts consistent', () => {
    fc.assert(fc.property(deviceList, fc.integer({ min: 1, max: 128 }), fc.boolean(), (devices, max, taint) => {
      const input = taint && devices.length > 0 ? [{ ...devices[0]!, taints: [{ key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' as const }] }, ...devices.slice(1)] : devices;
      const slices = planSlices(input, { ...opts, maxPerSlice: max });
      const limit = Math.min(max, taint && devices.length > 0 ? 64 : 128);
      const seen = slices.flatMap((s) => s.spec.devices.map((d) => d.name));
      expect(seen.sort()).toEqual(devices.map((d) => d.name).sort());
      expect(slices).toHaveLength(Math.max(1, Math.ceil(devices.length / limit)));
      for (const s of slices) {
        expect(s.spec.devices.length).toBeLessThanOrEqual(limit);
        expect(s.spec.pool.resourceSliceCount).toBe(slices.length);
        expect(isDnsSubdomain(s.metadata.name)).toBe(true);
      }
      expect(new Set(slices.map((s) => s.metadata.name)).size).toBe(slices.length);
    }), { numRuns: 300 });
  });

  it('is stable when a device is added at the end: no existing device changes slice', () => {
    fc.assert(fc.property(deviceList, fc.integer({ min: 1, max: 128 }), (devices, max) => {
      const before = planSlices(devices, { ...opts, maxPerSlice: max });
      const last = devices.map((d) => d.name).sort().at(-1) ?? '0';
      const after = planSlices([...devices, dev(`${last}z`)], { ...opts, maxPerSlice: max });
      const where = (ss: typeof before): Map<string, string> => new Map(ss.flatMap((s) => s.spec.devices.map((d) => [d.name, s.metadata.name] as const)));
      const a = where(after);
      for (const [name, slice] of where(before)) expect(a.get(name)).toBe(slice);
    }), { numRuns: 300 });
  });

  it('does not depend on input order', () => {
    fc.assert(fc.property(deviceList.chain((ds) => fc.tuple(fc.constant(ds), fc.shuffledSubarray(ds, { minLength: ds.length }))), ([a, b]) => {
      expect(planSlices(b, opts)).toEqual(planSlices(a, opts));
    }), { numRuns: 100 });
  });
});
