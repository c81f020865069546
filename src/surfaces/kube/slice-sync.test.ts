import { describe, expect, it } from 'vitest';
import { fromJson, specKey, toWire, type StoredSlice } from './slice-codec.ts';
import { isNoop, planSync, type SyncInput } from './slice-sync.ts';
import { planSlices, type ResourceSlice, type SliceDevice } from './slices.ts';

const options = { driver: 'netclaim.dev', nodeName: 'node-1', nodeUid: 'uid-1' };
const dev = (name: string, mtu = 1500): SliceDevice => ({ name, attributes: { 'netclaim.dev/mtu': { int: mtu }, 'netclaim.dev/kind': { string: 'pci' } } });
const devs = (n: number, mtu = 1500): SliceDevice[] => Array.from({ length: n }, (_, i) => dev(`d${String(i).padStart(3, '0')}`, mtu));

/** What the API server would hold after publishing these slices. */
function stored(slices: readonly ResourceSlice[], rv = 10): StoredSlice[] {
  return slices.map((s, i) => fromJson({ ...s, metadata: { ...s.metadata, uid: `u-${s.metadata.name}`, resourceVersion: String(rv + i) } }));
}
const sync = (devices: readonly SliceDevice[], st: StoredSlice[], lastGeneration = 0, extra: Partial<SyncInput> = {}) =>
  planSync({ devices, options, stored: st, lastGeneration, ...extra });

describe('planSync', () => {
  it('creates the first generation, then is a no-op', () => {
    const p = sync(devs(300), []);
    expect(p.generation).toBe(1);
    expect(p.create.map((s) => s.spec.devices.length)).toEqual([128, 128, 44]);
    expect(isNoop(sync(devs(300), stored(p.desired), 1))).toBe(true);
  });

  it('updates in place without a bump when only attributes change', () => {
    const p1 = sync(devs(300), []);
    const p2 = sync(devs(300, 9000), stored(p1.desired), 1);
    expect(p2.generation).toBe(1);
    expect(p2.update).toHaveLength(3);
    expect(p2.create.length + p2.delete.length).toBe(0);
    expect(p2.update[0]!.stored.resourceVersion).toBe('10');
  });

  it('bumps the generation when the device set shrinks, updates the kept slice and deletes the rest', () => {
    const p1 = sync(devs(300), []);
    const p2 = sync(devs(10), stored(p1.desired), 1);
    expect(p2.generation).toBe(2);
    expect(p2.update.map((u) => [u.slice.metadata.name, u.slice.spec.pool])).toEqual([['node-1-netclaim.dev-0', { name: 'node-1', generation: 2, resourceSliceCount: 1 }]]);
    expect(p2.delete.map((s) => s.name)).toEqual(['node-1-netclaim.dev-1', 'node-1-netclaim.dev-2']);
  });

  it('bumps for a single added device, for a repack to 64 and for a missing slice; never below lastGeneration', () => {
    const p1 = sync(devs(100), [], 6);
    expect(p1.generation).toBe(7);
    expect(sync(devs(101), stored(p1.desired), 7).generation).toBe(8);
    const tainted = devs(100).map((d, i) => (i === 0 ? { ...d, taints: [{ key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' as const }] } : d));
    const repack = sync(tainted, stored(p1.desired), 7);
    expect([repack.generation, repack.desired.length, repack.create.length]).toEqual([8, 2, 1]);
    const three = sync(devs(300), [], 7);
    const drift = sync(devs(300), stored(three.desired).slice(1), 8); // slice 0 deleted by someone
    expect([drift.generation, drift.create.length, drift.update.length]).toEqual([9, 1, 2]);
  });

  it('reverts a foreign edit, keeps server-set taint times, and deletes slices of another pool', () => {
    const p1 = sync(devs(5), []);
    const [s] = stored(p1.desired);
    const edited = { ...s!, spec: { ...s!.spec, devices: s!.spec.devices.map((d, i) => (i === 0 ? dev(d.name, 1) : d)) } };
    const foreign = fromJson({ metadata: { name: 'node-1-netclaim.dev-old', uid: 'x', resourceVersion: '3' }, spec: { ...s!.spec, pool: { name: 'old', generation: 9, resourceSliceCount: 1 } } });
    const p2 = sync(devs(5), [edited, foreign], 1);
    expect(p2.update).toHaveLength(1);
    expect(p2.delete.map((x) => x.name)).toEqual(['node-1-netclaim.dev-old']);
    const taint = { key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' as const };
    const withTaint = [{ ...dev('a'), taints: [taint] }];
    const [t] = stored(planSlices(withTaint, { ...options, generation: 1 }));
    const old = { ...t!, spec: { ...t!.spec, devices: [{ ...t!.spec.devices[0]!, taints: [{ ...taint, timeAdded: '2026-01-01T00:00:00Z' }], attributes: {} }] } };
    const p3 = sync(withTaint, [old], 1);
    expect(p3.update[0]!.slice.spec.devices[0]!.taints).toEqual([{ ...taint, timeAdded: '2026-01-01T00:00:00Z' }]);
  });

  it('accepts what the server stored when it dropped fields, instead of looping', () => {
    const p1 = sync([{ ...dev('a'), taints: [{ key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' }] }], []);
    const st = stored(p1.desired).map((s) => ({ ...s, spec: { ...s.spec, devices: s.spec.devices.map((d) => ({ name: d.name, attributes: d.attributes })) } }));
    const again = sync(p1.desired[0]!.spec.devices, st, 1);
    expect(again.update).toHaveLength(1);
    const dropped = new Map([[st[0]!.name, { sent: specKey(p1.desired[0]!.spec), stored: specKey(st[0]!.spec) }]]);
    expect(isNoop(sync(p1.desired[0]!.spec.devices, st, 1, { dropped }))).toBe(true);
  });
});

describe('slice codec', () => {
  it('round-trips int attributes through the wire JSON (no model renaming them _int)', () => {
    const [s] = planSlices([dev('a', 9000)], { ...options, generation: 1 });
    const wire = toWire(s!, '42');
    expect(wire.spec.devices[0]!.attributes['netclaim.dev/mtu']).toEqual({ int: 9000 });
    expect((wire.metadata as { resourceVersion?: string }).resourceVersion).toBe('42');
    const back = fromJson(JSON.parse(JSON.stringify({ ...wire, metadata: { ...wire.metadata, uid: 'u' } })));
    expect(back.spec.devices[0]!.attributes['netclaim.dev/mtu']).toEqual({ int: 9000 });
    expect(specKey(back.spec)).toBe(specKey(s!.spec));
    expect(back.ownerUids).toEqual(['uid-1']);
  });

  it('compares specs by content: key order, empty lists and taint times do not matter', () => {
    const a = { driver: 'd', nodeName: 'n', pool: { name: 'n', generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'x', attributes: { b: { int: 1 }, a: { bool: true } }, taints: [{ key: 'k', effect: 'NoSchedule' as const, timeAdded: 't' }] }] };
    const b = { pool: { resourceSliceCount: 1, generation: 1, name: 'n' }, nodeName: 'n', driver: 'd', devices: [{ attributes: { a: { bool: true }, b: { int: 1 } }, name: 'x', taints: [{ effect: 'NoSchedule' as const, key: 'k' }] }] };
    expect(specKey(a)).toBe(specKey(b));
    expect(specKey({ ...a, devices: [] })).toBe(specKey({ driver: 'd', nodeName: 'n', pool: a.pool } as never));
    expect(specKey({ ...a, devices: [{ ...a.devices[0]!, attributes: { b: { int: 2 }, a: { bool: true } } }] })).not.toBe(specKey(a));
  });
});
