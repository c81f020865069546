/**
 * A default configuration under the class's and claim's layers: what the
 * node knows about a device without anyone asking (a cloud's metadata: its
 * addresses, MTU and policy routing; docs/cloud.md "Suggested config").
 *
 * It is weaker than every layer anyone wrote, in two ways:
 *   - field by field, like any lower layer: whatever the class or claim sets wins;
 *   - it never makes a valid configuration invalid: routing is one unit (the
 *     default's rules point into its own routes' table), left out as a whole
 *     when the layers above set routes, rules or a VRF; and if what remains
 *     still conflicts with the layers above, the default is left out entirely.
 *
 * It is not policed: a class's policy limits what claims may set, and the
 * default comes from the node, not from a claim.
 */
import { mergeNetworkConfigs } from './merge.ts';
import { recheckNetworkConfig } from './parse.ts';
import type { NetworkConfig } from './types.ts';

/** How much of the default made it into the result. */
export type UnderlayUse = 'whole' | 'without-routing' | 'none';

export function underlay(base: NetworkConfig, over: NetworkConfig): { config: NetworkConfig; used: UnderlayUse } {
  const routing = over.routes !== undefined || over.rules !== undefined || over.interface?.vrf !== undefined;
  const { routes: _routes, rules: _rules, ...unrouted } = base;
  const candidate = routing ? unrouted : base;
  if (Object.keys(candidate).length === 0) return { config: over, used: 'none' };
  const merged = mergeNetworkConfigs([candidate, over]);
  if (!recheckNetworkConfig(merged).ok) return { config: over, used: 'none' };
  const hadRouting = base.routes !== undefined || base.rules !== undefined;
  return { config: merged, used: routing && hadRouting ? 'without-routing' : 'whole' };
}
