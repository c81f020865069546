/**
 * ResourceClaims from the API server (resource.k8s.io/v1), as the driver's
 * plain AllocatedClaim.
 *
 *   const claims = new KubeClaimSource({ kubeConfig });
 *   const c = await claims.get('team-a', 'job-7-nic');   // NotFoundError when it does not exist
 *
 * The conversion (claimFromApi) is a pure function over the wire JSON shape
 * (which is also what @kubernetes/client-node's models hold for these types:
 * no field is renamed, so it takes either). The opaque config `parameters`
 * (a RawExtension) is the parsed JSON value. That value comes from
 * JSON.parse, so an integer beyond 2^53 in the parameters is rounded (the
 * API server stores and returns the digits as written).
 *
 * Each read has a deadline (default 5 s) over the whole request, so a hung
 * API server does not hold a NodePrepareResources call.
 */
import { NotFoundError, ProtocolError } from '../../common/errors.ts';
import type { ClaimUid } from '../../common/ids.ts';
import type { AllocationConfig } from '../../config/claim-config/types.ts';
import type { AllocatedClaim, AllocationResult, ClaimConsumer, ClaimSource } from '../../driver/claim.ts';
import type { KubeApi } from './kube-api.ts';
import { DEFAULT_KUBE_TIMEOUT_MS } from './kube-deadline.ts';
import { kubeError, kubeStatus } from './kube-error.ts';

export interface KubeClaimSourceOptions {
  readonly kubeConfig: KubeApi;
  /** Deadline of one read (ms, default 5000). */
  readonly timeoutMs?: number;
}

export class KubeClaimSource implements ClaimSource {
  readonly #api: KubeApi;
  readonly #timeoutMs: number;

  constructor(o: KubeClaimSourceOptions) {
    this.#api = o.kubeConfig;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  async get(namespace: string, name: string): Promise<AllocatedClaim> {
    const op = `get resourceclaim ${namespace}/${name}`;
    const context = { namespace, name };
    let obj: unknown;
    try {
      obj = await this.#api.request({ path: claimPath(namespace, name), timeoutMs: this.#timeoutMs });
    } catch (err) {
      const e = kubeError(op, err, context);
      if (kubeStatus(e) === 404) throw new NotFoundError(`resourceclaim ${namespace}/${name} not found`, { cause: e, context });
      throw e;
    }
    return claimFromApi(obj);
  }
}

/** A ResourceClaim's path (resource.k8s.io/v1); `/status` for its status subresource. */
export function claimPath(namespace: string, name: string, sub = ''): string {
  return `/apis/resource.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/resourceclaims/${encodeURIComponent(name)}${sub}`;
}

type Obj = Readonly<Record<string, unknown>>;

/**
 * A ResourceClaim (wire JSON or client model) → AllocatedClaim. Total: any
 * input gives a claim or a ProtocolError naming the field that is missing or
 * of the wrong type (never a TypeError). Results of every driver are kept;
 * the driver picks its own.
 */
/** Set by the resource claim controller on claims it makes from a template (resource.k8s.io/v1 PodResourceClaimAnnotation). */
const POD_CLAIM_NAME = 'resource.kubernetes.io/pod-claim-name';

export function claimFromApi(o: unknown): AllocatedClaim {
  const claim = obj(o, '');
  const md = obj(claim['metadata'], 'metadata');
  const status = optObj(claim['status'], 'status');
  const alloc = status ? optObj(status['allocation'], 'status.allocation') : undefined;
  const devices = alloc ? optObj(alloc['devices'], 'status.allocation.devices') : undefined;
  const classes = deviceClassesFrom(claim['spec']);
  const annotations = optObj(md['annotations'], 'metadata.annotations');
  const podClaimName = annotations?.[POD_CLAIM_NAME];
  return {
    namespace: str(md['namespace'], 'metadata.namespace'),
    name: str(md['name'], 'metadata.name'),
    uid: str(md['uid'], 'metadata.uid') as ClaimUid,
    reservedFor: list(status?.['reservedFor'], 'status.reservedFor', consumerFrom),
    ...(Object.keys(classes).length > 0 ? { deviceClasses: classes } : {}),
    ...(typeof podClaimName === 'string' && podClaimName !== '' ? { podClaimName } : {}),
    ...(alloc ? {
      allocation: {
        results: list(devices?.['results'], 'status.allocation.devices.results', resultFrom),
        config: list(devices?.['config'], 'status.allocation.devices.config', configFrom),
      },
    } : {}),
  };
}

/**
 * Request name → deviceClassName, from `spec.devices.requests[]`. Lenient:
 * the names only label messages (the API server has validated the spec),
 * so what is missing or odd is left out rather than refused.
 */
function deviceClassesFrom(spec: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const o = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Obj : undefined);
  const requests = o(o(spec)?.['devices'])?.['requests'];
  for (const r of Array.isArray(requests) ? requests as unknown[] : []) {
    const name = o(r)?.['name'];
    if (typeof name !== 'string') continue;
    const exact = o(o(r)?.['exactly'])?.['deviceClassName'] ?? o(r)?.['deviceClassName'];
    if (typeof exact === 'string') Object.defineProperty(out, name, { value: exact, enumerable: true });
    const subs = o(r)?.['firstAvailable'];
    for (const sub of Array.isArray(subs) ? subs as unknown[] : []) {
      const subName = o(sub)?.['name'];
      const cls = o(sub)?.['deviceClassName'];
      if (typeof subName === 'string' && typeof cls === 'string') Object.defineProperty(out, `${name}/${subName}`, { value: cls, enumerable: true });
    }
  }
  return out;
}

function resultFrom(v: unknown, path: string): AllocationResult {
  const r = obj(v, path);
  const shareId = optStr(r['shareID'], `${path}.shareID`);
  const adminAccess = optBool(r['adminAccess'], `${path}.adminAccess`);
  return {
    request: str(r['request'], `${path}.request`),
    driver: str(r['driver'], `${path}.driver`),
    pool: str(r['pool'], `${path}.pool`),
    device: str(r['device'], `${path}.device`),
    ...(shareId !== undefined ? { shareId } : {}),
    ...(adminAccess !== undefined ? { adminAccess } : {}),
  };
}

function configFrom(v: unknown, path: string): AllocationConfig {
  const c = obj(v, path);
  const source = optStr(c['source'], `${path}.source`);
  const requests = c['requests'] === undefined || c['requests'] === null ? undefined : list(c['requests'], `${path}.requests`, str);
  const op = optObj(c['opaque'], `${path}.opaque`);
  const driver = op ? optStr(op['driver'], `${path}.opaque.driver`) : undefined;
  return {
    ...(source !== undefined ? { source } : {}),
    ...(requests !== undefined ? { requests } : {}),
    ...(op ? { opaque: { ...(driver !== undefined ? { driver } : {}), ...(op['parameters'] !== undefined ? { parameters: op['parameters'] } : {}) } } : {}),
  };
}

function consumerFrom(v: unknown, path: string): ClaimConsumer {
  const c = obj(v, path);
  const apiGroup = optStr(c['apiGroup'], `${path}.apiGroup`);
  return {
    ...(apiGroup !== undefined ? { apiGroup } : {}),
    resource: str(c['resource'], `${path}.resource`),
    name: str(c['name'], `${path}.name`),
    uid: str(c['uid'], `${path}.uid`),
  };
}

function bad(path: string, what: string): ProtocolError {
  return new ProtocolError(`ResourceClaim ${path || 'object'}: ${what}`, { context: { field: path } }, 'PROTOCOL_UNEXPECTED');
}
function obj(v: unknown, path: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(path, 'expected an object');
  return v as Obj;
}
function optObj(v: unknown, path: string): Obj | undefined {
  return v === undefined || v === null ? undefined : obj(v, path);
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw bad(path, v === undefined ? 'missing' : 'expected a string');
  return v;
}
function optStr(v: unknown, path: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, path);
}
function optBool(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(path, 'expected a boolean');
  return v;
}
function list<T>(v: unknown, path: string, item: (x: unknown, path: string) => T): T[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(path, 'expected a list');
  return v.map((x, i) => item(x, `${path}[${i}]`));
}
