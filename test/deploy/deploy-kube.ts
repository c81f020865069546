/**
 * Shared by the deploy conformance tests: manifests as plain objects, the API
 * path of any kind (from the API server's discovery, so no table to keep),
 * server-side dry-run, the minimal CRDs of the job operators and the
 * Prometheus Operator, and the pod templates inside the job kinds.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { KubeClient, KubeResponse } from '../conformance/kube-client.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

/** Every document of a YAML text (comments and empty documents dropped). */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .filter((d) => d.contents !== null)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as KubeObject;
    });
}

export const readManifests = (file: string): KubeObject[] => parseManifests(readFileSync(file, 'utf8'));

interface ApiResource { name: string; kind: string; namespaced: boolean }

/** Kind → REST resource, from discovery; cached per client and group version. */
export class ApiPaths {
  readonly #kube: KubeClient;
  readonly #groups = new Map<string, ApiResource[]>();

  constructor(kube: KubeClient) {
    this.#kube = kube;
  }

  /** Forgets what discovery said (after installing CRDs). */
  reset(): void {
    this.#groups.clear();
  }

  async #resources(apiVersion: string): Promise<ApiResource[]> {
    let list = this.#groups.get(apiVersion);
    if (!list) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const r = await this.#kube.get<{ resources: ApiResource[] }>(path);
      if (r.status !== 200) throw new Error(`discovery ${path}: ${r.status} ${r.text.slice(0, 300)}`);
      list = r.body.resources.filter((x) => !x.name.includes('/'));
      this.#groups.set(apiVersion, list);
    }
    return list;
  }

  /** The collection path of an object's kind, in `namespace` when the kind is namespaced. */
  async collection(o: Pick<KubeObject, 'apiVersion' | 'kind'>, namespace: string | undefined): Promise<string> {
    const res = (await this.#resources(o.apiVersion)).find((x) => x.kind === o.kind);
    if (!res) throw new Error(`the API server does not serve ${o.kind} in ${o.apiVersion}`);
    const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
    if (!res.namespaced) return `${base}/${res.name}`;
    if (!namespace) throw new Error(`${o.kind} ${o.apiVersion} is namespaced: a namespace is needed`);
    return `${base}/namespaces/${namespace}/${res.name}`;
  }
}

/**
 * POSTs the object with `dryRun=All`: the API server decodes, defaults,
 * validates and admits it (admission policies included) but stores nothing.
 * `fieldValidation=Strict` turns unknown or duplicate fields into errors.
 */
export async function dryRunCreate(kube: KubeClient, paths: ApiPaths, o: KubeObject, namespace?: string): Promise<KubeResponse> {
  const ns = o.metadata.namespace ?? namespace;
  const body = ns === undefined ? o : { ...o, metadata: { ...o.metadata, namespace: ns } };
  return kube.post(`${await paths.collection(o, ns)}?dryRun=All&fieldValidation=Strict`, body);
}

/** Creates the object for real (what kubectl apply would do the first time). */
export async function create(kube: KubeClient, paths: ApiPaths, o: KubeObject, namespace?: string): Promise<KubeResponse> {
  const ns = o.metadata.namespace ?? namespace;
  return kube.post(`${await paths.collection(o, ns)}?fieldValidation=Strict`, o);
}

export const objectName = (o: KubeObject): string => `${o.kind}/${o.metadata.name}`;

/**
 * The CRDs the examples and the chart's ServiceMonitor and cert-manager objects need, reduced to what
 * a dry-run can check without their operators: group, version, kind, scope
 * and the object envelope (metadata); `spec` is kept as given
 * (x-kubernetes-preserve-unknown-fields). The pod templates inside the job
 * kinds are checked separately, as Pods and Jobs (podTemplates).
 */
export const OPERATOR_CRDS = [
  { group: 'monitoring.coreos.com', version: 'v1', kind: 'ServiceMonitor', plural: 'servicemonitors' },
  // cert-manager: the chart's webhook and secure-metrics certificates.
  { group: 'cert-manager.io', version: 'v1', kind: 'Certificate', plural: 'certificates' },
  { group: 'cert-manager.io', version: 'v1', kind: 'Issuer', plural: 'issuers' },
  { group: 'jobset.x-k8s.io', version: 'v1alpha2', kind: 'JobSet', plural: 'jobsets' },
  { group: 'kubeflow.org', version: 'v2beta1', kind: 'MPIJob', plural: 'mpijobs' },
  { group: 'kubeflow.org', version: 'v1', kind: 'PyTorchJob', plural: 'pytorchjobs' },
  { group: 'leaderworkerset.x-k8s.io', version: 'v1', kind: 'LeaderWorkerSet', plural: 'leaderworkersets' },
] as const;

function crd(c: (typeof OPERATOR_CRDS)[number]): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${c.plural}.${c.group}` },
    spec: {
      group: c.group, scope: 'Namespaced',
      names: { kind: c.kind, plural: c.plural, singular: c.kind.toLowerCase(), listKind: `${c.kind}List` },
      versions: [{
        name: c.version, served: true, storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object', required: ['spec'],
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      }],
    },
  };
}

/**
 * Installs the operator CRDs (already there: fine; several test files may
 * race) and waits until each kind is served. They are left installed: the
 * control plane belongs to this run.
 */
export async function ensureOperatorCrds(kube: KubeClient, paths: ApiPaths, deadlineMs = 30_000): Promise<void> {
  for (const c of OPERATOR_CRDS) {
    const r = await kube.post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd(c));
    if (r.status !== 201 && r.status !== 409) throw new Error(`CRD ${c.plural}.${c.group}: ${r.status} ${r.text.slice(0, 300)}`);
  }
  const until = Date.now() + deadlineMs;
  for (const c of OPERATOR_CRDS) {
    while (true) {
      const r = await kube.get<{ resources?: ApiResource[] }>(`/apis/${c.group}/${c.version}`);
      if (r.status === 200 && r.body.resources?.some((x) => x.kind === c.kind)) break;
      if (Date.now() > until) throw new Error(`CRD ${c.plural}.${c.group} not served after ${deadlineMs} ms`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  paths.reset();
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** A pod template (or a Job template) found in a workload, with where it was. */
export interface EmbeddedTemplate {
  readonly where: string;
  readonly object: KubeObject;
}

/**
 * The pod templates of the job kinds as objects the API server validates in
 * full: a Pod for each PodTemplateSpec, and for JobSet a Job for each
 * replicated job. What the envelope-only CRDs cannot check, this does.
 */
export function podTemplates(o: KubeObject): EmbeddedTemplate[] {
  const spec = obj(o.spec);
  const name = o.metadata.name;
  const asPod = (where: string, t: unknown): EmbeddedTemplate => ({
    where,
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-${where.toLowerCase().replace(/[^a-z0-9]+/g, '-')}` }, spec: obj(obj(t)['spec']) },
  });
  switch (o.kind) {
    case 'JobSet':
      return list(spec['replicatedJobs']).flatMap((rj) => {
        const j = obj(rj);
        const where = `replicatedJobs.${String(j['name'])}`;
        const job: EmbeddedTemplate = { where, object: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: `${name}-${String(j['name'])}` }, spec: obj(obj(j['template'])['spec']) } };
        return [job, asPod(`${where}.template`, obj(obj(j['template'])['spec'])['template'])];
      });
    case 'MPIJob':
      return Object.entries(obj(spec['mpiReplicaSpecs'])).map(([role, r]) => asPod(role, obj(r)['template']));
    case 'PyTorchJob':
      return Object.entries(obj(spec['pytorchReplicaSpecs'])).map(([role, r]) => asPod(role, obj(r)['template']));
    case 'LeaderWorkerSet': {
      const lwt = obj(spec['leaderWorkerTemplate']);
      return (['leaderTemplate', 'workerTemplate'] as const).filter((k) => k in lwt).map((k) => asPod(k, lwt[k]));
    }
    default:
      return [];
  }
}
