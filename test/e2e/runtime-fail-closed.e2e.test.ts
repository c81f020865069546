/**
 * Scenario 11: the runtime fails closed too. netclaim is SIGKILLed after the kubelet's
 * NodePrepareResources answered and before containerd's sandbox hook would call it (the
 * sandbox held at that point by the node's CNI gate, node/cni-gate.ts, so no timing luck),
 * and kept away (the chart's nodeSelector, the node's label removed). containerd's NRI
 * default validator requires netclaim.dev (test/e2e/runtime/containerd-config.toml.tmpl):
 * the sandbox is made, but its container is refused while netclaim is away; netclaim back,
 * its Synchronize attaches the device to the waiting sandbox and the container starts with
 * it, as its first instruction sees.
 *
 * The DaemonSet's pod only (process mode skips it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from './node/e2e-node.ts';
import { closeGate } from './node/cni-gate.ts';
import { startNetclaim } from './node/netclaim-daemon.ts';
import { containerPid, daemonSetPods, podLog, servingPod } from './node/netclaim-pod.ts';
import { nodeProcesses } from './node/node-sandbox.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace,
  events, getPod, linkOnNode, publishedDevice, request, waitPodReady, type PodStatus,
} from './node/workloads.ts';
import { TOOLS_IMAGE } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-failclosed';
const LABEL = 'netclaim.test/driver';
const cleanups: Array<() => unknown> = [];

async function setNodeLabel(value: string | null): Promise<void> {
  const r = await api.patch(`/api/v1/nodes/${node.nodeName}`, { metadata: { labels: { [LABEL]: value } } });
  if (r.status !== 200) throw new Error(`label node: ${r.status} ${r.text}`);
}

/** What each start of the pod's container saw first (the kubelet's log files). */
function firstLines(p: PodStatus): string[] {
  const dir = join(node.dir, 'var-log', 'pods', `${ns}_${p.metadata.name}_${p.metadata.uid}`, 'c');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => /nic=\w+/.exec(readFileSync(join(dir, f), 'utf8'))?.[0] ?? '') : [];
}

describe.skipIf(node.daemonMode !== 'pod')('scenario 11: the runtime fails closed while netclaim is away', () => {
  beforeAll(async () => {
    await setNodeLabel('on');
    await startNetclaim(node, { values: { nodeSelector: { [LABEL]: 'on' } } });
    await ensureNamespace(api, ns);
    cleanups.push(addLower(node, 'ncf11low'));
  });

  afterAll(async () => {
    await setNodeLabel(null).catch(() => undefined);
    await startNetclaim(node); // the chart's defaults again (no nodeSelector)
    await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const c of cleanups.reverse()) await c();
  });

  it('netclaim killed between Prepare and the sandbox: the container waits for it, then starts with its NIC', async () => {
    addMacvlan(node, { name: 'ncf11a', lower: 'ncf11low', addresses: ['192.168.78.5/24'] });
    cleanups.push(() => deleteDevice(node, 'ncf11a'));
    await publishedDevice(node, 'ncf11a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c11', claimSpec([request('nic', byIfName('ncf11a'))], {
      interface: { name: 'net1', addresses: ['10.78.0.2/24'] },
    })));
    const served = await servingPod(node);

    const gate = closeGate((p) => nodeProcesses(node).nodePath(p), ns, 'p11');
    cleanups.push(() => gate.open());
    await create(api, `/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p11', namespace: ns },
      spec: {
        automountServiceAccountToken: false, terminationGracePeriodSeconds: 1, enableServiceLinks: false,
        resourceClaims: [{ name: 'nic', resourceClaimName: 'c11' }],
        containers: [{
          name: 'c', image: TOOLS_IMAGE, imagePullPolicy: 'Never',
          command: ['sh', '-c', 'if [ -e /sys/class/net/net1 ]; then echo nic=present; else echo nic=missing; fi; exec sleep 3600'],
          resources: { claims: [{ name: 'nic' }] },
        }],
      },
    });
    // The kubelet prepared the claim (netclaim's log says so) and asked for the sandbox, which waits at the gate.
    await until('p11\'s sandbox at the CNI gate', 120_000, () => gate.reached() || undefined);
    expect(podLog(node, served)).toMatch(new RegExp(`"claim":"${ns}/c11".*"msg":"claim prepared"`));

    // netclaim crashes, and stays away: the DaemonSet takes its pod off the node.
    process.kill(containerPid(node, served.containerId), 'SIGKILL');
    await setNodeLabel(null);
    await until('netclaim\'s pod gone from the node', 120_000, async () => (await daemonSetPods(api)).length === 0 || undefined);
    gate.open();

    // The sandbox is made without netclaim; the runtime refuses the container.
    const refused = await until('the container refused by the runtime', 120_000, async () => {
      const p = await getPod(api, ns, 'p11');
      const waiting = p?.status?.containerStatuses?.[0]?.state?.['waiting'] as { reason?: string; message?: string } | undefined;
      if (waiting?.message?.includes('required plugin')) return waiting.message;
      const ev = (await events(api, ns, 'Pod', 'p11')).find((e) => e.message.includes('required plugin'));
      return ev?.message;
    });
    expect(refused).toMatch(/required plugin "netclaim\.dev" not present/);
    const waiting = await getPod(api, ns, 'p11');
    expect(waiting?.status?.containerStatuses?.[0]?.state?.['running']).toBeUndefined();
    expect(firstLines(waiting!)).toEqual([]);
    expect(linkOnNode(node, 'ncf11a')).toBeDefined(); // still on the node: nobody attached it

    // netclaim back: Synchronize attaches to the waiting sandbox, the kubelet's retry passes.
    await setNodeLabel('on');
    await servingPod(node);
    const pod = await waitPodReady(node, ns, 'p11', 180_000);
    expect(firstLines(pod)).toEqual(['nic=present']);
    expect(containerLinks(node, pod).find((l) => l.ifname === 'net1')?.addr_info?.some((a) => a.local === '10.78.0.2')).toBe(true);

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p11`);
    await until('ncf11a back on the node', 60_000, () => linkOnNode(node, 'ncf11a'));
  });
});
