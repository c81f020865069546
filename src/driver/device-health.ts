/**
 * Device health for the kubelet (DRAResourceHealth), from the inventory:
 *
 *   unhealthy  the RDMA port is not ACTIVE, or the netdev has no lower layer
 *              or is not present (operstate lowerlayerdown / notpresent)
 *   unknown    the netdev is away (in a pod) and no pod watch reads it (after
 *              AWAY_GRACE_MS: until then it keeps the health it had)
 *   healthy    otherwise
 *
 * A device in a pod is judged by what its pod's namespace shows
 * (pod-health.ts, pod-health-rules.ts: carrier, operstate, RDMA ports).
 *
 * An administratively down NIC is healthy: devices wait on the host unconfigured
 * until a pod takes them. The list is complete each time (the kubelet marks
 * devices missing from it Unknown after their timeout); `lastUpdatedTime`
 * moves only when a device's state changes.
 */
import type { Device, Inventory } from '../inventory/model.ts';
import type { DeviceHealth, HealthState, HealthView } from './driver-port.ts';
import type { PodHealthSource } from './pod-health.ts';

export interface HealthSource {
  readonly current: Inventory;
  subscribe(fn: (inv: Inventory) => void): () => void;
}

export function deviceHealth(
  d: Device, attr: (name: string) => string | undefined, inPod?: { health: HealthState; message?: string },
): { health: HealthState; message?: string } {
  if (inPod !== undefined) return inPod;
  if (!d.netdevPresent && d.ifName !== undefined) return { health: 'unknown', message: 'the device is in a pod' };
  const port = attr('rdmaPortState');
  if (port !== undefined && port !== 'active') return { health: 'unhealthy', message: `RDMA port ${port}` };
  // netclaim publishes `lowerlayerdown`, DraNet naming `lower-layer-down` (Go's LinkOperState strings).
  const state = attr('state');
  const bare = state?.replaceAll('-', '');
  if (bare === 'lowerlayerdown' || bare === 'notpresent') return { health: 'unhealthy', message: `link ${state}` };
  return { health: 'healthy' };
}

/** A device whose health or message differs between two lists (a device that came or went is one too). */
export interface HealthTransition {
  readonly device: string;
  readonly from: HealthState | 'absent';
  readonly to: HealthState | 'absent';
  readonly message?: string;
}

/**
 * What changed from one health list to the next, by device, in the next
 * list's order (then the devices it no longer has): what the kubelet is told,
 * so an operator can see it (a change the kubelet notifies a pod of makes it
 * re-sync that pod).
 */
export function healthTransitions(before: readonly DeviceHealth[], after: readonly DeviceHealth[]): HealthTransition[] {
  const prev = new Map(before.map((d) => [d.deviceName, d]));
  const next = new Set(after.map((d) => d.deviceName));
  const out: HealthTransition[] = [];
  for (const d of after) {
    const p = prev.get(d.deviceName);
    if (p !== undefined && p.health === d.health && p.message === d.message) continue;
    out.push({ device: d.deviceName, from: p?.health ?? 'absent', to: d.health, ...(d.message === undefined ? {} : { message: d.message }) });
  }
  for (const p of before) if (!next.has(p.deviceName)) out.push({ device: p.deviceName, from: p.health, to: 'absent' });
  return out;
}

/**
 * How long a device that just left the host for a pod keeps the health it
 * had while no pod watch has read it yet. The inventory sees it leave before
 * the watch takes it over (tens of ms); reported as unknown meanwhile, the
 * kubelet re-synced the starting pod for the change and again for the change
 * back, and its deletion then waited one more PLEG relist (docs/benchmarks.md,
 * session 8). Past this, a device no watch reads is unknown.
 */
export const AWAY_GRACE_MS = 2000;

export class DeviceHealthView implements HealthView {
  readonly #pool: string;
  readonly #domain: string;
  readonly #listeners = new Set<() => void>();
  readonly #unsubscribe: () => void;
  readonly #pods: PodHealthSource | undefined;
  readonly #graceMs: number;
  readonly #nowMs: () => number;
  /** Devices away from the host and not read by a pod watch yet: since when (ms), while in grace. */
  readonly #awaySince = new Map<string, number>();
  #graceTimer: NodeJS.Timeout | undefined;
  #devices: readonly DeviceHealth[] = [];

  /** `domain` is the attribute prefix the inventory publishes (`netclaim.dev`, or `dra.net` in DraNet naming). */
  /** `pods`: the live health of devices in pods (pod-health.ts); without it they are unknown. */
  constructor(
    source: HealthSource, pool: string, domain: string, now: () => number = () => Math.floor(Date.now() / 1000), pods?: PodHealthSource,
    o: { readonly awayGraceMs?: number; readonly nowMs?: () => number } = {},
  ) {
    this.#pool = pool;
    this.#domain = domain;
    this.#pods = pods;
    this.#graceMs = o.awayGraceMs ?? AWAY_GRACE_MS;
    this.#nowMs = o.nowMs ?? (() => performance.now());
    const update = (inv: Inventory): void => {
      const next = this.#compute(inv, now());
      this.#armGrace(() => update(source.current));
      if (JSON.stringify(next.map(({ lastUpdatedTime: _, ...x }) => x)) === JSON.stringify(this.#devices.map(({ lastUpdatedTime: _, ...x }) => x))) return;
      this.#devices = next;
      for (const cb of this.#listeners) cb();
    };
    this.#devices = this.#compute(source.current, now());
    const unsubscribe = source.subscribe(update);
    const podsOff = pods?.onChange(() => { update(source.current); });
    this.#unsubscribe = () => { unsubscribe(); podsOff?.(); clearTimeout(this.#graceTimer); };
  }

  /** Recomputes when the earliest grace ends, so a device no watch took over turns unknown then. */
  #armGrace(recompute: () => void): void {
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    if (this.#awaySince.size === 0) return;
    const ends = Math.min(...this.#awaySince.values()) + this.#graceMs;
    this.#graceTimer = setTimeout(recompute, Math.max(1, ends - this.#nowMs() + 1)).unref();
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
    this.#awaySince.clear();
    this.#listeners.clear();
  }

  #compute(inv: Inventory, now: number): DeviceHealth[] {
    const before = new Map(this.#devices.map((d) => [d.deviceName, d]));
    const nowMs = this.#nowMs();
    for (const name of [...this.#awaySince.keys()]) if (!inv.devices.some((d) => d.name === name)) this.#awaySince.delete(name);
    return inv.devices.map((d) => {
      const attr = (n: string): string | undefined => {
        const v = d.attributes[`${this.#domain}/${n}`];
        return v !== undefined && 'string' in v ? v.string : undefined;
      };
      const inPod = this.#pods?.get(d.name);
      let h = deviceHealth(d, attr, inPod);
      const prev = before.get(d.name);
      // Just left the host, no pod watch has read it yet: the health it had, for a grace period.
      const unread = d.ifName !== undefined && !d.netdevPresent && inPod === undefined;
      if (!unread) this.#awaySince.delete(d.name);
      else if (prev !== undefined && prev.health !== 'unknown' && (this.#awaySince.get(d.name) ?? nowMs) + this.#graceMs > nowMs) {
        if (!this.#awaySince.has(d.name)) this.#awaySince.set(d.name, nowMs);
        h = { health: prev.health, ...(prev.message === undefined ? {} : { message: prev.message }) };
      } else this.#awaySince.delete(d.name);
      const same = prev !== undefined && prev.health === h.health && prev.message === h.message;
      return {
        poolName: this.#pool, deviceName: d.name, health: h.health,
        lastUpdatedTime: same ? prev.lastUpdatedTime : now,
        ...(h.message === undefined ? {} : { message: h.message }),
      };
    });
  }
}
