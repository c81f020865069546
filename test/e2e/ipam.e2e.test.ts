/**
 * Address pools on the real node (docs/ipam.md): an IPPool of three addresses, a
 * DeviceClass whose config names it, and a Deployment of 3 replicas from one
 * ResourceClaimTemplate. Each replica's claim gets its own address from the pool,
 * shown in the claim's status.devices networkData and set on net1 inside its
 * container; each is an IPAllocation object in the API. A fourth replica (a fourth
 * device is free, so it is scheduled) fails Prepare with PREPARE_POOL_EXHAUSTED
 * naming the pool and its size, surfaced by the kubelet as the pod's events, and
 * does not run. Deleting the Deployment releases every address.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace, events,
  podSpec, publishedDevice, request, waitPodReady, type PodStatus,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-ipam';
const CLASS = 'netclaim-e2e-ipam';
const POOL = 'e2e-ipam';
const DEVICES = ['ncipm0', 'ncipm1', 'ncipm2', 'ncipm3'];
const ALLOCATIONS = `/apis/netclaim.dev/v1alpha1/ipallocations?labelSelector=${encodeURIComponent(`netclaim.dev/pool=${POOL}`)}`;
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

interface Allocation { spec: { address: string; claim: { name: string; namespace: string } } }
interface Claim { metadata: { name: string }; status?: { devices?: Array<{ networkData?: { interfaceName?: string; ips?: string[] } }> } }

beforeAll(async () => {
  daemon = await startNetclaim(node);
  await ensureNamespace(api, ns);
  cleanups.push(addLower(node, 'ncipmlow'));
  for (const d of DEVICES) {
    addMacvlan(node, { name: d, lower: 'ncipmlow' });
    cleanups.push(() => deleteDevice(node, d));
  }
  // 10.86.0.0/29: .1 is the gateway, .5-.6 excluded, .7 the broadcast: .2, .3 and .4 to hand out.
  await create(api, '/apis/netclaim.dev/v1alpha1/ippools', {
    apiVersion: 'netclaim.dev/v1alpha1', kind: 'IPPool', metadata: { name: POOL },
    spec: { subnet: '10.86.0.0/29', gateway: '10.86.0.1', exclude: ['10.86.0.5-10.86.0.6'], routes: [{ destination: '10.87.0.0/16' }] },
  });
  cleanups.push(() => api.delete(`/apis/netclaim.dev/v1alpha1/ippools/${POOL}`));
  const r = await api.post('/apis/resource.k8s.io/v1/deviceclasses', {
    apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: CLASS },
    spec: {
      selectors: [{ cel: { expression: 'device.driver == "netclaim.dev" && device.attributes["netclaim.dev"].?ifName.orValue("").startsWith("ncipm") && device.attributes["netclaim.dev"].?ifName.orValue("") != "ncipmlow"' } }],
      config: [{ opaque: { driver: 'netclaim.dev', parameters: { interface: { name: 'net1', addressPools: [POOL] } } } }],
    },
  });
  if (r.status !== 201 && r.status !== 409) throw new Error(`deviceclass: ${r.status} ${r.text}`);
  cleanups.push(() => api.delete(`/apis/resource.k8s.io/v1/deviceclasses/${CLASS}`));
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
});

const livePods = async (): Promise<PodStatus[]> =>
  (await api.get<{ items: PodStatus[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=app=web`)).body.items
    .filter((x) => !(x as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp);

describe('address pools', () => {
  it('3 replicas get 3 distinct pool addresses (claim status and container); a 4th is refused naming the pool; deleting frees them', async () => {
    for (const d of DEVICES) await publishedDevice(node, d);
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaimtemplates`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic', namespace: ns },
      spec: { spec: claimSpec([request('nic', 'true', 1, CLASS)]) },
    });
    await create(api, `/apis/apps/v1/namespaces/${ns}/deployments`, {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
      spec: {
        replicas: 3, selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: podSpec([{ name: 'nic', resourceClaimTemplateName: 'nic' }]) },
      },
    });
    const names = await until('3 deployment pods', 120_000, async () => {
      const p = await livePods();
      return p.length === 3 ? p.map((x) => x.metadata.name) : undefined;
    });
    const pods = await Promise.all(names.map((n) => waitPodReady(node, ns, n, 180_000)));

    // Each claim's status names its address; each container has it on net1; all distinct, all from the pool.
    const claims = await until('3 claims with networkData', 60_000, async () => {
      const c = (await api.get<{ items: Claim[] }>(`/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`)).body.items;
      return c.length === 3 && c.every((x) => x.status?.devices?.[0]?.networkData?.ips?.length) ? c : undefined;
    });
    const fromStatus = claims.map((c) => c.status!.devices![0]!.networkData!.ips!.find((a) => a.startsWith('10.86.0.'))!).sort();
    expect(new Set(fromStatus).size).toBe(3);
    expect(fromStatus).toEqual(['10.86.0.2/29', '10.86.0.3/29', '10.86.0.4/29']);
    const inContainers = pods.map((p) => {
      const net1 = containerLinks(node, p).find((l) => l.ifname === 'net1');
      return (net1?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
    });
    expect(inContainers.flat().sort()).toEqual(fromStatus);
    const allocations = (await api.get<{ items: Allocation[] }>(ALLOCATIONS)).body.items;
    expect(allocations.map((a) => `${a.spec.address}/29`).sort()).toEqual(fromStatus);
    expect(allocations.map((a) => a.spec.claim.name).sort()).toEqual(claims.map((c) => c.metadata.name).sort());

    // A fourth replica: scheduled (a fourth device is free), refused at Prepare: the pool is exhausted.
    const scaled = await api.patch(`/apis/apps/v1/namespaces/${ns}/deployments/web`, { spec: { replicas: 4 } });
    expect(scaled.status).toBe(200);
    const fourth = await until('the 4th pod', 60_000, async () => (await livePods()).find((p) => !names.includes(p.metadata.name)));
    const refused = await until('the 4th pod\'s prepare failure event', 120_000, async () =>
      (await events(api, ns, 'Pod', fourth.metadata.name)).find((e) => e.message.includes(`IPPool ${POOL}`)));
    console.log(`e2e ipam: 4th pod event: ${refused.reason}: ${refused.message}`);
    expect(refused.type).toBe('Warning');
    expect(refused.message).toContain('PREPARE_POOL_EXHAUSTED');
    expect(refused.message).toContain(`IPPool ${POOL} (10.86.0.0/29) is exhausted: all 3 addresses are allocated`);
    const p4 = (await livePods()).find((p) => p.metadata.name === fourth.metadata.name);
    expect(p4?.status?.phase).toBe('Pending');
    expect(p4?.status?.conditions?.find((c) => c.type === 'Ready')?.status).not.toBe('True');
    expect((await api.get<{ items: Allocation[] }>(ALLOCATIONS)).body.items).toHaveLength(3);

    // Deleting the Deployment releases every address.
    await deleteAndWait(api, `/apis/apps/v1/namespaces/${ns}/deployments/web`);
    await until('the deployment pods gone', 120_000, async () => (await livePods()).length === 0 || undefined);
    await until('every address released', 60_000, async () => (await api.get<{ items: Allocation[] }>(ALLOCATIONS)).body.items.length === 0 || undefined);
  });
});
