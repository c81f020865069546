/**
 * `netclaim inventory`: what this node would publish, and what it leaves out
 * and why. A table by default; `--json` prints the devices exactly as they
 * would appear in a ResourceSlice, plus the exclusions; `--watch` streams
 * changes as they happen.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/errors.ts';
import { DRIVER_NAME } from '../../inventory/attributes/names.ts';
import type { AttributeValue } from '../../inventory/attributes/limits.ts';
import { buildInventory } from '../../inventory/build.ts';
import { collectSnapshot, type CollectOptions } from '../../inventory/collect.ts';
import type { InventoryDiff } from '../../inventory/diff.ts';
import type { Device, Inventory } from '../../inventory/model.ts';
import type { InventoryOptions } from '../../inventory/options.ts';
import { libc } from '../../kernel/libc/index.ts';
import { NetnsHandle } from '../../kernel/netns/handle.ts';
import { runCommand, STDIO, type CliIo, type Command } from './command.ts';
import { filterCompilerFor, INVENTORY_FLAGS, inventoryOptionsFromFlags, sysfsRootFromFlag } from './inventory-flags.ts';
import { sharingSliceFields } from '../kube/slices.ts';

export { INVENTORY_USAGE } from './usage.ts';

export interface InventoryArgs {
  readonly json: boolean;
  readonly watch: boolean;
  readonly netns?: string | undefined;
  readonly collect: CollectOptions;
  readonly options: InventoryOptions;
  /** `--cloud-provider`: auto (from DMI), none, gce, aws, azure or oci (docs/cloud.md). */
  readonly cloud: string;
}

export async function parseInventoryArgs(argv: readonly string[]): Promise<InventoryArgs> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      netns: { type: 'string' },
      'sysfs-root': { type: 'string', default: '/sys' },
      ...INVENTORY_FLAGS,
      naming: { type: 'string', default: 'netclaim' },
    },
  });
  if (values.naming !== 'netclaim' && values.naming !== 'dranet') {
    throw new ConfigError(`--naming must be "netclaim" or "dranet", got ${JSON.stringify(values.naming)}`, { context: { field: '--naming' } });
  }
  const options = inventoryOptionsFromFlags(values, values.naming, await filterCompilerFor(values));
  const cloud = values['cloud-provider'].trim().toLowerCase();
  const { CLOUD_PROVIDER_VALUES } = await import('../../inventory/cloud/select.ts');
  if (!(CLOUD_PROVIDER_VALUES as readonly string[]).includes(cloud)) {
    throw new ConfigError(`--cloud-provider: "${values['cloud-provider']}" is not one of ${CLOUD_PROVIDER_VALUES.join(', ')}`, { context: { field: '--cloud-provider' } });
  }
  return { json: values.json, watch: values.watch, netns: values.netns, collect: { sysfsRoot: sysfsRootFromFlag(values['sysfs-root']) }, options, cloud };
}

async function executeInventory(a: InventoryArgs, io: CliIo): Promise<number> {
  const h = a.netns ? NetnsHandle.open(a.netns) : NetnsHandle.current();
  // Off any cloud `auto` finds no provider in DMI and sends nothing; on one, the metadata is read once (2 s at most).
  const { cloudProviderFromFlag } = await import('../../inventory/cloud/select.ts');
  const provider = cloudProviderFromFlag(a.cloud, { sysfsRoot: a.collect.sysfsRoot });
  provider?.start();
  try {
    if (!a.watch) {
      if (provider) await provider.ready(2000);
      const extra = provider ? (d: Parameters<typeof provider.attributesFor>[0]) => provider.attributesFor(d, a.options.naming) : undefined;
      const suggest = provider ? (d: Parameters<typeof provider.suggestedConfig>[0]) => provider.suggestedConfig(d) : undefined;
      const inv = buildInventory(collectSnapshot(h, a.collect, a.options), a.options, [], extra, suggest);
      io.out(a.json ? JSON.stringify(asSliceJson(inv), null, 2) : formatTable(inv));
      return 0;
    }
    const { InventoryWatcher } = await import('../../inventory/watcher.ts');
    const w = new InventoryWatcher(h, a.collect, a.options, { libc: libc(), ...(provider ? { provider } : {}) });
    const first = w.start();
    io.out(a.json ? JSON.stringify({ event: 'initial', ...asSliceJson(first) }) : formatTable(first));
    w.subscribe((_inv, diff) => io.out(a.json ? JSON.stringify({ event: 'change', ...diffJson(diff) }) : formatDiff(diff)));
    await new Promise<void>((resolve) => {
      const stop = (): void => { resolve(); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await w.close();
    return 0;
  } finally {
    provider?.close();
    h.close();
  }
}

export const inventoryCommand: Command<InventoryArgs> = { name: 'inventory', parse: parseInventoryArgs, execute: executeInventory };

/** `netclaim inventory ARGV…`, in process: the exit code (docs/cli.md). */
export function runInventory(argv: readonly string[], out: (s: string) => void = STDIO.out, err: (s: string) => void = STDIO.err): Promise<number> {
  return runCommand(inventoryCommand, argv, { out, err });
}

/** Devices as in a ResourceSlice (`spec.devices[]`), plus what was left out and what a cloud suggests for each (not published). */
export function asSliceJson(inv: Inventory): Record<string, unknown> {
  return {
    driver: DRIVER_NAME,
    devices: inv.devices.map((d) => ({
      name: d.name, attributes: d.attributes, ...sharingSliceFields(DRIVER_NAME, d.sharing), ...(d.suggestedConfig ? { suggestedConfig: d.suggestedConfig } : {}),
    })),
    exclusions: inv.exclusions,
    ...(inv.rdmaNetnsMode ? { rdmaNetnsMode: inv.rdmaNetnsMode } : {}),
  };
}

function diffJson(d: InventoryDiff): Record<string, unknown> {
  return {
    added: d.added.map((x) => ({ name: x.name, attributes: x.attributes })),
    removed: d.removed.map((x) => x.name),
    changed: d.changed.map((c) => ({ name: c.after.name, attributes: Object.fromEntries(c.attributes.map((a) => [a, c.after.attributes[a] ?? null])) })),
  };
}

const val = (v: AttributeValue | undefined): string =>
  v === undefined ? '-' : 'string' in v ? v.string : 'int' in v ? String(v.int) : 'ints' in v ? v.ints.join(',') : 'bool' in v ? String(v.bool) : v.version;

function attr(d: Device, name: string): string {
  return val(d.attributes[`${DRIVER_NAME}/${name}`] ?? d.attributes[`dra.net/${name}`]);
}

export function formatTable(inv: Inventory): string {
  const head = ['DEVICE', 'KIND', 'INTERFACE', 'PCI', 'NUMA', 'PCIE ROOT', 'RDMA', 'SPEED', 'STATE'];
  const rows = inv.devices.map((d) => [
    d.name, d.kind, d.ifName ?? '-', d.pciAddress ?? '-', val(d.attributes['resource.kubernetes.io/numaNode']),
    val(d.attributes['resource.kubernetes.io/pcieRoot']), d.rdmaDevice ?? '-',
    attr(d, 'speed') === '-' ? '-' : `${attr(d, 'speed')}Mb/s`, d.netdevPresent ? attr(d, 'state') : d.held ? 'in use (netdev in a pod)' : 'no netdev (RDMA only)',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [line(head), ...rows.map(line)];
  if (inv.devices.length === 0) lines.push('(no devices)');
  if (inv.exclusions.length) {
    lines.push('', 'EXCLUDED');
    for (const e of inv.exclusions) lines.push(`  ${e.subject} ${e.ifName ?? e.pciAddress ?? e.rdmaDevice ?? e.busDevice ?? '?'}: ${e.reason} [${e.code}]`);
  }
  if (inv.rdmaNetnsMode) lines.push('', `RDMA netns mode: ${inv.rdmaNetnsMode}`);
  return lines.join('\n');
}

function formatDiff(d: InventoryDiff): string {
  const t = new Date().toISOString();
  return [
    ...d.added.map((x) => `${t} added   ${x.name}${x.ifName ? ` (${x.ifName})` : ''}`),
    ...d.removed.map((x) => `${t} removed ${x.name}`),
    ...d.changed.map((c) => `${t} changed ${c.after.name}: ${c.attributes.map((a) => `${a}=${val(c.after.attributes[a])}`).join(' ')}`),
  ].join('\n');
}
