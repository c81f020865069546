/**
 * Evicts a pod through the Eviction API (policy/v1, `pods/eviction`), the
 * way `kubectl drain` does: PodDisruptionBudgets are honoured and the pod's
 * controller makes a new one, which gets its devices on a fresh start. Used
 * only with `--evict-unreconciled`, for a running pod whose devices netclaim
 * could not put back after a restart (docs/pods.md).
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { PodEvictor } from '../../driver/claim.ts';
import { kubeError } from './kube-error.ts';
import { withDeadline } from './kube-deadline.ts';

export class KubePodEvictor implements PodEvictor {
  readonly #api: CoreV1Api;
  readonly #timeoutMs: number;

  constructor(o: { readonly kubeConfig: KubeConfig; readonly timeoutMs?: number }) {
    this.#api = o.kubeConfig.makeApiClient(CoreV1Api);
    this.#timeoutMs = o.timeoutMs ?? 5_000;
  }

  async evict(namespace: string, name: string, _reason: string): Promise<void> {
    try {
      await withDeadline(this.#timeoutMs, (opts) => this.#api.createNamespacedPodEviction({
        name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
      }, opts));
    } catch (err) {
      throw kubeError(`evict pod ${namespace}/${name}`, err);
    }
  }
}
