/**
 * The inventory flags `netclaim inventory` and `netclaim run` share, and how
 * they become InventoryOptions: which virtual kinds to publish, the node's
 * InternalIPs (uplinks), the admin's globs and CEL filter.
 */
import { isIP } from 'node:net';
import type { ParseArgsOptionsConfig } from 'node:util';
import { ConfigError } from '../../common/errors.ts';
import type { AttributeNaming } from '../../inventory/attributes/names.ts';
import { compileDeviceFilter } from '../../inventory/filter-cel.ts';
import { ALL_KINDS, DEFAULT_OPTIONS, type InventoryOptions } from '../../inventory/options.ts';

/** For node:util parseArgs. */
export const INVENTORY_FLAGS = {
  'include-kind': { type: 'string', multiple: true, default: [] as string[] },
  'include-veth': { type: 'boolean', default: false },
  'node-ip': { type: 'string', multiple: true, default: [] as string[] },
  exclude: { type: 'string', multiple: true, default: [] as string[] },
  filter: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

export const INVENTORY_FLAGS_USAGE = '[--include-kind KIND,...] [--node-ip IP,...] [--exclude GLOB,...] [--filter CEL]';

export interface InventoryFlagValues {
  readonly 'include-kind': readonly string[];
  readonly 'include-veth': boolean;
  readonly 'node-ip': readonly string[];
  readonly exclude: readonly string[];
  readonly filter?: string | undefined;
}

const KIND = /^[a-z0-9_-]{1,32}$/;

const list = (xs: readonly string[]): string[] => xs.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);

/**
 * InventoryOptions from the flags. `wideDefault`: `--compat dranet` publishes
 * every movable virtual kind unless `--include-kind` says otherwise, as the
 * reference peer does. `nodeIpEnv`: the downward API's status.hostIPs.
 */
export function inventoryOptionsFromFlags(v: InventoryFlagValues, naming: AttributeNaming, wideDefault = false, nodeIpEnv?: string): InventoryOptions {
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
    ...(v.filter !== undefined ? { filter: compileDeviceFilter(v.filter, '--filter') } : {}),
  };
}
