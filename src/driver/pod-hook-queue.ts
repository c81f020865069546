/**
 * The pod driver's hooks run one at a time, in the order they came (kernel
 * work is synchronous, and two hooks for one pod must never interleave). A
 * job may be asynchronous (an attach lets the event loop read requests
 * between its devices); the next starts only when it has settled.
 *
 * Each job, before it runs: waits for `after` (RunPodSandbox's answer), takes
 * the cross-instance lock and re-reads the store when another daemon shares
 * it (a rolling update), and runs `before` (the pending `attached` journals,
 * attached-journal.ts) — except the container gate's, which reads those
 * journals as pending instead of writing them first. A hook's time counts
 * from its arrival: its wait in the queue is its `queue` step.
 */
import { addStep, newSteps, timed, type Steps } from '../observe/steps.ts';
import type { NriPod } from './pod-port.ts';

export type HookName = 'early' | 'run' | 'stop' | 'remove' | 'create' | 'start' | 'sync';

export interface HookQueueOptions {
  /** Another daemon instance shares the store: its cross-process lock. */
  readonly shared?: { lock(): Promise<void>; unlock(): void } | undefined;
  /** Re-reads the store (under the lock, when shared). */
  readonly refresh: () => void;
  /** Runs first in every job but the container gate's. */
  readonly before: (steps: Steps | undefined) => void;
  /** A hook ended: `ms` from its arrival, with its steps. */
  readonly report?: (hook: HookName, pod: NriPod | undefined, ms: number, err: unknown, steps: Steps) => void;
}

export interface JobOptions {
  readonly steps?: Steps | undefined;
  /** Not started before this settles. */
  readonly after?: Promise<void> | undefined;
  /** The container gate: `before` is not run. */
  readonly gate?: boolean;
}

export class HookQueue {
  readonly #o: HookQueueOptions;
  #tail: Promise<unknown> = Promise.resolve();
  /** The running hook's step timings (undefined between hooks and in jobs that are not hooks). */
  steps: Steps | undefined;

  constructor(o: HookQueueOptions) {
    this.#o = o;
  }

  /** Runs `fn` after everything queued, holding the cross-instance lock (store re-read) when shared. */
  job<T>(fn: () => T | Promise<T>, j: JobOptions = {}): Promise<T> {
    const run = async (): Promise<T> => {
      if (j.after !== undefined) await j.after;
      const shared = this.#o.shared;
      if (shared !== undefined) {
        const start = performance.now();
        await shared.lock();
        addStep(j.steps, 'lock', performance.now() - start);
      }
      try {
        if (shared !== undefined) timed(j.steps, 'refresh', () => this.#o.refresh());
        if (j.gate !== true) this.#o.before(j.steps);
        return await fn();
      } finally {
        shared?.unlock();
      }
    };
    const next = this.#tail.then(run, run);
    this.#tail = next.catch(() => {});
    return next;
  }

  /** A hook as a job, timed and reported; `rethrow` false swallows its error (after reporting it). */
  hook<T>(hook: HookName, pod: NriPod | undefined, fn: () => T | Promise<T>, o: { rethrow?: boolean; after?: Promise<void>; gate?: boolean } = {}): Promise<T> {
    const steps = newSteps();
    const queued = performance.now();
    return this.job(async () => {
      const start = performance.now();
      // Waiting behind earlier hooks (and for the cross-instance lock, timed apart) is part of the hook's time too.
      addStep(steps, 'queue', start - queued - (steps['lock'] ?? 0) - (steps['refresh'] ?? 0) - (steps['journalAfter'] ?? 0));
      this.steps = steps;
      try {
        const r = await fn();
        this.#o.report?.(hook, pod, performance.now() - queued, undefined, steps);
        return r;
      } catch (err) {
        this.#o.report?.(hook, pod, performance.now() - queued, err, steps);
        if (o.rethrow === false) return undefined as T;
        throw err;
      } finally {
        this.steps = undefined;
      }
    }, { steps, after: o.after, gate: o.gate === true });
  }
}
