/**
 * What the e2e scenarios do on the node, as a user would: devices made on the node
 * (macvlans over a veth, in the node's network namespace), ResourceClaims,
 * templates, Pods and Deployments created in the API server, and the container's
 * view read from inside it (`crictl exec … ip -j …`), with the node's `ip`/`ethtool`
 * as oracles for the host side.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KubeClient } from '../../conformance/kube-client.ts';
import { TOOLS_IMAGE, until, type E2eNodeState } from './e2e-node.ts';
import { nodeProcesses } from './node-sandbox.ts';

export type Obj = Record<string, unknown>;

export function apiOf(node: E2eNodeState): KubeClient {
  return new KubeClient({ server: node.server, token: node.token, caPem: node.caPem });
}

/** `ip …` (or another tool) in the node's network namespace; throws on failure. */
export function onNode(node: E2eNodeState, cmd: string, args: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', node.netns, cmd, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} on the node: ${r.stderr}`);
  return r.stdout;
}

export function ipJson<T = unknown>(node: E2eNodeState, args: string[]): T {
  return JSON.parse(onNode(node, 'ip', ['-j', ...args]) || '[]') as T;
}

export interface LinkInfo { ifname: string; mtu: number; address: string; operstate: string; ifalias?: string; addr_info?: Array<{ local: string; prefixlen: number; scope: string; family: string }> }

export function linkOnNode(node: E2eNodeState, name: string): LinkInfo | undefined {
  const r = spawnSync('ip', ['-n', node.netns, '-j', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as LinkInfo[])[0];
}

/**
 * A veth pair on the node as the lower device of macvlans (netclaim leaves veths out,
 * publishes macvlans: both are what a node would have). Returns a remover.
 */
export function addLower(node: E2eNodeState, name: string): () => void {
  onNode(node, 'ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
  onNode(node, 'ip', ['link', 'set', name, 'up']);
  onNode(node, 'ip', ['link', 'set', `${name}p`, 'up']);
  return () => void spawnSync('ip', ['-n', node.netns, 'link', 'del', name]);
}

export interface DeviceSpec { name: string; lower: string; addresses?: string[]; mtu?: number; alias?: string; up?: boolean }

export function addMacvlan(node: E2eNodeState, d: DeviceSpec): void {
  onNode(node, 'ip', ['link', 'add', 'link', d.lower, 'name', d.name, ...(d.mtu ? ['mtu', String(d.mtu)] : []), 'type', 'macvlan', 'mode', 'bridge']);
  if (d.alias) onNode(node, 'ip', ['link', 'set', d.name, 'alias', d.alias]);
  for (const a of d.addresses ?? []) onNode(node, 'ip', ['addr', 'add', a, 'dev', d.name]);
  if (d.up !== false) onNode(node, 'ip', ['link', 'set', d.name, 'up']);
}

/** Deletes a test device wherever it is now: on the node, or (if a pod still holds it) nowhere to reach. */
export function deleteDevice(node: E2eNodeState, name: string): void {
  spawnSync('ip', ['-n', node.netns, 'link', 'del', name]);
}

/** The device as netclaim published it in this node's slices, once it is there. */
/** The device of `ifName` as published, once it is (and, with `ready`, once what is published satisfies it: the slice follows the kernel). */
export async function publishedDevice(
  node: E2eNodeState, ifName: string, timeoutMs = 30_000, ready?: (d: { attributes: Record<string, Record<string, unknown>> }) => boolean,
): Promise<{ name: string; attributes: Record<string, Record<string, unknown>> }> {
  const api = apiOf(node);
  return until(`${ifName} published in a ResourceSlice${ready ? ' as expected' : ''}`, timeoutMs, async () => {
    const r = await api.get<{ items: Array<{ spec: { nodeName?: string; driver: string; devices?: Array<{ name: string; attributes: Record<string, Record<string, unknown>> }> } }> }>(
      `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=${node.nodeName}`);
    for (const s of r.body.items ?? []) {
      if (s.spec.driver !== node.driverName) continue;
      const d = s.spec.devices?.find((x) => x.attributes['netclaim.dev/ifName']?.['string'] === ifName);
      if (d && (ready === undefined || ready(d))) return d;
    }
    return undefined;
  });
}

export async function ensureNamespace(api: KubeClient, ns: string): Promise<void> {
  const r = await api.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${ns}: ${r.status} ${r.text}`);
  // Pods need the namespace's default ServiceAccount (the controller-manager makes it).
  await until(`serviceaccount ${ns}/default`, 60_000, async () => (await api.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200 || undefined);
}

export async function create(api: KubeClient, path: string, obj: Obj): Promise<Obj> {
  const r = await api.post<Obj>(path, obj);
  if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.text}`);
  return r.body;
}

/** A device request by CEL over netclaim's attributes (of the chart's DeviceClass `netclaim`, unless told). */
export function request(name: string, cel: string, count = 1, deviceClassName = 'netclaim'): Obj {
  return { name, exactly: { deviceClassName, selectors: [{ cel: { expression: cel } }], allocationMode: 'ExactCount', count } };
}

/** Optional chaining: a device whose netdev is elsewhere (here: the machine's own NIC, whose PCI function the node sees) has no ifName. */
export const byIfName = (ifName: string): string => `device.attributes["netclaim.dev"].?ifName.orValue("") == "${ifName}"`;

export function claimSpec(requests: Obj[], config?: Obj, constraints?: Obj[]): Obj {
  return {
    devices: {
      requests,
      ...(constraints ? { constraints } : {}),
      ...(config ? { config: [{ opaque: { driver: 'netclaim.dev', parameters: config } }] } : {}),
    },
  };
}

export function claimObject(ns: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: ns }, spec };
}

export interface PodClaimRef { name: string; resourceClaimName?: string; resourceClaimTemplateName?: string }

/** A pod of the tools image that sleeps; its container lists every claim. */
export function podSpec(claims: PodClaimRef[]): Obj {
  return {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 1,
    enableServiceLinks: false,
    resourceClaims: claims,
    containers: [{ name: 'c', image: TOOLS_IMAGE, imagePullPolicy: 'Never', command: ['sleep', 'infinity'], resources: { claims: claims.map((c) => ({ name: c.name })) } }],
  };
}

export function podObject(ns: string, name: string, claims: PodClaimRef[]): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: podSpec(claims) };
}

export interface PodStatus {
  metadata: { name: string; uid: string; namespace: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }>;
    containerStatuses?: Array<{ containerID?: string; ready: boolean; state?: Record<string, unknown> }>;
    resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }>;
  };
}

export async function getPod(api: KubeClient, ns: string, name: string): Promise<PodStatus | undefined> {
  const r = await api.get<PodStatus>(`/api/v1/namespaces/${ns}/pods/${name}`);
  return r.status === 200 ? r.body : undefined;
}

export const isReady = (p: PodStatus | undefined): boolean => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export async function waitPodReady(node: E2eNodeState, ns: string, name: string, timeoutMs = 120_000): Promise<PodStatus> {
  const api = apiOf(node);
  try {
    return await until(`pod ${ns}/${name} Ready`, timeoutMs, async () => {
      const p = await getPod(api, ns, name);
      return isReady(p) ? p : undefined;
    });
  } catch (e) {
    // Say why: the pod's status and the namespace's events (scheduler, kubelet, netclaim).
    const p = await getPod(api, ns, name);
    const ev = (await events(api, ns)).map((x) => `${x.involvedObject.kind}/${x.involvedObject.name} ${x.reason}: ${x.message}`);
    throw new Error(`${(e as Error).message}\nstatus: ${JSON.stringify(p?.status)}\nevents:\n${ev.join('\n')}`, { cause: e });
  }
}

export interface KEvent { reason: string; message: string; type: string; involvedObject: { kind: string; name: string }; count?: number }

export async function events(api: KubeClient, ns: string, kind?: string, name?: string): Promise<KEvent[]> {
  const r = await api.get<{ items: KEvent[] }>(`/api/v1/namespaces/${ns}/events`);
  return (r.body.items ?? []).filter((e) => (!kind || e.involvedObject.kind === kind) && (!name || e.involvedObject.name === name));
}

export async function deleteAndWait(api: KubeClient, path: string, timeoutMs = 120_000): Promise<void> {
  const r = await api.delete(path);
  if (r.status === 404) return;
  if (r.status !== 200 && r.status !== 202) throw new Error(`DELETE ${path}: ${r.status} ${r.text}`);
  await until(`${path} gone`, timeoutMs, async () => (await api.get(path)).status === 404 || undefined);
}

/** The pod's (first) container id on the node. */
export function containerId(p: PodStatus): string {
  const id = p.status?.containerStatuses?.[0]?.containerID;
  if (!id) throw new Error(`pod ${p.metadata.name} has no container id`);
  return id.replace(/^containerd:\/\//, '');
}

/** Runs a command inside the pod's container (CRI ExecSync through crictl). */
export function inContainer(node: E2eNodeState, p: PodStatus, cmd: string[]): string {
  const r = nodeProcesses(node).exec(join(node.bins.runtime, 'crictl'), ['--runtime-endpoint', 'unix:///run/containerd/containerd.sock', 'exec', containerId(p), ...cmd]);
  if (r.status !== 0) throw new Error(`crictl exec ${cmd.join(' ')} in ${p.metadata.name}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function containerLinks(node: E2eNodeState, p: PodStatus): LinkInfo[] {
  return JSON.parse(inContainer(node, p, ['ip', '-j', 'addr'])) as LinkInfo[];
}

export interface RouteInfo { dst: string; gateway?: string; dev: string; table?: string }
export function containerRoutes(node: E2eNodeState, p: PodStatus, args: string[] = []): RouteInfo[] {
  return JSON.parse(inContainer(node, p, ['ip', '-j', 'route', 'show', ...args])) as RouteInfo[];
}

export async function claimStatus(api: KubeClient, ns: string, name: string): Promise<Obj & { status?: { allocation?: Obj; devices?: Array<Obj & { conditions?: Array<{ type: string; status: string }>; networkData?: { interfaceName?: string; ips?: string[]; hardwareAddress?: string } }>; reservedFor?: Obj[] } }> {
  const r = await api.get<Obj>(`/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/${name}`);
  if (r.status !== 200) throw new Error(`claim ${ns}/${name}: ${r.status} ${r.text}`);
  return r.body;
}
