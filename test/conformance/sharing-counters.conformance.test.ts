/**
 * KEP-4815 counters for "whole or shared, never both" (docs/sharing.md,
 * "Whole vs shared use"), checked against the real kube-apiserver v1.37.2
 * (DRAPartitionableDevices: beta, default true; the conformance control plane
 * sets it): what the API accepts and refuses for a parent published twice,
 * whole and as a shareable device, both consuming one counter set of one
 * counter. Raw slices, as the publisher would write them.
 */
import { afterAll, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix } from './slice-fixtures.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const DRIVER = 'netclaim.dev';
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

const consumes = [{ counterSet: 'eth1', counters: { parent: { value: '1' } } }];
const whole = { name: 'eth1', attributes: { 'netclaim.dev/ifName': { string: 'eth1' } }, consumesCounters: consumes };
const shared = {
  name: 'eth1-shared', attributes: { 'netclaim.dev/ifName': { string: 'eth1' } }, allowMultipleAllocations: true, consumesCounters: consumes,
  capacity: { 'netclaim.dev/subInterfaces': { value: '16', requestPolicy: { default: '1', validRange: { min: '1', max: '1' } } } },
};
const counterSet = (name: string): unknown => ({ name, counters: { parent: { value: '1' } } });

function slice(node: string, name: string, count: number, spec: Record<string, unknown>, pool = node): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name },
    spec: { driver: DRIVER, nodeName: node, pool: { name: pool, generation: 1, resourceSliceCount: count }, ...spec },
  };
}

test('counters: a set lives in a slice without devices; devices (one shareable) consume it from another slice of the pool; limits hold', async () => {
  expect(cp.featureGates['DRAPartitionableDevices']).toBe(true);
  const node = `ctr-${suffix()}`;
  await ensureNode(kube, node);
  cleanup.push(() => kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`));

  // Devices and sharedCounters in one slice: refused (only one of them per slice).
  const both = await kube.post(SLICES, slice(node, `${node}-both`, 1, { devices: [whole, shared], sharedCounters: [counterSet('eth1')] }));
  expect(both.status).toBe(422);
  expect(both.text).toMatch(/sharedCounters|devices/i);

  // The counter set in its own slice, the two devices in another: both accepted and stored as sent.
  const counters = await kube.post(SLICES, slice(node, `${node}-1`, 2, { sharedCounters: [counterSet('eth1')] }));
  expect(counters.status, counters.text).toBe(201);
  const devices = await kube.post<{ spec: { devices: Record<string, unknown>[] } }>(SLICES, slice(node, `${node}-0`, 2, { devices: [whole, shared] }));
  expect(devices.status, devices.text).toBe(201);
  expect(devices.body.spec.devices[0]).toMatchObject({ name: 'eth1', consumesCounters: consumes });
  expect(devices.body.spec.devices[1]).toMatchObject({ name: 'eth1-shared', allowMultipleAllocations: true, consumesCounters: consumes });

  // At most 8 counter sets per slice.
  const nine = await kube.post(SLICES, slice(node, `${node}-nine`, 1, { sharedCounters: Array.from({ length: 9 }, (_, i) => counterSet(`p${i}`)) }));
  expect(nine.status).toBe(422);
  const eight = await kube.post(SLICES, slice(node, `${node}-eight`, 1, { sharedCounters: Array.from({ length: 8 }, (_, i) => counterSet(`p${i}`)) }, `${node}-b`));
  expect(eight.status, eight.text).toBe(201);

  // A device may consume from at most 2 counter sets.
  const three = await kube.post(SLICES, slice(node, `${node}-three`, 1, {
    devices: [{ name: 'x', consumesCounters: ['a', 'b', 'c'].map((c) => ({ counterSet: c, counters: { parent: { value: '1' } } })) }],
  }));
  expect(three.status).toBe(422);
}, 60_000);

test('the publisher: a movable parent goes out as its shareable device and whole twin plus a counter slice, stored as sent, and republishing writes nothing', async () => {
  const node = `ctp-${suffix()}`;
  await ensureNode(kube, node);
  const p = new SlicePublisher({ kubeConfig: kubeConfigFor(cp, cp.token), nodeName: node });
  await p.start();
  cleanup.push(() => kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`));
  cleanup.push(() => p.close());
  const devices: PublishDevice[] = [
    { name: 'eth1', attributes: { 'netclaim.dev/ifName': { string: 'eth1' } }, sharing: { maxSubInterfaces: 8, whole: true } },
    { name: 'bond0', attributes: { 'netclaim.dev/ifName': { string: 'bond0' } }, sharing: { maxSubInterfaces: 8 } },
  ];
  p.update(devices);
  await p.synced();
  const slices = await sliceList(kube, node, DRIVER);
  expect(p.errors, `${p.lastError?.message} ${JSON.stringify(slices.map((s) => s.spec))}`).toBe(0);
  expect(slices.map((s) => [(s.spec.devices ?? []).map((d) => d.name), (s.spec.sharedCounters ?? []).map((c) => c.name)])).toEqual([
    [['bond0', 'eth1', 'eth1-whole'], []],
    [[], ['eth1']],
  ]);
  const { creates, updates, deletes } = p.writes;
  p.update(devices);
  await p.synced();
  expect([p.writes.creates, p.writes.updates, p.writes.deletes, p.errors]).toEqual([creates, updates, deletes, 0]);
}, 60_000);
