/**
 * What each of a claim's devices wants from pools, read from its resolved
 * config (class config, then claim config) before planning: the pools its
 * `interface.addressPools` names and its static `interface.addresses`. A
 * config that does not resolve wants nothing here; planning reports it.
 */
import { resolveDeviceConfig, type ResolveOptions } from '../../config/claim-config/resolve.ts';
import type { AllocatedClaim, AllocationResult } from '../claim.ts';
import type { DeviceAddressWants } from './claim-addresses.ts';

export function addressWants(claim: AllocatedClaim, results: readonly AllocationResult[], resolve: ResolveOptions): DeviceAddressWants[] {
  const out: DeviceAddressWants[] = [];
  for (const r of results) {
    const cfg = resolveDeviceConfig(r.request, claim.allocation?.config ?? [], resolve, claim.deviceClasses?.[r.request]);
    if (!cfg.ok) continue;
    const pools = cfg.config.interface?.addressPools ?? [];
    const statics = cfg.config.interface?.addresses ?? [];
    const dhcp = cfg.config.interface?.dhcp === true;
    if (pools.length > 0 || statics.length > 0) out.push({ request: r.request, device: r.device, pools, statics, ...(dhcp ? { dhcp } : {}) });
  }
  return out;
}
