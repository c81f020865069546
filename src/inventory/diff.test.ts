import { describe, expect, it } from 'vitest';
import { link, snapshot } from '../../test/inventory/snapshot-builders.ts';
import { buildInventory } from './build.ts';
import { diffInventories, isEmptyDiff } from './diff.ts';
import { DEFAULT_OPTIONS } from './options.ts';

describe('diffInventories', () => {
  it('reports added, removed and changed devices with the attributes that changed', () => {
    const a = buildInventory(snapshot({ links: [link(5, 'm0', { kind: 'macvlan' }), link(6, 'm1', { kind: 'macvlan' })] }), { ...DEFAULT_OPTIONS, includeKinds: ['macvlan'] });
    const b = buildInventory(snapshot({ links: [link(5, 'm0', { kind: 'macvlan', mtu: 9000 }), link(7, 'm2', { kind: 'macvlan' })] }), { ...DEFAULT_OPTIONS, includeKinds: ['macvlan'] });
    const d = diffInventories(a, b);
    expect(d.added.map((x) => x.name)).toEqual(['m2']);
    expect(d.removed.map((x) => x.name)).toEqual(['m1']);
    expect(d.changed.map((c) => [c.after.name, c.attributes])).toEqual([['m0', ['netclaim.dev/mtu']]]);
    expect(isEmptyDiff(diffInventories(b, b))).toBe(true);
    expect(diffInventories(undefined, a).added).toHaveLength(2);
  });
});
