/**
 * Scenario 2: a Deployment whose pods get a NIC from a ResourceClaimTemplate, with no
 * config. The device keeps the addresses it has on the node; deleting the Deployment
 * gives it back restored, and a new Deployment can claim it again.
 * Scenario 3: two devices in one claim (count: 2), and two claims in one pod.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace,
  linkOnNode, podObject, podSpec, publishedDevice, request, waitPodReady, type PodStatus, byIfName,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-template';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  daemon = await startNetclaim(node);
  await ensureNamespace(api, ns);
  cleanups.push(addLower(node, 'nct2low'));
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
});

function deployment(name: string, template: string): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
    spec: {
      replicas: 1, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec([{ name: 'nic', resourceClaimTemplateName: template }]) },
    },
  };
}

async function deploymentPod(name: string): Promise<PodStatus> {
  const p = await until(`a pod of deployment ${name}`, 60_000, async () => {
    const r = await api.get<{ items: PodStatus[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=app=${name}`);
    return r.body.items.find((x) => !(x as { metadata: { deletionTimestamp?: string } }).metadata.deletionTimestamp);
  });
  return waitPodReady(node, ns, p.metadata.name);
}

const globalAddrs = (l: { addr_info?: Array<{ local: string; prefixlen: number; scope: string }> } | undefined): string[] =>
  (l?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();

describe('scenario 2: a Deployment with a ResourceClaimTemplate and no config', () => {
  it("the pod's NIC keeps the node's addresses; deleting and recreating the Deployment restores the node and claims the device again", async () => {
    addMacvlan(node, { name: 'nct2a', lower: 'nct2low', addresses: ['192.168.72.5/24', 'fd00:72::5/64'], mtu: 1450 });
    cleanups.push(() => deleteDevice(node, 'nct2a'));
    const before = linkOnNode(node, 'nct2a')!;
    await publishedDevice(node, 'nct2a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaimtemplates`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic', namespace: ns },
      spec: { spec: claimSpec([request('nic', byIfName('nct2a'))]) },
    });

    for (const round of [1, 2]) {
      await create(api, `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('web', 'nic'));
      const pod = await deploymentPod('web');
      const inPod = containerLinks(node, pod).find((l) => l.ifname === 'nct2a');
      expect(inPod, `round ${round}`).toBeDefined();
      expect(inPod!.mtu).toBe(1450);
      expect(globalAddrs(inPod)).toEqual(['192.168.72.5/24', 'fd00:72::5/64']);
      expect(linkOnNode(node, 'nct2a')).toBeUndefined();

      await deleteAndWait(api, `/apis/apps/v1/namespaces/${ns}/deployments/web`);
      await until('the deployment pod gone', 60_000, async () => (await api.get<{ items: unknown[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=app=web`)).body.items.length === 0 || undefined);
      const after = await until('nct2a back on the node', 30_000, () => linkOnNode(node, 'nct2a'));
      expect({ mtu: after.mtu, mac: after.address, addrs: globalAddrs(after) }).toEqual({ mtu: before.mtu, mac: before.address, addrs: globalAddrs(before) });
      // The generated claim goes with its pod, so the device is free for the next round.
      await until('generated claims deleted', 30_000, async () => (await api.get<{ items: unknown[] }>(`/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`)).body.items.length === 0 || undefined);
    }
  });
});

describe('scenario 3: several devices per pod', () => {
  it('one claim with count: 2 gets both matching devices', async () => {
    for (const n of ['nct3a', 'nct3b']) {
      addMacvlan(node, { name: n, lower: 'nct2low', alias: 'nct3-pair' });
      cleanups.push(() => deleteDevice(node, n));
      await publishedDevice(node, n);
    }
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'two', claimSpec([
      request('nics', 'device.attributes["netclaim.dev"].?alias.orValue("") == "nct3-pair"', 2),
    ])));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p3', [{ name: 'nics', resourceClaimName: 'two' }]));
    const pod = await waitPodReady(node, ns, 'p3');
    expect(containerLinks(node, pod).map((l) => l.ifname).filter((n) => n.startsWith('nct3')).sort()).toEqual(['nct3a', 'nct3b']);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p3`);
    await until('both back on the node', 30_000, () => (linkOnNode(node, 'nct3a') && linkOnNode(node, 'nct3b')) || undefined);
    await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/two`);
  });

  it('two claims in one pod, each configured, both attached', async () => {
    for (const n of ['nct3c', 'nct3d']) {
      addMacvlan(node, { name: n, lower: 'nct2low' });
      cleanups.push(() => deleteDevice(node, n));
      await publishedDevice(node, n);
    }
    for (const [claim, dev, ifname, addr] of [['c1', 'nct3c', 'data0', '10.73.1.2/24'], ['c2', 'nct3d', 'data1', '10.73.2.2/24']] as const) {
      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, claim, claimSpec([request('nic', byIfName(dev))], {
        interface: { name: ifname, addresses: [addr] },
      })));
    }
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p4', [{ name: 'a', resourceClaimName: 'c1' }, { name: 'b', resourceClaimName: 'c2' }]));
    const pod = await waitPodReady(node, ns, 'p4');
    const links = containerLinks(node, pod);
    expect(globalAddrs(links.find((l) => l.ifname === 'data0'))).toEqual(['10.73.1.2/24']);
    expect(globalAddrs(links.find((l) => l.ifname === 'data1'))).toEqual(['10.73.2.2/24']);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p4`);
    await until('both back on the node', 30_000, () => (linkOnNode(node, 'nct3c') && linkOnNode(node, 'nct3d')) || undefined);
  });
});
