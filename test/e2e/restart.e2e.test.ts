/**
 * Scenario 6: netclaim restarted (or crashed) between scheduling and sandbox start,
 * and during pod deletion: the pod still gets its device; the device still comes back.
 * Scenario 7: a graceful shutdown removes the kubelet sockets; a rolling update (a
 * surge pod started next to the old one, then the old one stopped) keeps a plugin
 * registered with the kubelet throughout.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, claimStatus, containerLinks, create, deleteAndWait, deleteDevice,
  ensureNamespace, events, getPod, linkOnNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';
import { nodeProcesses } from './node/node-sandbox.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-restart';
const daemons = new Set<NetclaimDaemon>();
const cleanups: Array<() => unknown> = [];
const paths = nodeProcesses(node);
const registry = paths.nodePath('/var/lib/kubelet/plugins_registry');
const pluginDir = paths.nodePath('/var/lib/kubelet/plugins/netclaim.dev');
const stateDir = paths.nodePath('/var/lib/netclaim');

async function daemon(env?: NodeJS.ProcessEnv, waitReady = true): Promise<NetclaimDaemon> {
  const d = await startNetclaim(node, { ...(env ? { env } : {}), waitReady });
  daemons.add(d);
  return d;
}

const regSockets = (): string[] => (existsSync(registry) ? readdirSync(registry).filter((f) => f.startsWith('netclaim.dev')) : []);
const claimRecords = (): string[] => (existsSync(stateDir) ? readdirSync(stateDir, { recursive: true }).map(String).filter((f) => f.endsWith('.json') && !f.includes('tmp')) : []);

beforeAll(async () => {
  await ensureNamespace(api, ns);
  cleanups.push(addLower(node, 'ncr6low'));
});

afterEach(async () => {
  for (const d of daemons) await d.stop();
  daemons.clear();
});

afterAll(async () => {
  const d = await daemon();
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  await d.stop();
  for (const c of cleanups.reverse()) await c();
});

describe('scenario 6: the driver restarted at the worst moments', () => {
  it('down between scheduling and sandbox start: the pod waits, then gets its device when netclaim is back', async () => {
    const first = await daemon();
    addMacvlan(node, { name: 'ncr6a', lower: 'ncr6low', addresses: ['192.168.76.5/24'] });
    cleanups.push(() => deleteDevice(node, 'ncr6a'));
    await publishedDevice(node, 'ncr6a');
    await first.kill(); // as an OOM kill or a node hiccup would end it

    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c6a', claimSpec([request('nic', byIfName('ncr6a'))], {
      interface: { name: 'net1', addresses: ['10.76.0.2/24'] },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p6a', [{ name: 'nic', resourceClaimName: 'c6a' }]));
    // Scheduled (the slice outlives the daemon), and the kubelet cannot prepare yet.
    await until('p6a scheduled', 60_000, async () => (await getPod(api, ns, 'p6a'))?.spec.nodeName || undefined);
    const failed = await until('the kubelet reports the missing driver', 60_000, async () =>
      (await events(api, ns, 'Pod', 'p6a')).find((e) => e.type === 'Warning' && /netclaim\.dev/.test(e.message)));
    expect(failed.message).toMatch(/netclaim\.dev/);
    expect((await getPod(api, ns, 'p6a'))?.status?.phase).toBe('Pending');
    expect(linkOnNode(node, 'ncr6a')).toBeDefined();

    await daemon();
    const pod = await waitPodReady(node, ns, 'p6a');
    expect(containerLinks(node, pod).find((l) => l.ifname === 'net1')?.addr_info?.some((a) => a.local === '10.76.0.2')).toBe(true);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p6a`);
    await until('ncr6a back on the node', 30_000, () => linkOnNode(node, 'ncr6a'));
    await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/c6a`);
  });

  it('crashed during pod deletion, right after giving the device back: a restarted netclaim finishes the unprepare', async () => {
    addMacvlan(node, { name: 'ncr6b', lower: 'ncr6low', addresses: ['192.168.77.5/24'], mtu: 1400 });
    cleanups.push(() => deleteDevice(node, 'ncr6b'));
    const before = linkOnNode(node, 'ncr6b')!;
    // This daemon dies (SIGKILL, by its own hand) the first time a detach has moved a device back.
    const crashing = await daemon({ NETCLAIM_CRASH_AT: 'detach.after-device' });
    await publishedDevice(node, 'ncr6b');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c6b', claimSpec([request('nic', byIfName('ncr6b'))], {
      interface: { name: 'net1', mtu: 1300 },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p6b', [{ name: 'nic', resourceClaimName: 'c6b' }]));
    await waitPodReady(node, ns, 'p6b');
    const records = claimRecords().length;
    expect(records).toBeGreaterThan(0);

    const del = await api.delete(`/api/v1/namespaces/${ns}/pods/p6b`);
    expect([200, 202]).toContain(del.status);
    await until('the daemon crashed in the detach', 60_000, () => crashing.exited() || undefined);
    // The device was back before the crash; the kubelet's unprepare waits for a driver.
    await until('ncr6b back on the node', 30_000, () => linkOnNode(node, 'ncr6b'));
    await daemon();
    // The crashed instance's sockets are gone too: the kubelet would keep dialing them.
    expect([...regSockets(), ...readdirSync(pluginDir)].filter((f) => f.includes(crashing.podUid))).toEqual([]);
    await until('p6b gone', 120_000, async () => (await getPod(api, ns, 'p6b')) === undefined || undefined);
    await until('the claim record removed', 60_000, () => claimRecords().length === records - 1 || undefined);
    const after = linkOnNode(node, 'ncr6b')!;
    expect({ mtu: after.mtu, mac: after.address, addrs: after.addr_info!.filter((a) => a.scope === 'global') })
      .toEqual({ mtu: before.mtu, mac: before.address, addrs: before.addr_info!.filter((a) => a.scope === 'global') });
    const claim = await claimStatus(api, ns, 'c6b');
    expect(claim.status?.reservedFor ?? []).toEqual([]);
  });
});

describe('scenario 7: shutdown and rolling update', () => {
  it('SIGTERM: the daemon exits 0 and removes its registration and DRA sockets', async () => {
    const d = await daemon();
    const mine = (): string[] => [...regSockets(), ...(existsSync(pluginDir) ? readdirSync(pluginDir) : [])].filter((f) => f.includes(d.podUid)).sort();
    await until('sockets of this daemon', 10_000, () => mine().filter((f) => f.endsWith('.sock')).length === 2 || undefined);
    expect(mine()).toEqual([`dra-${d.podUid}.sock`, `instance-${d.podUid}.lock`, `netclaim.dev-${d.podUid}-reg.sock`]);
    expect(await d.stop()).toBe(0);
    // Sockets and the instance's lock file: a pod UID never comes back, so nothing is left to pile up.
    expect(mine()).toEqual([]);
  });

  it('a surge pod registers before the old one leaves: a plugin is registered at every moment, and pods keep getting devices', async () => {
    addMacvlan(node, { name: 'ncr7a', lower: 'ncr6low' });
    cleanups.push(() => deleteDevice(node, 'ncr7a'));
    const old = await daemon();
    await publishedDevice(node, 'ncr7a');

    // Watch the kubelet's plugin registry (the kubelet's view: a socket there is a registered plugin).
    let samples = 0;
    let empty = 0;
    const watch = setInterval(() => {
      samples++;
      if (regSockets().length === 0) empty++;
    }, 10);
    try {
      const surge = await daemon();
      await until('the surge pod registered with the kubelet', 30_000, () => readFileSync(surge.logPath, 'utf8').includes('registered with the kubelet') || undefined);
      expect(await old.stop()).toBe(0);
      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c7', claimSpec([request('nic', byIfName('ncr7a'))])));
      await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p7', [{ name: 'nic', resourceClaimName: 'c7' }]));
      const pod = await waitPodReady(node, ns, 'p7');
      expect(containerLinks(node, pod).some((l) => l.ifname === 'ncr7a')).toBe(true);
      // The surge daemon prepared it.
      expect(readFileSync(surge.logPath, 'utf8')).toMatch(/prepare/i);
      await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p7`);
      await until('ncr7a back on the node', 30_000, () => linkOnNode(node, 'ncr7a'));
    } finally {
      clearInterval(watch);
    }
    expect(samples).toBeGreaterThan(50);
    expect(empty).toBe(0);
  });
});
