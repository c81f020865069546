/**
 * Clusters without consumable capacity (docs/sharing.md, "Clusters without
 * DRAConsumableCapacity"): an API server with the gate off (before 1.34, or
 * turned off) drops `allowMultipleAllocations` and `capacity[].requestPolicy`
 * from the slices it stores, since gated fields are cleared on write. A
 * shareable parent stored that way would be allocatable once only, whole:
 * not what it was published for. The publisher reads back each slice it
 * writes; when a device it sent as shareable comes back without
 * `allowMultipleAllocations` or without its capacity, or a parent's twin
 * without its `consumesCounters` (DRAPartitionableDevices off), the cluster cannot
 * share safely, and the publisher stops publishing shareable devices (pure check
 * here; the publisher acts on it once).
 */
import type { ResourceSliceSpec } from './slices.ts';

/** The devices sent as shareable that the server stored without what makes them so (empty: sharing works). */
export function sharingDropped(sent: ResourceSliceSpec, stored: ResourceSliceSpec): string[] {
  const got = new Map(stored.devices.map((d) => [d.name, d]));
  return sent.devices.filter((d) => d.allowMultipleAllocations === true || (d.consumesCounters?.length ?? 0) > 0).filter((d) => {
    const s = got.get(d.name);
    if (s === undefined) return false; // not this write's business (a device the server refused is an error elsewhere)
    // Without its counters a parent's whole twin and its shareable device could both be allocated (DRAPartitionableDevices off).
    if ((d.consumesCounters?.length ?? 0) > 0 && (s.consumesCounters?.length ?? 0) === 0) return true;
    if (d.allowMultipleAllocations !== true) return false;
    if (s.allowMultipleAllocations !== true) return true;
    return Object.entries(d.capacity ?? {}).some(([k, c]) => c.requestPolicy !== undefined && s.capacity?.[k]?.requestPolicy === undefined);
  }).map((d) => d.name);
}

export const SHARING_UNSUPPORTED_REASON = 'SharingUnsupported';

export function sharingUnsupportedMessage(slice: string, devices: readonly string[]): string {
  return `the API server stored resourceslice ${slice} without allowMultipleAllocations/capacity/consumesCounters for ${devices.join(', ')}: ` +
    'this cluster has no consumable capacity or no counters (feature gate DRAConsumableCapacity or DRAPartitionableDevices off, or Kubernetes before 1.34); ' +
    'shareable parents are no longer published by this daemon (until it restarts), and no sub-interfaces can be claimed';
}
