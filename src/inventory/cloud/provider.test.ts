/**
 * The provider's schedule and cache: back-off bounded and one attempt at a
 * time (on a fake clock, no timing assertions), the cache serving
 * synchronously while a read hangs, change notifications, close. The
 * hanging metadata server is a fake on 127.0.0.1 — a stand-in for a cloud's
 * IMDS, which cannot exist here (testdata/README.md).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildInventory } from '../build.ts';
import { DEFAULT_OPTIONS } from '../options.ts';
import type { DeviceIdentity } from '../model.ts';
import { snapshotOf } from '../../../test/fixtures/topologies/corpus.ts';
import { gceSource } from './gce.ts';
import { backoffDelay, CloudProvider, type CloudProviderEvent, type Scheduler } from './provider.ts';
import { FakeImds, routes } from './testdata/fake-imds.ts';
import { GCE_ANSWERS, GCE_FLAVOR } from './testdata/gce-responses.ts';
import { gceA3Ultra } from '../../../test/fixtures/topologies/gce-a3-ultra.ts';
import type { CloudFacts, MetadataSource } from './types.ts';

/** Timers that fire only when the test says so. */
class FakeScheduler implements Scheduler {
  readonly timers: { ms: number; fn: () => void; live: boolean }[] = [];
  after(ms: number, fn: () => void): () => void {
    const t = { ms, fn, live: true };
    this.timers.push(t);
    return () => { t.live = false; };
  }
  get live(): number[] {
    return this.timers.filter((t) => t.live).map((t) => t.ms);
  }
  /** Fires the one pending timer; returns its delay. */
  fire(): number {
    const live = this.timers.filter((t) => t.live);
    expect(live).toHaveLength(1);
    live[0]!.live = false;
    live[0]!.fn();
    return live[0]!.ms;
  }
}

const FACTS: CloudFacts = { cloud: 'gce', node: { block: 'b1', instanceType: 'a4-highgpu-8g' }, nics: [{ mac: '42:01:c0:a8:01:02', index: 2, networkName: 'rdma' }] };
const dev: DeviceIdentity = { name: 'pci-0000-08-00-0' as DeviceIdentity['name'], kind: 'pci', mac: '42:01:c0:a8:01:02' };

/** A source answering from a script: an Error rejects, facts resolve. */
function scripted(script: Array<CloudFacts | Error>): MetadataSource & { calls: number } {
  const src = {
    cloud: 'gce' as const, calls: 0,
    fetch(): Promise<CloudFacts> {
      const next = script[Math.min(src.calls++, script.length - 1)]!;
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  };
  return src;
}

const servers: FakeImds[] = [];
const providers: CloudProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
function provider(src: MetadataSource, o: ConstructorParameters<typeof CloudProvider>[1] = {}): CloudProvider {
  const p = new CloudProvider(src, { random: () => 0.5, ...o });
  providers.push(p);
  return p;
}

describe('backoffDelay', () => {
  it('doubles from the base, is jittered within ±20 %, and never exceeds the cap', () => {
    for (const r of [0, 0.5, 0.999999]) {
      let prev = 0;
      for (let n = 1; n <= 40; n++) {
        const d = backoffDelay(n, 5_000, 600_000, () => r);
        const exp = Math.min(600_000, 5_000 * 2 ** (n - 1));
        expect(d).toBeGreaterThanOrEqual(Math.floor(exp * 0.8));
        expect(d).toBeLessThanOrEqual(600_000);
        if (r === 0.5) { expect(d).toBeGreaterThanOrEqual(prev); prev = d; }
      }
    }
  });
});

describe('CloudProvider', () => {
  it('backs off exponentially up to the cap, with exactly one attempt pending at a time (no retry storm)', async () => {
    const clock = new FakeScheduler();
    const src = scripted([new Error('connect ECONNREFUSED')]);
    const events: CloudProviderEvent[] = [];
    const p = provider(src, { scheduler: clock, retryMs: 5_000, maxRetryMs: 600_000, onEvent: (e) => events.push(e) });
    p.start();
    p.start(); // idempotent
    await p.refresh();
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      expect(clock.live).toHaveLength(1);
      delays.push(clock.fire());
      await p.refresh();
    }
    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000, 600_000]);
    expect(src.calls).toBe(11);
    expect(p.status).toMatchObject({ state: 'failing', failures: 11 });
    expect(events.at(-1)).toMatchObject({ kind: 'failed', failures: 11, retryInMs: 600_000 });
  });

  it('after a success reads again only at the refresh interval, and a failure keeps the last good facts', async () => {
    const clock = new FakeScheduler();
    const p = provider(scripted([FACTS, new Error('timeout'), FACTS]), { scheduler: clock, refreshMs: 600_000, retryMs: 5_000 });
    p.start();
    await p.refresh();
    expect(p.status.state).toBe('ok');
    expect(clock.live).toEqual([600_000]);
    clock.fire();
    await p.refresh();
    expect(p.status).toMatchObject({ state: 'failing', failures: 1 });
    expect(p.attributesFor(dev, 'netclaim')?.['netclaim.dev/block']).toEqual({ string: 'b1' }); // still served
    expect(clock.live).toEqual([5_000]);
    clock.fire();
    await p.refresh();
    expect(p.status).toMatchObject({ state: 'ok', failures: 0 });
    expect(clock.live).toEqual([600_000]);
  });

  it('tells listeners when the facts change, and only then', async () => {
    const clock = new FakeScheduler();
    const moved: CloudFacts = { ...FACTS, node: { ...FACTS.node, block: 'b2' } };
    const p = provider(scripted([FACTS, FACTS, moved]), { scheduler: clock });
    let changes = 0;
    const off = p.onChange(() => { changes++; });
    p.start();
    await p.refresh();
    expect(changes).toBe(1);
    clock.fire();
    await p.refresh();
    expect(changes).toBe(1); // same answer
    clock.fire();
    await p.refresh();
    expect(changes).toBe(2);
    off();
  });

  it('runs one attempt at a time, however often it is asked', async () => {
    let release!: (f: CloudFacts) => void;
    let calls = 0;
    const src: MetadataSource = { cloud: 'gce', fetch: () => { calls++; return new Promise((r) => { release = r; }); } };
    const p = provider(src, { scheduler: new FakeScheduler() });
    p.start();
    const a = p.refresh();
    const b = p.refresh();
    expect(a).toBe(b);
    release(FACTS);
    await a;
    expect(calls).toBe(1);
  });

  it('while the metadata server does not answer: no attributes, and discovery neither waits nor fails', async () => {
    const s = await FakeImds.start(() => ({ hang: true }));
    servers.push(s);
    const clock = new FakeScheduler();
    const p = provider(gceSource({ endpoint: s.endpoint, timeoutMs: 200 }), { scheduler: clock });
    p.start();
    // The read is in flight; the cache answers at once (a value, not a promise), with nothing.
    expect(p.attributesFor(dev, 'netclaim')).toBeUndefined();
    const { snapshot, dispose } = snapshotOf(gceA3Ultra);
    try {
      const inv = buildInventory(snapshot, DEFAULT_OPTIONS, [], (d) => p.attributesFor(d, 'netclaim'));
      expect(inv.devices.length).toBeGreaterThan(0);
      for (const d of inv.devices) expect(Object.keys(d.attributes).filter((k) => k.includes('block'))).toEqual([]);
    } finally {
      dispose();
    }
    expect(await p.ready(5_000)).toBe(false); // the attempt timed out
    expect(p.status.state).toBe('failing');
    expect(clock.live).toEqual([5_000]); // and waits before the next one
  });

  it('close() aborts the read in flight and schedules nothing more', async () => {
    const s = await FakeImds.start(() => ({ hang: true }));
    servers.push(s);
    const clock = new FakeScheduler();
    const p = provider(gceSource({ endpoint: s.endpoint, timeoutMs: 60_000 }), { scheduler: clock, attemptTimeoutMs: 60_000 });
    p.start();
    while (s.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const attempt = p.refresh();
    p.close();
    await attempt;
    expect(p.status.state).toBe('closed');
    expect(clock.live).toEqual([]);
    expect(await p.ready(10)).toBe(false);
  });

  it('ready() resolves true once the first answer is cached', async () => {
    const p = provider(scripted([FACTS]), { scheduler: new FakeScheduler() });
    p.start();
    expect(await p.ready(5_000)).toBe(true);
    expect(p.facts).toEqual(FACTS);
  });

  it('reads a real answer end to end: fake GCE server → cached facts → attributes', async () => {
    const s = await FakeImds.start(routes(GCE_ANSWERS, GCE_FLAVOR));
    servers.push(s);
    const p = provider(gceSource({ endpoint: s.endpoint }), { scheduler: new FakeScheduler() });
    p.start();
    expect(await p.ready(5_000)).toBe(true);
    expect(p.attributesFor(dev, 'netclaim')?.['netclaim.dev/networkName']).toEqual({ string: 'a3u-rdma' });
    expect(p.suggestedConfig(dev)).toMatchObject({ cloud: 'gce', interface: { addresses: ['192.168.1.2/24'], mtu: 8896 } });
  });
});
