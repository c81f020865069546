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
 * hook; a failure is reported to `onError` and not retried (the next attach
 * of the claim writes again).
 */
import { ResourceV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { DriverError } from '../../common/errors.ts';
import type { ClaimStatusSink } from '../../driver/claim.ts';
import type { AttachedDevice, ClaimRecord } from '../../driver/record-model.ts';
import { kubeError } from './kube-error.ts';
import { withDeadline } from './kube-deadline.ts';

export interface ClaimStatusWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly driverName: string;
  readonly timeoutMs?: number;
  readonly onError?: (err: DriverError) => void;
  readonly onWritten?: (record: ClaimRecord, ms: number) => void;
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

export class ClaimStatusWriter implements ClaimStatusSink {
  readonly #o: ClaimStatusWriterOptions;
  readonly #api: ResourceV1Api;
  #queue: Promise<void> = Promise.resolve();

  constructor(o: ClaimStatusWriterOptions) {
    this.#o = o;
    this.#api = o.kubeConfig.makeApiClient(ResourceV1Api);
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
  #write(record: ClaimRecord, entries: readonly Record<string, unknown>[]): void {
    const { name, namespace } = record.claim;
    this.#queue = this.#queue.then(async () => {
      const start = performance.now();
      try {
        for (let attempt = 1; ; attempt++) {
          const claim = await withDeadline(this.#timeoutMs, (opts) => this.#api.readNamespacedResourceClaim({ name, namespace }, opts));
          if (claim.metadata?.uid !== record.claim.uid) return; // deleted and re-created: not ours any more
          const key = (d: { driver?: unknown; pool?: unknown; device?: unknown; shareID?: unknown }): string => `${String(d.driver)}/${String(d.pool)}/${String(d.device)}/${String(d.shareID ?? '')}`;
          const mine = new Set(entries.map(key));
          const kept = (claim.status?.devices ?? []).filter((d) => !mine.has(key(d as never)));
          const body = { ...claim, status: { ...claim.status, devices: [...kept, ...entries] } } as typeof claim;
          try {
            await withDeadline(this.#timeoutMs, (opts) => this.#api.replaceNamespacedResourceClaimStatus({ name, namespace, body }, opts));
            break;
          } catch (err) {
            if (attempt >= 3 || (err as { code?: number }).code !== 409) throw err;
          }
        }
        this.#o.onWritten?.(record, performance.now() - start);
      } catch (err) {
        this.#o.onError?.(kubeError(`update status of resourceclaim ${namespace}/${name}`, err));
      }
    });
  }

  get #timeoutMs(): number {
    return this.#o.timeoutMs ?? 3_000;
  }

  /** Waits for the writes queued so far. */
  flush(): Promise<void> {
    return this.#queue;
  }
}
