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
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace,
  inContainer, linkOnNode, onNode, podObject, podSpec, publishedDevice, request, waitPodReady, type Obj,
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
