/**
 * The inventory on the node shapes of node-topologies.md (test/fixtures/topologies,
 * each written from its sources, with the outcome the facts demand): exactly the
 * devices expected, exactly the exclusions expected, and the ownership
 * invariants on each shape.
 */
import { describe, expect, it } from 'vitest';
import { snapshotOf } from '../../test/fixtures/topologies/corpus.ts';
import { TOPOLOGIES } from '../../test/fixtures/topologies/index.ts';
import { buildInventory } from './build.ts';
import type { Exclusion } from './model.ts';
import { DEFAULT_OPTIONS } from './options.ts';

const id = (e: { subject: string; ifName?: string | undefined; pciAddress?: string | undefined; rdmaDevice?: string | undefined }): string =>
  `${e.subject} ${e.ifName ?? e.pciAddress ?? e.rdmaDevice}`;

describe.each(TOPOLOGIES.map((t) => [t.name, t] as const))('node shape %s', (_name, t) => {
  it('publishes what the facts allow and leaves out the rest, each object with its code', () => {
    const { snapshot, dispose } = snapshotOf(t);
    try {
      const inv = buildInventory(snapshot, { ...DEFAULT_OPTIONS, includeKinds: t.includeKinds ?? [], nodeIps: t.nodeIps ?? [] });
      const devices = inv.devices.map((d) => ({
        name: d.name, kind: d.kind,
        ...(d.ifName !== undefined ? { ifName: d.ifName } : {}),
        ...(d.pciAddress !== undefined ? { pciAddress: d.pciAddress } : {}),
        ...(d.rdmaDevice !== undefined ? { rdmaDevice: d.rdmaDevice } : {}),
      }));
      const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : 1);
      expect(devices.sort(byName)).toEqual([...t.expect.published].sort(byName));
      const got = Object.fromEntries(inv.exclusions.map((e: Exclusion) => [id(e), e.code]));
      const want = Object.fromEntries(t.expect.excluded.map((e) => [id(e), e.code]));
      expect(got).toEqual(want);
      // Every object once: the devices' objects and the exclusions partition the snapshot.
      const placed = [...inv.devices.flatMap((d) => d.objects ?? []), ...inv.exclusions.map((e) => `${e.subject}:${e.ifName ?? e.pciAddress ?? e.rdmaDevice}`)];
      const all = [...snapshot.links.map((l) => `netdev:${l.name}`), ...[...snapshot.pci.keys()].map((a) => `pci:${a}`), ...snapshot.ib.map((d) => `rdma:${d.name}`)];
      expect(placed.sort()).toEqual(all.sort());
    } finally {
      dispose();
    }
  });
});
