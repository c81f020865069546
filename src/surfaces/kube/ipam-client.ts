/**
 * The address-pool store in the Kubernetes API (the driver's IpamPort,
 * driver/ipam/ipam-port.ts): `IPPool` and `IPAllocation` objects of
 * netclaim.dev/v1alpha1, both cluster-scoped (docs/ipam.md; the CRDs are in
 * the Helm chart).
 *
 * An allocation is created with its name derived from pool and address; the
 * API server's 409 AlreadyExists is the answer "taken". Each carries labels
 * for the pool, node and claim (list by pool when a pool is nearly full; list
 * by node for the reconcile) and an owner reference to this node's Node, so
 * the garbage collector deletes a node's allocations with the node. (A
 * cluster-scoped object cannot be owned by a namespaced ResourceClaim: the
 * collector treats such a reference as unresolvable.) A release deletes by
 * name with a uid precondition, so a later allocation of the same address by
 * another claim is never deleted.
 *
 * Requests per allocation, while a pool is far from full: one GET of the pool
 * and one create. Each call has a deadline (default 5 s).
 */
import { DriverError } from '../../common/errors.ts';
import type { Allocation, IpamPort } from '../../driver/ipam/ipam-port.ts';
import { parsePool, type AddressPool } from '../../driver/ipam/pool-spec.ts';
import type { KubeApi, KubeRequest } from './kube-api.ts';
import { DEFAULT_KUBE_TIMEOUT_MS } from './kube-deadline.ts';
import { kubeError, kubeStatus } from './kube-error.ts';
import { PoolCache, type CachedPool } from './ipam-pool-cache.ts';

export const IPAM_GROUP = 'netclaim.dev';
export const IPAM_VERSION = 'v1alpha1';
export const LABEL_POOL = 'netclaim.dev/pool';
export const LABEL_NODE = 'netclaim.dev/node';
export const LABEL_CLAIM = 'netclaim.dev/claim-uid';

export interface KubeIpamOptions {
  readonly kubeConfig: KubeApi;
  readonly nodeName: string;
  /** Deadline of one request (ms, default 5000). */
  readonly timeoutMs?: number;
  /** Called before each API request (benchmarks count them). */
  readonly onRequest?: (verb: string) => void;
  /**
   * Keep the IPPools in a watch-backed cache (ipam-pool-cache.ts) once
   * `start()` has run, so Prepare reads pools without a request. Off: every
   * pool read is a request, as the simulated nodes of the tests and benches do.
   */
  readonly watchPools?: boolean;
  readonly onError?: (e: DriverError) => void;
}

type Obj = Record<string, unknown>;

export class KubeIpam implements IpamPort {
  readonly #api: KubeApi;
  readonly #o: KubeIpamOptions;
  #nodeUid: Promise<string> | undefined;
  readonly #cache: PoolCache | undefined;

  constructor(o: KubeIpamOptions) {
    this.#o = o;
    this.#api = o.kubeConfig;
    this.#cache = o.watchPools === true
      ? new PoolCache({
        api: this.#api, group: IPAM_GROUP, version: IPAM_VERSION,
        ...(o.onError === undefined ? {} : { onError: o.onError }), ...(o.onRequest === undefined ? {} : { onRequest: o.onRequest }),
      })
      : undefined;
  }

  /** Starts the pool cache (with `watchPools`); resolves after its first LIST, whether or not it succeeded. */
  async start(): Promise<void> {
    await this.#cache?.start();
  }

  close(): void {
    this.#cache?.close();
  }

  async #call<T = Obj>(verb: string, op: string, context: Obj, r: KubeRequest): Promise<T> {
    this.#o.onRequest?.(verb);
    try {
      return await this.#api.request<T>({ ...r, timeoutMs: this.#o.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS });
    } catch (err) {
      throw kubeError(op, err, context);
    }
  }

  async pool(name: string): Promise<AddressPool> {
    // A pool not in the cache may be one created a moment ago: the API server answers for it.
    const cached = this.#cache?.pool(name);
    if (cached !== undefined) return parsePool(name, cached.spec);
    let o: Obj;
    try {
      o = await this.#call('get', `get ippool ${name}`, { pool: name }, { path: ipamPath('ippools', name) });
    } catch (err) {
      if (kubeStatus(err) === 404) throw new DriverError('PREPARE_POOL_INVALID', `IPPool ${name} does not exist`, { cause: err, context: { pool: name } });
      throw err;
    }
    return parsePool(name, o['spec']);
  }

  async pools(): Promise<readonly AddressPool[]> {
    const cached = this.#cache?.pools;
    if (cached !== undefined) return usablePools(cached);
    let list: Obj;
    try {
      list = await this.#call('list', 'list ippools', {}, { path: ipamPath('ippools') });
    } catch (err) {
      if (kubeStatus(err) === 404) return []; // the CRD is not installed: no pools
      throw err;
    }
    return usablePools(((list['items'] as Obj[] | undefined) ?? []).map((item) => ({ name: String((item['metadata'] as Obj | undefined)?.['name']), spec: item['spec'] })));
  }

  async create(a: Allocation): Promise<Allocation | 'exists'> {
    const nodeUid = await this.#nodeUidOnce();
    const body = {
      apiVersion: `${IPAM_GROUP}/${IPAM_VERSION}`, kind: 'IPAllocation',
      metadata: {
        name: a.name,
        labels: { [LABEL_POOL]: a.pool, [LABEL_NODE]: a.node, [LABEL_CLAIM]: a.claim.uid },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: a.node, uid: nodeUid }],
      },
      spec: { pool: a.pool, address: a.address, prefixLength: a.prefixLength, nodeName: a.node, claim: a.claim, request: a.request },
    };
    try {
      const o = await this.#call('create', `create ipallocation ${a.name}`, { name: a.name }, { method: 'POST', path: ipamPath('ipallocations'), body });
      return { ...a, uid: String((o['metadata'] as Obj)['uid']) };
    } catch (err) {
      if (kubeStatus(err) === 409) return 'exists';
      throw err;
    }
  }

  async get(name: string): Promise<Allocation | undefined> {
    try {
      const o = await this.#call('get', `get ipallocation ${name}`, { name }, { path: ipamPath('ipallocations', name) });
      return allocationFromApi(o);
    } catch (err) {
      if (kubeStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async release(name: string, uid: string): Promise<void> {
    try {
      await this.#call('delete', `delete ipallocation ${name}`, { name, uid }, {
        method: 'DELETE', path: ipamPath('ipallocations', name), body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } },
      });
    } catch (err) {
      // 404: already gone; 409: the name now belongs to a later allocation (the precondition failed): not ours.
      if (kubeStatus(err) === 404 || kubeStatus(err) === 409) return;
      throw err;
    }
  }

  listPool(pool: string): Promise<readonly Allocation[]> {
    return this.#list(`${LABEL_POOL}=${pool}`);
  }

  listNode(node: string): Promise<readonly Allocation[]> {
    return this.#list(`${LABEL_NODE}=${node}`);
  }

  async #list(labelSelector: string): Promise<readonly Allocation[]> {
    let list: Obj;
    try {
      list = await this.#call('list', `list ipallocations ${labelSelector}`, { labelSelector }, { path: ipamPath('ipallocations'), query: { labelSelector } });
    } catch (err) {
      if (kubeStatus(err) === 404) return []; // the CRD is not installed: nothing allocated
      throw err;
    }
    return ((list['items'] as Obj[] | undefined) ?? []).map(allocationFromApi);
  }

  #nodeUidOnce(): Promise<string> {
    this.#nodeUid ??= (async () => {
      const node = await this.#call<{ metadata?: { uid?: string } }>('get', `get node ${this.#o.nodeName}`, { node: this.#o.nodeName }, { path: `/api/v1/nodes/${encodeURIComponent(this.#o.nodeName)}` });
      const uid = node.metadata?.uid;
      if (!uid) throw new DriverError('KUBE_REQUEST_FAILED', `node ${this.#o.nodeName} has no metadata.uid`);
      return uid;
    })();
    // A failed read is not remembered: the next create reads again.
    this.#nodeUid.catch(() => { this.#nodeUid = undefined; });
    return this.#nodeUid;
  }
}

/** A cluster-scoped IPAM object's path (netclaim.dev/v1alpha1). */
export function ipamPath(plural: 'ippools' | 'ipallocations', name?: string): string {
  return `/apis/${IPAM_GROUP}/${IPAM_VERSION}/${plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

export function allocationFromApi(o: Obj): Allocation {
  const md = (o['metadata'] ?? {}) as Obj;
  const spec = (o['spec'] ?? {}) as Obj;
  const claim = (spec['claim'] ?? {}) as Obj;
  return {
    name: String(md['name'] ?? ''), uid: String(md['uid'] ?? ''),
    ...(typeof md['creationTimestamp'] === 'string' ? { created: md['creationTimestamp'] } : {}),
    pool: String(spec['pool'] ?? ''), address: String(spec['address'] ?? ''), prefixLength: Number(spec['prefixLength'] ?? 0),
    node: String(spec['nodeName'] ?? ''), request: String(spec['request'] ?? ''),
    claim: { uid: String(claim['uid'] ?? ''), namespace: String(claim['namespace'] ?? ''), name: String(claim['name'] ?? '') },
  };
}

/** The pools the driver can parse: one it refuses cannot hold a static address (it is reported when a claim names it). */
function usablePools(items: readonly CachedPool[]): AddressPool[] {
  const out: AddressPool[] = [];
  for (const { name, spec } of items) {
    try {
      out.push(parsePool(name, spec));
    } catch { /* skipped */ }
  }
  return out;
}
