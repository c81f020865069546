/**
 * The inventory flags `netclaim inventory` and `netclaim run` share, and how
 * they become InventoryOptions: which virtual kinds to publish, the node's
 * InternalIPs (uplinks), the admin's globs and CEL filter; and the check
 * that `--sysfs-root` is a sysfs tree.
 */
import { existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { ConfigError } from '../../common/errors.ts';
import type { AttributeNaming } from '../../inventory/attributes/names.ts';
import type { DeviceFilter } from '../../inventory/filter-cel.ts';
import { ALL_KINDS, DEFAULT_OPTIONS, type InventoryOptions } from '../../inventory/options.ts';

import { SHAREABLE_FLAGS, shareableOptionsFromFlags, type ShareableFlagValues } from './shareable-flags.ts';

export { INVENTORY_FLAGS_USAGE } from './usage.ts';

const optional = <K extends string, T>(k: K, x: T | undefined): { [P in K]?: T } => (x === undefined ? {} : { [k]: x } as { [P in K]?: T });

/** For node:util parseArgs. */
export const INVENTORY_FLAGS = {
  'include-kind': { type: 'string', multiple: true, default: [] as string[] },
  'include-veth': { type: 'boolean', default: false },
  'list-attributes': { type: 'boolean', default: false },
  'node-ip': { type: 'string', multiple: true, default: [] as string[] },
  exclude: { type: 'string', multiple: true, default: [] as string[] },
  filter: { type: 'string' },
  // Cloud and fabric topology attributes from the instance metadata service (docs/cloud.md).
  'cloud-provider': { type: 'string', default: 'auto' },
  // Shareable parents: one device, a sub-interface per claim (docs/sharing.md).
  ...SHAREABLE_FLAGS,
} satisfies ParseArgsOptionsConfig;

export interface InventoryFlagValues extends ShareableFlagValues {
  readonly 'include-kind': readonly string[];
  readonly 'include-veth': boolean;
  readonly 'list-attributes': boolean;
  readonly 'node-ip': readonly string[];
  readonly exclude: readonly string[];
  readonly filter?: string | undefined;
}

const KIND = /^[a-z0-9_-]{1,32}$/;

const list = (xs: readonly string[]): string[] => xs.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);

/** Compiles `--filter` (inventory/filter-cel.ts: compileDeviceFilter). */
export type FilterCompiler = (expression: string, field: string) => DeviceFilter;

/**
 * The CEL compiler when `--filter` is given: the CEL library is loaded only
 * then, since it is the largest one `netclaim inventory` would load.
 */
export async function filterCompilerFor(v: InventoryFlagValues): Promise<FilterCompiler> {
  if (v.filter === undefined && v['shareable-filter'] === undefined) return () => { throw new Error('no --filter to compile'); };
  return (await import('../../inventory/filter-cel.ts')).compileDeviceFilter;
}

/**
 * InventoryOptions from the flags. `wideDefault`: `--compat dranet` publishes
 * every movable virtual kind unless `--include-kind` says otherwise, as the
 * reference peer does. `nodeIpEnv`: the downward API's status.hostIPs.
 */
export function inventoryOptionsFromFlags(
  v: InventoryFlagValues, naming: AttributeNaming, compileFilter: FilterCompiler, wideDefault = false, nodeIpEnv?: string,
): InventoryOptions {
  const kinds = list(v['include-kind']);
  for (const k of kinds) {
    if (k !== ALL_KINDS && !KIND.test(k)) {
      throw new ConfigError(`--include-kind: "${k}" is not a link kind (IFLA_INFO_KIND such as macvlan, vlan, veth, or *)`, { context: { field: '--include-kind' } });
    }
  }
  if (v['include-veth']) kinds.push('veth');
  const ips = list([...v['node-ip'], ...(nodeIpEnv !== undefined ? [nodeIpEnv] : [])]);
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new ConfigError(`--node-ip: "${ip}" is not an IP address`, { context: { field: '--node-ip' } });
  }
  return {
    ...DEFAULT_OPTIONS,
    naming,
    includeKinds: kinds.length === 0 && wideDefault ? [ALL_KINDS] : [...new Set(kinds)],
    nodeIps: [...new Set(ips)],
    excludeNames: list(v.exclude),
    ...(v['list-attributes'] ? { listAttributes: true } : {}),
    ...(v.filter !== undefined ? { filter: compileFilter(v.filter, '--filter') } : {}),
    ...optional('shareable', shareableOptionsFromFlags(v, compileFilter)),
  };
}

/**
 * `--sysfs-root DIR`, refused unless it looks like sysfs (has bus/ and
 * class/): a wrong directory would otherwise give an inventory without PCI
 * and RDMA facts, and no error.
 */
export function sysfsRootFromFlag(dir: string, field = '--sysfs-root'): string {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    throw new ConfigError(`${field}: ${JSON.stringify(dir)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { context: { field } });
  }
  const missing = ['bus', 'class'].filter((d) => !existsSync(join(dir, d)));
  if (!isDir || missing.length > 0) {
    const why = isDir ? `it has no ${missing.map((d) => `${d}/`).join(' and no ')}` : 'it is not a directory';
    throw new ConfigError(`${field}: ${JSON.stringify(dir)} does not look like sysfs: ${why}`, { context: { field } });
  }
  return dir;
}
