/**
 * The CLI start-up benchmark: the wall time of whole `netclaim` processes as
 * a user starts them (`node bin/netclaim.js …`), the median of `runs`, beside
 * `node -e 0`, Node's own start-up and the floor. Two ways to run
 * (docs/cli.md, "Start-up"): the bundle (dist/, built first when missing or
 * stale) and the sources (NETCLAIM_NO_BUNDLE=1); each warm (a compile cache
 * a first run has filled) and cold (an empty compile cache for every run).
 * `npx netclaim --version` adds npm's own start-up, measured for reference.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBundleFresh } from '../bin/bundle-stamp.js';
import { summarize, type Summary } from './stats.ts';

export interface CliBenchOptions {
  readonly runs: number;
  readonly log: (s: string) => void;
}

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/netclaim.js');
const TARGETS = { versionMs: 150, inventoryJsonMs: 400 } as const;
const COMMANDS = { version: ['--version'], inventoryJson: ['inventory', '--json'] } as const;

/** Wall milliseconds of one process, which must exit 0. */
function wallMs(command: string, args: readonly string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(command, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr || r.error?.message}`);
  return ms;
}

function median(runs: number, once: () => number): Summary {
  return summarize(Array.from({ length: runs }, once));
}

interface ModeResult { readonly warm: Summary; readonly cold: Summary }
type Measured = Record<keyof typeof COMMANDS, ModeResult>;

/** Warm: one compile cache, filled by two runs first. Cold: a new, empty one for every run. */
function measureMode(runs: number, args: readonly string[], env: NodeJS.ProcessEnv): ModeResult {
  const warmDir = mkdtempSync(join(tmpdir(), 'nc-bench-cache-'));
  try {
    const warmEnv = { ...env, NODE_COMPILE_CACHE: warmDir };
    for (let i = 0; i < 2; i++) wallMs(process.execPath, [BIN, ...args], warmEnv);
    const warm = median(runs, () => wallMs(process.execPath, [BIN, ...args], warmEnv));
    const cold = median(runs, () => {
      const dir = mkdtempSync(join(tmpdir(), 'nc-bench-cold-'));
      try {
        return wallMs(process.execPath, [BIN, ...args], { ...env, NODE_COMPILE_CACHE: dir });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    return { warm, cold };
  } finally {
    rmSync(warmDir, { recursive: true, force: true });
  }
}

function measureAll(runs: number, env: NodeJS.ProcessEnv, log: (s: string) => void, label: string): Measured {
  log(`cli: ${label}: --version, inventory --json (${runs} warm and ${runs} cold runs each)…`);
  return { version: measureMode(runs, COMMANDS.version, env), inventoryJson: measureMode(runs, COMMANDS.inventoryJson, env) };
}

function npxVersionMs(runs: number): Summary | string {
  const probe = spawnSync('npx', ['--version'], { cwd: ROOT, stdio: 'ignore' });
  if (probe.status !== 0) return 'npx not found';
  return median(runs, () => wallMs('npx', ['--no-install', 'netclaim', '--version'], process.env));
}

const meets = (m: Measured): Record<string, boolean> => ({
  versionWarm: m.version.warm.p50 <= TARGETS.versionMs,
  versionCold: m.version.cold.p50 <= TARGETS.versionMs,
  inventoryJsonWarm: m.inventoryJson.warm.p50 <= TARGETS.inventoryJsonMs,
  inventoryJsonCold: m.inventoryJson.cold.p50 <= TARGETS.inventoryJsonMs,
});

/**
 * The bundle, measured while it stays fresh: sources edited meanwhile make it
 * stale, and bin/netclaim.js then runs the sources; it is rebuilt and measured
 * again (at most three times).
 */
async function measureBundle(runs: number, env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<Measured & { stayedFresh: boolean; attempts: number }> {
  const dist = join(ROOT, 'dist');
  for (let attempt = 1; ; attempt++) {
    if (!isBundleFresh(ROOT, dist)) {
      log('cli: dist/ is missing or stale: npm run bundle…');
      await (await import('../scripts/bundle.ts')).bundle(dist);
    }
    const measured = measureAll(runs, env, log, 'the bundle');
    const stayedFresh = isBundleFresh(ROOT, dist);
    if (stayedFresh || attempt === 3) return { ...measured, stayedFresh, attempts: attempt };
    log('cli: the sources changed while the bundle was measured: again…');
  }
}

export async function benchCli(o: CliBenchOptions): Promise<Record<string, unknown>> {
  const env = { ...process.env };
  delete env['NETCLAIM_NO_BUNDLE'];
  o.log('cli: the floor, node -e 0…');
  const floor = median(o.runs, () => wallMs(process.execPath, ['-e', '0'], env));
  const bundled = await measureBundle(o.runs, env, o.log);
  const sources = measureAll(o.runs, { ...env, NETCLAIM_NO_BUNDLE: '1' }, o.log, 'the sources');
  o.log('cli: npx netclaim --version…');
  const npx = npxVersionMs(Math.min(o.runs, 5));
  return {
    suite: 'cli',
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version, loadAverage: loadavg().map((l) => Number(l.toFixed(2))) },
    runs: o.runs,
    unit: 'ms of wall time per process (p50 is the median)',
    floor: { nodeE0: floor },
    bundle: bundled,
    sources,
    npxVersion: npx,
    targets: TARGETS,
    meetsTargets: { bundle: meets(bundled), sources: meets(sources) },
  };
}
