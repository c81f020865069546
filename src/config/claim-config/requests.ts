/**
 * Which device configs apply to an allocated device, and in what order.
 *
 * A config entry applies to a result when its `requests` list is empty or
 * names the result's request. With prioritized lists (DRAPrioritizedList), a
 * result's request is `main/sub` (the subrequest that was chosen): an entry
 * naming `main/sub` applies to that subrequest only, one naming `main`
 * applies to whichever subrequest of `main` was chosen.
 *
 * The scheduler lists DeviceClass configs (`source: FromClass`) before claim
 * configs (`FromClaim`); netclaim does not rely on it and orders them so,
 * keeping the order within each source. Later entries win (merge.ts).
 */
import type { AllocationConfig } from './types.ts';

export function requestMatches(requests: readonly string[] | undefined, request: string): boolean {
  if (requests === undefined || requests.length === 0) return true;
  const slash = request.indexOf('/');
  const main = slash < 0 ? undefined : request.slice(0, slash);
  return requests.some((r) => r === request || r === main);
}

const SOURCE_ORDER: Readonly<Record<string, number>> = { FromClass: 0, FromClaim: 1 };

/** Indices into `configs` of the entries for `drivers` that apply to `request`, class configs first. */
export function applicableConfigs(configs: readonly AllocationConfig[], request: string, drivers: ReadonlySet<string>): number[] {
  return configs
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.opaque?.driver !== undefined && drivers.has(c.opaque.driver) && requestMatches(c.requests, request))
    .sort((a, b) => (SOURCE_ORDER[a.c.source ?? ''] ?? 1) - (SOURCE_ORDER[b.c.source ?? ''] ?? 1) || a.i - b.i)
    .map(({ i }) => i);
}
