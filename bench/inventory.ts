/**
 * The inventory benchmark: full discovery (snapshot + build) of 1,000
 * netdevs, and kernel change → subscriber latency. Throwaway namespaces made
 * with `ip` (set-up only), deleted at the end even on failure.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { buildInventory } from '../src/inventory/build.ts';
import { collectSnapshot } from '../src/inventory/collect.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from '../src/inventory/options.ts';
import { InventoryWatcher } from '../src/inventory/watcher.ts';
import { loadLibc } from '../src/kernel/libc/index.ts';
import { linkGetByName, linkSetMtu } from '../src/kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../src/kernel/netns/handle.ts';
import { summarize, timeUs } from './stats.ts';

export interface InventoryBenchOptions {
  readonly runs: number;
  readonly changes: number;
  readonly log: (s: string) => void;
}

function withNamespace<T>(pairs: number, fn: (h: NetnsHandle, name: string) => Promise<T>): Promise<T> {
  const name = `ncbi${process.pid % 10000}`;
  execFileSync('ip', ['netns', 'add', name]);
  const batch = Array.from({ length: pairs }, (_, i) => `link add ncq${i}a type veth peer name ncq${i}b`).join('\n');
  execFileSync('ip', ['-n', name, '-batch', '-'], { input: batch });
  const h = NetnsHandle.open(`/run/netns/${name}`, { libc: loadLibc('koffi') });
  return fn(h, name).finally(() => {
    h.close();
    execFileSync('ip', ['netns', 'delete', name]);
  });
}

function discoveryMs(h: NetnsHandle, o: InventoryOptions, runs: number): { medianMs: number; p99Ms: number; devices: number } {
  let devices = 0;
  const once = (): void => { devices = buildInventory(collectSnapshot(h, { sysfsRoot: '/sys' }, o), o).devices.length; };
  once();
  const s = summarize(Array.from({ length: runs }, () => timeUs(once) / 1000));
  return { medianMs: s.p50, p99Ms: s.p99, devices };
}

async function changeLatencyMs(h: NetnsHandle, o: InventoryOptions, changes: number): Promise<ReturnType<typeof summarize>> {
  const w = new InventoryWatcher(h, { sysfsRoot: '/sys' }, o, { libc: loadLibc('koffi'), ebpfPollMs: 0 });
  w.start();
  const index = linkGetByName(h, 'ncq0a').index;
  const samples: number[] = [];
  try {
    for (let i = 0; i < changes; i++) {
      const mtu = 1400 + (i % 2) * 100;
      const seen = new Promise<number>((resolve) => {
        const off = w.subscribe((_inv, diff) => {
          if (diff.changed.some((c) => c.after.ifIndex === index)) { off(); resolve(performance.now()); }
        });
      });
      const t0 = performance.now();
      linkSetMtu(h, index, mtu);
      samples.push((await seen) - t0);
    }
  } finally {
    await w.close();
  }
  return summarize(samples);
}

export async function benchInventory(o: InventoryBenchOptions): Promise<Record<string, unknown>> {
  const all: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
  return withNamespace(500, async (h) => {
    o.log('inventory: discovery of 1,001 netdevs…');
    const published = discoveryMs(h, all, o.runs);
    const defaults = discoveryMs(h, DEFAULT_OPTIONS, o.runs);
    o.log('inventory: change latency…');
    const latencyAll = await changeLatencyMs(h, all, o.changes);
    return {
      suite: 'inventory',
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
      netdevs: 1001,
      discovery: {
        allPublished: published, // every veth published: ethtool + eBPF queried for each
        vethExcluded: defaults, // the default: veths are plumbing, only listed
      },
      changeToSubscriberMs: latencyAll,
      targets: { discoveryMs: 100, changeP99Ms: 500 },
      meetsTargets: { discovery: published.medianMs <= 100, changeP99: latencyAll.p99 <= 500 },
    };
  });
}
