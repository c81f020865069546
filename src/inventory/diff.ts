/** What changed between two inventories, device by device. */
import { isDeepStrictEqual } from 'node:util';
import type { Device, Inventory } from './model.ts';

export interface DeviceChange {
  readonly before: Device;
  readonly after: Device;
  /** Attribute names whose value appeared, changed or disappeared. */
  readonly attributes: readonly string[];
}

export interface InventoryDiff {
  readonly added: readonly Device[];
  readonly removed: readonly Device[];
  readonly changed: readonly DeviceChange[];
}

export const isEmptyDiff = (d: InventoryDiff): boolean => d.added.length + d.removed.length + d.changed.length === 0;

export function diffInventories(before: Inventory | undefined, after: Inventory): InventoryDiff {
  const prev = new Map((before?.devices ?? []).map((d) => [d.name as string, d]));
  const next = new Map(after.devices.map((d) => [d.name as string, d]));
  const added = after.devices.filter((d) => !prev.has(d.name));
  const removed = (before?.devices ?? []).filter((d) => !next.has(d.name));
  const changed: DeviceChange[] = [];
  for (const d of after.devices) {
    const p = prev.get(d.name);
    if (!p || isDeepStrictEqual(p, d)) continue;
    const names = new Set([...Object.keys(p.attributes), ...Object.keys(d.attributes)]);
    const attrs = [...names].filter((n) => !isDeepStrictEqual(p.attributes[n], d.attributes[n])).sort();
    changed.push({ before: p, after: d, attributes: attrs });
  }
  return { added, removed, changed };
}
