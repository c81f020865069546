/**
 * A slice write the API server executed but whose response never reached the
 * publisher (the connection closed under it: undici's `UND_ERR_SOCKET other side
 * closed` with client-node, ECONNRESET with kube-api.ts; seen at fleet scale, docs/fleet.md "Writes that failed at the
 * client"). The publisher must reconcile, not repeat blindly: it re-reads
 * (LIST) and finds its write already there, so it converges with no second
 * write — for a create (the first publish) as for an update — and a random
 * sequence of updates with responses lost at random moments still ends with
 * the last state stored and one slice per node.
 *
 * The real kube-apiserver executes every write; only the response is lost,
 * by a TCP proxy (cut-proxy.ts: a fault a real server cannot produce on
 * demand). The publisher's connections are pooled as the daemon's are
 * (kube-connections.ts): one HTTP/2 session carries its watch and its writes,
 * so the cut also ends the watch, as a server closing the connection would.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import { CutProxy } from './cut-proxy.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix, waitFor, type RawSlice } from './slice-fixtures.ts';
import type { DriverError } from '../../src/common/errors.ts';
import { pooledConnections } from '../../src/surfaces/kube/kube-connections.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const DRIVER = 'netclaim.dev';
const cleanup: Array<() => Promise<unknown>> = [];
let proxy: CutProxy;

const devices = (mtu: number): PublishDevice[] => Array.from({ length: 4 }, (_, i) => ({ name: `nic${i}`, attributes: { 'netclaim.dev/mtu': { int: mtu } } }));
const mtus = (s: RawSlice): number[] => s.spec.devices.map((d) => (d.attributes['netclaim.dev/mtu'] as { int: number }).int);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  proxy = await CutProxy.start(cp.server);
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await proxy.close();
});

/** A publisher on its own node, talking to the API server through the proxy; its errors collected. */
async function publisher(o: { start?: boolean } = {}): Promise<{ node: string; p: SlicePublisher; errors: DriverError[] }> {
  const node = `lost-${suffix()}`;
  const { created } = await ensureNode(kube, node);
  const kc = kubeConfigFor({ ...cp, server: proxy.url }, cp.token);
  const pool = pooledConnections(kc);
  const errors: DriverError[] = [];
  // Budget off and short retries: the test is about reconciling, not pacing.
  const p = new SlicePublisher({ kubeConfig: kc, nodeName: node, writeBudget: { ratePerSec: 0, burst: 1 }, retryMinMs: 50, retryMaxMs: 1000, onError: (e) => errors.push(e) });
  cleanup.push(async () => {
    await p.close();
    await pool.close();
    await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`);
    if (created) await kube.delete(`/api/v1/nodes/${node}`);
  });
  if (o.start !== false) await p.start();
  return { node, p, errors };
}

/** The transport's reason, wherever it sits in the cause chain (DriverError → HTTP/2 stream error → the session's or socket's). */
function transportCode(e: unknown): string | undefined {
  for (let c = e as { code?: unknown; cause?: unknown } | undefined, i = 0; c && i < 8; c = c.cause as typeof c, i++) {
    if (typeof c.code === 'string' && /^(ERR_HTTP2_|ECONN)/.test(c.code)) return c.code;
  }
  return undefined;
}

/** Holds the responses, hands the publisher `mtu`, waits until the server HAS it (read directly), then closes the connections. */
async function loseResponseTo(node: string, p: SlicePublisher, mtu: number): Promise<RawSlice> {
  proxy.hold();
  p.update(devices(mtu));
  const stored = await waitFor(`the server to store mtu ${mtu}`, async () => {
    const [s] = await sliceList(kube, node, DRIVER);
    return s !== undefined && mtus(s).every((m) => m === mtu) ? s : undefined;
  }, 30_000, 20);
  proxy.cut();
  return stored;
}

test('an update executed by the server whose response is lost: the publisher re-reads and converges without writing again', { timeout: 60_000 }, async () => {
  const { node, p, errors } = await publisher();
  p.update(devices(1500));
  await p.synced();
  const before = p.writes;
  const executed = await loseResponseTo(node, p, 1501);
  await p.synced();
  // The failure reached the publisher as the fleet saw it…
  expect(errors.map(transportCode)).toContain('ECONNRESET');
  // …and it reconciled against what the server holds: that write, not a second one.
  const after = await sliceList(kube, node, DRIVER);
  expect(after).toHaveLength(1);
  expect(mtus(after[0]!)).toEqual([1501, 1501, 1501, 1501]);
  expect(after[0]!.metadata.resourceVersion).toBe(executed.metadata.resourceVersion);
  expect(p.writes.updates).toBe(before.updates); // the lost write is not counted as done; no retry write was needed
});

test('the first publish (a create) executed but its response lost: no second slice, no rewrite', { timeout: 60_000 }, async () => {
  const { node, p, errors } = await publisher();
  const executed = await loseResponseTo(node, p, 9000);
  await p.synced();
  expect(errors.map(transportCode)).toContain('ECONNRESET');
  const after = await sliceList(kube, node, DRIVER);
  expect(after).toHaveLength(1);
  expect(after[0]!.metadata.resourceVersion).toBe(executed.metadata.resourceVersion);
  expect(p.writes).toMatchObject({ creates: 0, updates: 0 });
  // And it keeps working: the next change is written once.
  p.update(devices(9001));
  await p.synced();
  const [s] = await sliceList(kube, node, DRIVER);
  expect(mtus(s!)).toEqual([9001, 9001, 9001, 9001]);
  expect(p.writes.updates).toBe(1);
});

test('property: updates with connections closed at random moments — the last state is stored, one slice, the publisher keeps going', { timeout: 240_000 }, async () => {
  const steps = fc.array(fc.record({ mtu: fc.integer({ min: 1280, max: 1300 }), gapMs: fc.integer({ min: 0, max: 120 }), cutAfterMs: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }) }), { minLength: 1, maxLength: 8 });
  await fc.assert(fc.asyncProperty(steps, async (ss) => {
    const { node, p } = await publisher();
    for (const s of ss) {
      if (s.cutAfterMs !== undefined) {
        // A connection ends at a random moment, whatever it carried (a write, its response, the watch, a LIST).
        proxy.hold();
        p.update(devices(s.mtu));
        await sleep(s.cutAfterMs);
        proxy.cut();
      } else {
        p.update(devices(s.mtu));
      }
      await sleep(s.gapMs);
    }
    await p.synced();
    const after = await sliceList(kube, node, DRIVER);
    expect(after).toHaveLength(1);
    expect(mtus(after[0]!)).toEqual(Array(4).fill(ss.at(-1)!.mtu));
  }), { numRuns: 6 });
});

test('start() through a connection the server closes: retried with backoff, not fatal (the daemon would otherwise exit)', { timeout: 60_000 }, async () => {
  const { node, p, errors } = await publisher({ start: false });
  proxy.hold(); // the Node read (or the LIST) goes out; its answer never comes back
  const started = p.start();
  await sleep(200);
  proxy.cut();
  await started;
  // The cut may catch the connection in its TLS handshake or after it: the stream is cancelled with the session (ERR_HTTP2_*) or closes unanswered (ECONNRESET).
  expect(errors.length).toBeGreaterThan(0);
  expect(errors.map(transportCode).every((c) => c === 'ECONNRESET' || c?.startsWith('ERR_HTTP2_'))).toBe(true);
  p.update(devices(1400));
  await p.synced();
  const [s] = await sliceList(kube, node, DRIVER);
  expect(mtus(s!)).toEqual([1400, 1400, 1400, 1400]);
});

test('start() for a Node that does not exist still fails at once (not transient)', { timeout: 30_000 }, async () => {
  const kc = kubeConfigFor({ ...cp, server: proxy.url }, cp.token);
  const p = new SlicePublisher({ kubeConfig: kc, nodeName: `absent-${suffix()}`, retryMinMs: 50 });
  await expect(p.start()).rejects.toThrow(/404/);
  await p.close();
});
