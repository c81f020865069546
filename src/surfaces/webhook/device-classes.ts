/**
 * The webhook's reads of DeviceClasses: a claim's netclaim configs are held
 * to the policy of the classes its requests name (docs/webhook.md, "Class
 * policy"), so the webhook GETs each such class (RBAC: deviceclasses get).
 * A read has a short deadline (default 2 s), well inside the webhook call's
 * own timeout, and a class found is kept for `ttlMs` (default 5 s), so that
 * the claims a controller makes from one template in a burst cost one read
 * per class, not one each (a class changed meanwhile is seen up to 5 s
 * late; Prepare reads it afresh). A class that does not exist is
 * `undefined`, and not kept (the scheduler cannot allocate such a claim
 * anyway); a read that fails throws, and the webhook admits with a warning:
 * Prepare holds the policy in any case.
 */
import type { KubeApi } from '../kube/kube-api.ts';
import { kubeError, kubeStatus } from '../kube/kube-error.ts';
import type { DeviceClassLookup } from './admission.ts';

export interface DeviceClassReaderOptions {
  readonly kubeConfig: KubeApi;
  readonly timeoutMs?: number;
  readonly ttlMs?: number;
}

export function deviceClassReader(o: DeviceClassReaderOptions): DeviceClassLookup {
  const api = o.kubeConfig;
  const timeoutMs = o.timeoutMs ?? 2_000;
  const ttlMs = o.ttlMs ?? 5_000;
  const cache = new Map<string, { readonly at: number; readonly value: Promise<unknown> }>();
  const read = async (name: string): Promise<unknown> => {
    try {
      return await api.request({ path: `/apis/resource.k8s.io/v1/deviceclasses/${encodeURIComponent(name)}`, timeoutMs });
    } catch (err) {
      const e = kubeError(`get deviceclass ${name}`, err, { name });
      if (kubeStatus(e) === 404) return undefined;
      throw e;
    }
  };
  return (name) => {
    const now = Date.now();
    for (const [k, v] of cache) if (now - v.at > ttlMs) cache.delete(k);
    const hit = cache.get(name);
    if (hit) return hit.value;
    const value = read(name);
    cache.set(name, { at: now, value });
    // A failed read, or a class not there (yet: classes and claims are often applied together), is not kept.
    value.then((c) => { if (c === undefined) cache.delete(name); }, () => cache.delete(name));
    return value;
  };
}
