/**
 * netclaim deployed on the e2e node the way a user deploys it: the Helm chart
 * deploy/helm/netclaim rendered by `helm template` into install.yaml's form
 * (scripts/gen-install-manifest.ts: with default values the text *is*
 * deploy/install.yaml), with the e2e tier's value (`includeKinds: [macvlan]`)
 * and whatever a test file asks for on top, applied to the API server as
 * `kubectl apply` would (create, else replace). The image is the chart's default
 * name, imported into the node's containerd (images/build-netclaim-image.sh).
 *
 * A changed DaemonSet template is a rolling update driven by the
 * DaemonSet controller and the kubelet; waitRollout() waits until the node
 * runs exactly one pod of the new template and it is Ready (its probes pass).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { helmTemplate, renderInstallManifest } from '../../../scripts/gen-install-manifest.ts';
import type { KubeClient } from '../../conformance/kube-client.ts';

export type Obj = Record<string, unknown>;
export type ChartValues = Record<string, unknown>;

/** The value every e2e deployment has: the node's devices are macvlans, published only when opted in. */
export const E2E_VALUES: ChartValues = { includeKinds: ['macvlan'] };
export const NAMESPACE = 'netclaim';
export const DAEMONSET = 'netclaim';
/** The DaemonSet's selector labels (templates/_helpers.tpl). */
export const POD_SELECTOR = 'app.kubernetes.io/name=netclaim,app.kubernetes.io/instance=netclaim';

/** The chart's objects with E2E_VALUES and `values` (deep-merged by Helm, later wins), install.yaml's form. */
export function renderChart(helm: string, values: ChartValues = {}): Obj[] {
  const dir = mkdtempSync(join(tmpdir(), 'nc-e2e-values-'));
  try {
    const files = [E2E_VALUES, values].map((v, i) => {
      const f = join(dir, `values-${i}.yaml`);
      // JSON, a subset of YAML: strings stay strings (YAML 1.1 would read `on` as a boolean).
      writeFileSync(f, JSON.stringify(v));
      return f;
    });
    const text = renderInstallManifest(helmTemplate(helm, files.flatMap((f) => ['-f', f])));
    return parseAllDocuments(text).map((d) => d.toJSON() as Obj).filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function daemonSetOf(objects: Obj[]): Obj {
  const ds = objects.find((o) => o['kind'] === 'DaemonSet');
  if (!ds) throw new Error('the chart rendered no DaemonSet');
  return ds;
}

/** The API path of an object's collection: install.yaml's kinds (deviceclasses, validatingadmissionpolicies, …). */
export function collectionPath(o: Obj): string {
  const meta = o['metadata'] as { namespace?: string };
  const [group, version] = String(o['apiVersion']).includes('/') ? String(o['apiVersion']).split('/') : ['', String(o['apiVersion'])];
  const kind = String(o['kind']).toLowerCase();
  const plural = (kind.endsWith('s') ? `${kind}es` : `${kind}s`).replace(/ys$/, 'ies');
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return meta.namespace ? `${base}/namespaces/${meta.namespace}/${plural}` : `${base}/${plural}`;
}

/** Create, or replace what is there (the DaemonSet: a rolling update when its template changed). */
export async function applyObject(api: KubeClient, o: Obj): Promise<void> {
  const meta = o['metadata'] as { name: string };
  const path = collectionPath(o);
  const r = await api.post(path, o);
  if (r.status === 201) return;
  if (r.status !== 409) throw new Error(`create ${String(o['kind'])} ${meta.name}: ${r.status} ${r.text}`);
  for (let attempt = 0; ; attempt++) {
    const cur = await api.get<{ metadata: { resourceVersion: string } }>(`${path}/${meta.name}`);
    if (cur.status !== 200) throw new Error(`get ${String(o['kind'])} ${meta.name}: ${cur.status} ${cur.text}`);
    const next = { ...o, metadata: { ...(o['metadata'] as Obj), resourceVersion: cur.body.metadata.resourceVersion } };
    const u = await api.put(`${path}/${meta.name}`, next);
    if (u.status === 200) return;
    if (u.status !== 409 || attempt >= 5) throw new Error(`replace ${String(o['kind'])} ${meta.name}: ${u.status} ${u.text}`);
  }
}

export interface DaemonSetPod {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }>;
    containerStatuses?: Array<{
      containerID?: string; ready: boolean; restartCount: number; started?: boolean;
      state?: { running?: { startedAt: string }; terminated?: { exitCode: number; reason?: string; signal?: number }; waiting?: { reason?: string } };
      lastState?: { terminated?: { exitCode: number; reason?: string; signal?: number } };
    }>;
  };
}

export async function daemonSetPods(api: KubeClient): Promise<DaemonSetPod[]> {
  const r = await api.get<{ items: DaemonSetPod[] }>(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(POD_SELECTOR)}`);
  if (r.status !== 200) throw new Error(`list netclaim pods: ${r.status} ${r.text}`);
  return r.body.items;
}

export const podReady = (p: DaemonSetPod | undefined): boolean => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

interface DsStatus {
  metadata: { generation: number };
  status?: { observedGeneration?: number; desiredNumberScheduled?: number; updatedNumberScheduled?: number; numberAvailable?: number; numberReady?: number };
}

/**
 * The rollout is complete (`kubectl rollout status`): the controller saw the latest
 * template, the one node runs it, Ready, and no other pod of the DaemonSet is left
 * (not even a terminating one). Returns that pod.
 */
export async function rolloutDone(api: KubeClient): Promise<DaemonSetPod | undefined> {
  const ds = await api.get<DsStatus>(`/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${DAEMONSET}`);
  if (ds.status !== 200) return undefined;
  const s = ds.body.status ?? {};
  if ((s.observedGeneration ?? 0) < ds.body.metadata.generation) return undefined;
  if (s.desiredNumberScheduled !== 1 || s.updatedNumberScheduled !== 1 || s.numberAvailable !== 1) return undefined;
  const pods = await daemonSetPods(api);
  return pods.length === 1 && !pods[0]!.metadata.deletionTimestamp && podReady(pods[0]) ? pods[0] : undefined;
}

/** Applies every object of the rendering; the DaemonSet last, so its RBAC is in place when its pod starts. */
export async function applyChart(api: KubeClient, objects: Obj[]): Promise<void> {
  for (const o of objects.filter((x) => x['kind'] !== 'DaemonSet')) await applyObject(api, o);
  await applyObject(api, daemonSetOf(objects));
}
