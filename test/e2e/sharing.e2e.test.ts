/**
 * One NIC shared by pods (docs/sharing.md), on the real node: a veth on the node is marked
 * shareable by name (chart value sharing.names) with room for 2 sub-interfaces, so it is
 * published once with allowMultipleAllocations and the netclaim.dev/subInterfaces capacity.
 * Two pods' claims on it (a DeviceClass selecting by that capacity, its config a macvlan in
 * bridge mode) each get their own macvlan as net1 with their own address, and reach each
 * other through the parent; a third pod stays Pending with the scheduler's reason (capacity,
 * from consumable capacity, DRAConsumableCapacity); deleting the pods leaves no sub-interface
 * on the node and the parent as it was. The veth can move, so it is also published whole
 * (`<device>-whole`), both consuming one counter (KEP-4815): a claim for the whole parent
 * while the shares are allocated stays unallocated, and gets the parent itself (moved into its
 * pod, then given back) once the shares' claims are gone.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, apiOf, claimObject, claimSpec, claimStatus, containerLinks, create, deleteAndWait, ensureNamespace, getPod, inContainer,
  ipJson, linkOnNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-sharing';
const CLASS = 'netclaim-e2e-shared';
const PARENT = 'ncshpar';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

const subInterfacesOnNode = (): string[] => ipJson<{ ifname: string }[]>(node, ['link', 'show']).map((l) => l.ifname).filter((n) => n.startsWith('ncsub'));

beforeAll(async () => {
  cleanups.push(addLower(node, PARENT));
  daemon = await startNetclaim(node, { values: { sharing: { names: [PARENT], maxSubInterfaces: 2 } } });
  await ensureNamespace(api, ns);
  const r = await api.post('/apis/resource.k8s.io/v1/deviceclasses', {
    apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: CLASS },
    spec: {
      selectors: [{ cel: { expression: 'device.driver == "netclaim.dev" && "netclaim.dev" in device.capacity && "subInterfaces" in device.capacity["netclaim.dev"]' } }],
      config: [{ opaque: { driver: 'netclaim.dev', parameters: { subInterface: { type: 'macvlan', mode: 'bridge' } } } }],
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

describe('sharing one NIC', () => {
  it('two pods get their own macvlan of one parent and reach each other; a third stays Pending; nothing is left behind', async () => {
    const parentBefore = linkOnNode(node, PARENT);
    await publishedDevice(node, PARENT);
    const claim = (name: string, addr: string): Promise<unknown> => create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, name, claimSpec(
      [{ ...request('nic', `device.attributes["netclaim.dev"].?ifName.orValue("") == "${PARENT}"`, 1, CLASS) }],
      { interface: { name: 'net1', addresses: [addr] } },
    )));
    await claim('a', '10.85.0.11/24');
    await claim('b', '10.85.0.12/24');
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'pa', [{ name: 'nic', resourceClaimName: 'a' }]));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'pb', [{ name: 'nic', resourceClaimName: 'b' }]));
    const pa = await waitPodReady(node, ns, 'pa');
    const pb = await waitPodReady(node, ns, 'pb');
    for (const [p, addr] of [[pa, '10.85.0.11'], [pb, '10.85.0.12']] as const) {
      const net1 = containerLinks(node, p).find((l) => l.ifname === 'net1');
      expect(net1?.addr_info?.filter((a) => a.scope === 'global').map((a) => a.local)).toEqual([addr]);
    }
    expect(inContainer(node, pa, ['ping', '-c', '1', '-W', '5', '10.85.0.12'])).toMatch(/1 packets received|1 received/);
    expect(linkOnNode(node, PARENT)).toMatchObject({ ifname: PARENT, mtu: parentBefore!.mtu, address: parentBefore!.address });

    // Capacity 2 is used up: the scheduler does not place a third.
    await claim('c', '10.85.0.13/24');
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'pc', [{ name: 'nic', resourceClaimName: 'c' }]));
    const unsched = await until('pc unschedulable', 60_000, async () => {
      const p = await getPod(api, ns, 'pc');
      return p?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(unsched).toBeDefined();
    console.log(`e2e sharing: pc not scheduled: ${JSON.stringify(unsched)}`);
    expect((await getPod(api, ns, 'pc'))?.status?.phase).toBe('Pending');
    expect((await claimStatus(api, ns, 'c')).status?.allocation).toBeUndefined();
    // The allocations of a and b are shares of one device: each with its share id and one sub-interface consumed.
    const results = await Promise.all(['a', 'b'].map(async (c) => ((await claimStatus(api, ns, c)).status!.allocation as { devices: { results: Array<{ device: string; shareID?: string; consumedCapacity?: Record<string, string> }> } }).devices.results[0]!));
    expect(results[0]!.device).toBe(results[1]!.device);
    expect(results[0]!.shareID).toBeDefined();
    expect(results[0]!.shareID).not.toBe(results[1]!.shareID);
    expect(results.map((r) => r.consumedCapacity)).toEqual([{ 'netclaim.dev/subInterfaces': '1' }, { 'netclaim.dev/subInterfaces': '1' }]);

    // Whole vs shared (KEP-4815 counters): the parent's whole twin consumes the counter the shares hold, so a claim for it stays unallocated.
    const slices = await api.get<{ items: Array<{ spec: { nodeName: string; driver: string; devices?: Array<{ name: string; consumesCounters?: unknown[] }>; sharedCounters?: Array<{ name: string }> } }> }>(
      '/apis/resource.k8s.io/v1/resourceslices');
    const ours = slices.body.items.filter((x) => x.spec.driver === 'netclaim.dev');
    const twin = ours.flatMap((x) => x.spec.devices ?? []).find((d) => d.name === `${results[0]!.device}-whole`);
    expect(twin?.consumesCounters).toEqual([{ counterSet: results[0]!.device, counters: { parent: { value: '1' } } }]);
    expect(ours.flatMap((x) => x.spec.sharedCounters ?? []).map((c) => c.name)).toContain(results[0]!.device);
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'w', claimSpec(
      [request('nic', `device.attributes["netclaim.dev"].?ifName.orValue("") == "${PARENT}" && !("netclaim.dev" in device.capacity)`)],
      { interface: { name: 'whole0' } },
    )));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'pw', [{ name: 'nic', resourceClaimName: 'w' }]));
    const wUnsched = await until('pw unschedulable', 60_000, async () => {
      const p = await getPod(api, ns, 'pw');
      return p?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    console.log(`e2e sharing: pw (whole) not scheduled: ${JSON.stringify(wUnsched)}`);
    expect((await claimStatus(api, ns, 'w')).status?.allocation).toBeUndefined();

    for (const p of ['pc', 'pa', 'pb']) await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/${p}`);
    await until('sub-interfaces deleted', 60_000, () => Promise.resolve(subInterfacesOnNode().length === 0 || undefined));
    // The control: with the shares gone (claims a and b deallocated with their pods, or deleted), the whole claim gets the parent itself.
    for (const c of ['a', 'b', 'c']) await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/${c}`);
    const pw = await waitPodReady(node, ns, 'pw');
    expect((await claimStatus(api, ns, 'w')).status?.allocation).toBeDefined();
    // The parent itself (its MAC), not a sub-interface.
    expect(containerLinks(node, pw).find((l) => l.ifname === 'whole0')?.address).toBe(parentBefore!.address);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/pw`);
    await until('parent back on the node', 60_000, () => Promise.resolve(linkOnNode(node, PARENT) ?? undefined));
    expect(linkOnNode(node, PARENT)).toMatchObject({ ifname: PARENT, mtu: parentBefore!.mtu, address: parentBefore!.address });
  });
});
