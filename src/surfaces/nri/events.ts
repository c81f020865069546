/**
 * NRI events and subscription masks (containerd/nri pkg/api/event.go;
 * protocols.md §4.6): the mask bit of event N is 1 << (N - 1); a mask of 0
 * subscribes to everything; a bit the runtime does not know fails Configure.
 */

/** api.proto `enum Event` (LAST was 12 before nri v0.10, 15 since). */
export const NRI_EVENT = {
  UNKNOWN: 0,
  RUN_POD_SANDBOX: 1,
  STOP_POD_SANDBOX: 2,
  REMOVE_POD_SANDBOX: 3,
  CREATE_CONTAINER: 4,
  POST_CREATE_CONTAINER: 5,
  START_CONTAINER: 6,
  POST_START_CONTAINER: 7,
  UPDATE_CONTAINER: 8,
  POST_UPDATE_CONTAINER: 9,
  STOP_CONTAINER: 10,
  REMOVE_CONTAINER: 11,
  UPDATE_POD_SANDBOX: 12,
  POST_UPDATE_POD_SANDBOX: 13,
  VALIDATE_CONTAINER_ADJUSTMENT: 14,
  LAST: 15,
} as const;

export type NriEventName = keyof typeof NRI_EVENT;

export function eventMask(...events: readonly number[]): number {
  return events.reduce((mask, e) => mask | (1 << (e - 1)), 0);
}

/** Every event a runtime on nri < v0.10 knows (containerd 1.7 – 2.1): events 1–11. */
export const LEGACY_VALID_EVENTS = eventMask(...Array.from({ length: 11 }, (_, i) => i + 1));

/**
 * What netclaim subscribes to: RunPodSandbox | StopPodSandbox |
 * RemovePodSandbox | CreateContainer = 0x000F (DraNet's subscription).
 * Not 0, which would mean every container event; and only bits every
 * supported runtime knows (all of them are ≤ 11).
 */
export const NETCLAIM_EVENTS = eventMask(
  NRI_EVENT.RUN_POD_SANDBOX,
  NRI_EVENT.STOP_POD_SANDBOX,
  NRI_EVENT.REMOVE_POD_SANDBOX,
  NRI_EVENT.CREATE_CONTAINER,
);

/** StartContainer's bit, added on a runtime where the container gate sits there (runtime-gate.ts): 0x002F. */
export const START_CONTAINER_EVENT = eventMask(NRI_EVENT.START_CONTAINER);
