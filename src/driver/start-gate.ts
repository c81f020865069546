/**
 * The kubelet's calls during the daemon's start (docs/pods.md, "NRI is a hard
 * dependency"). The daemon registers with the kubelet as soon as its claim
 * driver exists, before the container runtime has synchronized its NRI
 * plugin: the kubelet's plugin manager picks a new socket up only on its 1 s
 * tick, so waiting for Synchronize first put that whole tick after it.
 *
 * Invariant (I1 at start-up): no claim is prepared before the runtime's first
 * Synchronize. A call that comes earlier waits here (`ready`), up to
 * `waitMs`, and then goes on to the driver, which refuses Prepare with the
 * retryable PREPARE_NRI_NOT_READY while the pod side is not synchronized
 * (ClaimDriver's `podsNotReady`): the gate only spares the kubelet a refusal
 * and a retry, what keeps I1 is the driver's own check. An unprepare that
 * waited finds the devices of pods that are gone back on the host (I4: what
 * Synchronize finishes or gives back comes first); one past the wait is
 * still safe, since a device not back keeps its record
 * (UNPREPARE_DEVICES_IN_POD, I2).
 */
import type { DriverPort } from './driver-port.ts';

/** How long a kubelet call waits for the start (the kubelet gives a call 45 s). */
export const CALL_WAIT_MS = 20_000;

/** `port` with `ready()` = `opened` settled, at most `waitMs`, or the call cancelled. */
export function gateCalls(port: DriverPort, opened: Promise<unknown>, waitMs = CALL_WAIT_MS): DriverPort {
  let open = false;
  const settled = opened.then(() => { open = true; }, () => { open = true; });
  const ready = async (signal?: AbortSignal): Promise<void> => {
    if (open || signal?.aborted === true) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      settled,
      new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); }),
      new Promise<void>((resolve) => { onAbort = () => resolve(); signal?.addEventListener('abort', onAbort, { once: true }); }),
    ]);
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  };
  return {
    prepare: (claims) => port.prepare(claims),
    unprepare: (claims) => port.unprepare(claims),
    ...(port.health === undefined ? {} : { health: () => port.health!() }),
    ready,
  };
}
