/**
 * A cluster without consumable capacity (docs/sharing.md, "Clusters without
 * DRAConsumableCapacity"): a kube-apiserver of its own, started with
 * `--feature-gates=DRAConsumableCapacity=false`, drops
 * `allowMultipleAllocations` and the capacity's request policy from the
 * slices it stores. The publisher notices on the first write, says so once
 * (onSharingUnsupported), and republishes without the shareable parent; a
 * later update publishes none again and says nothing more. The Node Warning
 * the daemon writes for it (node-event.ts) is accepted and listed on the Node.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startControlPlane, stateOf, type ControlPlane } from './control-plane.ts';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, suffix, publishAndWait } from './slice-fixtures.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';
import { nodeWarning } from '../../src/surfaces/kube/node-event.ts';
import { SHARING_UNSUPPORTED_REASON } from '../../src/surfaces/kube/sharing-fallback.ts';

const DRIVER = 'netclaim.dev';
let cp: ControlPlane;
let kube: KubeClient;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  cp = await startControlPlane({ featureGates: { DRAConsumableCapacity: false } });
  kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
}, 180_000);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await cp?.stop();
}, 60_000);

const publish = (p: SlicePublisher, ds: readonly PublishDevice[]): Promise<void> => publishAndWait(p, ds, (code) => code === 'KUBE_FIELDS_DROPPED');

test('with DRAConsumableCapacity off, shareable parents are withdrawn once, said once, and the rest is published', async () => {
  expect(cp.featureGates['DRAConsumableCapacity']).toBe(false);
  const node = `nofb-${suffix()}`;
  await ensureNode(kube, node);
  const said: string[] = [];
  const p = new SlicePublisher({ kubeConfig: kubeConfigFor(stateOf(cp), cp.token), nodeName: node, onSharingUnsupported: (m) => said.push(m) });
  await p.start();
  cleanup.push(() => p.close());
  const devices: PublishDevice[] = [
    { name: 'bond0', attributes: { 'netclaim.dev/kind': { string: 'bond' } }, sharing: { maxSubInterfaces: 16 } },
    { name: 'eth1', attributes: { 'netclaim.dev/mtu': { int: 1500 } } },
  ];
  await publish(p, devices);
  expect(said).toHaveLength(1);
  expect(said[0]).toMatch(/bond0.*DRAConsumableCapacity/);
  const [s] = await sliceList(kube, node, DRIVER);
  expect(s!.spec.devices.map((d) => (d as { name: string }).name)).toEqual(['eth1']);

  // Later inventories: still no shareable device, nothing said again.
  await publish(p, [...devices, { name: 'eth2', attributes: {} }]);
  const [again] = await sliceList(kube, node, DRIVER);
  expect(again!.spec.devices.map((d) => (d as { name: string }).name)).toEqual(['eth1', 'eth2']);
  expect(said).toHaveLength(1);

  // The daemon's Node Warning for it.
  await nodeWarning(kubeConfigFor(stateOf(cp), cp.token), node, SHARING_UNSUPPORTED_REASON, said[0]!);
  const events = await kube.get<{ items: { reason: string; type: string; involvedObject: { kind: string; name: string } }[] }>(
    `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${node}`)}`);
  expect(events.body.items.map((e) => [e.type, e.reason, e.involvedObject.kind])).toEqual([['Warning', SHARING_UNSUPPORTED_REASON, 'Node']]);
}, 120_000);
