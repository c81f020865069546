/**
 * `npm run bench -- fleet [--nodes=N] [--budget=off|default|peer|RATE/BURST] [--scenarios=a,b] [--json]`
 *
 * A fleet of simulated GPU nodes against one real kube-apiserver + etcd (the
 * conformance tier's, test/conformance/control-plane.ts). Each node runs
 * netclaim's real ResourceSlice publisher in-process, fed by the real
 * inventory builder over a DGX H100-class shape (bench/fleet/node-shape.ts:
 * 8, 12 or 16 ConnectX-7 RDMA NICs, GPU–NIC pairs on shared PCIe roots), and
 * a GPU driver's slice sits beside ours. Scenarios (bench/fleet/scenarios.ts):
 * cold start, steady state with single-change probes, one node's link
 * flapping at 10 Hz, a fleet-wide flap (every NIC down and up within 1 s), a
 * rolling restart of every daemon; allocation with kube-scheduler
 * (bench/fleet/allocation.ts); and, when named, `soak`: one node's publisher
 * under a flapping link for minutes, RSS and CPU sampled, and `daemon-flap`: a
 * whole daemon on 16 veth NICs with one flapping (bench/fleet/daemon-flap.ts).
 * `--attributes=minimal` and `--max-per-slice=N` vary the slice layout (for
 * the allocation comparison). Numbers: docs/fleet.md.
 *
 * Defaults: 1,000 nodes (NETCLAIM_FLEET_NODES or --nodes=; use 100 on a small
 * CI machine), the publisher's default write budget.
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { DriverError } from '../src/common/errors.ts';
import { DRIVER_NAME } from '../src/common/driver.ts';
import { DEFAULT_WRITE_BUDGET, type WriteBudgetOptions } from '../src/surfaces/kube/write-budget.ts';
import { createGpuSlice, createNode, inPool } from './fleet/cluster.ts';
import { nodeShape, type NicCount, type NodeShape } from './fleet/node-shape.ts';
import { fleetFlap, measure, oneNodeFlap, rollingRestart, soak, steady, type FleetContext, type ScenarioResult } from './fleet/scenarios.ts';
import { SimNode, type SliceLayout } from './fleet/sim-node.ts';
import { seededRandom } from '../test/lib/seeded-random.ts';

export interface FleetBenchOptions {
  readonly nodes: number;
  /** undefined: the publisher's default. */
  readonly budget?: WriteBudgetOptions;
  readonly scenarios: readonly string[];
  /** Slice layout variant (`--attributes=all|minimal`, `--max-per-slice=N`); default: the daemon's. */
  readonly layout?: SliceLayout;
  /** `--connections=per-request`: client-node's default (a new connection per request) instead of the daemon's pool. */
  readonly connections?: 'pooled' | 'per-request';
  readonly log: (s: string) => void;
}

export const FLEET_SCENARIOS = ['steady', 'one-node-flap', 'fleet-flap', 'rolling-restart', 'allocation', 'soak', 'daemon-flap'] as const;
/** Run only when named: soak (one simulated node for minutes) and daemon-flap (a whole daemon, alone: bench/fleet/daemon-flap.ts). */
const ONLY_WHEN_NAMED: ReadonlySet<string> = new Set(['soak', 'daemon-flap']);

/** `--budget=`: off, default, peer (the reference peer's 1 per 2 s, burst 5) or RATE/BURST. */
export function parseBudget(v: string | undefined): WriteBudgetOptions | undefined {
  if (v === undefined || v === 'default') return undefined;
  if (v === 'off') return { ratePerSec: 0, burst: 1 };
  if (v === 'peer') return { ratePerSec: 0.5, burst: 5 };
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(v);
  if (!m) throw new Error(`--budget: off, default, peer or RATE/BURST (e.g. 1/5), got ${v}`);
  return { ratePerSec: Number(m[1]), burst: Number(m[2]) };
}

export function fleetOptionsFromArgs(args: readonly string[], env: NodeJS.ProcessEnv, log: (s: string) => void): FleetBenchOptions {
  const flag = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const nodes = Number(flag('nodes') ?? env['NETCLAIM_FLEET_NODES'] ?? 1000);
  if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`--nodes: a positive integer, got ${flag('nodes')}`);
  const scenarios = (flag('scenarios') ?? FLEET_SCENARIOS.filter((x) => !ONLY_WHEN_NAMED.has(x)).join(',')).split(',').filter(Boolean);
  const bad = scenarios.filter((s) => !(FLEET_SCENARIOS as readonly string[]).includes(s));
  if (bad.length) throw new Error(`--scenarios: unknown ${bad.join(', ')}; known: ${FLEET_SCENARIOS.join(', ')}`);
  if (scenarios.includes('daemon-flap') && scenarios.length > 1) throw new Error('--scenarios: daemon-flap runs alone (a whole daemon on its own API server, no simulated fleet)');
  const budget = parseBudget(flag('budget'));
  const attributes = flag('attributes');
  if (attributes !== undefined && attributes !== 'all' && attributes !== 'minimal') throw new Error(`--attributes: all or minimal, got ${attributes}`);
  const perSlice = flag('max-per-slice');
  const maxPerSlice = perSlice === undefined ? undefined : Number(perSlice);
  if (maxPerSlice !== undefined && !(Number.isInteger(maxPerSlice) && maxPerSlice >= 1 && maxPerSlice <= 128)) throw new Error(`--max-per-slice: an integer 1–128, got ${perSlice}`);
  const layout: SliceLayout = { ...(attributes !== undefined && { attributes }), ...(maxPerSlice !== undefined && { maxPerSlice }) };
  const connections = flag('connections');
  if (connections !== undefined && connections !== 'pooled' && connections !== 'per-request') throw new Error(`--connections: pooled or per-request, got ${connections}`);
  return { nodes, scenarios, log, ...(budget !== undefined && { budget }), ...(Object.keys(layout).length > 0 && { layout }), ...(connections !== undefined && { connections }) };
}

const mb = (b: number): number => Math.round(b / 2 ** 20);

export async function benchFleet(o: FleetBenchOptions): Promise<unknown> {
  if (o.scenarios.includes('daemon-flap')) {
    const { benchDaemonFlap } = await import('./fleet/daemon-flap.ts');
    return { 'daemon-flap': await benchDaemonFlap({ seconds: Number(process.env['NETCLAIM_FLEET_SOAK_S'] ?? 120), log: o.log, ...(o.budget !== undefined && { budget: o.budget }) }) };
  }
  const { startControlPlane } = await import('../test/conformance/control-plane.ts');
  const { KubeClient } = await import('../test/conformance/kube-client.ts');
  const { kubeConfigFor } = await import('../test/conformance/slice-fixtures.ts');
  const t0 = performance.now();
  const loadAtStart = loadavg().map((x) => Math.round(x * 10) / 10);
  const cp = await startControlPlane({ log: (l) => o.log(`fleet: ${l}`) });
  const shapes = new Map<NicCount, NodeShape>(([8, 12, 16] as const).map((n) => [n, nodeShape(n)]));
  const errors = new Map<string, { count: number; first: string[] }>();
  const onError = (e: DriverError): void => {
    const x = errors.get(e.code) ?? { count: 0, first: [] };
    x.count++;
    // fetch failures carry the transport's reason two causes down (undici: TypeError → UND_ERR_*/ECONN*).
    const inner = (e.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    const why = inner ? ` (${inner.code ?? ''} ${inner.message ?? ''})`.replace('( ', '(') : '';
    if (x.first.length < 3) x.first.push(`${e.message}${why}`.slice(0, 300));
    errors.set(e.code, x);
  };
  let nodes: SimNode[] = [];
  try {
    const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem, timeoutMs: 120_000 });
    const names = Array.from({ length: o.nodes }, (_, i) => `gpu-node-${String(i).padStart(4, '0')}`);
    const shapeOf = (i: number): NodeShape => shapes.get(([8, 12, 16] as const)[i % 3]!)!;
    const tNodes = performance.now();
    const uids = await inPool(names, 16, (n) => createNode(kube, n));
    await inPool(names, 16, (n, i) => createGpuSlice(kube, n, uids[i]!, shapeOf(i)));
    o.log(`fleet: ${o.nodes} Nodes and GPU slices created in ${Math.round(performance.now() - tNodes)} ms`);
    // Each simulated daemon has its own client (KubeConfig → its own connection pool), as separate processes would.
    const kubeConfig = (): ReturnType<typeof kubeConfigFor> => kubeConfigFor({ server: cp.server, caPem: cp.caPem }, cp.token);
    nodes = names.map((name, i) => new SimNode({ index: i, name, uid: uids[i]!, shape: shapeOf(i), kubeConfig, driver: DRIVER_NAME, onError, ...(o.budget !== undefined && { writeBudget: o.budget }), ...(o.layout !== undefined && { layout: o.layout }), ...(o.connections !== undefined && { connections: o.connections }) }));
    const ctx: FleetContext = { nodes, cp, log: o.log, rand: seededRandom(25) };
    const results: Record<string, ScenarioResult | unknown> = {};
    results['cold-start'] = await measure(ctx, 'cold-start', async () => {
      await inPool(nodes, 32, (n) => n.start());
      return { lastEventAt: performance.now() };
    });
    const sim = (): Record<string, number> => {
      const m = process.memoryUsage();
      return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) };
    };
    const memAfterStart = sim();
    for (const s of o.scenarios) {
      if (s === 'steady') results[s] = await steady(ctx, Number(process.env['NETCLAIM_FLEET_QUIET_S'] ?? 10), 20);
      else if (s === 'one-node-flap') results[s] = await oneNodeFlap(ctx, 10, 10);
      else if (s === 'fleet-flap') results[s] = { ...await fleetFlap(ctx), after: await verify(kube, nodes) };
      else if (s === 'soak') results[s] = await soak(ctx, 10, Number(process.env['NETCLAIM_FLEET_SOAK_S'] ?? 120));
      else if (s === 'rolling-restart') results[s] = await rollingRestart(ctx, Math.max(1, Math.ceil(o.nodes / 10)));
      else if (s === 'allocation') {
        const { benchAllocation } = await import('./fleet/allocation.ts');
        results[s] = await benchAllocation({ cp, kube, nodes: names, shapes: names.map((_, i) => shapeOf(i)), log: o.log, rand: ctx.rand });
      }
    }
    const check = await verify(kube, nodes);
    const cpuS = process.cpuUsage();
    return {
      nodes: o.nodes,
      nicsPerNode: { 8: nodes.filter((n) => n.nics === 8).length, 12: nodes.filter((n) => n.nics === 12).length, 16: nodes.filter((n) => n.nics === 16).length },
      budget: o.budget ?? DEFAULT_WRITE_BUDGET,
      connections: o.connections ?? 'pooled',
      layout: { attributes: o.layout?.attributes ?? 'all', maxPerSlice: o.layout?.maxPerSlice ?? 128, slices: nodes.reduce((a, n) => a + n.slices, 0) },
      kubeApiserver: cp.version,
      machine: { cpus: availableParallelism(), loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadavg().map((x) => Math.round(x * 10) / 10), note: 'API server, etcd and the simulator share these CPUs (and other work on the machine: see the load average)' },
      scenarios: results,
      final: check,
      simulator: { ...sim(), afterStartMB: memAfterStart, cpuS: Math.round((cpuS.user + cpuS.system) / 1e5) / 10 },
      publisherErrors: Object.fromEntries(errors),
      wallS: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.close().catch(() => {})));
    for (const s of shapes.values()) s.dispose();
    await cp.stop();
  }
}

/** Every node's slices in the API server, read page by page: one slice per node, every NIC up, nothing missing. */
async function verify(kube: InstanceType<typeof import('../test/conformance/kube-client.ts').KubeClient>, nodes: readonly SimNode[]): Promise<Record<string, number | boolean>> {
  let cont = '';
  let slices = 0;
  let devices = 0;
  let down = 0;
  const perNode = new Map<string, number>();
  do {
    const r = await kube.get<{ items: Array<{ spec: { nodeName: string; devices?: Array<{ attributes?: Record<string, { string?: string }> }> } }>; metadata: { continue?: string } }>(
      `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=${encodeURIComponent(`spec.driver=${DRIVER_NAME}`)}&limit=100${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
    if (r.status !== 200) throw new Error(`list slices: ${r.status} ${r.text}`);
    for (const s of r.body.items) {
      slices++;
      perNode.set(s.spec.nodeName, (perNode.get(s.spec.nodeName) ?? 0) + (s.spec.devices?.length ?? 0));
      for (const d of s.spec.devices ?? []) {
        devices++;
        if (d.attributes?.[`${DRIVER_NAME}/state`]?.string === 'down' && d.attributes[`${DRIVER_NAME}/ifName`]?.string !== 'eno2') down++;
      }
    }
    cont = r.body.metadata.continue ?? '';
  } while (cont);
  const simDown = nodes.reduce((a, n) => a + n.downCount, 0);
  const expected = nodes.reduce((a, n) => a + n.nics + 1, 0); // + eno2, the unused onboard port
  const complete = nodes.every((n) => perNode.get(n.name) === n.nics + 1);
  return { slices, devices, expectedDevices: expected, nicsStillDown: down, simulatedDown: simDown, everyNodeComplete: complete };
}
