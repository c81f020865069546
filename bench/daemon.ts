/**
 * The daemon-footprint benchmark: the whole daemon (`Daemon`, as `netclaim run`
 * composes it) in a child process of its own (`node --expose-gc`), against a
 * real kube-apiserver (the conformance harness's binaries), the kubelet-peer
 * and the nri-peer (containerd's NRI adaptation), with a throwaway namespace
 * as its host network namespace.
 *
 *   registeredMs   spawn → the kubelet-peer reports the plugin registered
 *                  (the daemon registers only after the NRI Synchronize)
 *   idle           RSS and heap after GC, the daemon started, one device
 *   withDevices    RSS and heap of a second daemon started with 1,000 more
 *                  links in the namespace, once all are published
 *   cycles         prepare → RunPodSandbox (attach) → StopPodSandbox
 *                  (detach) → unprepare, all through the peers; RSS and
 *                  heap after GC every 10 % of the run; growth = end minus
 *                  the sample after the first 10 % (warm-up)
 *
 * Everything it makes (namespaces, temp dirs, processes) goes on return, on
 * an error and on SIGINT/SIGTERM; the control plane and the peers also end
 * by PID from their own exit hooks.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { summarize } from './stats.ts';

export interface DaemonBenchOptions {
  readonly cycles: number;
  readonly devices: number;
  readonly log: (s: string) => void;
}

const DRIVER = 'netclaim.dev';
const RESOURCE = '/apis/resource.k8s.io/v1';
const KNS = 'bench-daemon';
const CHILD_ENV = 'NETCLAIM_BENCH_DAEMON_CHILD';
const MB = 1024 * 1024;
/** The Node.js flags of the image's ENTRYPOINT (Dockerfile). */
const IMAGE_NODE_FLAGS = '--max-semi-space-size=1';

interface Mem {
  readonly rssMB: number; readonly heapUsedMB: number; readonly heapPhysicalMB: number; readonly v8MallocedMB: number;
  readonly externalMB: number; readonly arrayBuffersMB: number; readonly rssAfterMallocTrimMB?: number;
}
type ChildMsg = { type: 'imported'; atMs: number; mem: Mem } | { type: 'started'; atMs: number; startMs: number } | { type: 'mem'; mem: Mem } | { type: 'error'; error: string };

async function memAfterGc(): Promise<Mem> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  const round = (n: number): number => Math.round((n / MB) * 10) / 10;
  const h = getHeapStatistics();
  // What glibc keeps but does not use: RSS again after malloc_trim(0) hands free pages back.
  const trimmed = mallocTrim() ? process.memoryUsage().rss : undefined;
  return {
    rssMB: round(m.rss), heapUsedMB: round(h.used_heap_size), heapPhysicalMB: round(h.total_physical_size), v8MallocedMB: round(h.malloced_memory),
    externalMB: round(m.external), arrayBuffersMB: round(m.arrayBuffers),
    ...(trimmed === undefined ? {} : { rssAfterMallocTrimMB: round(trimmed) }),
  };
}

let trimFn: (() => number) | undefined | null;
/** glibc's malloc_trim(0), through koffi (the bench measures; the daemon does not call it). */
function mallocTrim(): boolean {
  if (trimFn === undefined) {
    try {
      const koffi = createRequire(import.meta.url)('koffi') as { load(p: null): { func(sig: string): (...a: unknown[]) => number } };
      const f = koffi.load(null).func('int malloc_trim(size_t pad)');
      trimFn = () => f(0);
    } catch {
      trimFn = null;
    }
  }
  if (trimFn === null) return false;
  trimFn();
  return true;
}

/** The child: one Daemon, as the conformance tier runs it; answers 'mem' and 'stop' over IPC. */
async function child(): Promise<void> {
  const cfg = JSON.parse(process.env[CHILD_ENV]!) as { server: string; caPem: string; token: string; node: string; root: string; host: string };
  const send = (m: ChildMsg): void => { process.send!(m); };
  const { Daemon } = await import('../src/daemon/daemon.ts');
  const { DEFAULT_OPTIONS } = await import('../src/inventory/options.ts');
  const { createLogger } = await import('../src/observe/logger.ts');
  const { loadLibc, ffiBackendFromEnv } = await import('../src/kernel/libc/index.ts');
  const { kubeConfigFor } = await import('../test/conformance/slice-fixtures.ts');
  send({ type: 'imported', atMs: performance.now(), mem: await memAfterGc() });
  const daemon = new Daemon({
    kubeConfig: kubeConfigFor({ server: cfg.server, caPem: cfg.caPem } as Parameters<typeof kubeConfigFor>[0], cfg.token),
    nodeName: cfg.node, driverName: DRIVER, kubeletRootDir: join(cfg.root, 'kubelet'), stateDir: join(cfg.root, 'state'),
    cdiDir: join(cfg.root, 'cdi'), sysfsRoot: '/sys',
    inventory: { ...DEFAULT_OPTIONS, includeKinds: ['*'], plumbingNames: [...DEFAULT_OPTIONS.plumbingNames, '*p'] },
    attributeDomain: DRIVER, dranetConfigs: true, taintUnhealthy: false, metricsAddress: '127.0.0.1:0',
    nriSocket: join(cfg.root, 'nri.sock'), hostNetns: cfg.host, libc: loadLibc(ffiBackendFromEnv()), log: createLogger({ level: 'info' }),
  });
  const t0 = performance.now();
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await daemon.stop().catch(() => {});
    process.exit(0);
  };
  process.on('disconnect', () => void stop()); // the bench went away: never outlive it
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void stop();
    else if (m.type === 'mem') void memAfterGc().then((mem) => send({ type: 'mem', mem }));
  });
  try {
    await daemon.start();
  } catch (err) {
    send({ type: 'error', error: String(err) });
    return stop();
  }
  send({ type: 'started', atMs: performance.now(), startMs: performance.now() - t0 });
}

class DaemonChild {
  readonly #p: ChildProcess;
  readonly #waiters: Array<{ type: string; resolve: (m: ChildMsg) => void }> = [];
  readonly #seen: ChildMsg[] = [];
  readonly exited: Promise<number | null>;

  constructor(env: Record<string, string>) {
    this.#p = fork(new URL(import.meta.url).pathname, [], {
      // The image's V8 flags (Dockerfile ENTRYPOINT), so the footprint is the shipped one;
      // NETCLAIM_BENCH_NODE_FLAGS='' measures V8's defaults.
      execArgv: ['--expose-gc', ...(process.env['NETCLAIM_BENCH_NODE_FLAGS'] ?? IMAGE_NODE_FLAGS).split(' ').filter(Boolean)],
      env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#p.on('message', (m: ChildMsg) => {
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
      else this.#seen.push(m);
    });
    this.exited = new Promise((r) => this.#p.once('exit', (code) => r(code)));
  }

  get pid(): number | undefined {
    return this.#p.pid;
  }

  next<T extends ChildMsg['type']>(type: T, timeoutMs = 60_000): Promise<Extract<ChildMsg, { type: T }>> {
    const i = this.#seen.findIndex((m) => m.type === type || m.type === 'error');
    if (i >= 0) return Promise.resolve(this.#check(this.#seen.splice(i, 1)[0]!) as Extract<ChildMsg, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`daemon child: no '${type}' in ${timeoutMs} ms`)), timeoutMs);
      const done = (m: ChildMsg): void => { clearTimeout(timer); try { resolve(this.#check(m) as Extract<ChildMsg, { type: T }>); } catch (e) { reject(e as Error); } };
      this.#waiters.push({ type, resolve: done }, { type: 'error', resolve: done });
      void this.exited.then((code) => reject(new Error(`daemon child exited (${code}) before '${type}'`)));
    });
  }

  #check(m: ChildMsg): ChildMsg {
    if (m.type === 'error') throw new Error(`daemon child: ${m.error}`);
    return m;
  }

  async mem(): Promise<Mem> {
    this.#p.send({ type: 'mem' });
    return (await this.next('mem')).mem;
  }

  async stop(): Promise<void> {
    if (this.#p.exitCode !== null || this.#p.signalCode !== null) return;
    this.#p.send({ type: 'stop' });
    const t = setTimeout(() => this.#p.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

function floorRssMB(): number {
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', 'gc(); process.stdout.write(String(process.memoryUsage().rss))'], { encoding: 'utf8' });
  return Math.round((Number(out) / MB) * 10) / 10;
}

export async function benchDaemon(o: DaemonBenchOptions): Promise<Record<string, unknown>> {
  const { resolveBinDir, startControlPlane } = await import('../test/conformance/control-plane.ts');
  const { existsSync } = await import('node:fs');
  const bin = resolveBinDir();
  if (!existsSync(join(bin, 'kube-apiserver'))) return { suite: 'daemon', skipped: `no kube-apiserver in ${bin}: run test/conformance/build.sh first` };
  const { peersBinDir } = await import('../test/conformance/peers/binaries.ts');
  peersBinDir(); // throws, naming the build script, when the peers are not built
  const { KubeletPeer } = await import('../test/conformance/peers/kubelet-peer.ts');
  const { NriPeer } = await import('../test/conformance/peers/nri-peer.ts');
  const { closeAllPeerProcesses } = await import('../test/conformance/peers/json-lines.ts');
  const { KubeClient } = await import('../test/conformance/kube-client.ts');
  const { ensureNode, sliceList, waitFor } = await import('../test/conformance/slice-fixtures.ts');

  const tag = process.pid % 10000;
  const hostNs = `ncbdh${tag}`;
  const podNs = `ncbdp${tag}`;
  const root = mkdtempSync(join(tmpdir(), 'nc-bench-daemon-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const syncCleanup = (): void => {
    for (const ns of [hostNs, podNs]) try { execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' }); } catch { /* not there */ }
    rmSync(root, { recursive: true, force: true });
  };
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
    await closeAllPeerProcesses();
    syncCleanup();
  };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = true;
    o.log(`daemon: ${sig}, cleaning up…`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', syncCleanup);
  try {
    execFileSync('ip', ['netns', 'add', hostNs]);
    execFileSync('ip', ['netns', 'add', podNs]);
    execFileSync('ip', ['-n', hostNs, '-batch', '-'], { input: 'link add ncbdev type veth peer name ncbdevp\nlink set ncbdev up\nlink set lo up\n' });

    o.log('daemon: starting kube-apiserver…');
    const cp = await startControlPlane();
    cleanups.push(() => cp.stop());
    const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
    const node = `bench-daemon-${tag}`;
    await ensureNode(kube, node);
    await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: KNS } });
    const kubelet = await KubeletPeer.start({ registry: join(root, 'kubelet', 'plugins_registry') });
    const nri = await NriPeer.start({ socket: join(root, 'nri.sock') });

    o.log('daemon: starting the daemon…');
    const t0 = performance.now();
    const registered = kubelet.waitForRegistered(DRIVER, 60_000).then(() => performance.now() - t0);
    const synced = nri.waitForPlugin(`00-${DRIVER}`, 60_000).then(() => performance.now() - t0);
    const d = new DaemonChild({ [CHILD_ENV]: JSON.stringify({ server: cp.server, caPem: cp.caPem, token: cp.token, node, root, host: `/run/netns/${hostNs}` }) });
    cleanups.push(() => d.stop());
    const imported = await d.next('imported');
    const nriSyncedMs = await synced;
    const registeredMs = await registered;
    const started = await d.next('started');

    const published = async (n: number): Promise<string[]> => waitFor(`${n} published devices`, async () => {
      const names = (await sliceList(kube, node, DRIVER)).flatMap((s) => s.spec.devices ?? []);
      return names.length >= n ? names.map((x) => (x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string ?? x.name) : undefined;
    }, 120_000, 250);
    await published(1);
    const devName = await waitFor('bench device', async () => (await sliceList(kube, node, DRIVER)).flatMap((s) => s.spec.devices ?? [])
      .find((x) => (x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string === 'ncbdev')?.name);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await d.mem();
    o.log(`daemon: registered in ${registeredMs.toFixed(0)} ms; idle RSS ${idle.rssMB} MB`);

    const cycles = await runCycles(o, kube, kubelet, nri, d, node, devName, `/run/netns/${podNs}`);

    // Added while a daemon runs, 1,000 links at once make its inventory watcher's link dump fail
    // with KERNEL_DUMP_INTERRUPTED and the daemon exit; so the links go in between two daemons.
    await d.stop();
    o.log(`daemon: adding ${o.devices} links, starting a second daemon…`);
    const lines: string[] = [];
    for (let i = 0; i < o.devices / 2; i++) lines.push(`link add ncx${i}a type veth peer name ncx${i}b`);
    execFileSync('ip', ['-n', hostNs, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    const tAdd = performance.now();
    const d2 = new DaemonChild({ [CHILD_ENV]: JSON.stringify({ server: cp.server, caPem: cp.caPem, token: cp.token, node, root, host: `/run/netns/${hostNs}` }) });
    cleanups.push(() => d2.stop());
    const started2 = await d2.next('started', 120_000);
    const total = (await published(o.devices + 1)).length;
    const publishMs = performance.now() - tAdd;
    await new Promise((r) => setTimeout(r, 2000));
    const withDevices = await d2.mem();
    o.log(`daemon: ${total} devices published; RSS ${withDevices.rssMB} MB`);

    return {
      suite: 'daemon',
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
      method: 'Daemon in its own node --expose-gc process; real kube-apiserver, kubelet-peer, nri-peer; memory after gc()',
      nodeFlags: process.env['NETCLAIM_BENCH_NODE_FLAGS'] ?? IMAGE_NODE_FLAGS,
      ffi: process.env['NETCLAIM_FFI'] || 'koffi',
      start: { registeredMs: round(registeredMs), nriSynchronizedMs: round(nriSyncedMs), processToImportedMs: round(imported.atMs), processToPluginServerUpMs: round(started.atMs), daemonStartMs: round(started.startMs) },
      floor: { nodeEmptyRssMB: floorRssMB(), importedNotStartedRssMB: imported.mem.rssMB, importedNotStartedHeapMB: imported.mem.heapUsedMB },
      idle,
      withDevices: { published: total, processToStartedMs: round(started2.atMs), spawnToAllPublishedMs: round(publishMs), ...withDevices },
      cycles,
      targets: { registeredMs: 1000, idleRssMB: 80, cycleGrowthMB: 5 },
    };
  } catch (err) {
    if (interrupted) await new Promise(() => {}); // what failed is the interruption: the signal handler exits
    throw err;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', syncCleanup);
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;

type Peers = [InstanceType<typeof import('../test/conformance/kube-client.ts').KubeClient>, import('../test/conformance/peers/kubelet-peer.ts').KubeletPeer, import('../test/conformance/peers/nri-peer.ts').NriPeer];

/** prepare → RunPodSandbox → StopPodSandbox → unprepare, `o.cycles` times, through the peers. */
async function runCycles(o: DaemonBenchOptions, kube: Peers[0], kubelet: Peers[1], nri: Peers[2], d: DaemonChild, node: string, device: string, podNetns: string): Promise<Record<string, unknown>> {
  const podUid = crypto.randomUUID();
  const created = await kube.post<{ metadata: { uid: string } }>(`${RESOURCE}/namespaces/${KNS}/resourceclaims`, {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'nic', namespace: KNS },
    spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'netclaim' } }] } },
  });
  const params = { interface: { name: 'net1', mtu: 1400, addresses: ['10.98.0.2/24'] }, routes: [{ destination: '10.99.0.0/16', gateway: '10.98.0.1' }] };
  const r = await kube.put(`${RESOURCE}/namespaces/${KNS}/resourceclaims/nic/status`, {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'nic', namespace: KNS, uid: created.body.metadata.uid },
    status: {
      allocation: { devices: { results: [{ request: 'nic', driver: DRIVER, pool: node, device }], config: [{ source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER, parameters: params } }] } },
      reservedFor: [{ resource: 'pods', name: 'bench-pod', uid: podUid }],
    },
  });
  if (r.status !== 200) throw new Error(`allocate: ${r.status} ${r.text}`);
  const ref = { namespace: KNS, name: 'nic', uid: created.body.metadata.uid };
  const every = Math.max(1, Math.floor(o.cycles / 10));
  const samples: Array<{ cycle: number } & Mem> = [{ cycle: 0, ...(await d.mem()) }];
  const ms: number[] = [];
  let retries = 0;
  const t0 = performance.now();
  for (let i = 1; i <= o.cycles; i++) {
    const c0 = performance.now();
    for (let attempt = 0; ; attempt++) {
      const p = await kubelet.prepare(DRIVER, [ref]);
      if (p.response?.claims?.[ref.uid]?.devices?.length === 1) break;
      // The device came back from the last pod, but the inventory has not seen it yet: the kubelet retries too.
      const retryable = /^PREPARE_DEVICE_EMPTY:/.test(p.response?.claims?.[ref.uid]?.error ?? '');
      if (!retryable || attempt >= 500) throw new Error(`cycle ${i}: prepare: ${JSON.stringify(p)}`);
      retries++;
      await new Promise((res) => setTimeout(res, 10));
    }
    const id = `sb-${i}`;
    const run = await nri.runPodSandbox({ id, name: 'bench-pod', uid: podUid, namespace: KNS, netns: podNetns });
    if (!run.ok) throw new Error(`cycle ${i}: RunPodSandbox: ${JSON.stringify(run)}`);
    const stop = await nri.stopPodSandbox({ podId: id });
    if (!stop.ok) throw new Error(`cycle ${i}: StopPodSandbox: ${JSON.stringify(stop)}`);
    const u = await kubelet.unprepare(DRIVER, [ref]);
    if (u.response?.claims?.[ref.uid]?.error) throw new Error(`cycle ${i}: unprepare: ${JSON.stringify(u)}`);
    ms.push(performance.now() - c0);
    if (i % every === 0) {
      samples.push({ cycle: i, ...(await d.mem()) });
      o.log(`daemon: ${i}/${o.cycles} cycles, RSS ${samples.at(-1)!.rssMB} MB, heap ${samples.at(-1)!.heapUsedMB} MB`);
    }
  }
  const wallS = (performance.now() - t0) / 1000;
  const base = samples[1] ?? samples[0]!;
  const end = samples.at(-1)!;
  return {
    way: 'through the peers: kubelet-peer Prepare/Unprepare, nri-peer RunPodSandbox/StopPodSandbox (one veth, MTU + address + route)',
    count: o.cycles, prepareRetries: retries, cyclesPerS: round(o.cycles / wallS), cycleMs: summarize(ms),
    growthAfterWarmUpMB: { rss: round(end.rssMB - base.rssMB), heapUsed: round(end.heapUsedMB - base.heapUsedMB), warmUpCycles: base.cycle },
    samples,
  };
}

if (process.env[CHILD_ENV] !== undefined && process.send !== undefined) await child();
