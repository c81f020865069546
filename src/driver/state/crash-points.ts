/**
 * Named kill points for the crash tests (pino's exit.test.js pattern): with
 * `NETCLAIM_CRASH_AT=<name>` in the environment the process SIGKILLs itself
 * the first time it reaches that point; `NETCLAIM_CRASH_AT=<name>@<k>` on the
 * k-th time. Unset (production), {@link crashPoint} is one comparison.
 *
 * The environment is read once when this module loads.
 */

export const CRASH_POINT_NAMES = [
  // claim store, write path (state/atomic-file.ts steps)
  'store.before-temp-write',
  'store.after-temp-write',
  'store.after-fsync',
  'store.after-rename',
  'store.after-dir-fsync',
  // claim store, delete path
  'store.before-unlink',
  'store.after-unlink',
  // claim preparation (driver prepare flow)
  'prepare.after-plan',
  'prepare.after-store',
  'prepare.after-cdi',
  'unprepare.after-cdi-remove',
  // early host-down (early-down.ts): a prepared claim's device taken down on the host, no pod has it yet
  'prepare.after-early-down',
  // per-claim sub-interfaces (sub-interface/sub-interfaces.ts): intent recorded, link created; links deleted at unprepare
  'subif.after-intent',
  'subif.after-create',
  'subif.after-delete',
  // address pools (ipam/claim-addresses.ts): the claim's addresses allocated in the API, nothing planned or stored yet
  'ipam.after-allocate',
  // pod attach (pod-driver.ts): the journal says `attaching` (naming the pin), the pin made, then each device
  'attach.after-journal',
  'attach.after-pin',
  'attach.after-device',
  // the attach is done in the kernel (RunPodSandbox, and maybe the container gate, have answered); its `attached` journal is not written yet (attached-journal.ts)
  'attach.after-answer',
  // pod detach: a device given back, the journal not yet cleared; the journal cleared, the pin not yet released
  'detach.after-device',
  'detach.before-unpin',
] as const;

export type CrashPointName = (typeof CRASH_POINT_NAMES)[number];

export const CRASH_AT_ENV = 'NETCLAIM_CRASH_AT';

let armed: string | undefined;
let remaining = 0;

/**
 * Arm one point (`name` or `name@k`), or disarm with `undefined`. Used by the
 * crash-test child; the module arms itself from the environment on load.
 * An unknown name is refused, so a typo cannot make a crash test pass vacuously.
 */
export function setCrashAt(spec: string | undefined): void {
  if (spec === undefined || spec === '') {
    armed = undefined;
    return;
  }
  const at = spec.lastIndexOf('@');
  const name = at < 0 ? spec : spec.slice(0, at);
  const k = at < 0 ? 1 : Number(spec.slice(at + 1));
  if (!(CRASH_POINT_NAMES as readonly string[]).includes(name) || !Number.isInteger(k) || k < 1) {
    throw new TypeError(`${CRASH_AT_ENV}=${spec}: not a crash point (${CRASH_POINT_NAMES.join(', ')}), optionally @k with k >= 1`);
  }
  armed = name;
  remaining = k;
}

/** Kill the process here if this point is armed (and this is its k-th hit). */
export function crashPoint(name: CrashPointName): void {
  if (armed !== name) return;
  if (--remaining > 0) return;
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL to oneself is delivered before kill(2) returns — except as PID 1 of a container, where
  // the kernel drops signals a namespace's init sends itself (found running the DaemonSet pod).
  // Then exit at once, running no exit handlers, as a crash would; never run the next step.
  (process as unknown as { reallyExit(code: number): never }).reallyExit(137);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}

setCrashAt(process.env[CRASH_AT_ENV]);
