/**
 * `npm run bench -- ipam [--json]`: address pools against a real
 * kube-apiserver + etcd (the conformance tier's control plane, started here).
 *
 * - `fill`: 10,000 allocations in one pool (a /18: 16,382 host addresses, so
 *   the pool ends 61% full), from 16 simulated nodes at once, each with its
 *   own client and connection, as separate daemons would. Per allocation:
 *   the claim-level path of Prepare (GET of the pool, then create-and-retry
 *   from a random start; driver/ipam/allocate.ts). Reported: latency p50/p99
 *   overall and for the last 1,000 (the fullest part), API requests per
 *   allocation by verb, allocations per second.
 * - `dense`: a /24 pool filled to its last address and one past it, one at a
 *   time: the list fallback when random probes keep hitting taken
 *   addresses, and the cost of the exhaustion error.
 * - `release`: the 10,000 released (one DELETE each, uid precondition).
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isDriverError } from '../src/common/errors.ts';
import { allocateClaimAddresses, releaseAddresses } from '../src/driver/ipam/claim-addresses.ts';
import type { PoolAddress } from '../src/driver/record-model.ts';
import { KubeIpam } from '../src/surfaces/kube/ipam-client.ts';
import { createNode, inPool } from './fleet/cluster.ts';
import { round, summarize } from './stats.ts';

export interface IpamBenchOptions {
  readonly allocations: number;
  readonly nodes: number;
  readonly log: (s: string) => void;
}

type Counts = Record<string, number>;

export async function benchIpam(o: IpamBenchOptions): Promise<unknown> {
  const { startControlPlane } = await import('../test/conformance/control-plane.ts');
  const { KubeClient } = await import('../test/conformance/kube-client.ts');
  const { kubeConfigFor } = await import('../test/conformance/slice-fixtures.ts');
  const { ensureIpamCrds } = await import('../test/conformance/ipam-fixtures.ts');
  const loadAtStart = loadavg().map((x) => round(x, 1));
  const cp = await startControlPlane({ log: (l) => o.log(`ipam: ${l}`) });
  try {
    const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem, timeoutMs: 120_000 });
    await ensureIpamCrds(kube);
    const names = Array.from({ length: o.nodes }, (_, i) => `ipam-node-${i}`);
    await inPool(names, 8, (n) => createNode(kube, n));
    const pool = async (name: string, spec: unknown): Promise<void> => {
      const r = await kube.post('/apis/netclaim.dev/v1alpha1/ippools', { apiVersion: 'netclaim.dev/v1alpha1', kind: 'IPPool', metadata: { name }, spec });
      if (r.status !== 201) throw new Error(`create IPPool ${name}: ${r.status} ${r.text}`);
    };
    await pool('fill', { subnet: '10.64.0.0/18', gateway: '10.64.0.1', routes: [{ destination: '10.0.0.0/8' }] });
    await pool('dense', { subnet: '10.65.0.0/24', gateway: '10.65.0.1' });
    const counts: Counts = {};
    const ports = names.map((n) => new KubeIpam({
      kubeConfig: kubeConfigFor({ server: cp.server, caPem: cp.caPem }, cp.token), nodeName: n, timeoutMs: 60_000,
      onRequest: (verb) => { counts[verb] = (counts[verb] ?? 0) + 1; },
    }));
    const claim = (i: number): { uid: string; namespace: string; name: string } =>
      ({ uid: `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}`, namespace: 'bench', name: `c-${i}` });

    o.log(`ipam: ${o.allocations} allocations from ${o.nodes} nodes in a /18…`);
    const ms: number[] = new Array<number>(o.allocations);
    const held: PoolAddress[][] = new Array<PoolAddress[]>(o.allocations);
    const before = { ...counts };
    const t0 = performance.now();
    await inPool(Array.from({ length: o.allocations }, (_, i) => i), o.nodes, async (i) => {
      const node = i % o.nodes;
      const s = performance.now();
      held[i] = await allocateClaimAddresses([{ request: 'nic', device: 'd0', pools: ['fill'], statics: [] }], { port: ports[node]!, node: names[node]!, claim: claim(i) });
      ms[i] = performance.now() - s;
    });
    const fillS = (performance.now() - t0) / 1000;
    const fillCounts = diff(counts, before);
    const distinct = new Set(held.map((h) => h[0]!.address)).size;
    o.log(`ipam: filled in ${round(fillS, 1)} s; ${distinct} distinct addresses`);

    o.log('ipam: dense /24 to exhaustion…');
    const denseBefore = { ...counts };
    const denseMs: number[] = [];
    let exhausted: { ms: number; message: string } | undefined;
    for (let i = 0; i < 260 && exhausted === undefined; i++) {
      const s = performance.now();
      try {
        await allocateClaimAddresses([{ request: 'nic', device: 'd0', pools: ['dense'] , statics: [] }], { port: ports[0]!, node: names[0]!, claim: claim(100_000 + i) });
        denseMs.push(performance.now() - s);
      } catch (err) {
        if (!isDriverError(err) || err.code !== 'PREPARE_POOL_EXHAUSTED') throw err;
        exhausted = { ms: round(performance.now() - s), message: err.message };
      }
    }
    const denseCounts = diff(counts, denseBefore);

    o.log('ipam: releasing…');
    const relBefore = { ...counts };
    const relMs: number[] = new Array<number>(o.allocations);
    await inPool(held.map((h, i) => [h, i] as const), o.nodes, async ([h, i]) => {
      const s = performance.now();
      await releaseAddresses(ports[i % o.nodes]!, claim(i).uid, h);
      relMs[i] = performance.now() - s;
    });
    const relCounts = diff(counts, relBefore);
    const left = await kube.get<{ items: unknown[] }>('/apis/netclaim.dev/v1alpha1/ipallocations?labelSelector=netclaim.dev%2Fpool%3Dfill');
    const per = (c: Counts, n: number): Record<string, number> => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, round(v / n)]));
    return {
      kubeApiserver: cp.version,
      machine: { cpus: availableParallelism(), loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadavg().map((x) => round(x, 1)), note: 'API server, etcd and the allocators share these CPUs' },
      fill: {
        pool: '10.64.0.0/18 (16,382 host addresses, less the gateway)', allocations: o.allocations, concurrentNodes: o.nodes,
        distinctAddresses: distinct, fullAtEnd: round(o.allocations / 16_381, 2),
        msPerAllocation: summarize(ms), lastThousandMs: summarize(ms.slice(-1000)),
        requestsPerAllocation: per(fillCounts, o.allocations), allocationsPerSecond: round(o.allocations / fillS, 1), wallS: round(fillS, 1),
        note: 'get: the pool at each Prepare, plus one read of its Node (owner reference) per simulated node',
      },
      dense: {
        pool: '10.65.0.0/24 (253 to hand out)', allocated: denseMs.length, msPerAllocation: summarize(denseMs),
        requestsPerAllocation: per(denseCounts, denseMs.length + 1), exhaustion: exhausted,
      },
      release: { msPerRelease: summarize(relMs), requestsPerRelease: per(relCounts, o.allocations), leftInPool: left.body.items.length },
    };
  } finally {
    await cp.stop();
  }
}

function diff(now: Counts, before: Counts): Counts {
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
}
