/**
 * `netclaim run` as a process whose stdout reader stops reading or goes away
 * (docs/observability.md, "When the log reader stops reading or goes away"):
 * a fifo whose reader closed (EPIPE), a socket pair whose reading end closed
 * (what `stdio: 'pipe'` gives a child), a fifo full with a reader that never
 * reads. In each the daemon keeps serving (/metrics answers, dropped lines
 * counted there), burns no CPU on its log, and SIGTERM ends it with exit 0.
 *
 * Before the log sink (src/observe/log-sink.ts), pino's destination retried
 * the failed write at exit for ever: with the full fifo the process never
 * exited after SIGTERM.
 *
 * The daemon runs from the sources in a throwaway host netns, NRI off, with a
 * kubeconfig naming a closed port: it starts, cannot reach an API server, and
 * keeps logging its retries (warnings), which is what the log path needs.
 * CPU time comes from /proc/PID/stat (utime + stime), never from wall-clock
 * assertions.
 *
 * Host kernel tier only: it tests no kernel feature, and it starts Node.js
 * processes, which crash now and then at start-up under the QEMU lane's TCG
 * (test/vm/guest-kernel-tests.sh keeps the CLI tests out for the same reason).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetns } from '../../test/kernel/netns-fixture.ts';
import { inQemuLane } from '../../test/kernel/vm-guard.ts';

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const MAIN = resolve(import.meta.dirname, '../main.ts');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) {
    try { f(); } catch { /* gone already */ }
  }
});

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** CPU seconds (user + system) the process has used, or undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // 14 utime, 15 stime
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, get: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** `netclaim run` with the given stdout and stderr, answering /metrics on the port it returns. */
async function startRun(stdout: 'pipe' | number, stderr: 'pipe' | number): Promise<{ child: ChildProcess; port: number; exited: Promise<{ code: number | null; signal: string | null }> }> {
  const host = createNetns('logout');
  const dir = mkdtempSync(join(tmpdir(), 'nc-logout-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const [port, closedPort] = [await freePort(), await freePort()];
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${closedPort}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  const child = spawn(NODE, [
    MAIN, 'run', '--node-name', 'logout-node', '--kubeconfig', kubeconfig, '--kubelet-root-dir', join(dir, 'kubelet'),
    '--state-dir', join(dir, 'state'), '--cdi-dir', join(dir, 'cdi'), '--host-netns', host.path, '--no-nri',
    '--metrics-address', `127.0.0.1:${port}`,
  ], { stdio: ['ignore', stdout, stderr] });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  cleanup.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, port, exited };
}

async function metrics(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  return r.text();
}

function dropped(text: string, reason: 'backlog' | 'error'): number {
  const m = new RegExp(`^netclaim_log_lines_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]);
}

/**
 * Over a few seconds of the daemon's life, its CPU time stays under a quarter
 * of the time that passed (a spin takes a whole CPU, or its share of a loaded
 * machine's); then SIGTERM ends it with exit 0.
 */
async function expectQuietThenStops(child: ChildProcess, exited: Promise<{ code: number | null; signal: string | null }>): Promise<void> {
  const pid = child.pid!;
  const c0 = cpuSeconds(pid)!;
  const t0 = performance.now();
  await sleep(3000);
  const used = cpuSeconds(pid)! - c0;
  const elapsed = (performance.now() - t0) / 1000;
  expect(used, `CPU ${used.toFixed(2)} s in ${elapsed.toFixed(2)} s`).toBeLessThan(elapsed / 4);
  child.kill('SIGTERM');
  const end = await Promise.race([exited, sleep(90_000).then(() => 'no exit within 90 s after SIGTERM' as const)]);
  expect(end).toEqual({ code: 0, signal: null });
}

/** A fifo: its path, a reader (opened first, not reading) and a writer to give the daemon. */
function fifo(): { path: string; reader: number; writer: number } {
  const dir = mkdtempSync(join(tmpdir(), 'nc-logfifo-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'stdout');
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  cleanup.push(() => closeSync(writer));
  return { path, reader, writer };
}

describe.skipIf(inQemuLane())('netclaim run when its log reader stops reading or goes away', () => {
  it('stdout and stderr on a fifo whose reader closed: lines dropped and counted as error, no spin, SIGTERM → exit 0', async () => {
    const f = fifo();
    const { child, port, exited } = await startRun(f.writer, f.writer);
    closeSync(f.reader); // before the daemon's first line
    const text = await until('a dropped line counted', async () => {
      const t = await metrics(port);
      return dropped(t, 'error') >= 1 ? t : undefined;
    });
    expect(dropped(text, 'backlog')).toBe(0);
    await expectQuietThenStops(child, exited);
  }, 240_000);

  it('stdout on a socket pair whose reading end closed (stdio "pipe"): the same', async () => {
    const { child, port, exited } = await startRun('pipe', 'pipe');
    child.stdout!.destroy();
    child.stderr!.destroy();
    await until('a dropped line counted', async () => (dropped(await metrics(port), 'error') >= 1 ? true : undefined));
    await expectQuietThenStops(child, exited);
  }, 240_000);

  it('stdout on a full fifo whose reader never reads: the daemon keeps serving, nothing dropped as error, SIGTERM → exit 0 (it hung here before)', async () => {
    const f = fifo();
    cleanup.push(() => closeSync(f.reader));
    const chunk = Buffer.alloc(4096, 'f');
    for (;;) {
      try {
        writeSync(f.writer, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }
    const { child, port, exited } = await startRun(f.writer, 'pipe');
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    // /metrics answers: nothing waits on the log.
    const text = await until('/metrics', () => metrics(port));
    expect(dropped(text, 'error'), stderr).toBe(0);
    await expectQuietThenStops(child, exited);
    expect(stderr).toBe('');
  }, 240_000);
});
