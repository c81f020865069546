/**
 * The deadline of one API request when the caller names none (claim reads,
 * Events, IPAM, eviction, scrape reviews): a hung API server must not hold a
 * NodePrepareResources call. kube-api.ts enforces it over the whole request,
 * response body included, and the error says "timed out after N ms".
 */
export const DEFAULT_KUBE_TIMEOUT_MS = 5_000;
