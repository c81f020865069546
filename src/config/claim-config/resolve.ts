/**
 * The configuration of one allocated device, from the claim's allocation:
 *
 *   select   the opaque entries for netclaim.dev (and dra.net, unless DraNet
 *            compatibility is off) whose `requests` match the result (requests.ts)
 *   order    DeviceClass entries first, then claim entries
 *   parse    each strictly, every problem with its path (parse.ts)
 *   police   claim entries against the policy of the DeviceClass entries (policy.ts)
 *   merge    later wins, field by field (merge.ts)
 *   check    the merged config again: fields from different layers may conflict
 *   underlay the node's default for the device, if any, under all of it (underlay.ts)
 *   default  the documented constant defaults (defaults.ts)
 *
 * Problems come back as one `CONFIG_CLAIM_INVALID` error listing them all.
 */
import type { ConfigError } from '../../common/errors.ts';
import { withDefaults } from './defaults.ts';
import { claimConfigError, type ConfigIssue } from './issues.ts';
import { mergeNetworkConfigs } from './merge.ts';
import { parseNetworkConfig, recheckNetworkConfig } from './parse.ts';
import { claimPolicyIssues, combinePolicies } from './policy.ts';
import { applicableConfigs } from './requests.ts';
import { underlay, type UnderlayUse } from './underlay.ts';
import { DRANET_DRIVER, NETCLAIM_DRIVER, type AllocationConfig, type NetworkConfig } from './types.ts';

export interface ResolveOptions {
  /** Read `dra.net` configs too (default true), so DraNet claims work unchanged. */
  readonly dranetCompat?: boolean;
}

export type DeviceConfigResult =
  | {
    readonly ok: true; readonly config: NetworkConfig; readonly sources: readonly number[];
    /** How much of the node's default (the `base` argument) was used, when there was one. */
    readonly underlay?: UnderlayUse;
  }
  | { readonly ok: false; readonly error: ConfigError };

export function configDrivers(options: ResolveOptions = {}): ReadonlySet<string> {
  return new Set(options.dranetCompat === false ? [NETCLAIM_DRIVER] : [NETCLAIM_DRIVER, DRANET_DRIVER]);
}

/**
 * The merged, checked and defaulted configuration for the device allocated to
 * `request` (`main` or `main/sub`), from `status.allocation.devices.config`.
 * `sources` are the indices of the entries used, in merge order. Entries not
 * marked `FromClass` count as the claim's; `deviceClass` (the request's
 * deviceClassName) names the class in policy messages. `base`, a parsed
 * default from the node (a cloud's suggested config), goes under every layer
 * and never makes the result invalid (underlay.ts).
 */
export function resolveDeviceConfig(
  request: string, configs: readonly AllocationConfig[], options: ResolveOptions = {}, deviceClass?: string, base?: NetworkConfig,
): DeviceConfigResult {
  const sources = applicableConfigs(configs, request, configDrivers(options));
  const issues: ConfigIssue[] = [];
  const parsed: { index: number; fromClass: boolean; config: NetworkConfig }[] = [];
  for (const i of sources) {
    const r = parseNetworkConfig(configs[i]!.opaque?.parameters ?? {}, ['config', i, 'opaque', 'parameters']);
    if (r.ok) parsed.push({ index: i, fromClass: configs[i]!.source === 'FromClass', config: r.config });
    else issues.push(...r.issues);
  }
  const what = `request "${request}"`;
  if (issues.length > 0) return { ok: false, error: claimConfigError(what, issues) };
  const policy = combinePolicies(parsed.filter((p) => p.fromClass).map((p) => p.config.policy));
  for (const p of parsed.filter((x) => !x.fromClass)) {
    issues.push(...claimPolicyIssues(p.config, policy, ['config', p.index, 'opaque', 'parameters'], deviceClass));
  }
  if (issues.length > 0) return { ok: false, error: claimConfigError(what, issues) };
  const layers = parsed.map((p) => withoutPolicy(p.config));
  const merged = mergeNetworkConfigs(layers);
  if (layers.length > 1) {
    const again = recheckNetworkConfig(merged);
    if (!again.ok) {
      const from = sources.map((i) => `config[${i}]`).join(', ');
      const conflicts = again.issues.map((x) => ({ path: x.path, message: `${x.message} (after merging ${from})` }));
      return { ok: false, error: claimConfigError(what, conflicts) };
    }
  }
  if (base === undefined) return { ok: true, config: withDefaults(merged), sources };
  const under = underlay(base, merged);
  return { ok: true, config: withDefaults(under.config), sources, underlay: under.used };
}

/** The policy is about the claim's layers, not the device: it is not merged into the device's config. */
function withoutPolicy(c: NetworkConfig): NetworkConfig {
  if (c.policy === undefined) return c;
  const { policy: _policy, ...rest } = c;
  return rest;
}
