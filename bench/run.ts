/**
 * `npm run bench [-- SUITE...] [--json]`: runs benchmark suites. With --json,
 * prints exactly one JSON object (suite name → result) on stdout; progress
 * goes to stderr.
 */
import { benchAttach } from './attach.ts';
import { benchCli } from './cli.ts';
import { benchDaemon } from './daemon.ts';
import { benchE2e } from './e2e.ts';
import { e2ePeerFromArgs, e2eValuesFromArgs } from './e2e-peer.ts';
import { benchFleet, fleetOptionsFromArgs } from './fleet.ts';
import { benchInventory } from './inventory.ts';
import { benchIpam } from './ipam.ts';
import { benchNetlink } from './netlink.ts';
import { benchPrepare } from './prepare.ts';

const SUITES: Record<string, (log: (s: string) => void) => unknown> = {
  netlink: (log) => benchNetlink({ dumpRuns: 30, opRuns: 500, log }),
  inventory: (log) => benchInventory({ runs: 20, changes: 100, log }),
  prepare: (log) => benchPrepare({ runs: 500, log }),
  attach: (log) => benchAttach({ runs: 300, log }),
  e2e: (log) => benchE2e({ pods: podsArg ?? 20, log, ...(peer ? { peer } : {}), ...(values ? { values } : {}) }),
  cli: (log) => benchCli({ runs: 10, log }),
  daemon: (log) => benchDaemon({ cycles: Number(process.env['NETCLAIM_BENCH_CYCLES'] ?? 10_000), devices: 1_000, log }),
  fleet: (log) => benchFleet(fleetOptionsFromArgs(process.argv.slice(2), process.env, log)),
  ipam: (log) => benchIpam({ allocations: Number(process.env['NETCLAIM_BENCH_IPAM_ALLOCATIONS'] ?? 10_000), nodes: 16, log }),
};

const args = process.argv.slice(2);
const json = args.includes('--json');
// `--pods N`: how many pod pairs the e2e suite measures (default 20; fewer while iterating).
const podsAt = args.indexOf('--pods');
const podsArg = podsAt >= 0 ? Number(args.splice(podsAt, 2)[1]) : undefined;
if (podsArg !== undefined && !(Number.isInteger(podsArg) && podsArg > 0)) {
  process.stderr.write('--pods: a positive integer\n');
  process.exit(2);
}
// `--peer dranet|floor|netclaim-twin|FILE.json`: the e2e suite measures that driver beside netclaim (bench/e2e-peer.ts).
// `--values JSON`: chart values for the e2e suite's netclaim (e.g. '{"deviceMetadata":false}').
let peer: ReturnType<typeof e2ePeerFromArgs>;
let values: ReturnType<typeof e2eValuesFromArgs>;
try {
  peer = e2ePeerFromArgs(args);
  values = e2eValuesFromArgs(args);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in SUITES));
if (unknown.length) {
  process.stderr.write(`unknown suite(s): ${unknown.join(', ')}; available: ${Object.keys(SUITES).join(', ')}\n`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write('benchmarks create network namespaces: run as root\n');
  process.exit(2);
}
const log = (s: string): void => { process.stderr.write(`${s}\n`); };
const out: Record<string, unknown> = {};
// fleet and ipam start their own API server: only when named.
for (const name of names.length ? names : Object.keys(SUITES).filter((n) => n !== 'fleet' && n !== 'ipam')) out[name] = await SUITES[name]!(log);
const result = names.length === 1 ? out[names[0]!] : out;
process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
