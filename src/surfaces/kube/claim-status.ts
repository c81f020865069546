/**
 * ResourceClaim `status.devices` for netclaim's devices once they are in the
 * pod (KEP-4817): conditions `Ready` and `NetworkReady` (reason
 * `NetworkDeviceReady`), and `networkData`: the interface name in the pod,
 * its IPs in canonical CIDR form, its MAC. Other drivers' entries are kept.
 *
 * Read-modify-write (GET, then PUT of the status subresource with the
 * resourceVersion read, retried on a conflict), not the server-side apply
 * DraNet uses: kube-apiserver 1.37 refuses a server-side apply of the status
 * of a claim whose opaque config has a `name` field anywhere inside
 * (`interface.name`, the most common one) with "status.allocation: Invalid
 * value: null: field cannot be modified once set"
 * (test/conformance/claim-status.conformance.test.ts pins this).
 *
 * Written in the background, one claim at a time, never delaying the NRI
 * hook. A failed write is retried (up to `attempts` times, backing off from
 * 250 ms), unless a newer write for the same claim superseded it; the last
 * failure is reported to `onError`. A write whose entries the claim already
 * has (conditions compared without their transition time) is skipped, so the
 * pod driver can state a claim's status again after every restart
 * (Synchronize) — what a crash kept from being written is written then.
 */
import type { ResourceV1ResourceClaim } from '@kubernetes/client-node';
import type { DriverError } from '../../common/errors.ts';
import type { ClaimStatusSink } from '../../driver/claim.ts';
import type { AttachedDevice, ClaimRecord } from '../../driver/record-model.ts';
import type { KubeApi } from './kube-api.ts';
import { claimPath } from './claim-source.ts';
import { kubeError, kubeStatus } from './kube-error.ts';

export interface ClaimStatusWriterOptions {
  readonly kubeConfig: KubeApi;
  readonly driverName: string;
  readonly timeoutMs?: number;
  readonly onError?: (err: DriverError) => void;
  readonly onWritten?: (record: ClaimRecord, ms: number) => void;
  /** Tries per write (default 5). */
  readonly attempts?: number;
  /** The first retry's delay (ms, default 250); each next one 4× longer. */
  readonly retryMs?: number;
}

/** Ready=False for every device of the claim, with the reason (pure). */
export function claimNotReadyEntries(driverName: string, record: ClaimRecord, message: string, now: Date): Array<Record<string, unknown>> {
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return record.devices.map((plan) => ({
    driver: driverName, pool: plan.pool, device: plan.device,
    ...(plan.shareId === undefined ? {} : { shareID: plan.shareId }),
    conditions: ['Ready', 'NetworkReady'].map((type) => ({
      type, status: 'False', reason: 'NetworkDeviceNotReady', message: message.slice(0, 1024), lastTransitionTime: at,
    })),
  }));
}

/** Our `status.devices` entries for a claim, as an apply-style object (pure). */
export function claimStatusApply(driverName: string, record: ClaimRecord, devices: readonly AttachedDevice[], now: Date): Record<string, unknown> {
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string): Record<string, unknown> => ({
    type, status: 'True', reason: 'NetworkDeviceReady', message: 'the device is configured in the pod', lastTransitionTime: at,
  });
  return {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim',
    metadata: { name: record.claim.name, namespace: record.claim.namespace },
    status: {
      devices: devices.map((d) => {
        const plan = record.devices.find((p) => p.device === d.device)!;
        return {
          driver: driverName, pool: plan.pool, device: d.device,
          ...(plan.shareId === undefined ? {} : { shareID: plan.shareId }),
          conditions: [cond('Ready'), cond('NetworkReady')],
          networkData: { interfaceName: d.name, ips: [...new Set(d.ips)].slice(0, 16), hardwareAddress: d.mac },
        };
      }),
    },
  };
}

/** Whether the claim already has exactly these entries (conditions compared without lastTransitionTime). */
function sameEntries(current: readonly object[], wanted: readonly Record<string, unknown>[]): boolean {
  if (current.length !== wanted.length) return false;
  const norm = (d: object): string => {
    const { conditions, ...rest } = d as { conditions?: Array<Record<string, unknown>> };
    const conds = (conditions ?? []).map(({ lastTransitionTime: _t, observedGeneration: _g, ...c }) => c);
    return stable({ ...rest, conditions: conds });
  };
  const have = new Set(current.map(norm));
  return wanted.every((w) => have.has(norm(w)));
}

/** JSON with object keys sorted (the client's models and our literals order keys differently). */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${JSON.stringify(k)}:${stable(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export class ClaimStatusWriter implements ClaimStatusSink {
  readonly #o: ClaimStatusWriterOptions;
  readonly #api: KubeApi;
  #queue: Promise<void> = Promise.resolve();
  /** The latest write asked for per claim UID: an older write's retry yields to it. */
  readonly #latest = new Map<string, number>();
  #writes = 0;
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(o: ClaimStatusWriterOptions) {
    this.#o = o;
    this.#api = o.kubeConfig;
  }

  devicesReady(record: ClaimRecord, devices: readonly AttachedDevice[]): void {
    if (devices.length === 0) return;
    const ours = claimStatusApply(this.#o.driverName, record, devices, new Date()).status as { devices: Array<Record<string, unknown>> };
    this.#write(record, ours.devices);
  }

  devicesNotReady(record: ClaimRecord, message: string): void {
    this.#write(record, claimNotReadyEntries(this.#o.driverName, record, message, new Date()));
  }

  /** Replaces our entries in the claim's status.devices, keeping everyone else's. */
  #write(record: ClaimRecord, entries: readonly Record<string, unknown>[], attempt = 1, id = ++this.#writes): void {
    const { name, namespace, uid } = record.claim;
    if (attempt === 1) this.#latest.set(uid, id);
    this.#queue = this.#queue.then(async () => {
      if (this.#latest.get(uid) !== id) return; // a newer write for this claim took over
      const start = performance.now();
      let retrying = false;
      try {
        for (let conflict = 1; ; conflict++) {
          const claim = await this.#api.request<ResourceV1ResourceClaim>({ path: claimPath(namespace, name), timeoutMs: this.#timeoutMs });
          if (claim.metadata?.uid !== uid) return; // deleted and re-created: not ours any more
          const key = (d: { driver?: unknown; pool?: unknown; device?: unknown; shareID?: unknown }): string => `${String(d.driver)}/${String(d.pool)}/${String(d.device)}/${String(d.shareID ?? '')}`;
          const mine = new Set(entries.map(key));
          const current = claim.status?.devices ?? [];
          if (sameEntries(current.filter((d) => mine.has(key(d as never))), entries)) return; // already stated
          const kept = current.filter((d) => !mine.has(key(d as never)));
          const body = { ...claim, status: { ...claim.status, devices: [...kept, ...entries] } } as typeof claim;
          try {
            await this.#api.request({ method: 'PUT', path: claimPath(namespace, name, '/status'), body, timeoutMs: this.#timeoutMs });
            break;
          } catch (err) {
            if (conflict >= 3 || kubeStatus(kubeError('update status', err)) !== 409) throw err;
          }
        }
        this.#o.onWritten?.(record, performance.now() - start);
      } catch (err) {
        const code = kubeStatus(kubeError('update status', err));
        if (code === 404) return; // the claim is gone: nothing to state
        // Retried: what may pass later (no answer, 5xx, 429, conflicts past the three above); a refusal (other 4xx) is reported at once.
        const transient = code === 0 || code >= 500 || code === 429 || code === 409;
        if (transient && !this.#closed && attempt < (this.#o.attempts ?? 5)) {
          const t = setTimeout(() => {
            this.#retries.delete(t);
            this.#write(record, entries, attempt + 1, id);
          }, (this.#o.retryMs ?? 250) * 4 ** (attempt - 1));
          t.unref();
          this.#retries.add(t);
          retrying = true;
          return;
        }
        this.#o.onError?.(kubeError(`update status of resourceclaim ${namespace}/${name}`, err));
      } finally {
        // Done with this claim for now (written, skipped, gone, or given up): forget it unless a newer write or a retry is pending.
        if (!retrying && this.#latest.get(uid) === id) this.#latest.delete(uid);
      }
    });
  }

  get #timeoutMs(): number {
    return this.#o.timeoutMs ?? 3_000;
  }

  /** Waits for the writes queued so far (a retry not yet due is not waited for). */
  flush(): Promise<void> {
    return this.#queue;
  }

  /** At stop: retries not yet due are dropped (the next start's Synchronize states the status again); waits for the queued writes. */
  close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#retries) clearTimeout(t);
    this.#retries.clear();
    return this.#queue;
  }
}
