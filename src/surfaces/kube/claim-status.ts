/**
 * ResourceClaim `status.devices` for netclaim's devices once they are in the
 * pod (KEP-4817): a server-side apply on the claim's status subresource with
 * field manager `netclaim.dev`, holding only our own entries, so other
 * drivers' entries and other fields are never touched. Conditions `Ready`
 * and `NetworkReady` (reason `NetworkDeviceReady`), and `networkData`:
 * the interface name in the pod, its IPs in canonical CIDR form, its MAC.
 *
 * Written in the background, one claim at a time, never delaying the NRI
 * hook; a failure is reported to `onError` and not retried (the next attach
 * of the claim writes again).
 */
import { PatchStrategy, ResourceV1Api, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { DriverError } from '../../common/errors.ts';
import type { ClaimStatusSink } from '../../driver/claim.ts';
import type { AttachedDevice, ClaimRecord } from '../../driver/plan/plan-types.ts';
import { kubeError } from './kube-error.ts';
import { withDeadline } from './kube-deadline.ts';

export interface ClaimStatusWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly driverName: string;
  readonly timeoutMs?: number;
  readonly onError?: (err: DriverError) => void;
  readonly onWritten?: (record: ClaimRecord, ms: number) => void;
}

/** The apply body for a claim's devices (pure). */
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
    const body = claimStatusApply(this.#o.driverName, record, devices, new Date());
    this.#queue = this.#queue.then(async () => {
      const start = performance.now();
      try {
        await withDeadline(this.#o.timeoutMs ?? 3_000, (opts) => this.#api.patchNamespacedResourceClaimStatus(
          { name: record.claim.name, namespace: record.claim.namespace, body, fieldManager: this.#o.driverName, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply, opts)));
        this.#o.onWritten?.(record, performance.now() - start);
      } catch (err) {
        this.#o.onError?.(kubeError(`apply status of resourceclaim ${record.claim.namespace}/${record.claim.name}`, err));
      }
    });
  }

  /** Waits for the writes queued so far. */
  flush(): Promise<void> {
    return this.#queue;
  }
}
