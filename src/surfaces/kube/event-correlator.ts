/**
 * Which Event a warning goes to: a new one, or the count of one we wrote
 * recently for the same (object, reason, message).
 *
 * A simplified form of client-go's EventCorrelator (tools/record/
 * events_cache.go). client-go keys its de-duplication on source, object,
 * type, reason and message, keeps 4096 keys in an LRU, and patches `count`
 * and `lastTimestamp` of the previous Event for as long as the key is
 * cached. Here the key is (object UID, reason, message) (source and type are
 * fixed for one sink) and a repeat bumps the count only while it comes
 * within `windowMs` (default 5 min) of the previous occurrence; after a
 * quieter spell it makes a new Event, so `kubectl describe` shows that the
 * problem came back instead of an old Event with a larger count. client-go's
 * other two stages, aggregation of similar messages and its spam token
 * bucket, are left out: our warnings come from claim preparation, a few per
 * claim and kubelet retry, and a sink queues at most a bounded number.
 */

export const DEFAULT_DEDUP_WINDOW_MS = 5 * 60_000;
export const DEFAULT_MAX_KEYS = 4096;

export interface CorrelatorOptions {
  readonly windowMs?: number;
  /** Keys remembered (least recently used dropped first). */
  readonly maxKeys?: number;
}

export type Correlation =
  | { readonly action: 'create' }
  /** Patch Event `name`, whose count is `count` now. */
  | { readonly action: 'patch'; readonly name: string; readonly count: number };

interface Seen {
  readonly name: string;
  readonly count: number;
  readonly lastMs: number;
}

export class EventCorrelator {
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #seen = new Map<string, Seen>();

  constructor(o: CorrelatorOptions = {}) {
    this.#windowMs = o.windowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.#maxKeys = o.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** What to do with an occurrence of `key` at `nowMs`. */
  decide(key: string, nowMs: number): Correlation {
    const s = this.#seen.get(key);
    if (!s || nowMs - s.lastMs >= this.#windowMs) return { action: 'create' };
    return { action: 'patch', name: s.name, count: s.count };
  }

  /** A write succeeded: Event `name` has `count` now, last seen at `nowMs`. */
  recorded(key: string, name: string, count: number, nowMs: number): void {
    this.#seen.delete(key); // re-insert: Map order is the LRU order
    this.#seen.set(key, { name, count, lastMs: nowMs });
    if (this.#seen.size > this.#maxKeys) this.#seen.delete(this.#seen.keys().next().value!);
  }

  /** The Event is gone (a patch found nothing); the next occurrence creates one. */
  forget(key: string): void {
    this.#seen.delete(key);
  }

  get size(): number {
    return this.#seen.size;
  }
}

/** The de-duplication key of a warning. */
export function eventKey(uid: string, reason: string, message: string): string {
  return JSON.stringify([uid, reason, message]);
}
