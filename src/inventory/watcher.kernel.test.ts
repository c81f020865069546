/**
 * Live updates: each kind of kernel change reaches a subscriber as a diff.
 * Latency is measured by `npm run bench -- inventory`; here each change must
 * arrive well before the 60 s periodic resync could have found it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { attachTcFilter, attachTcx, loadProgram } from '../../test/kernel/bpf-fixture.ts';
import { createNetns, eventually, ip, kernelAtLeast, testLibc, uniqueName } from '../../test/kernel/netns-fixture.ts';
import { isDriverError } from '../common/errors.ts';
import type { InventoryDiff } from './diff.ts';
import { DEFAULT_OPTIONS } from './options.ts';
import { InventoryWatcher } from './watcher.ts';
import { heldDevicesFile } from '../driver/state/held-devices-file.ts';

const emptySys = mkdtempSync(join(tmpdir(), 'nc-sys-'));
afterAll(() => rmSync(emptySys, { recursive: true, force: true }));
const watchers: InventoryWatcher[] = [];
afterEach(async () => { await Promise.all(watchers.splice(0).map((w) => w.close())); });

/** Resolves with the first diff matching `pred` (rejects after `ms`, far below the resync interval). */
function nextDiff(w: InventoryWatcher, pred: (d: InventoryDiff) => boolean, ms = 3000): Promise<{ diff: InventoryDiff; latencyMs: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no matching change within ${ms} ms`)); }, ms);
    const off = w.subscribe((_inv, diff) => {
      if (!pred(diff)) return;
      clearTimeout(timer);
      off();
      resolve({ diff, latencyMs: performance.now() - t0 });
    });
  });
}

const changedAttr = (name: string, attr: string) => (d: InventoryDiff): boolean =>
  d.changed.some((c) => c.after.ifName === name && c.attributes.includes(`netclaim.dev/${attr}`));

describe(`InventoryWatcher (${testLibc.backend})`, () => {
  it('delivers MTU, address, up/down, new and deleted links, and eBPF attachments as diffs', async () => {
    const ns = createNetns('w');
    const [a, b] = ['a', 'b'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'type', 'veth', 'peer', 'name', b!);
    const w = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, { ...DEFAULT_OPTIONS, includeKinds: ['*'] }, { libc: testLibc, ebpfPollMs: 100 });
    watchers.push(w);
    expect(w.start().devices.map((d) => d.ifName).sort()).toEqual([a, b].sort());

    let p = nextDiff(w, changedAttr(a!, 'mtu'));
    ip(ns, 'link', 'set', a!, 'mtu', '4000');
    expect((await p).diff.changed[0]!.after.attributes['netclaim.dev/mtu']).toEqual({ int: 4000 });

    p = nextDiff(w, changedAttr(a!, 'ipv4'));
    ip(ns, 'addr', 'add', '10.9.8.7/24', 'dev', a!);
    await p;

    p = nextDiff(w, changedAttr(a!, 'state'));
    ip(ns, 'link', 'set', a!, 'up');
    ip(ns, 'link', 'set', b!, 'up');
    await p;

    const c = uniqueName('c');
    p = nextDiff(w, (d) => d.added.some((x) => x.ifName === c));
    ip(ns, 'link', 'add', c, 'type', 'vxlan', 'id', '9', 'dstport', '4789');
    await p;

    p = nextDiff(w, (d) => d.removed.some((x) => x.name === c));
    ip(ns, 'link', 'del', c);
    await p;

    // Classic tc filters raise RTNLGRP_TC events; tcx attachments raise none (found by the eBPF poll).
    const index = Number(ip(ns, '-o', 'link', 'show', a!).split(':')[0]);
    const tcProg = loadProgram(testLibc, 'sched_cls', 'nc_tc_prog');
    try {
      p = nextDiff(w, changedAttr(a!, 'tcFilterNames'));
      attachTcFilter(ns.handle, index, 'ingress', tcProg, 'nc_filter');
      expect((await p).diff.changed[0]!.after.attributes['netclaim.dev/ebpf']).toEqual({ bool: true });
    } finally {
      testLibc.close(tcProg);
    }
  });

  it.skipIf(!kernelAtLeast(6, 6))('notices a tcx attachment through the eBPF poll (tcx: Linux ≥ 6.6)', async () => {
    const ns = createNetns('w');
    const [a, b] = ['a', 'b'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'type', 'veth', 'peer', 'name', b!);
    const w = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, { ...DEFAULT_OPTIONS, includeKinds: ['*'] }, { libc: testLibc, ebpfPollMs: 100 });
    watchers.push(w);
    w.start();
    const index = Number(ip(ns, '-o', 'link', 'show', a!).split(':')[0]);
    const prog = loadProgram(testLibc, 'sched_cls', 'nc_tcx_prog');
    try {
      const p = nextDiff(w, changedAttr(a!, 'tcxProgramNames'));
      const detach = attachTcx(ns.handle, testLibc, index, 'ingress', prog);
      try {
        expect((await p).diff.changed[0]!.after.attributes['netclaim.dev/tcxProgramNames']).toEqual({ string: 'nc_tcx_prog' });
      } finally {
        detach();
      }
    } finally {
      testLibc.close(prog);
    }
  });

  it('keeps a held device with its last attributes while its netdev is in a pod, and drops it when released', async () => {
    const ns = createNetns('w');
    const pod = createNetns('pod');
    const [a, b] = ['a', 'b'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'mtu', '2000', 'type', 'veth', 'peer', 'name', b!);
    const w = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, { ...DEFAULT_OPTIONS, includeKinds: ['*'] }, { libc: testLibc, ebpfPollMs: 0 });
    watchers.push(w);
    w.start();
    w.hold(a!);
    const moved = nextDiff(w, (d) => d.removed.some((x) => x.name === b) || d.changed.some((c) => c.after.name === a && !c.after.netdevPresent));
    ip(ns, 'link', 'set', a!, 'netns', pod.name);
    await moved;
    const held = w.current.devices.find((d) => d.name === a)!;
    expect(held).toMatchObject({ netdevPresent: false, ifName: a });
    expect(held.attributes['netclaim.dev/mtu']).toEqual({ int: 2000 });
    const gone = nextDiff(w, (d) => d.removed.some((x) => x.name === a));
    w.release(a!);
    await gone;
  });

  it('a restarted watcher publishes held devices from its first snapshot, with the attributes the last run saved', () => {
    const ns = createNetns('w');
    const pod = createNetns('pod');
    const state = mkdtempSync(join(tmpdir(), 'nc-state-'));
    try {
      const [a, b] = ['a', 'b'].map((t) => uniqueName(t));
      ip(ns, 'link', 'add', a!, 'mtu', '2100', 'type', 'veth', 'peer', 'name', b!);
      const options = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
      // First run: publishes, holds and moves `a` into a pod, then dies.
      const first = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, options, { libc: testLibc, ebpfPollMs: 0, heldStore: heldDevicesFile(state) });
      first.start();
      first.hold(a!);
      ip(ns, 'link', 'set', a!, 'netns', pod.name);
      // Second run: holds what the claim records say before its first snapshot.
      const second = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, options, { libc: testLibc, ebpfPollMs: 0, heldStore: heldDevicesFile(state) });
      watchers.push(first, second);
      second.hold(a!, { kind: 'virtual', ifName: a! });
      const d = second.start().devices.find((x) => x.name === a);
      expect(d).toMatchObject({ held: true, netdevPresent: false, ifName: a });
      expect(d!.attributes['netclaim.dev/mtu']).toEqual({ int: 2100 });
      // Without the saved form, the claim record's hint still keeps it published (no attributes left to show).
      const third = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, options, { libc: testLibc, ebpfPollMs: 0 });
      watchers.push(third);
      third.hold(a!, { kind: 'virtual', ifName: a! });
      expect(third.start().devices.find((x) => x.name === a)).toMatchObject({ held: true, ifName: a });
      // And a watcher that holds nothing does not invent it.
      const fourth = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, options, { libc: testLibc, ebpfPollMs: 0, heldStore: heldDevicesFile(state) });
      watchers.push(fourth);
      expect(fourth.start().devices.some((x) => x.name === a)).toBe(false);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('survives hundreds of links added at once (dumps the kernel marks interrupted are taken again, a failed rebuild is retried)', async () => {
    const ns = createNetns('w');
    const errors: unknown[] = [];
    const w = new InventoryWatcher(ns.handle, { sysfsRoot: emptySys }, { ...DEFAULT_OPTIONS, includeKinds: ['*'] }, { libc: testLibc, ebpfPollMs: 0, onError: (e) => errors.push(e) });
    watchers.push(w);
    w.start();
    const names = Array.from({ length: 300 }, (_, i) => `ncbulk${i}`);
    execFileSync('ip', ['-n', ns.name, '-batch', '-'], { input: names.map((n) => `link add ${n} type veth peer name ${n}p`).join('\n') });
    await eventually(() => {
      if (w.current.devices.length < 600) throw new Error(`${w.current.devices.length} devices so far`);
    }, 60_000);
    expect(w.current.devices.filter((d) => d.ifName?.startsWith('ncbulk')).length).toBe(600);
    // Any rebuild that failed meanwhile was a kernel error, reported, and followed by a good one.
    for (const e of errors) expect(isDriverError(e)).toBe(true);
  });
});
