/**
 * Where one call's time went: named step durations in milliseconds, summed
 * when a step repeats (two journal writes, one attach per device). The pod
 * hooks and Prepare fill one per call; the daemon logs it beside the call's
 * total and feeds `netclaim_step_duration_seconds`, and the e2e bench reads
 * it back per pod (docs/benchmarks.md, "e2e").
 *
 *   const steps = newSteps();
 *   const plan = timed(steps, 'plan', () => prepareClaim(...));
 */
export type Steps = Record<string, number>;

export const newSteps = (): Steps => ({});

/** Runs `fn`, adding its duration to `steps[name]` (also when it throws). */
export function timed<T>(steps: Steps | undefined, name: string, fn: () => T): T {
  if (steps === undefined) return fn();
  const start = performance.now();
  try {
    return fn();
  } finally {
    addStep(steps, name, performance.now() - start);
  }
}

export function addStep(steps: Steps | undefined, name: string, ms: number): void {
  if (steps !== undefined) steps[name] = (steps[name] ?? 0) + ms;
}

/** Rounded to µs, for logs and JSON. */
export function roundSteps(steps: Steps): Steps {
  return Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}
