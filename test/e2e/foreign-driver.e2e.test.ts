/**
 * Another DRA driver on the node beside netclaim, as the side-by-side bench runs it
 * (node/foreign-driver.ts): the bench's floor, the upstream DRA test driver
 * (k8s.io/kubernetes v1.37.2 test/e2e/dra/test-driver, bench/peers/build-dra-test-driver.sh),
 * a null driver with simulated devices and no NRI plugin. The floor's numbers mean
 * something only if its claims really go through the kubelet's DRA path: allocated from
 * its slice, prepared by it, its CDI spec applied by containerd, unprepared at the end.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FLOOR_DRIVER, floorSpec } from '../../bench/e2e-peer.ts';
import { until } from './node/e2e-node.ts';
import { foreignListed, startForeignDriver, type ForeignDriver } from './node/foreign-driver.ts';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import { nodeProcesses } from './node/node-sandbox.ts';
import { apiOf, claimObject, claimStatus, create, deleteAndWait, ensureNamespace, inContainer, podObject, request, waitPodReady } from './node/workloads.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-foreign';
let daemon: NetclaimDaemon;
let floor: ForeignDriver | undefined;

beforeAll(async () => {
  // containerd needs netclaim's NRI plugin for every container (fail-closed), as in the bench.
  daemon = await startNetclaim(node);
  await ensureNamespace(api, ns);
  floor = await startForeignDriver(node, floorSpec(), undefined);
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  await floor?.stop();
  await daemon?.stop();
});

const cdiSpecs = (): string[] => nodeProcesses(node).exec('ls', ['/var/run/cdi']).stdout.split('\n').filter((f) => f.startsWith(`${FLOOR_DRIVER}-`));

describe('the floor driver beside netclaim', () => {
  it('publishes its simulated devices; a pod with its claim starts with the env var of its CDI spec; deleting it unprepares the claim', async () => {
    expect(await foreignListed(node, FLOOR_DRIVER, undefined)).toBe(true);
    const spec = floorSpec();
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'null',
      { devices: { requests: [request('dev', spec.selector, 1, spec.deviceClass)] } }));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'dev', resourceClaimName: 'null' }]));
    const pod = await waitPodReady(node, ns, 'p1');

    const claim = await claimStatus(api, ns, 'null');
    const results = (claim.status?.allocation as { devices?: { results?: Array<{ driver: string; device: string }> } } | undefined)?.devices?.results ?? [];
    expect(results).toEqual([expect.objectContaining({ driver: FLOOR_DRIVER, device: expect.stringMatching(/^device-\d\d$/) as unknown })]);
    // Its Prepare's only effect: one CDI spec whose env edit names the claim and request.
    expect(inContainer(node, pod, ['env']).split('\n')).toContain('claim_null_dev=true');
    expect(cdiSpecs()).toHaveLength(1);

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
    await until('the floor\'s CDI spec removed (claim unprepared)', 60_000, () => cdiSpecs().length === 0 || undefined);
    expect(floor!.logs()).toContain('DRAPlugin/NodeUnprepareResources');
  });
});
