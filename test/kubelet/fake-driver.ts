/**
 * A fake DriverPort for the kubelet surface tests: it stands for the driver,
 * with canned, inspectable behaviour. Claims named `*fail*` get a per-claim
 * error, claims named `*skip*` get no entry at all; `throwNext` makes the next
 * prepare/unprepare throw; `gate` holds calls until released (serialization
 * and close-while-busy tests). Prepared devices carry a sub-request name and a
 * share id, so the v1/v1beta1 translation shows.
 */
import type { ClaimUid } from '../../src/common/ids.ts';
import type { ClaimRef, DeviceHealth, DriverPort, HealthView, PrepareResult, UnprepareResult } from '../../src/driver/driver-port.ts';

export class FakeHealth implements HealthView {
  #devices: readonly DeviceHealth[];
  readonly #listeners = new Set<() => void>();

  constructor(devices: readonly DeviceHealth[]) {
    this.#devices = devices;
  }

  get devices(): readonly DeviceHealth[] {
    return this.#devices;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  set(devices: readonly DeviceHealth[]): void {
    this.#devices = devices;
    for (const cb of this.#listeners) cb();
  }

  onChange(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => { this.#listeners.delete(cb); };
  }
}

export interface FakeCall {
  readonly op: 'prepare' | 'unprepare';
  readonly claims: readonly ClaimRef[];
}

export class FakeDriver implements DriverPort {
  readonly calls: FakeCall[] = [];
  readonly healthView: FakeHealth | undefined;
  throwNext: unknown = undefined;
  /** While set, calls wait for it; `inFlight` counts calls running at once (max seen in `maxInFlight`). */
  gate: Promise<void> | undefined;
  inFlight = 0;
  maxInFlight = 0;
  health?: () => HealthView;

  constructor(opts: { health?: readonly DeviceHealth[] } = {}) {
    if (opts.health) {
      const view = new FakeHealth(opts.health);
      this.healthView = view;
      this.health = () => view;
    }
  }

  async prepare(claims: readonly ClaimRef[]): Promise<ReadonlyMap<ClaimUid, PrepareResult>> {
    return this.#run('prepare', claims, (c) => c.name.includes('fail')
      ? { error: `cannot prepare ${c.namespace}/${c.name}` }
      : { devices: [{ requestNames: ['net/sub-0'], poolName: 'pool-a', deviceName: `dev-${c.name}`, cdiDeviceIds: [`netclaim.dev/net=${c.name}`], shareId: 'share-1' }] });
  }

  async unprepare(claims: readonly ClaimRef[]): Promise<ReadonlyMap<ClaimUid, UnprepareResult>> {
    return this.#run('unprepare', claims, (c) => c.name.includes('fail') ? { error: `cannot unprepare ${c.namespace}/${c.name}` } : {});
  }

  async #run<R>(op: FakeCall['op'], claims: readonly ClaimRef[], each: (c: ClaimRef) => R): Promise<ReadonlyMap<ClaimUid, R>> {
    this.calls.push({ op, claims });
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await this.gate;
      if (this.throwNext !== undefined) {
        const err = this.throwNext;
        this.throwNext = undefined;
        throw err;
      }
      return new Map(claims.filter((c) => !c.name.includes('skip')).map((c) => [c.uid, each(c)]));
    } finally {
      this.inFlight--;
    }
  }
}
