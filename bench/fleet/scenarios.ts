/**
 * The fleet scenarios, each measured the same way: the API server's and
 * etcd's metrics before and after (requests by verb, latency, CPU), writes
 * counted at the client with a 100 ms sampler (for the busiest second),
 * and the time from the scenario's last kernel event until every node's
 * publisher has everything in the API server (`converge`).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { etcdView, readServer, serverDelta, sum, type EtcdView, type ServerDelta, type ServerView } from './metrics.ts';
import type { SimNode } from './sim-node.ts';

export interface FleetContext {
  readonly nodes: readonly SimNode[];
  readonly cp: { readonly server: string; readonly caPem: string; readonly token: string; readonly etcdUrl: string };
  readonly log: (s: string) => void;
  readonly rand: () => number;
}

export interface ScenarioResult {
  readonly wallS: number;
  /** Slice writes the publishers made (creates, updates, deletes). */
  readonly clientWrites: number;
  readonly clientWritesPerS: number;
  /** The busiest 1 s window, fleet-wide (client count). */
  readonly peakWritesIn1s: number;
  readonly perNode: { readonly meanWrites: number; readonly maxWrites: number; readonly maxWritesPerS: number };
  /** Reconciles the write budget held back (each later published the latest state). */
  readonly deferred: number;
  readonly server: ServerDelta;
  readonly apiserverCpuS: number;
  readonly etcdCpuS: number;
  readonly apiserverRssMB: number;
  readonly etcd: EtcdView;
  /** Last kernel event → every node's slices current in the API server. */
  readonly convergeMs: number;
  /** The simulator's own event-loop delay (its one thread runs every node): how much of the timing is the simulator's. */
  readonly simLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly extra?: Record<string, unknown>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number): number => Math.round(x * 10) / 10;
const cpu = (v: ServerView, which: 'api' | 'etcd'): number => sum(v[which], 'process_cpu_seconds_total');

export async function measure(ctx: FleetContext, name: string, body: () => Promise<{ lastEventAt: number; extra?: Record<string, unknown> }>): Promise<ScenarioResult> {
  const { nodes } = ctx;
  ctx.log(`fleet: scenario ${name} (${nodes.length} nodes)`);
  const before = await readServer(ctx.cp);
  const w0 = nodes.map((n) => n.writes);
  const d0 = nodes.reduce((a, n) => a + n.deferred, 0);
  const total = (): number => nodes.reduce((a, n) => a + n.writes, 0);
  const start = total();
  const samples: Array<[number, number]> = [[performance.now(), start]];
  const sampler = setInterval(() => samples.push([performance.now(), total()]), 100);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const { lastEventAt, extra } = await body();
  await Promise.all(nodes.map((n) => n.synced()));
  const convergeMs = performance.now() - lastEventAt;
  const wallS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  loop.disable();
  samples.push([performance.now(), total()]);
  const after = await readServer(ctx.cp);
  const perNodeWrites = nodes.map((n, i) => n.writes - w0[i]!);
  const clientWrites = perNodeWrites.reduce((a, b) => a + b, 0);
  const r: ScenarioResult = {
    wallS: round1(wallS),
    clientWrites,
    clientWritesPerS: round1(clientWrites / wallS),
    peakWritesIn1s: peak(samples, 1000),
    perNode: {
      meanWrites: round1(clientWrites / nodes.length),
      maxWrites: Math.max(...perNodeWrites),
      maxWritesPerS: round1(Math.max(...perNodeWrites) / wallS),
    },
    deferred: nodes.reduce((a, n) => a + n.deferred, 0) - d0,
    server: serverDelta(before, after),
    apiserverCpuS: round1(cpu(after, 'api') - cpu(before, 'api')),
    etcdCpuS: round1(cpu(after, 'etcd') - cpu(before, 'etcd')),
    apiserverRssMB: Math.round(sum(after.api, 'process_resident_memory_bytes') / 2 ** 20),
    etcd: etcdView(after),
    convergeMs: Math.round(convergeMs),
    simLoopDelayMs: { p99: Math.round(loop.percentile(99) / 1e6), max: Math.round(loop.max / 1e6) },
    ...(extra !== undefined && { extra }),
  };
  ctx.log(`fleet: ${name}: ${r.clientWrites} writes (server ${r.server.sliceWrites}) in ${r.wallS} s, peak ${r.peakWritesIn1s}/s, max per node ${r.perNode.maxWrites}, ` +
    `write p50/p99 ${r.server.sliceWriteMs.p50}/${r.server.sliceWriteMs.p99} ms, converged ${r.convergeMs} ms after the last event`);
  return r;
}

/** Most writes in any `windowMs` (from cumulative samples). */
function peak(samples: ReadonlyArray<readonly [number, number]>, windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    while (j < samples.length - 1 && samples[j + 1]![0] - samples[i]![0] <= windowMs) j++;
    best = Math.max(best, samples[j]![1] - samples[i]![1]);
  }
  return best;
}

/** Quiet fleet for `quietS` (background cost: watches, bookmarks), then single-change probes on random nodes. */
export function steady(ctx: FleetContext, quietS: number, probes: number): Promise<ScenarioResult> {
  return measure(ctx, 'steady', async () => {
    await sleep(quietS * 1000);
    const ms: number[] = [];
    let lastEventAt = performance.now();
    for (let k = 0; k < probes; k++) {
      const node = ctx.nodes[Math.floor(ctx.rand() * ctx.nodes.length)]!;
      const nic = Math.floor(ctx.rand() * node.nics);
      for (const up of [false, true]) {
        lastEventAt = performance.now();
        node.setLink(nic, up);
        await node.synced();
        ms.push(performance.now() - lastEventAt);
      }
    }
    ms.sort((a, b) => a - b);
    const q = (p: number): number => round1(ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)] ?? NaN);
    return { lastEventAt, extra: { quietS, singleChanges: ms.length, changeToApiMs: { p50: q(50), p99: q(99), max: round1(ms.at(-1) ?? NaN) } } };
  });
}

/**
 * One node's NIC 0 flapping at `hz` (down and up `hz` times a second) for
 * `seconds`, ending up. Each interval is jittered ±50 %: a real flap is not
 * phase-locked to the watcher's and publisher's timers (a strictly periodic
 * one always lands on an even count and publishes nothing).
 */
export function oneNodeFlap(ctx: FleetContext, hz: number, seconds: number, node = ctx.nodes[0]!, sample?: () => void): Promise<ScenarioResult> {
  return measure(ctx, `one-node-flap-${hz}hz`, async () => {
    const w0 = node.writes;
    const step = 1000 / (2 * hz);
    const t0 = performance.now();
    let up = true;
    let transitions = 0;
    let lastEventAt = t0;
    let at = t0;
    for (let k = 1; k <= 2 * hz * seconds; k++) {
      at += step * (0.5 + ctx.rand());
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      up = !up;
      node.setLink(0, up);
      if (sample && k % (2 * hz * 5) === 0) sample(); // every 5 s
      transitions++;
      lastEventAt = performance.now();
    }
    const flapS = (lastEventAt - t0) / 1000;
    return { lastEventAt, extra: { node: node.name, transitions, flapS: round1(flapS), flappingNodeWrites: node.writes - w0, flappingNodeWritesPerS: round1((node.writes - w0) / flapS) } };
  });
}

/** Every NIC of every node goes down and comes back up within 1 s (a switch reboot). */
export function fleetFlap(ctx: FleetContext): Promise<ScenarioResult> {
  return measure(ctx, 'fleet-flap', async () => {
    const t0 = performance.now();
    let last = 0;
    const timers: Promise<void>[] = [];
    for (const node of ctx.nodes) {
      for (let i = 0; i < node.nics; i++) {
        const down = ctx.rand() * 400;
        const up = down + 100 + ctx.rand() * 400;
        last = Math.max(last, up);
        // Chained, not two timers: timers of different delays may run out of order when the loop lags.
        timers.push(sleep(down).then(() => { node.setLink(i, false); return sleep(up - down); }).then(() => node.setLink(i, true)));
      }
    }
    await Promise.all(timers);
    const events = timers.length * 2;
    return { lastEventAt: t0 + last, extra: { events, eventWindowMs: Math.round(last) } };
  });
}

/** Every daemon restarted, `batch` at a time (a DaemonSet rolling update with maxUnavailable = batch). */
export function rollingRestart(ctx: FleetContext, batch: number): Promise<ScenarioResult> {
  return measure(ctx, 'rolling-restart', async () => {
    const gens = ctx.nodes.map((n) => n.generation);
    const batchMs: number[] = [];
    for (let i = 0; i < ctx.nodes.length; i += batch) {
      const t = performance.now();
      const part = ctx.nodes.slice(i, i + batch);
      await Promise.all(part.map((n) => n.restart()));
      await Promise.all(part.map((n) => n.synced()));
      batchMs.push(performance.now() - t);
    }
    const bumped = ctx.nodes.filter((n, i) => n.generation !== gens[i]).length;
    batchMs.sort((a, b) => a - b);
    return { lastEventAt: performance.now(), extra: { batch, batches: batchMs.length, batchMsP50: Math.round(batchMs[Math.floor(batchMs.length / 2)] ?? 0), batchMsMax: Math.round(batchMs.at(-1) ?? 0), poolGenerationsBumped: bumped } };
  });
}

/**
 * One daemon's cost under a flapping link (issue 25 item 4): the first 16-NIC node's NIC 0 at
 * `hz` for `seconds`, this process's RSS, heap and CPU sampled every 5 s. Run with a small fleet
 * (`--nodes=3`), so the process is mostly that one publisher.
 */
export async function soak(ctx: FleetContext, hz: number, seconds: number): Promise<ScenarioResult> {
  const node = ctx.nodes.find((n) => n.nics === 16) ?? ctx.nodes[0]!;
  const series: Array<{ s: number; rssMB: number; heapMB: number; cpuPct: number }> = [];
  const t0 = performance.now();
  let last = { t: t0, cpu: process.cpuUsage() };
  const sample = (): void => {
    const now = performance.now();
    const cpu = process.cpuUsage(last.cpu);
    const m = process.memoryUsage();
    series.push({ s: Math.round((now - t0) / 1000), rssMB: Math.round(m.rss / 2 ** 20), heapMB: Math.round(m.heapUsed / 2 ** 20), cpuPct: round1(((cpu.user + cpu.system) / 1000 / (now - last.t)) * 100) });
    last = { t: now, cpu: process.cpuUsage() };
  };
  sample();
  const r = await oneNodeFlap(ctx, hz, seconds, node, sample);
  return { ...r, extra: { ...r.extra, nics: node.nics, series } };
}
