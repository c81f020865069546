/**
 * Scenario 1: a pod with a ResourceClaim that selects one device by attribute. The
 * container sees the device under the configured name with its addresses, MTU and
 * routes; the claim's status carries networkData; deleting the pod gives the device
 * back to the node as it was.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, claimStatus, containerLinks, containerRoutes, create, deleteAndWait,
  deleteDevice, ensureNamespace, linkOnNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-single';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  daemon = await startNetclaim(node);
  await ensureNamespace(api, ns);
  cleanups.push(addLower(node, 'ncs1low'));
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
});

describe('scenario 1: one claim, one device, configured', () => {
  it('the container sees the device renamed, with its addresses, MTU and routes; the claim status has networkData; deleting the pod restores the node', async () => {
    addMacvlan(node, { name: 'ncs1a', lower: 'ncs1low', addresses: ['192.168.71.5/24'], mtu: 1400 });
    cleanups.push(() => deleteDevice(node, 'ncs1a'));
    const before = linkOnNode(node, 'ncs1a')!;
    await publishedDevice(node, 'ncs1a');

    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'nic', claimSpec([request('nic', byIfName('ncs1a'))], {
      interface: { name: 'net1', addresses: ['10.77.0.10/24'], mtu: 1300 },
      routes: [{ destination: '10.78.0.0/16', gateway: '10.77.0.1' }],
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimName: 'nic' }]));
    const pod = await waitPodReady(node, ns, 'p1');

    const links = containerLinks(node, pod);
    const net1 = links.find((l) => l.ifname === 'net1');
    expect(net1, JSON.stringify(links.map((l) => l.ifname))).toBeDefined();
    expect(net1!.mtu).toBe(1300);
    expect(net1!.operstate).not.toBe('DOWN');
    expect(net1!.addr_info!.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.77.0.10/24']);
    expect(containerRoutes(node, pod)).toContainEqual(expect.objectContaining({ dst: '10.78.0.0/16', gateway: '10.77.0.1', dev: 'net1' }));
    // The pod's own network (CNI) is still there next to it.
    expect(links.some((l) => l.ifname === 'eth0')).toBe(true);
    // Gone from the node while the pod has it.
    expect(linkOnNode(node, 'ncs1a')).toBeUndefined();

    const claim = await until('claim status devices', 30_000, async () => {
      const c = await claimStatus(api, ns, 'nic');
      return c.status?.devices?.length ? c : undefined;
    });
    const dev = claim.status!.devices![0]!;
    expect(dev.networkData).toMatchObject({ interfaceName: 'net1', ips: ['10.77.0.10/24'] });
    expect(dev.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
    const after = await until('ncs1a back on the node', 30_000, () => linkOnNode(node, 'ncs1a'));
    expect({ mtu: after.mtu, address: after.address, addrs: after.addr_info!.filter((a) => a.scope === 'global') })
      .toEqual({ mtu: before.mtu, address: before.address, addrs: before.addr_info!.filter((a) => a.scope === 'global') });
  });
});
