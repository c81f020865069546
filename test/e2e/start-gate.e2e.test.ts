/**
 * `--container-gate start` (chart `nri.containerGate: start`) on the e2e node's containerd
 * 2.4.2 (docs/pods.md, "The gate at StartContainer"): the real runtime sends StartContainer to
 * the plugin, CreateContainer is answered at once (its only step `toStart`: no gate work), the
 * devices are checked at StartContainer, and the pod starts with its NIC, tuned. Between the
 * two, containerd creates the task (runc create) while the attach runs.
 *
 * That a failed StartContainer fails the start is containerd's (its source is cited in
 * surfaces/nri/runtime-gate.ts) and is tested against its NRI adaptation in
 * test/conformance/nri-plugin.conformance.test.ts.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, create, deleteAndWait, deleteDevice, ensureNamespace,
  linkOnNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-start-gate';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

/** The daemon's JSON log lines for one NRI hook of one pod. */
const hookLines = (hook: string, podUid: string): Record<string, unknown>[] => daemon.logs().split('\n')
  .filter((l) => l.includes(`"hook":"${hook}"`) && l.includes(podUid)).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the container gate at StartContainer (containerd 2.4.2)', () => {
  beforeAll(async () => {
    daemon = await startNetclaim(node, { values: { nri: { containerGate: 'start' } } });
    await ensureNamespace(api, ns);
    cleanups.push(addLower(node, 'ncsglow'));
  });

  afterAll(async () => {
    await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const c of cleanups.reverse()) await c();
    await daemon?.stop();
  });

  it('a pod with a NIC claim starts with its NIC renamed and addressed; CreateContainer did no gate work, StartContainer checked the devices', async () => {
    addMacvlan(node, { name: 'ncsg1a', lower: 'ncsglow' });
    cleanups.push(() => deleteDevice(node, 'ncsg1a'));
    await publishedDevice(node, 'ncsg1a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c1', claimSpec([request('nic', byIfName('ncsg1a'))], {
      interface: { name: 'net1', addresses: ['10.76.0.2/24'] },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimName: 'c1' }]));
    const p = await waitPodReady(node, ns, 'p1');
    const net1 = containerLinks(node, p).find((l) => l.ifname === 'net1');
    expect(net1?.addr_info?.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.76.0.2/24');

    const starts = await until('the StartContainer gate logged for p1', 30_000, () => {
      const lines = hookLines('start', p.metadata.uid);
      return lines.length > 0 ? lines : undefined;
    });
    expect(starts[0]).toMatchObject({ msg: 'nri start', steps: expect.objectContaining({ check: expect.any(Number) }) });
    // Answered at once: a CreateContainer that waited or checked would have `queue`, `check` or attach steps.
    expect(hookLines('create', p.metadata.uid)).toEqual([expect.objectContaining({ msg: 'nri create', steps: { toStart: 0 } })]);
    expect(hookLines('run', p.metadata.uid)).toHaveLength(1);

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
    await until('ncsg1a back on the node', 30_000, () => linkOnNode(node, 'ncsg1a'));
  });
});
