/**
 * The daemon-footprint benchmark: `netclaim run` as the image runs it (the
 * bundle, the image's Node flags; NETCLAIM_BENCH_FROM=sources for the .ts
 * sources) in a process of its own, with bench/daemon-probe.js preloaded to
 * answer memory questions over IPC, against a real kube-apiserver (the
 * conformance harness's binaries), the kubelet-peer and the nri-peer
 * (containerd's NRI adaptation), with a throwaway namespace as its host
 * network namespace.
 *
 *   start          NETCLAIM_BENCH_STARTS starts (default 7), each spawned at
 *                  a random phase of the kubelet's 1 s plugin-manager tick:
 *                  spawn → the daemon's own start marks (its log) →
 *                  registered, with the wait for the tick apart
 *   idle           RSS and heap after GC, the last daemon started, one device
 *   withDevices    RSS and heap of a second daemon started with 1,000 more
 *                  links in the namespace, once all are published
 *   cycles         prepare → RunPodSandbox (attach) → StopPodSandbox
 *                  (detach) → unprepare, all through the peers; RSS and
 *                  heap after GC every 10 % of the run; growth = end minus
 *                  the sample after the first 10 % (warm-up)
 *
 * The daemon runs with the image's Node flags and environment
 * (IMAGE_NODE_FLAGS, IMAGE_NODE_ENV: the Dockerfile's ENTRYPOINT and ENV;
 * NETCLAIM_BENCH_NODE_FLAGS / NETCLAIM_BENCH_NODE_ENV replace them, '' for
 * none). NETCLAIM_BENCH_PAGES=DIR writes where its RSS is (bench/daemon-pages.ts)
 * at idle, after the warm-up, at the end of the cycles and with the devices.
 *
 * Everything it makes (namespaces, temp dirs, processes) goes on return, on
 * an error and on SIGINT/SIGTERM; the control plane and the peers also end
 * by PID from their own exit hooks, and the daemon stops when its IPC
 * channel to the bench closes.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { summarize } from './stats.ts';

export interface DaemonBenchOptions {
  readonly cycles: number;
  readonly devices: number;
  readonly log: (s: string) => void;
}

const DRIVER = 'netclaim.dev';
const RESOURCE = '/apis/resource.k8s.io/v1';
const KNS = 'bench-daemon';
const MB = 1024 * 1024;
/** The Node.js flags of the image's ENTRYPOINT (Dockerfile; docs/benchmarks.md, daemon, says why each). */
export const IMAGE_NODE_FLAGS = '--max-semi-space-size=1 --no-icu-timezone-data --no-turbofan';
/** The environment the image's Dockerfile sets for Node (`ENV`), as `NAME=value` words. */
export const IMAGE_NODE_ENV = 'MALLOC_ARENA_MAX=2';

interface Mem {
  readonly rssMB: number; readonly heapUsedMB: number; readonly heapPhysicalMB: number; readonly v8MallocedMB: number;
  readonly externalMB: number; readonly arrayBuffersMB: number; readonly rssAfterMallocTrimMB?: number;
  readonly spacesMB: Record<string, { used: number; physical: number }>;
  readonly codeMB: { code: number; bytecode: number; scriptSource: number };
}

interface LogLine { readonly msg?: string; readonly time?: number; readonly sinceProcessStartMs?: unknown; readonly [k: string]: unknown }

/**
 * `netclaim run` as the image runs it (the bundle, the image's Node flags; or the sources with
 * NETCLAIM_BENCH_FROM=sources), with bench/daemon-probe.js preloaded for memory over IPC. Its
 * JSON log lines on stdout give the start's timeline ('netclaim starting', 'netclaim running',
 * 'registered with the kubelet' carry `sinceProcessStartMs`).
 */
class DaemonChild {
  readonly #p: ChildProcess;
  readonly #mem: Array<(m: Mem) => void> = [];
  readonly #snapshots: Array<(path: string) => void> = [];
  readonly #lines: LogLine[] = [];
  readonly #lineWaiters: Array<{ msg: string; resolve: (l: LogLine) => void }> = [];
  /** When fork() was called, and when the child's process began (its performance.timeOrigin), both epoch ms. */
  readonly spawnedAt: number;
  readonly processStart: Promise<number>;
  readonly exited: Promise<number | null>;

  constructor(entry: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    const started = Promise.withResolvers<number>();
    this.processStart = started.promise;
    this.spawnedAt = performance.timeOrigin + performance.now();
    this.#p = fork(entry, [...argv], {
      // The image's V8 flags (Dockerfile ENTRYPOINT), so the footprint is the shipped one;
      // NETCLAIM_BENCH_NODE_FLAGS='' measures V8's defaults.
      execArgv: daemonNodeFlags(),
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...env, ...imageNodeEnv() },
      // NETCLAIM_BENCH_EXEC_PATH: a wrapper that runs this node with the arguments it is given (under gdb, say).
      execPath: process.env['NETCLAIM_BENCH_EXEC_PATH'] ?? process.execPath,
    });
    this.#p.on('message', (m: { type: string; timeOrigin?: number; mem?: Mem; path?: string }) => {
      if (m.type === 'hello') started.resolve(m.timeOrigin!);
      else if (m.type === 'mem') this.#mem.shift()?.(m.mem!);
      else if (m.type === 'snapshot') this.#snapshots.shift()?.(m.path!);
    });
    createInterface({ input: this.#p.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      if ((line['level'] as number) >= 50) process.stderr.write(`daemon: ${text}\n`);
      this.#lines.push(line);
      for (let i = this.#lineWaiters.length - 1; i >= 0; i--) {
        if (this.#lineWaiters[i]!.msg === line.msg) this.#lineWaiters.splice(i, 1)[0]!.resolve(line);
      }
    });
    this.exited = new Promise((r) => this.#p.once('exit', (code) => r(code)));
  }

  /** The first log line with this message (also one already seen). */
  logged(msg: string, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.#lines.find((l) => l.msg === msg);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`daemon: no '${msg}' logged in ${timeoutMs} ms`)), timeoutMs);
      this.#lineWaiters.push({ msg, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      void this.exited.then((code) => { clearTimeout(timer); reject(new Error(`daemon exited (${code}) before logging '${msg}'`)); });
    });
  }

  async mem(): Promise<Mem> {
    const got = new Promise<Mem>((resolve) => this.#mem.push(resolve));
    this.#p.send({ type: 'mem' });
    return got;
  }

  /** A V8 heap snapshot of the daemon (after gc) written to `path`. */
  async snapshot(path: string): Promise<string> {
    const got = new Promise<string>((resolve) => this.#snapshots.push(resolve));
    this.#p.send({ type: 'snapshot', path });
    return got;
  }

  get pid(): number {
    return this.#p.pid!;
  }

  async stop(): Promise<void> {
    if (this.#p.exitCode !== null || this.#p.signalCode !== null) return;
    this.#p.kill('SIGTERM'); // the daemon's own graceful stop
    const t = setTimeout(() => this.#p.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** The image's ENTRYPOINT flags, or NETCLAIM_BENCH_NODE_FLAGS. */
function imageNodeFlags(): string[] {
  return (process.env['NETCLAIM_BENCH_NODE_FLAGS'] ?? IMAGE_NODE_FLAGS).split(' ').filter(Boolean);
}

/** The image's environment for Node (Dockerfile `ENV`), or NETCLAIM_BENCH_NODE_ENV ('' for none): added to the daemon's. */
function imageNodeEnv(): Record<string, string> {
  const words = (process.env['NETCLAIM_BENCH_NODE_ENV'] ?? IMAGE_NODE_ENV).split(' ').filter(Boolean);
  return Object.fromEntries(words.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
}

/** The daemon child's Node flags: the probe's, then the image's ENTRYPOINT flags (NETCLAIM_BENCH_NODE_FLAGS to change them). */
function daemonNodeFlags(): string[] {
  return ['--expose-gc', '--import', PROBE, ...imageNodeFlags()];
}

/**
 * The image's baked compile cache (Dockerfile: NODE_COMPILE_CACHE, made by one `--version` run
 * at build time), made the same way for the bench's daemons: Node keys it by V8's flags, and the
 * bench's --expose-gc is one, so the image's own cache would not be used here. Off with
 * NETCLAIM_BENCH_COMPILE_CACHE=0 (every start compiles the bundle, as an image without it).
 */
function bakeCompileCache(entry: string, dir: string): NodeJS.ProcessEnv {
  if (process.env['NETCLAIM_BENCH_COMPILE_CACHE'] === '0') return process.env;
  const env = { ...process.env, NODE_COMPILE_CACHE: dir };
  execFileSync(process.execPath, [...daemonNodeFlags(), entry, '--version'], { env: { ...env, ...imageNodeEnv() }, stdio: 'ignore' });
  return env;
}

/** The preload that answers the bench over IPC (plain JS: no type stripper in the measured process). */
const PROBE = new URL('./daemon-probe.js', import.meta.url).href;

/**
 * What the bench runs: the bundle the image ships (dist/netclaim.mjs, rebuilt here when the
 * sources outdate it), or with NETCLAIM_BENCH_FROM=sources the TypeScript sources.
 */
async function daemonEntry(log: (s: string) => void): Promise<{ entry: string; from: 'bundle' | 'sources' }> {
  const root = new URL('../', import.meta.url).pathname;
  if (process.env['NETCLAIM_BENCH_FROM'] === 'sources') return { entry: join(root, 'src/main.ts'), from: 'sources' };
  const { isBundleFresh } = await import('../bin/bundle-stamp.js') as { isBundleFresh(root: string, out: string): boolean };
  if (!isBundleFresh(root, join(root, 'dist'))) {
    log('daemon: building the bundle (npm run bundle)…');
    const { bundle } = await import('../scripts/bundle.ts');
    await bundle(join(root, 'dist'));
  }
  return { entry: join(root, 'dist/netclaim.mjs'), from: 'bundle' };
}

/** `netclaim run`'s flags for the bench's node, as the chart sets them, in the bench's own directories. */
function runArgs(dir: string, cfg: { node: string; hostNs: string; nriSocket: string; kubeconfig: string }): string[] {
  return [
    'run', '--node-name', cfg.node, '--kubeconfig', cfg.kubeconfig, '--kubelet-root-dir', join(dir, 'kubelet'), '--state-dir', join(dir, 'state'),
    '--cdi-dir', join(dir, 'cdi'), '--include-veth', '--cloud-provider', 'none', '--metrics-address', '127.0.0.1:0',
    '--nri-socket', cfg.nriSocket, '--host-netns', `/run/netns/${cfg.hostNs}`, '--log-level', 'info',
  ];
}

/** A kubeconfig file for the bench's API server and token (what the DaemonSet's service account gives in a cluster). */
function writeKubeconfig(path: string, cp: { server: string; caPem: string; token: string }): string {
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'bench',
    clusters: [{ name: 'bench', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: 'bench', user: { token: cp.token } }],
    contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
  }));
  return path;
}

/** Node's own start, the floor of every start above: spawn → exit of an empty process with the daemon's flags and environment (no probe), 7 times. */
function floorStartMs(): ReturnType<typeof summarize> {
  const ms: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    execFileSync(process.execPath, [...imageNodeFlags(), '-e', '0'], { env: { ...process.env, ...imageNodeEnv() } });
    ms.push(performance.now() - t);
  }
  return summarize(ms);
}

/** An empty node's RSS after gc(), with the daemon's flags and environment. */
function floorRssMB(): number {
  const out = execFileSync(process.execPath, ['--expose-gc', ...imageNodeFlags(), '-e', 'gc(); process.stdout.write(String(process.memoryUsage().rss))'], {
    encoding: 'utf8', env: { ...process.env, ...imageNodeEnv() },
  });
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
    const { entry, from } = await daemonEntry(o.log);
    const kubeconfig = writeKubeconfig(join(root, 'kubeconfig'), cp);
    const daemonEnv = bakeCompileCache(entry, join(root, 'compile-cache'));
    // NETCLAIM_BENCH_PAGES=DIR: where the daemon's RSS is (bench/daemon-pages.ts), at idle, after the
    // cycles' warm-up, at their end and with 1,000 devices, against an empty node with the same flags.
    const pagesDir = process.env['NETCLAIM_BENCH_PAGES'];
    let pages: ((label: string, pid: number) => void) | undefined;
    if (pagesDir !== undefined) {
      mkdirSync(pagesDir, { recursive: true });
      const { startEmptyNode, writePagesReport } = await import('./daemon-pages.ts');
      const empty = await startEmptyNode(process.execPath, ['--expose-gc', ...imageNodeFlags()], { ...process.env, ...imageNodeEnv() });
      cleanups.push(empty.stop);
      pages = (label, pid) => o.log(`daemon: pages ${writePagesReport(pagesDir, label, pid, empty.pid)}`);
    }

    /**
     * One start: fresh peers, then the daemon spawned at a random point of the kubelet's 1 s
     * plugin-manager tick (a real kubelet has run for long when the DaemonSet's pod starts, so
     * the phase is arbitrary; the kubelet-peer's reconciler begins with it, hence the delay).
     */
    const startOnce = async (i: number, other?: string): Promise<{ d: DaemonChild; kubelet: Peers[1]; nri: Peers[2]; dir: string; sample: StartSample }> => {
      const dir = join(root, other === undefined ? `s${i}` : `b${i}`);
      mkdirSync(dir, { recursive: true });
      const kubelet = await KubeletPeer.start({ registry: join(dir, 'kubelet', 'plugins_registry') });
      const nri = await NriPeer.start({ socket: join(dir, 'nri.sock') });
      const phaseMs = Math.random() * 1000;
      await new Promise((r) => setTimeout(r, phaseMs));
      const d = new DaemonChild(other ?? entry, runArgs(dir, { node, hostNs, nriSocket: join(dir, 'nri.sock'), kubeconfig }), other === undefined ? daemonEnv : process.env);
      const at = (): number => performance.timeOrigin + performance.now() - d.spawnedAt;
      const registered = kubelet.waitForRegistered(DRIVER, 60_000).then((ev) => ({ ms: at(), rpcMs: ev.elapsedMs }));
      const synced = nri.waitForPlugin(`00-${DRIVER}`, 60_000).then(at);
      const [processStart, running, reg, nriSyncedMs, regLog] = await Promise.all([
        d.processStart, d.logged('netclaim running'), registered, synced, d.logged('registered with the kubelet'),
      ]);
      const proc = processStart - d.spawnedAt;
      const marks = running.sinceProcessStartMs as Record<string, number>;
      const sample: StartSample = {
        registeredMs: round(reg.ms), reconcilerPhaseMs: round(phaseMs), spawnToProcessStartMs: round(proc),
        ...Object.fromEntries(Object.entries(marks).map(([k, v]) => [`${k}Ms`, round(proc + v)])),
        nriSynchronizedMs: round(nriSyncedMs),
        kubeletWaitMs: round(reg.ms - reg.rpcMs - (proc + (marks['pluginServer'] ?? 0))), registrationRpcMs: reg.rpcMs,
        daemonSawRegisteredMs: round(proc + (regLog.sinceProcessStartMs as number)),
      };
      o.log(`daemon: ${other === undefined ? '' : 'baseline '}start ${i + 1}: registered ${sample.registeredMs} ms (socket up ${sample['pluginServerMs']} ms, imported ${sample['importedMs']} ms, kubelet tick wait ${sample.kubeletWaitMs} ms)`);
      return { d, kubelet, nri, dir, sample };
    };
    const starts = Math.max(1, Number(process.env['NETCLAIM_BENCH_STARTS'] ?? 7));
    const samples: StartSample[] = [];
    // NETCLAIM_BENCH_START_BASELINE=FILE.mjs: another bundle (an older build, no compile cache) started
    // before each start of this one, alternately, so that both are measured under the same load.
    const baseline = process.env['NETCLAIM_BENCH_START_BASELINE'];
    const baselineSamples: StartSample[] = [];
    let kept: Awaited<ReturnType<typeof startOnce>> | undefined;
    for (let i = 0; i < starts; i++) {
      if (baseline !== undefined) {
        const b = await startOnce(i, baseline);
        baselineSamples.push(b.sample);
        await b.d.stop();
        await b.kubelet.close();
        await b.nri.close();
      }
      const s = await startOnce(i);
      cleanups.push(() => s.d.stop());
      samples.push(s.sample);
      if (i < starts - 1) {
        await s.d.stop();
        await s.kubelet.close();
        await s.nri.close();
      } else {
        kept = s;
      }
    }
    const { d, kubelet, nri, dir } = kept!;
    const imported = samples.map((x) => x['importedMs']!);
    const registeredMs = samples.map((x) => x.registeredMs);

    const published = async (n: number): Promise<string[]> => waitFor(`${n} published devices`, async () => {
      const names = (await sliceList(kube, node, DRIVER)).flatMap((s) => s.spec.devices ?? []);
      return names.length >= n ? names.map((x) => (x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string ?? x.name) : undefined;
    }, 120_000, 250);
    await published(1);
    const devName = await waitFor('bench device', async () => (await sliceList(kube, node, DRIVER)).flatMap((s) => s.spec.devices ?? [])
      .find((x) => (x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string === 'ncbdev')?.name);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await d.mem();
    o.log(`daemon: registered in ${registeredMs.join(', ')} ms; idle RSS ${idle.rssMB} MB`);
    pages?.('idle', d.pid);

    const cycles = await runCycles(o, kube, kubelet, nri, d, node, devName, `/run/netns/${podNs}`, pages);

    // Added while a daemon runs, 1,000 links at once make its inventory watcher's link dump fail
    // with KERNEL_DUMP_INTERRUPTED and the daemon exit; so the links go in between two daemons.
    await d.stop();
    o.log(`daemon: adding ${o.devices} links, starting a second daemon…`);
    const lines: string[] = [];
    for (let i = 0; i < o.devices / 2; i++) lines.push(`link add ncx${i}a type veth peer name ncx${i}b`);
    execFileSync('ip', ['-n', hostNs, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    const tAdd = performance.now();
    const d2 = new DaemonChild(entry, runArgs(dir, { node, hostNs, nriSocket: join(dir, 'nri.sock'), kubeconfig }), daemonEnv);
    cleanups.push(() => d2.stop());
    const started2 = await d2.logged('netclaim running', 120_000);
    const proc2 = (await d2.processStart) - d2.spawnedAt;
    const total = (await published(o.devices + 1)).length;
    const publishMs = performance.now() - tAdd;
    await new Promise((r) => setTimeout(r, 2000));
    const withDevices = await d2.mem();
    o.log(`daemon: ${total} devices published; RSS ${withDevices.rssMB} MB`);
    pages?.('devices', d2.pid);

    return {
      suite: 'daemon',
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
      method: '`netclaim run` (node --expose-gc, bench/daemon-probe.js preloaded) in its own process; real kube-apiserver, kubelet-peer, nri-peer; memory after gc()',
      from, nodeFlags: imageNodeFlags().join(' '), nodeEnv: imageNodeEnv(), compileCache: daemonEnv['NODE_COMPILE_CACHE'] !== undefined,
      ffi: process.env['NETCLAIM_FFI'] || 'koffi',
      start: {
        // ms from spawn; the kubelet's plugin manager reconciles once a second, so registered ≈ pluginServer + U(0, 1 s) + the RPCs.
        registeredMs: summarize(registeredMs), importedMs: summarize(imported), pluginServerMs: summarize(samples.map((x) => x['pluginServerMs']!)),
        samples,
        ...(baseline === undefined ? {} : {
          baseline: {
            entry: baseline, registeredMs: summarize(baselineSamples.map((x) => x.registeredMs)), importedMs: summarize(baselineSamples.map((x) => x['importedMs']!)),
            pluginServerMs: summarize(baselineSamples.map((x) => x['pluginServerMs']!)), samples: baselineSamples,
          },
        }),
      },
      floor: { nodeEmptyRssMB: floorRssMB(), nodeEmptyStartMs: floorStartMs() },
      idle,
      withDevices: { published: total, processToStartedMs: round(proc2 + ((started2.sinceProcessStartMs as Record<string, number>)['pluginServer'] ?? 0)), spawnToAllPublishedMs: round(publishMs), ...withDevices },
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

/** One start's timeline, ms from spawn (the `…Ms` of the daemon's own marks: imported, http, store, inventory, publisher, nriSynchronized, pluginServer). */
interface StartSample {
  readonly registeredMs: number; readonly reconcilerPhaseMs: number; readonly spawnToProcessStartMs: number; readonly nriSynchronizedMs: number;
  /** The registration socket was listening, the kubelet had not yet called: its plugin manager's tick. */
  readonly kubeletWaitMs: number; readonly registrationRpcMs: number; readonly daemonSawRegisteredMs: number;
  readonly [mark: string]: number;
}

type Peers = [InstanceType<typeof import('../test/conformance/kube-client.ts').KubeClient>, import('../test/conformance/peers/kubelet-peer.ts').KubeletPeer, import('../test/conformance/peers/nri-peer.ts').NriPeer];

/** prepare → RunPodSandbox → StopPodSandbox → unprepare, `o.cycles` times, through the peers. */
async function runCycles(
  o: DaemonBenchOptions, kube: Peers[0], kubelet: Peers[1], nri: Peers[2], d: DaemonChild, node: string, device: string, podNetns: string,
  pages: ((label: string, pid: number) => void) | undefined,
): Promise<Record<string, unknown>> {
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
  let nriDrops = 0;
  const t0 = performance.now();
  for (let i = 1; i <= o.cycles; i++) {
    const c0 = performance.now();
    for (let attempt = 0; ; attempt++) {
      const p = await kubelet.prepare(DRIVER, [ref]);
      if (p.response?.claims?.[ref.uid]?.devices?.length === 1) break;
      // The device came back from the last pod, but the inventory has not seen it yet; or (on a loaded machine) the
      // runtime dropped the NRI plugin after a hook past its 2 s timeout, and it reconnects: the kubelet retries too.
      const error = p.response?.claims?.[ref.uid]?.error ?? '';
      const nriDropped = /^PREPARE_NRI_NOT_READY:/.test(error);
      if (!(nriDropped || /^PREPARE_DEVICE_EMPTY:/.test(error)) || attempt >= 500) throw new Error(`cycle ${i}: prepare: ${JSON.stringify(p)}`);
      retries++;
      if (nriDropped && attempt === 0) nriDrops++;
      await new Promise((res) => setTimeout(res, nriDropped ? 100 : 10));
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
      // NETCLAIM_BENCH_HEAP_SNAPSHOTS=DIR: heap snapshots after the warm-up and at the end, to compare (what grows).
      const snapDir = process.env['NETCLAIM_BENCH_HEAP_SNAPSHOTS'];
      if (snapDir !== undefined && (i === every || i === o.cycles)) o.log(`daemon: heap snapshot ${await d.snapshot(join(snapDir, `daemon-cycle-${i}.heapsnapshot`))}`);
      if (i === every || i === o.cycles) pages?.(`cycle-${i}`, d.pid);
      o.log(`daemon: ${i}/${o.cycles} cycles, RSS ${samples.at(-1)!.rssMB} MB, heap ${samples.at(-1)!.heapUsedMB} MB`);
    }
  }
  const wallS = (performance.now() - t0) / 1000;
  const base = samples[1] ?? samples[0]!;
  const end = samples.at(-1)!;
  return {
    way: 'through the peers: kubelet-peer Prepare/Unprepare, nri-peer RunPodSandbox/StopPodSandbox (one veth, MTU + address + route)',
    count: o.cycles, prepareRetries: retries, nriDrops, cyclesPerS: round(o.cycles / wallS), cycleMs: summarize(ms),
    growthAfterWarmUpMB: { rss: round(end.rssMB - base.rssMB), heapUsed: round(end.heapUsedMB - base.heapUsedMB), warmUpCycles: base.cycle },
    samples,
  };
}

