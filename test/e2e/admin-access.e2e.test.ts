/**
 * Admin access (KEP-5018, DRAAdminAccess: beta and on by default in the 1.37 control
 * plane, and listed in the gates the node sets, test/conformance/control-plane.ts): an
 * owner pod holds a macvlan as net1; an admin pod in a namespace labelled
 * `resource.kubernetes.io/admin-access: "true"` claims the same device with
 * `adminAccess: true`. The scheduler allocates it although it is in use, the kubelet
 * prepares it, and netclaim gives the admin pod the device's description (env through
 * CDI) without moving or changing it: the owner's net1 stays as it was, both pods run,
 * and deleting the admin pod leaves net1 alone. Deleting the owner gives the device
 * back to the node restored.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice,
  ensureNamespace, inContainer, linkOnNode, podObject, publishedDevice, request, waitPodReady, type LinkInfo,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ownerNs = 'e2e-admin-owner';
const adminNs = 'e2e-admin-diag';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

/** What must not change on the owner's NIC: name, MTU, MAC, addresses, state. */
const nicView = (l: LinkInfo | undefined): unknown => l && ({
  ifname: l.ifname, mtu: l.mtu, address: l.address, operstate: l.operstate,
  addrs: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort(),
});

beforeAll(async () => {
  daemon = await startNetclaim(node);
  await ensureNamespace(api, ownerNs);
  // Only a namespace with this label may hold adminAccess requests (the API server refuses them elsewhere).
  const r = await api.post('/api/v1/namespaces', {
    apiVersion: 'v1', kind: 'Namespace', metadata: { name: adminNs, labels: { 'resource.kubernetes.io/admin-access': 'true' } },
  });
  if (r.status !== 201 && r.status !== 409) throw new Error(`namespace ${adminNs}: ${r.status} ${r.text}`);
  await ensureNamespace(api, adminNs);
  cleanups.push(addLower(node, 'ncadlow'));
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${adminNs}`).catch(() => undefined);
  await deleteAndWait(api, `/api/v1/namespaces/${ownerNs}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
});

describe('admin access', () => {
  it('an admin pod claims a device another pod holds: the owner\'s NIC stays untouched, both pods run, deleting the admin pod changes nothing', async () => {
    addMacvlan(node, { name: 'ncada', lower: 'ncadlow', addresses: ['192.168.79.5/24'], mtu: 1450 });
    cleanups.push(() => deleteDevice(node, 'ncada'));
    const onNodeBefore = nicView(linkOnNode(node, 'ncada'));
    await publishedDevice(node, 'ncada');

    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ownerNs}/resourceclaims`, claimObject(ownerNs, 'nic', claimSpec([request('nic', byIfName('ncada'))], {
      interface: { name: 'net1', addresses: ['10.79.0.10/24'], mtu: 1400 },
    })));
    await create(api, `/api/v1/namespaces/${ownerNs}/pods`, podObject(ownerNs, 'owner', [{ name: 'nic', resourceClaimName: 'nic' }]));
    const owner = await waitPodReady(node, ownerNs, 'owner');
    const net1 = () => nicView(containerLinks(node, owner).find((l) => l.ifname === 'net1'));
    const held = net1();
    expect(held).toMatchObject({ ifname: 'net1', mtu: 1400, addrs: ['10.79.0.10/24'] });

    const adminReq = request('nic', byIfName('ncada'));
    (adminReq['exactly'] as Record<string, unknown>)['adminAccess'] = true;
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${adminNs}/resourceclaims`, claimObject(adminNs, 'diag', claimSpec([adminReq])));
    await create(api, `/api/v1/namespaces/${adminNs}/pods`, podObject(adminNs, 'diag', [{ name: 'nic', resourceClaimName: 'diag' }]));
    const admin = await waitPodReady(node, adminNs, 'diag');

    // The admin pod got the device's description, not the device.
    const env = inContainer(node, admin, ['env']);
    expect(env).toContain('NETCLAIM_ADMIN_0_IFNAME=ncada');
    expect(env).toContain(`NETCLAIM_ADMIN_0_OWNER_NAMESPACE=${ownerNs}`);
    expect(containerLinks(node, admin).map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    expect(net1()).toEqual(held);
    expect(linkOnNode(node, 'ncada')).toBeUndefined();

    await deleteAndWait(api, `/api/v1/namespaces/${adminNs}/pods/diag`);
    expect(net1()).toEqual(held);
    expect(linkOnNode(node, 'ncada')).toBeUndefined();

    await deleteAndWait(api, `/api/v1/namespaces/${ownerNs}/pods/owner`);
    const back = await until('ncada back on the node', 30_000, () => linkOnNode(node, 'ncada'));
    expect(nicView(back)).toEqual(onNodeBefore);
  });
});
