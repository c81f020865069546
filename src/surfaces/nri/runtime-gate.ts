/**
 * Where a runtime lets netclaim's container gate stop a container (docs/pods.md,
 * "The gate at StartContainer"): whether a failed NRI StartContainer hook keeps
 * the container from starting. Facts from the runtimes' sources:
 *
 * - containerd 2.x (internal/cri/server/container_start.go, v2.4.2): the task
 *   (runc create) is made first, then NRI StartContainer; an error from it
 *   fails the CRI call ("NRI container start failed") before `task.Start`, and
 *   the task is deleted. Its NRI adaptation returns a plugin's non-fatal error
 *   from the dedicated StartContainer RPC (nri v0.12) as from the StateChange
 *   event (nri v0.8, v0.10).
 * - CRI-O (server/container_start.go): logs a failed NRI StartContainer as a
 *   warning and starts the container anyway: the gate stays at CreateContainer.
 * - containerd 1.7: not verified against its source here, so treated like any
 *   other runtime (gate at CreateContainer).
 *
 * As for every hook, a plugin that overruns the runtime's request timeout is
 * dropped and the event passes (nri's isFatalError): that holds for
 * CreateContainer alike (docs/pods.md, "NRI is a hard dependency").
 */
import type { NriRuntimeInfo } from './plugin-service.ts';

const MAJOR = /^v?(\d+)\./;

/** True when a failed StartContainer hook keeps the container from starting on this runtime. */
export function startFailsClosed(runtime: Pick<NriRuntimeInfo, 'name' | 'version'>): boolean {
  if (runtime.name !== 'containerd') return false;
  const major = MAJOR.exec(runtime.version)?.[1];
  return major !== undefined && Number(major) >= 2;
}
