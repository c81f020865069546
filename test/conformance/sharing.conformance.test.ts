/**
 * Shareable parents (docs/sharing.md) against the real kube-apiserver: a
 * device published with `allowMultipleAllocations` and the
 * `netclaim.dev/subInterfaces` capacity with its request policy is accepted
 * as sent (gate DRAConsumableCapacity, beta and on in 1.37), also at the 32
 * attributes + capacities limit, and the publisher then sees no drift.
 */
import { afterAll, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix, publishAndWait } from './slice-fixtures.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const admin = kubeConfigFor(cp, cp.token);
const DRIVER = 'netclaim.dev';
const cleanup: Array<() => Promise<unknown>> = [];

const publish = (p: SlicePublisher, ds: readonly PublishDevice[]): Promise<void> => publishAndWait(p, ds);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** 31 attributes: with the one capacity, exactly the per-device limit. */
const attributes = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`netclaim.dev/a${i}`, { int: i }]));

test('a shareable parent is stored with allowMultipleAllocations and its sub-interface capacity', async () => {
  const node = `share-${suffix()}`;
  const { created } = await ensureNode(kube, node);
  const p = new SlicePublisher({ kubeConfig: admin, nodeName: node });
  await p.start();
  cleanup.push(async () => {
    await p.close();
    await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`);
    if (created) await kube.delete(`/api/v1/nodes/${node}`);
  });
  const devices: PublishDevice[] = [
    { name: 'bond0', attributes, sharing: { maxSubInterfaces: 16 } },
    { name: 'eth1', attributes: { 'netclaim.dev/mtu': { int: 1500 } } },
  ];
  await publish(p, devices);
  expect(p.errors).toBe(0);
  const [s] = await sliceList(kube, node, DRIVER);
  const stored = s!.spec.devices as unknown as Array<Record<string, unknown>>;
  expect(stored[0]).toMatchObject({
    name: 'bond0',
    allowMultipleAllocations: true,
    capacity: { 'netclaim.dev/subInterfaces': { value: '16', requestPolicy: { default: '1', validRange: { min: '1', max: '1' } } } },
  });
  expect(stored[1]!['allowMultipleAllocations']).toBeUndefined();
  expect(stored[1]!['capacity']).toBeUndefined();
  // Republishing the same devices writes nothing: what is stored equals what is wanted (no drift loop over quantities).
  const generation = p.generation;
  await publish(p, devices);
  expect([p.generation, p.errors]).toEqual([generation, 0]);
}, 60_000);
