/**
 * Health of a device in a running pod, as the pod's owner sees it, and a pod
 * written for a device plugin (an extended resource in `resources.limits`)
 * getting a NIC through a DeviceClass with `extendedResourceName`.
 *
 * Device metadata: the container reads the file netclaim's CDI device mounts.
 *
 * Health: a macvlan on a veth lower is given to a pod; the lower's peer is
 * set down on the node (the cable pulled, as the pod's NIC sees it), and the
 * kubelet (ResourceHealthStatus, beta and on by default in 1.37) must show the
 * device Unhealthy in the container's `status.allocatedResourcesStatus`, then
 * Healthy again once the peer is back up. The time from the change on the node
 * to the status in the API server is printed (the target: 2 s).
 *
 * NoExecute (last, since it rolls the daemon with --taint-unhealthy-noexecute):
 * the same carrier loss taints the device NoExecute in the ResourceSlice, and
 * kube-controller-manager's device taint eviction controller (DRADeviceTaints,
 * GA in 1.37) evicts the pod; netclaim's Warning Event on the claim says why.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace,
  events, inContainer, linkOnNode, onNode, podObject, podSpec, publishedDevice, request, waitPodReady, type Obj,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-health';
const cleanups: Array<() => unknown> = [];

interface ResourceHealth { resourceID: string; health?: string; message?: string }
interface HealthPod { status?: { containerStatuses?: Array<{ allocatedResourcesStatus?: Array<{ name: string; resources?: ResourceHealth[] }> }>; extendedResourceClaimStatus?: Obj } }

async function resourceHealth(name: string): Promise<ResourceHealth[]> {
  const r = await api.get<HealthPod>(`/api/v1/namespaces/${ns}/pods/${name}`);
  return (r.body.status?.containerStatuses ?? []).flatMap((c) => c.allocatedResourcesStatus ?? []).flatMap((s) => s.resources ?? []);
}

const healthOf = async (pod: string, health: string): Promise<ResourceHealth | undefined> => (await resourceHealth(pod)).find((r) => r.health === health);

beforeAll(async () => {
  await startNetclaim(node);
  await ensureNamespace(api, ns);
  cleanups.push(addLower(node, 'nch1low'));
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  await deleteAndWait(api, '/apis/resource.k8s.io/v1/deviceclasses/e2e-health-er').catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
});

describe('health of devices in pods', () => {
  it('the pod\'s allocatedResourcesStatus turns Unhealthy when its NIC loses carrier on the node side, and Healthy when it is back', async () => {
    addMacvlan(node, { name: 'nch1a', lower: 'nch1low' });
    cleanups.push(() => deleteDevice(node, 'nch1a'));
    await publishedDevice(node, 'nch1a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'nic', claimSpec([request('nic', byIfName('nch1a'))])));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimName: 'nic' }]));
    await waitPodReady(node, ns, 'p1');
    const healthy = await until('Healthy in allocatedResourcesStatus', 60_000, () => healthOf('p1', 'Healthy'), undefined, 100);
    expect(healthy.resourceID).toMatch(/^netclaim\.dev\//);

    const t0 = Date.now();
    onNode(node, 'ip', ['link', 'set', 'nch1lowp', 'down']);
    const bad = await until('Unhealthy in allocatedResourcesStatus', 60_000, () => healthOf('p1', 'Unhealthy'), undefined, 100);
    const down = Date.now() - t0;
    expect(bad.resourceID).toBe(healthy.resourceID);
    if (bad.message !== undefined) expect(bad.message).toMatch(/no carrier/);

    const t1 = Date.now();
    onNode(node, 'ip', ['link', 'set', 'nch1lowp', 'up']);
    await until('Healthy again', 60_000, () => healthOf('p1', 'Healthy'), undefined, 100);
    const up = Date.now() - t1;
    console.log(`e2e health: carrier down → Unhealthy in the pod status after ${down} ms; back up → Healthy after ${up} ms`);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
  });
});

describe('device metadata (KEP-5304)', () => {
  it('the container reads its NIC\'s metadata file (name in the pod, addresses, MAC as attached) and the env fallback', async () => {
    addMacvlan(node, { name: 'nch3a', lower: 'nch1low' });
    cleanups.push(() => deleteDevice(node, 'nch3a'));
    await publishedDevice(node, 'nch3a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'meta', claimSpec([request('nic', byIfName('nch3a'))], {
      interface: { name: 'net7', addresses: ['10.79.0.7/24'] },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p3', [{ name: 'nic', resourceClaimName: 'meta' }]));
    const pod = await waitPodReady(node, ns, 'p3');
    const path = '/var/run/kubernetes.io/dra-device-attributes/resourceclaims/meta/nic/netclaim.dev-metadata.json';
    const lines = inContainer(node, pod, ['cat', path]).trim().split('\n').map((l) => JSON.parse(l) as Obj);
    expect(lines.map((l) => l['apiVersion'])).toEqual(['metadata.resource.k8s.io/v1beta1', 'metadata.resource.k8s.io/v1alpha1']);
    const dev = (lines[0]!['requests'] as Array<{ name: string; devices: Array<{ name: string; attributes: Obj; networkData: { interfaceName: string; ips: string[]; hardwareAddress: string } }> }>)[0]!;
    expect(dev.name).toBe('nic');
    const mac = containerLinks(node, pod).find((l) => l.ifname === 'net7')?.address;
    expect(dev.devices[0]!.networkData).toEqual({ interfaceName: 'net7', ips: ['10.79.0.7/24'], hardwareAddress: mac });
    expect(dev.devices[0]!.attributes).toMatchObject({ 'netclaim.dev/ifName': { string: 'nch3a' } });
    const env = inContainer(node, pod, ['env']);
    expect(env).toContain(`NETCLAIM_NIC_METADATA=${path}`);
    expect(env).toContain('NETCLAIM_NIC_IFNAME=net7');
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p3`);
  });
});

describe('extended resources (DeviceClass extendedResourceName)', () => {
  it('a pod that asks for example.com/nic in resources.limits, with no ResourceClaim, gets a NIC', async () => {
    addMacvlan(node, { name: 'nch2a', lower: 'nch1low' });
    cleanups.push(() => deleteDevice(node, 'nch2a'));
    await publishedDevice(node, 'nch2a');
    // What the chart renders for deviceClasses: [{name: e2e-health-er, expression: …, extendedResourceName: example.com/nic}].
    await create(api, '/apis/resource.k8s.io/v1/deviceclasses', {
      apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'e2e-health-er' },
      spec: { selectors: [{ cel: { expression: `device.driver == "${node.driverName}" && (${byIfName('nch2a')})` } }], extendedResourceName: 'example.com/nic' },
    });
    const spec = podSpec([]) as Obj & { containers: Array<Obj & { resources: Obj }> };
    delete spec['resourceClaims'];
    spec.containers[0]!.resources = { limits: { 'example.com/nic': '1' }, requests: { 'example.com/nic': '1' } };
    await create(api, `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2', namespace: ns }, spec });
    const pod = await waitPodReady(node, ns, 'p2');
    expect(linkOnNode(node, 'nch2a')).toBeUndefined(); // moved into the pod
    expect(containerLinks(node, pod).some((l) => l.ifname === 'nch2a')).toBe(true);
    const status = (await api.get<HealthPod>(`/api/v1/namespaces/${ns}/pods/p2`)).body.status?.extendedResourceClaimStatus;
    expect(status).toMatchObject({ resourceClaimName: expect.any(String) });
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p2`);
    await until('nch2a back on the node', 30_000, () => linkOnNode(node, 'nch2a'));
  });
});

interface TaintedDevice { name: string; attributes: Record<string, Record<string, unknown>>; taints?: Array<{ key: string; value?: string; effect: string }> }

/** The published device of `ifName` with its taints. */
async function sliceDevice(ifName: string): Promise<TaintedDevice | undefined> {
  const r = await api.get<{ items: Array<{ spec: { driver: string; devices?: TaintedDevice[] } }> }>(`/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=${node.nodeName}`);
  return r.body.items.filter((s) => s.spec.driver === node.driverName).flatMap((s) => s.spec.devices ?? []).find((d) => d.attributes['netclaim.dev/ifName']?.['string'] === ifName);
}

describe('NoExecute taint (--taint-unhealthy-noexecute, KEP-5055)', () => {
  it('a pod whose NIC loses carrier is evicted by the device taint eviction controller; the claim says why', async () => {
    await startNetclaim(node, { values: { taintUnhealthyNoExecute: true } });
    cleanups.push(addLower(node, 'nch4low'));
    addMacvlan(node, { name: 'nch4a', lower: 'nch4low' });
    cleanups.push(() => deleteDevice(node, 'nch4a'));
    await publishedDevice(node, 'nch4a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'nic-x', claimSpec([request('nic', byIfName('nch4a'))])));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p4', [{ name: 'nic', resourceClaimName: 'nic-x' }]));
    await waitPodReady(node, ns, 'p4');
    expect((await sliceDevice('nch4a'))?.taints).toBeUndefined();

    const t0 = Date.now();
    onNode(node, 'ip', ['link', 'set', 'nch4lowp', 'down']);
    const tainted = await until('NoExecute taint in the ResourceSlice', 60_000, async () => {
      const d = await sliceDevice('nch4a');
      return d?.taints?.some((t) => t.effect === 'NoExecute') ? d : undefined;
    }, undefined, 100);
    const taintMs = Date.now() - t0;
    expect(tainted.taints).toMatchObject([{ key: 'netclaim.dev/unhealthy', effect: 'NoExecute' }]);
    type EvictedPod = { metadata?: { deletionTimestamp?: string }; status?: { conditions?: Array<{ type: string; reason?: string }> } };
    const evicted = await until('p4 evicted', 120_000, async () => {
      const r = await api.get<EvictedPod>(`/api/v1/namespaces/${ns}/pods/p4`);
      return r.status === 404 ? { gone: true } : r.body.metadata?.deletionTimestamp !== undefined ? { gone: false, pod: r.body } : undefined;
    }, undefined, 200);
    const evictMs = Date.now() - t0;
    if (!evicted.gone) expect(evicted.pod?.status?.conditions?.find((c) => c.type === 'DisruptionTarget')).toBeDefined();
    const warned = await until('NetworkDeviceUnhealthy Event on the claim', 30_000, async () =>
      (await events(api, ns, 'ResourceClaim', 'nic-x')).find((e) => e.reason === 'NetworkDeviceUnhealthy'));
    expect(warned.message).toMatch(/is unhealthy: .*no carrier.*tainted netclaim\.dev\/unhealthy:NoExecute/);
    console.log(`e2e health: carrier down → NoExecute taint after ${taintMs} ms, pod evicted (deletionTimestamp set) after ${evictMs} ms`);

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p4`);
    onNode(node, 'ip', ['link', 'set', 'nch4lowp', 'up']);
    // Back on the host and healthy: untainted.
    await until('taint gone once healthy', 60_000, async () => ((await sliceDevice('nch4a'))?.taints === undefined ? true : undefined), undefined, 200);
  });
});
