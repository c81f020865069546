/**
 * `netclaim status`: what an operator runs first on a node when a job is
 * slow — every device with its state, owner pod and claim, health and last
 * problem (status-report.ts), without the daemon: the claim records are read
 * from the state directory (read-only: nothing is moved, cleaned or locked,
 * so it is safe beside a running daemon), the devices on the host from the
 * kernel (the inventory), and the devices in pods through their pods'
 * namespaces (the pin the daemon holds, else the runtime's path), as the
 * daemon's own health watch reads them. `--json` prints the rows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/errors.ts';
import type { PodDeviceHealth } from '../../driver/pod-health-rules.ts';
import type { ClaimRecord } from '../../driver/record-model.ts';
import { RECORD_SUFFIX } from '../../driver/state/claim-record.ts';
import { isAdminRecord, parseStoredRecord } from '../../driver/state/stored-record.ts';
import { buildInventory } from '../../inventory/build.ts';
import { collectSnapshot, type CollectOptions } from '../../inventory/collect.ts';
import type { InventoryOptions } from '../../inventory/options.ts';
import { libc } from '../../kernel/libc/index.ts';
import { NetnsHandle } from '../../kernel/netns/handle.ts';
import { runCommand, STDIO, type CliIo, type Command } from './command.ts';
import { filterCompilerFor, INVENTORY_FLAGS, inventoryOptionsFromFlags, sysfsRootFromFlag } from './inventory-flags.ts';
import { formatStatus, statusReport } from './status-report.ts';

export interface StatusArgs {
  readonly json: boolean;
  readonly stateDir: string;
  readonly netns?: string | undefined;
  readonly collect: CollectOptions;
  readonly options: InventoryOptions;
}

export async function parseStatusArgs(argv: readonly string[]): Promise<StatusArgs> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      'state-dir': { type: 'string', default: '/var/lib/netclaim' },
      netns: { type: 'string' },
      'sysfs-root': { type: 'string', default: '/sys' },
      ...INVENTORY_FLAGS,
      naming: { type: 'string', default: 'netclaim' },
    },
  });
  if (values.naming !== 'netclaim' && values.naming !== 'dranet') {
    throw new ConfigError(`--naming must be "netclaim" or "dranet", got ${JSON.stringify(values.naming)}`, { context: { field: '--naming' } });
  }
  if (values['state-dir'].trim() === '') throw new ConfigError('--state-dir must not be empty', { context: { field: '--state-dir' } });
  const options = inventoryOptionsFromFlags(values, values.naming, await filterCompilerFor(values));
  return { json: values.json, stateDir: values['state-dir'], netns: values.netns, collect: { sysfsRoot: sysfsRootFromFlag(values['sysfs-root']) }, options };
}

/** The claim records of a state directory, read without changing anything; unreadable ones with why. */
export function readClaimRecords(dir: string): { records: ClaimRecord[]; unreadable: Map<string, string> } {
  const records: ClaimRecord[] = [];
  const unreadable = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records, unreadable };
    throw err;
  }
  for (const name of names) {
    if (!name.endsWith(RECORD_SUFFIX) || name.startsWith('.')) continue;
    const file = join(dir, name);
    try {
      const r = parseStoredRecord(readFileSync(file, 'utf8'), name.slice(0, -RECORD_SUFFIX.length), file);
      // An admin claim (adminAccess) owns no device: it changes no device's state.
      if (!isAdminRecord(r)) records.push(r);
    } catch (err) {
      unreadable.set(file, err instanceof Error ? err.message : String(err));
    }
  }
  return { records, unreadable };
}

async function executeStatus(a: StatusArgs, io: CliIo): Promise<number> {
  const { records, unreadable } = readClaimRecords(a.stateDir);
  const host = a.netns ? NetnsHandle.open(a.netns) : NetnsHandle.current();
  try {
    const inventory = buildInventory(collectSnapshot(host, a.collect, a.options), a.options, []);
    const { health: podHealth, counters } = await readPodHealth(records, host, inventory.rdmaNetnsMode === 'exclusive');
    const rows = statusReport({ inventory, records, unreadable, podHealth: (d) => podHealth.get(d), counters: (d) => counters.get(d), domain: a.options.naming === 'dranet' ? 'dra.net' : 'netclaim.dev' });
    io.out(a.json ? JSON.stringify({ devices: rows, unreadableRecords: Object.fromEntries(unreadable) }, null, 2) : formatStatus(rows, unreadable));
    return 0;
  } finally {
    host.close();
  }
}

/** One read of every attached claim's devices through its pod's namespace (the daemon's pod health watch, started and stopped). */
async function readPodHealth(records: readonly ClaimRecord[], host: NetnsHandle, exclusive: boolean): Promise<{
  health: Map<string, PodDeviceHealth>; counters: ReadonlyMap<string, ReadonlyMap<string, number>>;
}> {
  if (!records.some((r) => r.attachment?.state === 'attached')) return { health: new Map(), counters: new Map() };
  const { PodHealthWatch } = await import('../../driver/pod-health.ts');
  const watch = new PodHealthWatch({ store: { list: () => records }, host, libc: libc(), rdmaExclusive: () => exclusive, pollMs: 60_000 });
  try {
    return { health: new Map(watch.devices), counters: watch.counters() };
  } finally {
    watch.close();
  }
}

export const statusCommand: Command<StatusArgs> = { name: 'status', parse: parseStatusArgs, execute: executeStatus };

/** `netclaim status ARGV…`, in process: the exit code (docs/cli.md). */
export function runStatus(argv: readonly string[], out: (s: string) => void = STDIO.out, err: (s: string) => void = STDIO.err): Promise<number> {
  return runCommand(statusCommand, argv, { out, err });
}
