/**
 * Evicts a pod through the Eviction API (policy/v1, `pods/eviction`), the
 * way `kubectl drain` does: PodDisruptionBudgets are honoured and the pod's
 * controller makes a new one, which gets its devices on a fresh start. Used
 * only with `--evict-unreconciled`, for a running pod whose devices netclaim
 * could not put back after a restart (docs/pods.md).
 */
import type { PodEvictor } from '../../driver/claim.ts';
import type { KubeApi } from './kube-api.ts';
import { DEFAULT_KUBE_TIMEOUT_MS } from './kube-deadline.ts';
import { kubeError } from './kube-error.ts';

export class KubePodEvictor implements PodEvictor {
  readonly #api: KubeApi;
  readonly #timeoutMs: number;

  constructor(o: { readonly kubeConfig: KubeApi; readonly timeoutMs?: number }) {
    this.#api = o.kubeConfig;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  async evict(namespace: string, name: string, _reason: string): Promise<void> {
    try {
      await this.#api.request({
        method: 'POST', path: `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}/eviction`, timeoutMs: this.#timeoutMs,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
      });
    } catch (err) {
      throw kubeError(`evict pod ${namespace}/${name}`, err);
    }
  }
}

const enc = encodeURIComponent;
