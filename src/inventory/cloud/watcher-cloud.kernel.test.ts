/**
 * The watcher with a cloud provider, on real netlink in a throwaway netns:
 * the first snapshot does not wait for the metadata service, the provider's
 * first answer and every later change arrive as a diff, and the watcher's
 * close leaves the provider's lifecycle to its owner. The metadata source
 * here is scripted (no cloud exists here); the HTTP side is covered by the
 * unit tests against the fake server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNetns, ip, testLibc, uniqueName } from '../../../test/kernel/netns-fixture.ts';
import type { InventoryDiff } from '../diff.ts';
import { DEFAULT_OPTIONS } from '../options.ts';
import { InventoryWatcher } from '../watcher.ts';
import { CloudProvider, type Scheduler } from './provider.ts';
import type { CloudFacts, MetadataSource } from './types.ts';

const emptySys = mkdtempSync(join(tmpdir(), 'nc-sys-'));
afterAll(() => rmSync(emptySys, { recursive: true, force: true }));
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

const manual: Scheduler = { after: () => () => {} }; // the test drives every read

function nextDiff(w: InventoryWatcher, pred: (d: InventoryDiff) => boolean, ms = 3000): Promise<InventoryDiff> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no matching change within ${ms} ms`)); }, ms);
    const off = w.subscribe((_inv, diff) => { if (pred(diff)) { clearTimeout(timer); off(); resolve(diff); } });
  });
}

describe(`InventoryWatcher with a cloud provider (${testLibc.backend})`, () => {
  it('publishes at once without cloud attributes, then rebuilds when the provider\'s answer arrives and when it changes', async () => {
    const ns = createNetns('cw');
    const [a, b] = ['a', 'b'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'type', 'veth', 'peer', 'name', b!);

    let answer: (f: CloudFacts) => void = () => {};
    const source: MetadataSource = { cloud: 'gce', fetch: () => new Promise((r) => { answer = r; }) };
    const provider = new CloudProvider(source, { scheduler: manual });
    cleanup.push(() => provider.close());
    provider.start(); // the read hangs until the test answers

    const w = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, { ...DEFAULT_OPTIONS, includeKinds: ['*'] }, { libc: testLibc, ebpfPollMs: 0, provider });
    cleanup.push(() => w.close());
    const first = w.start();
    expect(first.devices.map((d) => d.ifName).sort()).toEqual([a, b].sort());
    for (const d of first.devices) expect(d.attributes['netclaim.dev/block']).toBeUndefined();

    const facts: CloudFacts = { cloud: 'gce', node: { block: 'blk-1', instanceType: 'a4-highgpu-8g' }, nics: [] };
    let p = nextDiff(w, (d) => d.changed.some((c) => c.attributes.includes('netclaim.dev/block')));
    answer(facts);
    let diff = await p;
    // Virtual devices join no NIC; the node's facts are theirs too.
    expect(diff.changed.map((c) => c.after.attributes['netclaim.dev/block'])).toEqual([{ string: 'blk-1' }, { string: 'blk-1' }]);

    p = nextDiff(w, (d) => d.changed.some((c) => c.attributes.includes('netclaim.dev/block')));
    const next = provider.refresh();
    answer({ ...facts, node: { ...facts.node, block: 'blk-2' } });
    await next;
    diff = await p;
    expect(diff.changed[0]!.after.attributes['netclaim.dev/block']).toEqual({ string: 'blk-2' });

    await w.close();
    expect(provider.status.state).toBe('ok'); // the watcher does not own the provider
  });
});
