/**
 * `npm run bench -- fleet --scenarios=daemon-flap [--budget=off|default|…]`:
 * one WHOLE daemon (`Daemon`, as `netclaim run` composes it: inventory
 * watcher on real netlink, slice publisher, kubelet plugin, NRI plugin,
 * metrics) in a child process of its own, against the conformance tier's
 * real kube-apiserver, the kubelet-peer and the nri-peer, on a throwaway host
 * namespace with 16 veth NICs (their peers in a second namespace). From the
 * bench side, `ip` takes ncf0 down and up at 10 Hz (a transition every
 * 50 ms, jittered ±50 %, so 20 transitions a second, as the simulator's soak)
 * for NETCLAIM_FLEET_SOAK_S seconds (default 120).
 *
 * Sampled every 5 s: the daemon's CPU % (/proc/PID/stat utime+stime) and RSS
 * (/proc/PID/status VmRSS), and the ResourceSlice writes the API server
 * counted (apiserver_request_total: nothing else writes slices here). Before
 * the flap, an idle stretch; after it, the link is left up and the bench
 * waits until the API server holds all 16 NICs with ncf0 `up` (the final
 * state is published), then samples a while longer.
 *
 * Everything it makes (namespaces, temp dirs, processes) goes on return, on
 * an error and on SIGINT/SIGTERM.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WriteBudgetOptions } from '../../src/surfaces/kube/write-budget.ts';
import { IMAGE_NODE_ENV, IMAGE_NODE_FLAGS } from '../daemon.ts';
import { readServer, sum } from './metrics.ts';

const imageEnv = Object.fromEntries(IMAGE_NODE_ENV.split(' ').map((kv) => kv.split('=') as [string, string]));

const DRIVER = 'netclaim.dev';
const CHILD_ENV = 'NETCLAIM_BENCH_FLAP_CHILD';
const NICS = 16;
const SAMPLE_MS = 5_000;

interface ChildCfg { server: string; caPem: string; token: string; node: string; root: string; host: string; budget?: WriteBudgetOptions }

/** The child: one Daemon with the bench's write budget; reports 'started' or 'error', stops on 'stop' or when the bench goes away. */
async function child(): Promise<void> {
  const cfg = JSON.parse(process.env[CHILD_ENV]!) as ChildCfg;
  const { Daemon } = await import('../../src/daemon/daemon.ts');
  const { DEFAULT_OPTIONS } = await import('../../src/inventory/options.ts');
  const { createLogger } = await import('../../src/observe/logger.ts');
  const { loadLibc, ffiBackendFromEnv } = await import('../../src/kernel/libc/index.ts');
  const { kubeConfigFor } = await import('../../test/conformance/slice-fixtures.ts');
  const daemon = new Daemon({
    kubeConfig: kubeConfigFor({ server: cfg.server, caPem: cfg.caPem }, cfg.token),
    nodeName: cfg.node, driverName: DRIVER, kubeletRootDir: join(cfg.root, 'kubelet'), stateDir: join(cfg.root, 'state'),
    cdiDir: join(cfg.root, 'cdi'), sysfsRoot: '/sys',
    // veths are virtual: published only when every kind is; their peers live in another namespace.
    inventory: { ...DEFAULT_OPTIONS, includeKinds: ['*'] },
    attributeDomain: DRIVER, dranetConfigs: true, taintUnhealthy: false, metricsAddress: '127.0.0.1:0',
    nriSocket: join(cfg.root, 'nri.sock'), hostNetns: cfg.host, libc: loadLibc(ffiBackendFromEnv()), log: createLogger({ level: 'warn' }),
    ...(cfg.budget !== undefined && { sliceWriteBudget: cfg.budget }),
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await daemon.stop().catch(() => {});
    process.exit(0);
  };
  process.on('disconnect', () => void stop());
  process.on('message', (m: { type: string }) => { if (m.type === 'stop') void stop(); });
  try {
    await daemon.start();
  } catch (err) {
    process.send!({ type: 'error', error: String(err) });
    return stop();
  }
  process.send!({ type: 'started' });
}

/** CPU seconds (user + system) and RSS of a process, from /proc. */
function procUsage(pid: number): { cpuS: number; rssMB: number } {
  // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th there (clock ticks, 100/s on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuS: (Number(f[11]) + Number(f[12])) / 100, rssMB: Math.round(rssKb / 102.4) / 10 };
}

export interface DaemonFlapOptions {
  readonly seconds: number;
  /** undefined: the daemon's default budget. */
  readonly budget?: WriteBudgetOptions;
  readonly log: (s: string) => void;
}

interface Sample { readonly s: number; readonly phase: 'idle' | 'flap' | 'after'; readonly cpuPct: number; readonly rssMB: number; readonly sliceWrites: number; readonly load1: number }

export async function benchDaemonFlap(o: DaemonFlapOptions): Promise<Record<string, unknown>> {
  const { startControlPlane } = await import('../../test/conformance/control-plane.ts');
  const { peersBinDir } = await import('../../test/conformance/peers/binaries.ts');
  peersBinDir(); // throws, naming the build script, when the peers are not built
  const { KubeletPeer } = await import('../../test/conformance/peers/kubelet-peer.ts');
  const { NriPeer } = await import('../../test/conformance/peers/nri-peer.ts');
  const { closeAllPeerProcesses } = await import('../../test/conformance/peers/json-lines.ts');
  const { KubeClient } = await import('../../test/conformance/kube-client.ts');
  const { ensureNode, sliceList, waitFor } = await import('../../test/conformance/slice-fixtures.ts');

  const tag = process.pid % 10000;
  const hostNs = `ncfh${tag}`;
  const peerNs = `ncfp${tag}`;
  const root = mkdtempSync(join(tmpdir(), 'nc-bench-flap-'));
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const syncCleanup = (): void => {
    for (const ns of [hostNs, peerNs]) try { execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' }); } catch { /* not there */ }
    rmSync(root, { recursive: true, force: true });
  };
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
    await closeAllPeerProcesses();
    syncCleanup();
  };
  const onSignal = (): void => { void cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', syncCleanup);
  try {
    execFileSync('ip', ['netns', 'add', hostNs]);
    execFileSync('ip', ['netns', 'add', peerNs]);
    const lines = ['link set lo up'];
    for (let i = 0; i < NICS; i++) lines.push(`link add ncf${i} type veth peer name ncf${i}p netns ${peerNs}`, `link set ncf${i} up`);
    execFileSync('ip', ['-n', hostNs, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    execFileSync('ip', ['-n', peerNs, '-batch', '-'], { input: `${Array.from({ length: NICS }, (_, i) => `link set ncf${i}p up`).join('\n')}\n` });

    o.log('fleet: daemon-flap: starting kube-apiserver…');
    const cp = await startControlPlane();
    cleanups.push(() => cp.stop());
    const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
    const node = `bench-flap-${tag}`;
    await ensureNode(kube, node);
    const kubelet = await KubeletPeer.start({ registry: join(root, 'kubelet', 'plugins_registry') });
    const nri = await NriPeer.start({ socket: join(root, 'nri.sock') });
    const cfg: ChildCfg = { server: cp.server, caPem: cp.caPem, token: cp.token, node, root, host: `/run/netns/${hostNs}`, ...(o.budget !== undefined && { budget: o.budget }) };
    const d: ChildProcess = fork(new URL(import.meta.url).pathname, [], {
      // The image's node flags and environment (Dockerfile), as bench/daemon.ts runs the daemon.
      execArgv: IMAGE_NODE_FLAGS.split(' '), env: { ...process.env, ...imageEnv, [CHILD_ENV]: JSON.stringify(cfg) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((r) => d.once('exit', () => r()));
    cleanups.push(async () => {
      if (d.exitCode !== null || d.signalCode !== null) return;
      d.send({ type: 'stop' });
      const t = setTimeout(() => d.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    });
    await new Promise<void>((resolve, reject) => {
      d.once('message', (m: { type: string; error?: string }) => (m.type === 'started' ? resolve() : reject(new Error(`daemon: ${m.error}`))));
      void exited.then(() => reject(new Error('daemon exited before it started')));
    });
    await kubelet.waitForRegistered(DRIVER, 60_000);
    await nri.waitForPlugin(`00-${DRIVER}`, 60_000);
    const ifNames = async (): Promise<Map<string, string>> => new Map((await sliceList(kube, node, DRIVER)).flatMap((s) => s.spec.devices ?? [])
      .map((x) => [String((x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string), String((x.attributes?.[`${DRIVER}/state`] as { string?: string } | undefined)?.string)]));
    const allUp = async (): Promise<boolean> => {
      const m = await ifNames();
      return Array.from({ length: NICS }, (_, i) => m.get(`ncf${i}`)).every((s) => s === 'up');
    };
    await waitFor(`${NICS} NICs published up`, allUp, 120_000, 250);
    const pid = d.pid!;

    // Sampling: the daemon from /proc, slice writes from the API server's own counter.
    const writesNow = async (): Promise<number> => sum((await readServer(cp)).api, 'apiserver_request_total',
      (l) => l['resource'] === 'resourceslices' && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(l['verb'] ?? ''));
    const series: Sample[] = [];
    let phase: Sample['phase'] = 'idle';
    const t0 = performance.now();
    let last = { t: t0, ...procUsage(pid), writes: await writesNow() };
    const sample = async (): Promise<void> => {
      const now = performance.now();
      const u = procUsage(pid);
      const w = await writesNow();
      series.push({ s: Math.round((now - t0) / 1000), phase, cpuPct: Math.round(((u.cpuS - last.cpuS) / ((now - last.t) / 1000)) * 1000) / 10, rssMB: u.rssMB, sliceWrites: w - last.writes, load1: Math.round(loadavg()[0]! * 10) / 10 });
      last = { t: now, ...u, writes: w };
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
        await sample();
      }
    })();

    const idleS = 20;
    o.log(`fleet: daemon-flap: idle ${idleS} s, then ncf0 flapping at 10 Hz for ${o.seconds} s`);
    await new Promise((r) => setTimeout(r, idleS * 1000));
    // One long-lived `ip -batch` reading commands as they come: a process per transition would cost more CPU than the daemon.
    const ip = spawn('ip', ['-n', hostNs, '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
    cleanups.push(() => ip.kill());
    phase = 'flap';
    const writesAtFlap = await writesNow();
    const tFlap = performance.now();
    let transitions = 0;
    let up = true;
    while (performance.now() - tFlap < o.seconds * 1000) {
      up = !up;
      ip.stdin.write(`link set ncf0 ${up ? 'up' : 'down'}\n`);
      transitions++;
      await new Promise((r) => setTimeout(r, 50 * (0.5 + Math.random())));
    }
    if (!up) { ip.stdin.write('link set ncf0 up\n'); transitions++; }
    ip.stdin.end();
    await new Promise((r) => ip.once('exit', r));
    const flapS = (performance.now() - tFlap) / 1000;
    const writesInFlap = (await writesNow()) - writesAtFlap;
    phase = 'after';
    const tEnd = performance.now();
    await waitFor('the final state (ncf0 up) published', allUp, 120_000, 50);
    const finalMs = performance.now() - tEnd;
    await new Promise((r) => setTimeout(r, 20_000));
    const final = await ifNames(); // still so after 20 s: nothing later overwrote it
    sampling = false;
    await sampler;
    const flap = series.filter((x) => x.phase === 'flap');
    const range = (xs: readonly number[]): { min: number; max: number } => ({ min: Math.min(...xs), max: Math.max(...xs) });
    return {
      method: `Daemon in its own node process (${IMAGE_NODE_FLAGS} ${IMAGE_NODE_ENV}); real kube-apiserver, kubelet-peer, nri-peer; ${NICS} veth NICs; ncf0 flapped by ip -batch`,
      budget: o.budget ?? 'default',
      flap: { seconds: Math.round(flapS * 10) / 10, transitions, sliceWrites: writesInFlap, sliceWritesPerS: Math.round((writesInFlap / flapS) * 100) / 100 },
      finalStatePublishedMs: Math.round(finalMs),
      final: { nics: Array.from({ length: NICS }, (_, i) => final.get(`ncf${i}`)).filter((s) => s === 'up').length, published: final.size },
      idle: { cpuPct: range(series.filter((x) => x.phase === 'idle').map((x) => x.cpuPct)), rssMB: range(series.filter((x) => x.phase === 'idle').map((x) => x.rssMB)) },
      duringFlap: { cpuPct: range(flap.map((x) => x.cpuPct)), rssMB: range(flap.map((x) => x.rssMB)), sliceWritesPer5s: range(flap.map((x) => x.sliceWrites)) },
      series,
    };
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', syncCleanup);
  }
}

if (process.env[CHILD_ENV] !== undefined && process.send !== undefined) await child();
