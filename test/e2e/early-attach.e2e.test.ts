/**
 * The early attach (`--containerd-socket`, chart `nri.earlyAttach.enabled`; docs/pods.md
 * "Early attach") on the e2e node's containerd 2.4.2: netclaim reads containerd's
 * `/containers/create` of the pod's sandbox container and moves the NIC while containerd still
 * starts the sandbox; the NRI RunPodSandbox hook that follows finds it done (its step `early`),
 * and the pod starts with its NIC, tuned.
 *
 * Whether the event beats RunPodSandbox is a race the early attach usually wins (runc creates
 * and starts the pause container in between); so that this test does not depend on the
 * machine's load, a second NRI plugin of the test's own (index 05, before netclaim's 10) holds
 * RunPodSandbox of the test's pod until netclaim logged its early attach (at most 1.5 s, under
 * containerd's 2 s plugin timeout; after that it lets the hook go on, and the test fails on
 * what netclaim logged). The holding plugin is netclaim's own NRI client with a port that does
 * nothing else: a stand-in for a slow runtime, which a real part cannot give on demand.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NriPlugin } from '../../src/surfaces/nri/nri-plugin.ts';
import type { NriPod, PodPort } from '../../src/driver/pod-port.ts';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import { nodeProcesses } from './node/node-sandbox.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace,
  linkOnNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-early-attach';
let daemon: NetclaimDaemon;
let holder: NriPlugin | undefined;
const cleanups: Array<() => unknown> = [];

type Line = Record<string, unknown> & { time: string; msg: string; steps?: Record<string, number> };
/** The daemon's JSON log lines for one hook (`early` or an NRI hook) of one pod. */
const hookLines = (hook: string, podUid: string): Line[] => daemon.logs().split('\n')
  .filter((l) => l.includes(`"hook":"${hook}"`) && l.includes(podUid)).map((l) => JSON.parse(l) as Line);

/** Holds RunPodSandbox of the pods named here until netclaim logged their early attach (or 1.5 s passed). */
const held = new Set<string>();
const holdingPort: PodPort = {
  async runPodSandbox(pod: NriPod): Promise<void> {
    if (!held.has(`${pod.namespace}/${pod.name}`)) return;
    const until = Date.now() + 1500;
    while (Date.now() < until && hookLines('early', pod.uid).length === 0) await new Promise((r) => setTimeout(r, 10));
  },
  stopPodSandbox: () => Promise.resolve(),
  removePodSandbox: () => Promise.resolve(),
  createContainer: () => Promise.resolve({}),
  startContainer: () => Promise.resolve(),
  synchronize: () => Promise.resolve(),
};

describe('the early attach on containerd 2.4.2', () => {
  beforeAll(async () => {
    daemon = await startNetclaim(node, { values: { nri: { pluginIndex: '10', earlyAttach: { enabled: true } } } });
    await ensureNamespace(api, ns);
    cleanups.push(addLower(node, 'ncealow'));
    holder = new NriPlugin({ port: holdingPort, socketPath: nodeProcesses(node).nodePath('/var/run/nri/nri.sock'), pluginName: 'nc-e2e-hold', pluginIdx: '05' });
    holder.start();
    await holder.ready();
  });

  afterAll(async () => {
    await holder?.close();
    await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const c of cleanups.reverse()) await c();
    await daemon?.stop();
  });

  it('moves the NIC when containerd creates the sandbox container; RunPodSandbox finds it done; the pod starts with its NIC, tuned; deleting it gives the NIC back', async () => {
    // Connected to containerd's events: the daemon logged it.
    await until('netclaim subscribed to containerd\'s events', 60_000, () => daemon.logs().includes('subscribed to containerd sandbox creations') || undefined);
    addMacvlan(node, { name: 'ncea1a', lower: 'ncealow' });
    cleanups.push(() => deleteDevice(node, 'ncea1a'));
    await publishedDevice(node, 'ncea1a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c1', claimSpec([request('nic', byIfName('ncea1a'))], {
      interface: { name: 'net1', addresses: ['10.77.0.2/24'] },
    })));
    held.add(`${ns}/p1`);
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimName: 'c1' }]));
    const p = await waitPodReady(node, ns, 'p1');
    const net1 = containerLinks(node, p).find((l) => l.ifname === 'net1');
    expect(net1?.addr_info?.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.77.0.2/24');

    const early = hookLines('early', p.metadata.uid);
    expect(early).toEqual([expect.objectContaining({ msg: 'early attach', steps: expect.objectContaining({ attach: expect.any(Number), journal: expect.any(Number) }) })]);
    const run = await until('RunPodSandbox logged for p1', 30_000, () => {
      const lines = hookLines('run', p.metadata.uid);
      return lines.length > 0 ? lines : undefined;
    });
    // RunPodSandbox came after the early attach ended, and did no attach of its own.
    expect(run).toEqual([expect.objectContaining({ msg: 'nri run', steps: expect.objectContaining({ early: 0 }) })]);
    expect(run[0]!.steps).not.toHaveProperty('attach');
    expect(Date.parse(run[0]!.time)).toBeGreaterThanOrEqual(Date.parse(early[0]!.time));

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
    await until('ncea1a back on the node', 30_000, () => linkOnNode(node, 'ncea1a'));
  });

  it('a pod without a claim, and netclaim\'s own pod, are left alone: no early attach is logged for them', async () => {
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'plain', []));
    const p = await waitPodReady(node, ns, 'plain');
    expect(hookLines('early', p.metadata.uid)).toEqual([]);
    expect(daemon.logs()).not.toMatch(/"msg":"early attach failed"/);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/plain`);
  });
});
