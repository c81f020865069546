/**
 * Allocation at fleet size with the real kube-scheduler (built for the e2e
 * tier by test/e2e/node-k8s/build.sh) over the simulated fleet's slices:
 *
 * - `octet` pods first (nodes/10 of them): 8 GPUs + 8 NICs, each GPU paired
 *   with a NIC on its PCIe root — DRA has no per-pair constraint inside one
 *   request, so the claim has 8 GPU and 8 NIC requests of one device each
 *   and 8 `matchAttribute: resource.kubernetes.io/pcieRoot` constraints;
 * - then `pair` pods (one per node): 1 GPU + 1 NIC, one constraint.
 *
 * Octets go first because a pair on a node leaves it 7 GPUs, and the
 * scheduler spreads pairs over every node (measured: docs/fleet.md).
 * No kubelet runs: a pod counts as scheduled when the scheduler has
 * allocated its claim and bound it (spec.nodeName). Each allocation is
 * checked: every GPU shares its pcieRoot with its NIC.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { freePort, listedFeatureGates } from '../../test/conformance/control-plane.ts';
import type { KubeClient } from '../../test/conformance/kube-client.ts';
import { DRIVER_NAME } from '../../src/common/driver.ts';
import { buckets, parseProm, quantile, sum, type Sample } from './metrics.ts';
import { GPU_DRIVER, inPool } from './cluster.ts';
import type { NodeShape } from './node-shape.ts';

export interface AllocationOptions {
  readonly cp: { readonly kubeconfigPath: string; readonly featureGates: Record<string, boolean>; readonly server: string };
  readonly kube: KubeClient;
  readonly nodes: readonly string[];
  readonly shapes: readonly NodeShape[];
  readonly log: (s: string) => void;
  readonly rand: () => number;
  /** Pods of each kind (default: nodes/10 octets, one pair per node). */
  readonly octets?: number;
  readonly pairs?: number;
}

const NS = 'fleet';
const PCIE_ROOT = 'resource.kubernetes.io/pcieRoot';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function schedulerBin(): string {
  const r = spawnSync('bash', [join(import.meta.dirname, '../../test/e2e/node-k8s/build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`test/e2e/node-k8s/build.sh failed (exit ${r.status ?? r.signal})`);
  return join(r.stdout.trim().split('\n').pop()!, 'kube-scheduler');
}

function getInsecure(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // The scheduler's self-signed serving cert; /metrics is opened to anonymous reads by a flag below.
    const req = request(url, { rejectUnauthorized: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startScheduler(o: AllocationOptions): Promise<{ metricsUrl: string; stop: () => Promise<void>; dir: string }> {
  const bin = schedulerBin();
  const dir = mkdtempSync(join(tmpdir(), 'netclaim-fleet-sched-'));
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8', maxBuffer: 16 << 20 }).stdout;
  const listed = listedFeatureGates(help);
  const gates = Object.entries(o.cp.featureGates).filter(([g]) => listed.has(g)).map(([g, v]) => `${g}=${v}`).join(',');
  const port = await freePort();
  const fd = openSync(join(dir, 'kube-scheduler.log'), 'a');
  const child: ChildProcess = spawn(bin, [
    '--kubeconfig', o.cp.kubeconfigPath, '--authentication-kubeconfig', o.cp.kubeconfigPath, '--authorization-kubeconfig', o.cp.kubeconfigPath,
    '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${port}`, '--cert-dir', dir,
    '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics', `--feature-gates=${gates}`, '--v=1',
  ], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const onExit = (): void => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.once('exit', onExit);
  const metricsUrl = `https://127.0.0.1:${port}/metrics`;
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`kube-scheduler exited ${child.exitCode}: ${readFileSync(join(dir, 'kube-scheduler.log'), 'utf8').slice(-2000)}`);
    try {
      await getInsecure(`https://127.0.0.1:${port}/readyz`);
      break;
    } catch {
      if (Date.now() > end) throw new Error('kube-scheduler not ready within 60 s');
      await sleep(200);
    }
  }
  return {
    metricsUrl, dir,
    stop: async () => {
      process.off('exit', onExit);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

async function must(p: Promise<{ status: number; text: string }>, what: string, ok = [200, 201, 409]): Promise<void> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 500)}`);
}

/** The claim: `n` GPU+NIC pairs, each pair on one PCIe root. */
function claim(name: string, n: number): unknown {
  const requests = [];
  const constraints = [];
  for (let i = 0; i < n; i++) {
    requests.push({ name: `gpu${i}`, exactly: { deviceClassName: 'fleet-gpu', count: 1 } }, { name: `nic${i}`, exactly: { deviceClassName: 'fleet-rdma-nic', count: 1 } });
    constraints.push({ requests: [`gpu${i}`, `nic${i}`], matchAttribute: PCIE_ROOT });
  }
  return { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: NS }, spec: { devices: { requests, constraints } } };
}

function pod(name: string, claimName: string): unknown {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS },
    spec: {
      resourceClaims: [{ name: 'devices', resourceClaimName: claimName }],
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { claims: [{ name: 'devices' }] } }],
      terminationGracePeriodSeconds: 0, automountServiceAccountToken: false,
    },
  };
}

interface Phase {
  readonly pods: number;
  readonly scheduled: number;
  readonly misaligned: number;
  readonly wallS: number;
  readonly podsPerS: number;
  /** Pod created → bound, as seen by polling (queueing included: all pods are created at once). */
  readonly createToBoundMs: { readonly p50?: number; readonly p99?: number };
  /** The first pod left unscheduled, with the scheduler's reason. */
  readonly unschedulable: string[];
}

async function runPhase(o: AllocationOptions, kind: 'octet' | 'pair', count: number, pairs: number, roots: Map<string, Map<string, string>>): Promise<Phase> {
  const { kube } = o;
  const names = Array.from({ length: count }, (_, i) => `${kind}-${i}`);
  await inPool(names, 16, (n) => must(kube.post(`/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`, claim(n, pairs)), `claim ${n}`));
  const created = new Map<string, number>();
  // Bindings seen by a watch (from before the first pod exists): the moment spec.nodeName appears.
  const bound = new Map<string, number>();
  const progress = { at: 0 };
  const kc = new KubeConfig();
  kc.loadFromFile(o.cp.kubeconfigPath);
  // The server ends each watch after 25 s (client-node aborts one silent for 30 s); it is opened
  // again at once, from the start (its initial list catches anything bound in between).
  let watching = true;
  let abort: AbortController | undefined;
  const open = async (): Promise<void> => {
    if (!watching) return;
    abort = await new Watch(kc).watch(`/api/v1/namespaces/${NS}/pods`, { timeoutSeconds: 25 }, (_type, obj: { metadata?: { name?: string }; spec?: { nodeName?: string } }) => {
      const name = obj.metadata?.name ?? '';
      if (obj.spec?.nodeName && name.startsWith(`${kind}-`) && !bound.has(name)) {
        bound.set(name, performance.now());
        progress.at = Date.now();
      }
    }, () => { void sleep(100).then(open); });
  };
  await open();
  const t0 = performance.now();
  await inPool(names, 16, async (n) => {
    created.set(n, performance.now());
    await must(kube.post(`/api/v1/namespaces/${NS}/pods`, pod(n, n)), `pod ${n}`);
  });
  const deadline = Date.now() + Math.max(120_000, count * 600);
  progress.at = Math.max(progress.at, Date.now()); // give up after 60 s without a binding, counted from the last pod created
  while (bound.size < count && Date.now() < deadline && Date.now() - progress.at < 60_000) await sleep(100);
  watching = false;
  abort?.abort();
  const wallS = ([...bound.values()].reduce((a, b) => Math.max(a, b), t0) - t0) / 1000;
  // Alignment: every GPU of an allocation on the pcieRoot of its paired NIC.
  let misaligned = 0;
  const claims = await kube.get<{ items: Array<{ metadata: { name: string }; status?: { allocation?: { devices?: { results?: Array<{ request: string; driver: string; pool: string; device: string }> } } } }> }>(
    `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`);
  for (const c of claims.body.items) {
    if (!c.metadata.name.startsWith(`${kind}-`)) continue;
    const results = c.status?.allocation?.devices?.results ?? [];
    const root = (r: { driver: string; pool: string; device: string }): string | undefined => roots.get(`${r.driver}/${r.pool}`)?.get(r.device);
    for (let i = 0; i < pairs && results.length; i++) {
      const g = results.find((r) => r.request === `gpu${i}`);
      const n = results.find((r) => r.request === `nic${i}`);
      if (!g || !n || root(g) === undefined || root(g) !== root(n)) misaligned++;
    }
  }
  const lat = [...bound].map(([n, t]) => t - created.get(n)!).sort((a, b) => a - b);
  const q = (p: number): number | undefined => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]!) : undefined);
  const unschedulable = names.filter((n) => !bound.has(n)).slice(0, 3);
  const why = await Promise.all(unschedulable.slice(0, 1).map(async (n) => {
    const r = await kube.get<{ status?: { conditions?: Array<{ type: string; message?: string }> } }>(`/api/v1/namespaces/${NS}/pods/${n}`);
    return `${n}: ${r.body.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '(no condition)'}`;
  }));
  const p50 = q(0.5);
  const p99 = q(0.99);
  return {
    pods: count, scheduled: bound.size, misaligned, wallS: Math.round(wallS * 10) / 10, podsPerS: Math.round((bound.size / Math.max(wallS, 1e-3)) * 10) / 10,
    createToBoundMs: { ...(p50 !== undefined && { p50 }), ...(p99 !== undefined && { p99 }) }, unschedulable: why,
  };
}

function schedulerMetrics(before: Sample[], after: Sample[]): Record<string, unknown> {
  const ms = (s: number | undefined): number | undefined => (s === undefined ? undefined : Math.round(s * 10_000) / 10);
  const hist = (name: string, where: (l: Readonly<Record<string, string>>) => boolean): { p50?: number; p99?: number; count: number } => {
    const a = buckets(after, name, where);
    const b = buckets(before, name, where);
    const d = new Map([...a].map(([le, n]) => [le, n - (b.get(le) ?? 0)]));
    const p50 = ms(quantile(0.5, d));
    const p99 = ms(quantile(0.99, d));
    return { ...(p50 !== undefined && { p50 }), ...(p99 !== undefined && { p99 }), count: d.get(Infinity) ?? 0 };
  };
  return {
    attemptMs: hist('scheduler_scheduling_attempt_duration_seconds', (l) => l['result'] === 'scheduled'),
    // Filter + score over the candidate nodes, every attempt (not sampled): where the slices' shape can cost.
    algorithmMs: hist('scheduler_scheduling_algorithm_duration_seconds', () => true),
    filterMs: hist('scheduler_framework_extension_point_duration_seconds', (l) => l['extension_point'] === 'Filter' && l['status'] === 'Success'),
    preBindMs: hist('scheduler_framework_extension_point_duration_seconds', (l) => l['extension_point'] === 'PreBind' && l['status'] === 'Success'),
    unschedulableAttemptMs: hist('scheduler_scheduling_attempt_duration_seconds', (l) => l['result'] === 'unschedulable'),
    podSchedulingSliMs: hist('scheduler_pod_scheduling_sli_duration_seconds', () => true),
    dynamicResourcesFilterMs: hist('scheduler_plugin_execution_duration_seconds', (l) => l['plugin'] === 'DynamicResources' && l['extension_point'] === 'Filter'),
    dynamicResourcesPreFilterMs: hist('scheduler_plugin_execution_duration_seconds', (l) => l['plugin'] === 'DynamicResources' && l['extension_point'] === 'PreFilter'),
    attempts: sum(after, 'scheduler_schedule_attempts_total') - sum(before, 'scheduler_schedule_attempts_total'),
    // Time the scheduler's API client spent waiting for its own rate limiter (client-go's QPS/burst), summed over requests.
    clientRateLimitWaitS: Math.round((sum(after, 'rest_client_rate_limiter_duration_seconds_sum') - sum(before, 'rest_client_rate_limiter_duration_seconds_sum')) * 10) / 10,
    apiRequests: sum(after, 'rest_client_requests_total') - sum(before, 'rest_client_requests_total'),
    // The scheduler's CPU over the phase: less sensitive to a shared machine than wall-clock times.
    cpuS: Math.round((sum(after, 'process_cpu_seconds_total') - sum(before, 'process_cpu_seconds_total')) * 100) / 100,
    loadAvg1: Math.round(loadavg()[0]! * 10) / 10,
  };
}

export async function benchAllocation(o: AllocationOptions): Promise<unknown> {
  const { kube } = o;
  const octets = o.octets ?? Math.max(1, Math.floor(o.nodes.length / 10));
  const pairs = o.pairs ?? o.nodes.length;
  // pcieRoot of every device, by driver/pool (pool = node name) → device, from what the fleet published.
  const roots = new Map<string, Map<string, string>>();
  let cont = '';
  do {
    const r = await kube.get<{ items: Array<{ spec: { driver: string; pool: { name: string }; devices?: Array<{ name: string; attributes?: Record<string, { string?: string }> }> } }>; metadata: { continue?: string } }>(
      `/apis/resource.k8s.io/v1/resourceslices?limit=200${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
    for (const s of r.body.items) {
      const m = roots.get(`${s.spec.driver}/${s.spec.pool.name}`) ?? new Map<string, string>();
      for (const d of s.spec.devices ?? []) { const v = d.attributes?.[PCIE_ROOT]?.string; if (v) m.set(d.name, v); }
      roots.set(`${s.spec.driver}/${s.spec.pool.name}`, m);
    }
    cont = r.body.metadata.continue ?? '';
  } while (cont);

  await must(kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }), 'namespace');
  // No controller-manager runs here: the ServiceAccount admission plugin needs the namespace's `default` account.
  await must(kube.post(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }), 'service account');
  await must(kube.post('/apis/resource.k8s.io/v1/deviceclasses', {
    apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'fleet-gpu' },
    spec: { selectors: [{ cel: { expression: `device.driver == "${GPU_DRIVER}"` } }] },
  }), 'gpu class');
  await must(kube.post('/apis/resource.k8s.io/v1/deviceclasses', {
    apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'fleet-rdma-nic' },
    spec: { selectors: [{ cel: { expression: `device.driver == "${DRIVER_NAME}" && device.attributes["${DRIVER_NAME}"].rdma == true` } }] },
  }), 'nic class');
  const sched = await startScheduler(o);
  try {
    const before = parseProm(await getInsecure(sched.metricsUrl));
    o.log(`fleet: allocation: ${octets} octet pods (8 GPU + 8 NIC, pairwise pcieRoot), then ${pairs} pair pods`);
    const octet = await runPhase(o, 'octet', octets, 8, roots);
    o.log(`fleet: allocation octets: ${JSON.stringify(octet)}`);
    const mid = parseProm(await getInsecure(sched.metricsUrl));
    const pair = await runPhase(o, 'pair', pairs, 1, roots);
    o.log(`fleet: allocation pairs: ${JSON.stringify(pair)}`);
    const after = parseProm(await getInsecure(sched.metricsUrl));
    return {
      nodes: o.nodes.length, octet: { ...octet, scheduler: schedulerMetrics(before, mid) }, pair: { ...pair, scheduler: schedulerMetrics(mid, after) },
      schedulerRssMB: Math.round(sum(after, 'process_resident_memory_bytes') / 2 ** 20),
      schedulerCpuS: Math.round((sum(after, 'process_cpu_seconds_total') - sum(before, 'process_cpu_seconds_total')) * 10) / 10,
    };
  } finally {
    await sched.stop();
    rmSync(sched.dir, { recursive: true, force: true });
  }
}
