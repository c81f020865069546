/**
 * The slice publisher's write budget against the real kube-apiserver:
 * random bursts of inventory updates (random gaps, random values, random
 * length) are coalesced — the last state given to update() is always the one
 * the API server ends up holding — and the writes stay within the budget in
 * every 1 s window.
 *
 * The windows are counted on the writes as the publisher sends them (its
 * KubeApi's requests, timed by the clock the budget reads), and a watch on
 * the node's slices checks that each of them reached the server. Counting
 * the watch's events instead timed the API server's delivery: on a loaded
 * machine it bunches events sent apart, and a budget that held looked
 * broken.
 *
 * A fast budget (5/s, bursts of 2) keeps each run short; the bound is the
 * same shape for any setting (write-budget.test.ts checks the bucket alone).
 */
import fc from 'fast-check';
import { afterAll, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix, waitFor, watchSlices } from './slice-fixtures.ts';
import { KubeApi, type KubeRequest } from '../../src/surfaces/kube/kube-api.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const admin = kubeConfigFor(cp, cp.token);

/** The API client the publisher writes through, noting when each slice write is sent (Date.now: the budget's clock). */
class TimedWrites extends KubeApi {
  readonly sent: number[] = [];
  override request<T = unknown>(r: KubeRequest): Promise<T> {
    if ((r.method === 'POST' || r.method === 'PUT') && r.path.startsWith(SLICES)) this.sent.push(Date.now());
    return super.request<T>(r);
  }
}
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

test('property: random update bursts — the last state is published, writes sent per 1 s ≤ burst + rate, each seen by a watch', { timeout: 240_000 }, async () => {
  const events = fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 150 }), mtu: fc.integer({ min: 1280, max: 1290 }) }), { minLength: 1, maxLength: 30 });
  await fc.assert(fc.asyncProperty(events, fc.constantFrom(0, 50), async (evs, debounceMs) => {
    const node = `budget-${suffix()}`;
    const { created } = await ensureNode(kube, node);
    const api = new TimedWrites(admin.target);
    const p = new SlicePublisher({ kubeConfig: api, nodeName: node, writeBudget: BUDGET, debounceMs });
    cleanup.push(async () => {
      await p.close();
      await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`);
      if (created) await kube.delete(`/api/v1/nodes/${node}`);
    });
    await p.start();
    let seen = 0;
    const stop = await watchSlices(admin, node, DRIVER, (t) => { if (t === 'ADDED' || t === 'MODIFIED') seen++; });
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
      // No 1 s window holds more writes sent than the budget allows; every write reached the server.
      expect(p.errors, `publisher errors; the last: ${p.lastError?.message}`).toBe(0);
      const w = p.writes;
      expect(w.creates + w.updates).toBeLessThanOrEqual(evs.length);
      expect(api.sent.length).toBe(w.creates + w.updates);
      for (const t0 of api.sent) {
        expect(api.sent.filter((t) => t >= t0 && t < t0 + 1000).length).toBeLessThanOrEqual(BUDGET.burst + BUDGET.ratePerSec);
      }
      await waitFor('the watch to see every write', async () => seen >= api.sent.length, 30_000);
      expect(seen).toBe(api.sent.length);
    } finally {
      stop();
      await p.close();
      await api.close();
    }
  }), { numRuns: 8 });
});
