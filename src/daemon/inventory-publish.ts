/**
 * What the daemon makes of each inventory for the API: the devices the slice
 * publisher gets (unhealthy ones marked, tainted NoExecute by policy), and a
 * warning, once per object, for what the inventory could not place.
 */
import type { DeviceHealthView } from '../driver/device-health.ts';
import type { Inventory } from '../inventory/model.ts';
import type { Logger } from '../observe/logger.ts';
import type { PublishDevice } from '../surfaces/kube/slice-publisher.ts';

/** Logs each object the inventory could not place (`unknown-topology`) once, with the path that puzzled it. */
export function unknownTopologyLogger(log: Logger): (inv: Inventory) => void {
  const seen = new Set<string>();
  return (inv) => {
    for (const e of inv.exclusions) {
      if (e.code !== 'unknown-topology') continue;
      const key = `${e.subject}:${e.ifName ?? e.pciAddress ?? e.rdmaDevice ?? e.busDevice}`;
      if (seen.has(key)) continue;
      seen.add(key);
      log.warn({ object: key, reason: e.reason }, `inventory: not publishing ${key}, a topology netclaim does not model: ${e.reason}`);
    }
  };
}

/** Devices for the slice publisher, unhealthy ones marked. `noExecute`: whether an unhealthy device is in a pod and is to be tainted NoExecute (--taint-unhealthy-noexecute). */
export function publishable(inv: Inventory, health: DeviceHealthView, noExecute?: (device: string) => boolean): PublishDevice[] {
  const bad = new Map(health.devices.filter((d) => d.health === 'unhealthy').map((d) => [d.deviceName, d.message ?? true]));
  return inv.devices.map((d) => ({
    name: d.name, attributes: d.attributes, ...(bad.has(d.name) ? { unhealthy: bad.get(d.name)! } : {}), ...(d.sharing ? { sharing: d.sharing } : {}),
    ...(bad.has(d.name) && noExecute?.(d.name) === true ? { taintEffect: 'NoExecute' as const } : {}),
  }));
}
