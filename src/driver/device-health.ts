/**
 * Device health for the kubelet (DRAResourceHealth), from the inventory:
 *
 *   unhealthy  the RDMA port is not ACTIVE, or the netdev has no lower layer
 *              or is not present (operstate lowerlayerdown / notpresent)
 *   unknown    the netdev is away (in a pod): the host cannot see it
 *   healthy    otherwise
 *
 * An administratively down NIC is healthy: devices wait on the host unconfigured
 * until a pod takes them. The list is complete each time (the kubelet marks
 * devices missing from it Unknown after their timeout); `lastUpdatedTime`
 * moves only when a device's state changes.
 */
import type { Device, Inventory } from '../inventory/model.ts';
import type { DeviceHealth, HealthState, HealthView } from './driver-port.ts';

export interface HealthSource {
  readonly current: Inventory;
  subscribe(fn: (inv: Inventory) => void): () => void;
}

export function deviceHealth(d: Device, attr: (name: string) => string | undefined): { health: HealthState; message?: string } {
  if (!d.netdevPresent && d.ifName !== undefined) return { health: 'unknown', message: 'the device is in a pod' };
  const port = attr('rdmaPortState');
  if (port !== undefined && port !== 'active') return { health: 'unhealthy', message: `RDMA port ${port}` };
  // netclaim publishes `lowerlayerdown`, DraNet naming `lower-layer-down` (Go's LinkOperState strings).
  const state = attr('state');
  const bare = state?.replaceAll('-', '');
  if (bare === 'lowerlayerdown' || bare === 'notpresent') return { health: 'unhealthy', message: `link ${state}` };
  return { health: 'healthy' };
}

export class DeviceHealthView implements HealthView {
  readonly #pool: string;
  readonly #domain: string;
  readonly #listeners = new Set<() => void>();
  readonly #unsubscribe: () => void;
  #devices: readonly DeviceHealth[] = [];

  /** `domain` is the attribute prefix the inventory publishes (`netclaim.dev`, or `dra.net` in DraNet naming). */
  constructor(source: HealthSource, pool: string, domain: string, now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#pool = pool;
    this.#domain = domain;
    const update = (inv: Inventory): void => {
      const next = this.#compute(inv, now());
      if (JSON.stringify(next.map(({ lastUpdatedTime: _, ...x }) => x)) === JSON.stringify(this.#devices.map(({ lastUpdatedTime: _, ...x }) => x))) return;
      this.#devices = next;
      for (const cb of this.#listeners) cb();
    };
    this.#devices = this.#compute(source.current, now());
    this.#unsubscribe = source.subscribe(update);
  }

  get devices(): readonly DeviceHealth[] {
    return this.#devices;
  }

  onChange(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #compute(inv: Inventory, now: number): DeviceHealth[] {
    const before = new Map(this.#devices.map((d) => [d.deviceName, d]));
    return inv.devices.map((d) => {
      const attr = (n: string): string | undefined => {
        const v = d.attributes[`${this.#domain}/${n}`];
        return v !== undefined && 'string' in v ? v.string : undefined;
      };
      const h = deviceHealth(d, attr);
      const prev = before.get(d.name);
      const same = prev !== undefined && prev.health === h.health && prev.message === h.message;
      return {
        poolName: this.#pool, deviceName: d.name, health: h.health,
        lastUpdatedTime: same ? prev.lastUpdatedTime : now,
        ...(h.message === undefined ? {} : { message: h.message }),
      };
    });
  }
}
