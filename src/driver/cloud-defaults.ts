/**
 * A device's default configuration from what its cloud knows (the inventory's
 * `suggestedConfig`, docs/cloud.md "Suggested config"), parsed like any claim
 * configuration, for resolveDeviceConfig's `base`: the layer under the
 * class's and the claim's (config/claim-config/underlay.ts).
 *
 * The metadata is checked as strictly as a claim: a value the schema refuses
 * (an MTU out of range, a malformed address) leaves the default out with its
 * problems reported, and never fails the claim — nobody wrote it.
 */
import { parseNetworkConfig } from '../config/claim-config/parse.ts';
import type { NetworkConfig } from '../config/claim-config/types.ts';
import type { SuggestedConfig } from '../inventory/cloud/types.ts';

export type CloudDefault =
  | { readonly ok: true; readonly config: NetworkConfig }
  | { readonly ok: false; readonly problems: readonly string[] };

export function cloudDefaultConfig(s: SuggestedConfig): CloudDefault {
  const raw = {
    ...(s.interface ? { interface: { ...s.interface } } : {}),
    ...(s.routes ? { routes: s.routes.map((r) => ({ ...r })) } : {}),
    ...(s.rules ? { rules: s.rules.map((r) => ({ ...r })) } : {}),
  };
  const parsed = parseNetworkConfig(raw, ['suggestedConfig']);
  return parsed.ok ? { ok: true, config: parsed.config } : { ok: false, problems: parsed.issues.map((i) => `${i.path}: ${i.message}`) };
}
