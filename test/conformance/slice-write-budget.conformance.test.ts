/**
 * The slice publisher's write budget against the real kube-apiserver:
 * random bursts of inventory updates (random gaps, random values, random
 * length) are coalesced — the last state given to update() is always the one
 * the API server ends up holding — and the writes, counted by a watch on
 * the node's slices, stay within the budget in every 1 s window.
 *
 * A fast budget (5/s, bursts of 2) keeps each run short; the bound is the
 * same shape for any setting (write-budget.test.ts checks the bucket alone).
 */
import fc from 'fast-check';
import { afterAll, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix, watchSlices } from './slice-fixtures.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const admin = kubeConfigFor(cp, cp.token);
const DRIVER = 'netclaim.dev';
const BUDGET = { ratePerSec: 5, burst: 2 };
const cleanup: Array<() => Promise<unknown>> = [];

const devices = (mtu: number): PublishDevice[] => Array.from({ length: 8 }, (_, i) => ({
  name: `nic${i}`,
  attributes: { 'netclaim.dev/mtu': { int: mtu }, 'netclaim.dev/state': { string: i === 0 && mtu % 2 ? 'down' : 'up' } },
}));

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('property: random update bursts — the last state is published, writes per 1 s ≤ burst + rate (+1 for watch delivery jitter)', { timeout: 240_000 }, async () => {
  const events = fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 150 }), mtu: fc.integer({ min: 1280, max: 1290 }) }), { minLength: 1, maxLength: 30 });
  await fc.assert(fc.asyncProperty(events, fc.constantFrom(0, 50), async (evs, debounceMs) => {
    const node = `budget-${suffix()}`;
    const { created } = await ensureNode(kube, node);
    const p = new SlicePublisher({ kubeConfig: admin, nodeName: node, writeBudget: BUDGET, debounceMs });
    cleanup.push(async () => {
      await p.close();
      await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`);
      if (created) await kube.delete(`/api/v1/nodes/${node}`);
    });
    await p.start();
    const writes: number[] = [];
    const stop = await watchSlices(admin, node, DRIVER, (t) => (t === 'ADDED' || t === 'MODIFIED') && writes.push(performance.now()));
    try {
      for (const e of evs) {
        await sleep(e.gapMs);
        p.update(devices(e.mtu));
      }
      await p.synced();
      const last = evs.at(-1)!.mtu;
      const [s, ...rest] = await sliceList(kube, node, DRIVER);
      expect(rest).toHaveLength(0);
      expect(s!.spec.devices.map((d) => (d.attributes['netclaim.dev/mtu'] as { int: number }).int)).toEqual(Array(8).fill(last));
      // Every write the publisher counted reached the server, and no 1 s window holds more than the budget allows.
      const w = p.writes;
      expect(w.creates + w.updates).toBeLessThanOrEqual(evs.length);
      await sleep(200); // the watch's last events
      for (let i = 0; i < writes.length; i++) {
        const inWindow = writes.filter((t) => t >= writes[i]! && t < writes[i]! + 1000).length;
        expect(inWindow).toBeLessThanOrEqual(BUDGET.burst + BUDGET.ratePerSec + 1);
      }
      expect(p.errors).toBe(0);
    } finally {
      stop();
      await p.close();
    }
  }), { numRuns: 8 });
});
