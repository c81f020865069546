/**
 * Scenario 5: an invalid config keeps the pod pending with an Event that names the
 * field, and changes nothing on the node.
 * Scenario 8: two requests with a matchAttribute constraint over an attribute netclaim
 * publishes are allocated only to a matching pair (what GPU–NIC alignment on
 * resource.kubernetes.io/pcieRoot relies on; these devices have no PCI function, so the
 * attribute here is netclaim.dev/alias, set on the node).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, claimStatus, containerLinks, create, deleteAndWait, deleteDevice,
  ensureNamespace, events, getPod, ipJson, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');

/** `ip -j -d addr` of a device without the IPv6 DAD flag, which clears on its own a second after an address is added. */
const linkState = (name: string): unknown => JSON.parse(JSON.stringify(ipJson(node, ['-d', 'addr', 'show', 'dev', name])), (k, v: unknown) => (k === 'tentative' ? undefined : v));
const api = apiOf(node);
const ns = 'e2e-alloc';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  daemon = await startNetclaim(node);
  await ensureNamespace(api, ns);
  cleanups.push(addLower(node, 'nca5low'));
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
});

describe('scenario 5: an invalid config', () => {
  it('the pod stays pending, an Event names the field, the device stays on the node unchanged', async () => {
    addMacvlan(node, { name: 'nca5a', lower: 'nca5low', addresses: ['192.168.75.5/24'] });
    cleanups.push(() => deleteDevice(node, 'nca5a'));
    await publishedDevice(node, 'nca5a');
    const before = linkState('nca5a');

    // The API server takes any opaque parameters; netclaim is the one that reads them.
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'bad', claimSpec([request('nic', byIfName('nca5a'))], {
      interface: { name: 'net1', mtuu: 9000 },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p5', [{ name: 'nic', resourceClaimName: 'bad' }]));

    const ev = await until('an Event naming interface.mtuu', 60_000, async () => {
      const all = await events(api, ns);
      return all.find((e) => e.type === 'Warning' && e.message.includes('interface.mtuu'));
    });
    expect(ev.message).toMatch(/unknown field/);
    // Both sides say it: the kubelet on the pod, netclaim on the claim.
    const all = await events(api, ns);
    expect(all.some((e) => e.involvedObject.kind === 'Pod' && e.involvedObject.name === 'p5' && e.message.includes('interface.mtuu'))).toBe(true);
    expect(all.some((e) => e.involvedObject.kind === 'ResourceClaim' && e.involvedObject.name === 'bad' && e.message.includes('interface.mtuu'))).toBe(true);

    const pod = await getPod(api, ns, 'p5');
    expect(pod?.status?.phase).toBe('Pending');
    expect(pod?.status?.containerStatuses?.[0]?.state).not.toHaveProperty('running');
    expect(linkState('nca5a')).toEqual(before);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p5`);
    expect(linkState('nca5a')).toEqual(before);
  });
});

describe('scenario 8: matchAttribute over a published attribute', () => {
  it('two requests are given only a pair of devices with the same value; no pair, no allocation', async () => {
    // Request "left" may take ncm8l0 (rail0) or ncm8l1 (rail1); "right" ncm8r1 (rail1) or ncm8r2 (rail2).
    // Only ncm8l1 + ncm8r1 agree; first-fit without the constraint would take ncm8l0.
    const devs = [['ncm8l0', 'rail0'], ['ncm8l1', 'rail1'], ['ncm8r1', 'rail1'], ['ncm8r2', 'rail2']] as const;
    for (const [name, alias] of devs) {
      addMacvlan(node, { name, lower: 'nca5low', alias });
      cleanups.push(() => deleteDevice(node, name));
      await publishedDevice(node, name);
    }
    const prefix = (p: string): string => `device.attributes["netclaim.dev"].ifName.startsWith("${p}")`;
    const spec = (left: string, right: string): Record<string, unknown> => claimSpec(
      [request('left', prefix(left)), request('right', prefix(right))], undefined,
      [{ requests: ['left', 'right'], matchAttribute: 'netclaim.dev/alias' }]);

    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'pair', spec('ncm8l', 'ncm8r')));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p8', [{ name: 'pair', resourceClaimName: 'pair' }]));
    const pod = await waitPodReady(node, ns, 'p8');
    const claim = await claimStatus(api, ns, 'pair');
    const results = (claim.status!.allocation as { devices: { results: Array<{ request: string; device: string }> } }).devices.results;
    const byRequest = Object.fromEntries(results.map((r) => [r.request, r.device]));
    expect(containerLinks(node, pod).map((l) => l.ifname).filter((n) => n.startsWith('ncm8')).sort()).toEqual(['ncm8l1', 'ncm8r1']);
    expect(Object.keys(byRequest).sort()).toEqual(['left', 'right']);

    // No agreeing pair: the scheduler does not place the pod.
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'nopair', spec('ncm8l0', 'ncm8r2')));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p8b', [{ name: 'pair', resourceClaimName: 'nopair' }]));
    const unsched = await until('p8b unschedulable', 60_000, async () => {
      const p = await getPod(api, ns, 'p8b');
      return p?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(unsched).toBeDefined();
    expect((await claimStatus(api, ns, 'nopair')).status?.allocation).toBeUndefined();
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p8b`);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p8`);
  });
});
