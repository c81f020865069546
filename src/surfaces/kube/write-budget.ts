/**
 * The slice publisher's write budget: a token bucket over publishes (a
 * reconcile that writes at least one slice), so that one node cannot turn a
 * flapping link or a fleet-wide event into a write storm on the API server.
 *
 * A quiet node has a full bucket, so a single change is still published at
 * once (after the publisher's debounce); a burst of changes spends the
 * bucket, and after that publishes come at `ratePerSec`. Nothing is dropped:
 * the publisher keeps only the latest desired state and, when the bucket is
 * empty, waits `budgetWait()` ms and publishes whatever is desired then — so
 * the final state always goes out, and intermediate ones coalesce.
 *
 * Defaults (docs/resourceslices.md, docs/fleet.md): 1 publish/s sustained,
 * bursts of 5. The reference peer limits its rescans to one per 2 s with
 * bursts of 5 (`--inventory-min-poll-interval`, `--inventory-poll-burst`).
 */
import { ConfigError } from '../../common/errors.ts';

export interface WriteBudgetOptions {
  /** Sustained publishes per second; 0 turns the budget off (every change is written). */
  readonly ratePerSec: number;
  /** Publishes a quiet node may make back to back (the bucket's size, ≥ 1). */
  readonly burst: number;
}

export const DEFAULT_WRITE_BUDGET: WriteBudgetOptions = { ratePerSec: 1, burst: 5 };

/** The bucket: tokens as of `at` (ms, a monotonic clock the caller chooses). */
export interface WriteBudget {
  readonly options: WriteBudgetOptions;
  tokens: number;
  at: number;
}

/** Checks the options (a clear error naming the field) and returns a full bucket; undefined when off. */
export function createWriteBudget(o: WriteBudgetOptions, now: number): WriteBudget | undefined {
  if (!Number.isFinite(o.ratePerSec) || o.ratePerSec < 0) {
    throw new ConfigError(`slice write rate must be a number ≥ 0 (publishes per second), got ${o.ratePerSec}`, { context: { field: 'ratePerSec' } });
  }
  if (!Number.isInteger(o.burst) || o.burst < 1) {
    throw new ConfigError(`slice write burst must be an integer ≥ 1, got ${o.burst}`, { context: { field: 'burst' } });
  }
  if (o.ratePerSec === 0) return undefined;
  return { options: o, tokens: o.burst, at: now };
}

function refill(b: WriteBudget, now: number): void {
  if (now <= b.at) return; // a clock that went back refills nothing
  b.tokens = Math.min(b.options.burst, b.tokens + ((now - b.at) / 1000) * b.options.ratePerSec);
  b.at = now;
}

/** Milliseconds until a publish may go (0: now). */
export function budgetWait(b: WriteBudget, now: number): number {
  refill(b, now);
  if (b.tokens >= 1) return 0;
  return Math.ceil(((1 - b.tokens) / b.options.ratePerSec) * 1000);
}

/** Spends one publish; false (and nothing spent) when the bucket is empty. */
export function budgetTake(b: WriteBudget, now: number): boolean {
  refill(b, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
