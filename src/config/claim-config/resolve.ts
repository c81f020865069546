/**
 * The configuration of one allocated device, from the claim's allocation:
 *
 *   select   the opaque entries for netclaim.dev (and dra.net, unless DraNet
 *            compatibility is off) whose `requests` match the result (requests.ts)
 *   order    DeviceClass entries first, then claim entries
 *   parse    each strictly, every problem with its path (parse.ts)
 *   merge    later wins, field by field (merge.ts)
 *   check    the merged config again: fields from different layers may conflict
 *   default  the documented constant defaults (defaults.ts)
 *
 * Problems come back as one `CONFIG_CLAIM_INVALID` error listing them all.
 */
import type { ConfigError } from '../../common/errors.ts';
import { withDefaults } from './defaults.ts';
import { claimConfigError, type ConfigIssue } from './issues.ts';
import { mergeNetworkConfigs } from './merge.ts';
import { parseNetworkConfig, recheckNetworkConfig } from './parse.ts';
import { applicableConfigs } from './requests.ts';
import { DRANET_DRIVER, NETCLAIM_DRIVER, type AllocationConfig, type NetworkConfig } from './types.ts';

export interface ResolveOptions {
  /** Read `dra.net` configs too (default true), so DraNet claims work unchanged. */
  readonly dranetCompat?: boolean;
}

export type DeviceConfigResult =
  | { readonly ok: true; readonly config: NetworkConfig; readonly sources: readonly number[] }
  | { readonly ok: false; readonly error: ConfigError };

export function configDrivers(options: ResolveOptions = {}): ReadonlySet<string> {
  return new Set(options.dranetCompat === false ? [NETCLAIM_DRIVER] : [NETCLAIM_DRIVER, DRANET_DRIVER]);
}

/**
 * The merged, checked and defaulted configuration for the device allocated to
 * `request` (`main` or `main/sub`), from `status.allocation.devices.config`.
 * `sources` are the indices of the entries used, in merge order.
 */
export function resolveDeviceConfig(request: string, configs: readonly AllocationConfig[], options: ResolveOptions = {}): DeviceConfigResult {
  const sources = applicableConfigs(configs, request, configDrivers(options));
  const issues: ConfigIssue[] = [];
  const layers: NetworkConfig[] = [];
  for (const i of sources) {
    const r = parseNetworkConfig(configs[i]!.opaque?.parameters ?? {}, ['config', i, 'opaque', 'parameters']);
    if (r.ok) layers.push(r.config);
    else issues.push(...r.issues);
  }
  const what = `request "${request}"`;
  if (issues.length > 0) return { ok: false, error: claimConfigError(what, issues) };
  const merged = mergeNetworkConfigs(layers);
  if (layers.length > 1) {
    const again = recheckNetworkConfig(merged);
    if (!again.ok) {
      const from = sources.map((i) => `config[${i}]`).join(', ');
      const conflicts = again.issues.map((x) => ({ path: x.path, message: `${x.message} (after merging ${from})` }));
      return { ok: false, error: claimConfigError(what, conflicts) };
    }
  }
  return { ok: true, config: withDefaults(merged), sources };
}
