/**
 * The ResourceSlice publisher against the real kube-apiserver: what it
 * publishes is accepted (validation for real, devices straight from the
 * inventory builder and at the limits), pool generations and slice counts
 * follow the upstream controller's contract, drift is repaired, and a node
 * identity (NodeRestriction) can run it. Each test uses its own Node so
 * other files' slices on node-1 are never touched; publish latency is logged.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import {
  ensureNode, inventoryDevices, kubeConfigFor, limitDevices, percentile, sliceList, SLICES, suffix, waitFor, watchSlices, type RawSlice, publishAndWait,
} from './slice-fixtures.ts';
import type { DriverError } from '../../src/common/errors.ts';
import { SlicePublisher, type PublishDevice, type SlicePublisherOptions } from '../../src/surfaces/kube/slice-publisher.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const admin = kubeConfigFor(cp, cp.token);
const DRIVER = 'netclaim.dev';
const cleanup: Array<() => Promise<unknown>> = [];
const errors: DriverError[] = [];

const devices = (n: number, mtu = 1500): PublishDevice[] => Array.from({ length: n }, (_, i) => ({
  name: `eth${String(i).padStart(3, '0')}`,
  attributes: { 'netclaim.dev/mtu': { int: mtu }, 'netclaim.dev/kind': { string: 'virtual' }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' } },
}));
/** The published MTU attribute of a device. */
const mtu = (d: { attributes: Readonly<Record<string, unknown>> }): unknown => (d.attributes['netclaim.dev/mtu'] as { int?: number } | undefined)?.int;
const gens = (ss: RawSlice[]): number[] => ss.map((s) => s.spec.pool.generation);
const sizes = (ss: RawSlice[]): number[] => ss.map((s) => s.spec.devices?.length ?? 0);

/** A fresh Node and a started publisher for it (closed, slices and Node removed after the file). */
async function publisher(extra: Partial<SlicePublisherOptions> = {}): Promise<{ p: SlicePublisher; node: string; uid: string }> {
  const node = extra.nodeName ?? `slices-${suffix()}`;
  const { uid, created } = await ensureNode(kube, node);
  const p = new SlicePublisher({ kubeConfig: admin, nodeName: node, onError: (e) => errors.push(e), ...extra });
  await p.start();
  cleanup.push(async () => {
    await p.close();
    await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${extra.driver ?? DRIVER}`)}`);
    if (created && node !== 'node-1') await kube.delete(`/api/v1/nodes/${node}`);
  });
  return { p, node, uid };
}

const publish = (p: SlicePublisher, ds: readonly PublishDevice[]): Promise<void> => publishAndWait(p, ds);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('SlicePublisher against kube-apiserver', () => {
  let p: SlicePublisher;
  let node: string;
  let uid: string;
  beforeAll(async () => ({ p, node, uid } = await publisher()));

  test('5 devices: one slice, owned by the Node, attributes as sent', async () => {
    await publish(p, devices(5));
    const [s, ...rest] = await sliceList(kube, node, DRIVER);
    expect(rest).toHaveLength(0);
    expect(s!.metadata.name).toBe(`${node}-netclaim.dev-0`);
    expect(s!.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Node', name: node, uid, controller: true }]);
    expect(s!.spec).toMatchObject({ driver: DRIVER, nodeName: node, pool: { name: node, generation: 1, resourceSliceCount: 1 } });
    expect(s!.spec.devices[0]).toEqual(devices(1)[0]); // int survived the client's `_int` model
    expect([p.slices, p.devices, p.generation, p.errors]).toEqual([1, 5, 1, 0]);
  });

  test('300 devices: 3 slices of 128, 128, 44 at one generation', async () => {
    await publish(p, devices(300));
    const ss = await sliceList(kube, node, DRIVER);
    expect(sizes(ss)).toEqual([128, 128, 44]);
    expect(ss.map((s) => s.spec.pool.resourceSliceCount)).toEqual([3, 3, 3]);
    expect(gens(ss)).toEqual([2, 2, 2]);
  });

  test('an attribute change updates in place, same generation; no write loop afterwards', async () => {
    const before = p.writes;
    await publish(p, devices(300, 9000));
    const ss = await sliceList(kube, node, DRIVER);
    expect(gens(ss)).toEqual([2, 2, 2]);
    expect(ss.every((s) => s.spec.devices.every((d) => mtu(d) === 9000))).toBe(true);
    await new Promise((r) => setTimeout(r, 1500)); // past the drift delay: our own echoes cause no writes
    expect(p.writes.updates - before.updates).toBe(3);
    expect(p.writes.creates - before.creates).toBe(0);
  });

  test('shrink to 10: extra slices deleted, generation bumped', async () => {
    await publish(p, devices(10));
    const ss = await sliceList(kube, node, DRIVER);
    expect(ss.map((s) => s.metadata.name)).toEqual([`${node}-netclaim.dev-0`]);
    expect(ss[0]!.spec.pool).toEqual({ name: node, generation: 3, resourceSliceCount: 1 });
    expect(sizes(ss)).toEqual([10]);
  });

  test('drift: a slice deleted by someone else is restored within seconds', async () => {
    await publish(p, devices(200));
    const [s0] = await sliceList(kube, node, DRIVER);
    const t0 = Date.now();
    expect((await kube.delete(`${SLICES}/${s0!.metadata.name}`)).status).toBe(200);
    const back = await waitFor('slice restored', async () => (await sliceList(kube, node, DRIVER)).find((s) => s.metadata.name === s0!.metadata.name && s.metadata.uid !== s0!.metadata.uid), 5_000);
    console.log(`slice-publisher: deleted slice restored after ${Date.now() - t0} ms`);
    expect(sizes([back])).toEqual([128]);
    const ss = await waitFor('one complete generation', async () => {
      const l = await sliceList(kube, node, DRIVER);
      return new Set(gens(l)).size === 1 && l.length === 2 && l;
    });
    expect(ss[0]!.spec.pool.resourceSliceCount).toBe(2);
  });

  test('drift: edited devices and attributes are reverted', async () => {
    const [s0] = await sliceList(kube, node, DRIVER);
    const edited = { ...s0!, spec: { ...s0!.spec, devices: s0!.spec.devices.slice(0, 3).map((d) => ({ ...d, attributes: { ...d.attributes, 'netclaim.dev/mtu': { int: 1 } } })) } };
    expect((await kube.put(`${SLICES}/${s0!.metadata.name}`, edited)).status).toBe(200);
    const t0 = Date.now();
    const back = await waitFor('edit reverted', async () => {
      const s = (await sliceList(kube, node, DRIVER)).find((x) => x.metadata.name === s0!.metadata.name);
      return s && s.spec.devices.length === 128 && s.spec.devices.every((d) => mtu(d) === 1500) && s;
    }, 5_000);
    console.log(`slice-publisher: edited slice reverted after ${Date.now() - t0} ms`);
    expect(back.spec.devices.map((d) => d.name)).toEqual(s0!.spec.devices.map((d) => d.name));
  });
});

describe('restart', () => {
  test('a new publisher over an up-to-date pool writes nothing and keeps the generation', async () => {
    const { p, node } = await publisher();
    await publish(p, devices(300));
    await publish(p, devices(200)); // generation 2
    await p.close();
    const { p: p2 } = await publisher({ nodeName: node });
    await publish(p2, devices(200));
    expect(p2.writes).toEqual({ creates: 0, updates: 0, deletes: 0, syncs: 1 });
    expect(p2.generation).toBe(2);
    await publish(p2, devices(201)); // and it goes on from there, not from 1
    expect(gens(await sliceList(kube, node, DRIVER))).toEqual([3, 3]);
  });
});

describe('what the publisher sends is valid', () => {
  test('devices from the real inventory builder, and hand-made ones at every limit, are all accepted', async () => {
    const { p, node } = await publisher();
    const inv = inventoryDevices();
    try {
      expect(inv.devices.length).toBeGreaterThan(150);
      expect(inv.devices.some((d) => d.dropped.length > 0)).toBe(true); // some hit the 32-attribute cap
      const all: PublishDevice[] = [...inv.devices, ...limitDevices(130)];
      await publish(p, all);
      const ss = await sliceList(kube, node, DRIVER);
      expect(ss.flatMap((s) => s.spec.devices.map((d) => d.name)).sort()).toEqual(all.map((d) => d.name).sort());
      expect(ss.every((s) => s.spec.devices.length <= 128)).toBe(true);
      expect(p.errors).toBe(0);
    } finally {
      inv.dispose();
    }
  });

  test('unhealthy devices get a NoSchedule taint, slices hold 64, the server-set timeAdded causes no loop', async () => {
    const { p, node } = await publisher({ taintUnhealthy: true });
    const ds = devices(100).map((d, i) => (i === 5 ? { ...d, unhealthy: 'link down: carrier lost!' } : i === 6 ? { ...d, unhealthy: true } : d));
    await publish(p, ds);
    const ss = await sliceList(kube, node, DRIVER);
    expect(sizes(ss)).toEqual([64, 36]);
    const [t5, t6] = [ss[0]!.spec.devices[5]!.taints!, ss[0]!.spec.devices[6]!.taints!];
    expect(t5).toMatchObject([{ key: 'netclaim.dev/unhealthy', value: 'link-down-carrier-lost', effect: 'NoSchedule' }]);
    expect(t6[0]!.value).toBeUndefined();
    expect(t5[0]!.timeAdded).toBeTruthy();
    const before = p.writes;
    await publish(p, ds.map((d) => ({ ...d, attributes: { ...d.attributes, 'netclaim.dev/mtu': { int: 42 } } })));
    const again = await sliceList(kube, node, DRIVER);
    expect(again[0]!.spec.devices[5]!.taints![0]!.timeAdded).toBe(t5[0]!.timeAdded); // kept across updates
    await new Promise((r) => setTimeout(r, 1500));
    expect(p.writes.updates - before.updates).toBe(2);
  });

  test('an unhealthy device in a pod with --taint-unhealthy-noexecute: the API server stores a NoExecute taint (DRADeviceTaints, GA in 1.37), and the effect moves back to NoSchedule', async () => {
    const { p, node } = await publisher({ taintUnhealthy: true });
    const ds = devices(3).map((d, i) => (i === 1 ? { ...d, unhealthy: 'net1: no carrier', taintEffect: 'NoExecute' as const } : i === 2 ? { ...d, unhealthy: true } : d));
    await publish(p, ds);
    const [s] = await sliceList(kube, node, DRIVER);
    expect(s!.spec.devices[1]!.taints).toMatchObject([{ key: 'netclaim.dev/unhealthy', value: 'net1-no-carrier', effect: 'NoExecute', timeAdded: expect.any(String) }]);
    expect(s!.spec.devices[2]!.taints).toMatchObject([{ key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' }]);
    expect(s!.spec.devices[0]!.taints).toBeUndefined();
    // The pod was evicted, the device is back on the host and still unhealthy: NoSchedule.
    await publish(p, ds.map((d, i) => (i === 1 ? { ...d, taintEffect: 'NoSchedule' as const } : d)));
    const [again] = await sliceList(kube, node, DRIVER);
    expect(again!.spec.devices[1]!.taints).toMatchObject([{ key: 'netclaim.dev/unhealthy', effect: 'NoSchedule' }]);
    expect(p.errors).toBe(0);
  });
});

describe('lifecycle and failures', () => {
  test('drift is still repaired after the watch was ended by the server and resumed', async () => {
    const { p, node } = await publisher({ watchTimeoutSeconds: 1 });
    await publish(p, devices(3));
    await new Promise((r) => setTimeout(r, 2500)); // two server-side watch timeouts
    const [s0] = await sliceList(kube, node, DRIVER);
    await kube.delete(`${SLICES}/${s0!.metadata.name}`);
    await waitFor('slice restored', async () => (await sliceList(kube, node, DRIVER)).length === 1, 5_000);
    expect(p.errors).toBe(0);
  });

  test('a slice the API server refuses is retried with backoff and reported; a valid update recovers', async () => {
    const seen: DriverError[] = [];
    const { p, node } = await publisher({ retryMinMs: 50, onError: (e) => seen.push(e) });
    const bad = devices(3).map((d, i) => (i === 1 ? { ...d, attributes: { ...d.attributes, 'netclaim.dev/alias': { string: 'x'.repeat(65) } } } : d));
    p.update(bad);
    await waitFor('two failed attempts', async () => seen.length >= 2);
    expect(seen[0]!.code).toBe('KUBE_REQUEST_FAILED');
    expect(seen[0]!.context).toMatchObject({ status: 422, reason: 'Invalid' });
    expect(seen[0]!.message).toContain('spec.devices[1].attributes');
    p.update(devices(3)); // a retry of the bad state may still fail meanwhile: no fail-fast here
    await p.synced();
    expect(sizes(await sliceList(kube, node, DRIVER))).toEqual([3]);
    const n = seen.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.length).toBe(n); // no retries once converged
  });

  test('invalid input (duplicate device names) is reported once, not retried, and nothing is written', async () => {
    const { p, node } = await publisher();
    p.update([...devices(2), ...devices(1)]);
    await waitFor('error', async () => p.errors > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect([p.errors, p.lastError?.code]).toEqual([1, 'KUBE_SLICE_INVALID']);
    expect(await sliceList(kube, node, DRIVER)).toEqual([]);
  });

  test('after close() nothing is written or repaired, and update() throws', async () => {
    const { p, node } = await publisher();
    await publish(p, devices(3));
    await p.close();
    await p.close(); // idempotent
    const [s0] = await sliceList(kube, node, DRIVER);
    await kube.delete(`${SLICES}/${s0!.metadata.name}`);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await sliceList(kube, node, DRIVER)).toEqual([]);
    expect(() => p.update(devices(1))).toThrow(/after close/);
  });
});

describe('as the node (system:node:node-1, NodeRestriction)', () => {
  test('reads its Node, lists and watches its slices, creates, updates and deletes them', async () => {
    const driver = `t${suffix()}.netclaim.dev`; // node-1 is shared with other files: our own driver keeps us apart
    await ensureNode(kube, 'node-1').then((n) => n.created && cleanup.push(() => kube.delete('/api/v1/nodes/node-1')));
    const { p } = await publisher({ nodeName: 'node-1', driver, kubeConfig: kubeConfigFor(cp, cp.nodeTokens['node-1']!) });
    await publish(p, devices(300));
    expect(sizes(await sliceList(kube, 'node-1', driver))).toEqual([128, 128, 44]);
    await publish(p, devices(5));
    const ss = await sliceList(kube, 'node-1', driver);
    expect(sizes(ss)).toEqual([5]);
    expect(ss[0]!.spec.pool.generation).toBe(2);
    expect(p.errors).toBe(0);
  });
});

describe('publish latency (logged, not asserted)', () => {
  test.each([50, 0])('desired change → slice updated in the API, seen by a watch (debounce %i ms)', async (debounceMs) => {
    // 70 changes back to back: the path itself, without the write budget's pacing (slice-write-budget.conformance.test.ts).
    const { p, node } = await publisher({ debounceMs, writeBudget: { ratePerSec: 0, burst: 1 } });
    await publish(p, devices(300));
    const seen: Array<{ at: number; s: RawSlice }> = [];
    const stop = await watchSlices(admin, node, DRIVER, (t, s) => t === 'MODIFIED' && seen.push({ at: performance.now(), s }));
    const measure = async (n: number, change: (i: number) => PublishDevice[], done: (s: RawSlice, i: number) => boolean): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        seen.length = 0;
        const t0 = performance.now();
        p.update(change(i));
        const hit = await waitFor('watch event', async () => seen.find((e) => done(e.s, i)), 10_000, 2);
        ms.push(hit.at - t0);
        await p.synced();
      }
      return ms;
    };
    const attr = await measure(50, (i) => devices(300, 2000 + i), (s, i) => s.spec.devices[0] !== undefined && mtu(s.spec.devices[0]) === 2000 + i);
    const set = await measure(20, (i) => devices(301 + (i % 2)), (s, i) => s.metadata.name.endsWith('-2') && s.spec.devices.length === 45 + (i % 2));
    stop();
    const fmt = (xs: number[]): string => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms (n=${xs.length})`;
    console.log(`slice-publisher latency (debounce ${debounceMs} ms included): attribute change, 1 slice in place: ${fmt(attr)}; device added/removed, 3 slices new generation: ${fmt(set)}`);
    expect(p.errors).toBe(0);
  });
});
