/**
 * A cloud provider: its metadata source read in the background, the answer
 * cached, and attributes and suggested configs served from that cache —
 * synchronously, so building the inventory never waits on the network.
 *
 * Schedule: one attempt at `start()`; after a success the next in
 * `refreshMs` (10 min: placement and NIC facts change only when the VM is
 * reconfigured); after a failure, exponential back-off from `retryMs` (5 s)
 * doubling to a cap of `maxRetryMs` (10 min), each delay scaled by a random
 * 0.8–1.2 so a fleet restarted at once does not retry in step. One attempt
 * in flight at most, each bounded by `attemptTimeoutMs`; a failure keeps the
 * last good answer. Listeners hear of every change of the cached facts (the
 * inventory watcher rebuilds then).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Attributes } from '../attributes/limits.ts';
import type { AttributeNaming } from '../attributes/names.ts';
import type { AttributeProvider, DeviceIdentity } from '../model.ts';
import { cloudAttributes } from './attributes.ts';
import { suggestedConfig } from './suggested-config.ts';
import type { CloudFacts, CloudName, MetadataSource, SuggestedConfig } from './types.ts';

/** Timers, injectable so tests run the schedule on a fake clock. */
export interface Scheduler {
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Real timers, unref'd: a pending refresh never keeps the process alive. */
export const timerScheduler: Scheduler = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface CloudProviderOptions {
  /** Next read after a success (ms, default 600 000). */
  readonly refreshMs?: number;
  /** First retry after a failure (ms, default 5 000); doubles per failure. */
  readonly retryMs?: number;
  /** The longest wait between attempts (ms, default 600 000). */
  readonly maxRetryMs?: number;
  /** One attempt, all its requests together (ms, default 10 000). */
  readonly attemptTimeoutMs?: number;
  /** Jitter source in [0, 1) (default Math.random). */
  readonly random?: () => number;
  readonly scheduler?: Scheduler;
  /** Hears every attempt's outcome (the daemon logs them). */
  readonly onEvent?: (e: CloudProviderEvent) => void;
  /** How this provider was chosen, for logs: `--cloud-provider gce`, `product_name=Google Compute Engine`. */
  readonly origin?: string;
}

export type CloudProviderEvent =
  | { readonly kind: 'refreshed'; readonly cloud: CloudName; readonly changed: boolean; readonly nics: number }
  | { readonly kind: 'failed'; readonly cloud: CloudName; readonly error: unknown; readonly failures: number; readonly retryInMs: number };

export interface CloudProviderStatus {
  /** `pending` before the first answer; `failing` after a failed attempt (the last good facts, if any, still serve). */
  readonly state: 'pending' | 'ok' | 'failing' | 'closed';
  readonly failures: number;
  readonly lastError?: unknown;
}

/** The wait before attempt n+1 after n failures in a row: base·2^(n−1), jittered ×0.8–1.2, never over the cap. */
export function backoffDelay(failures: number, baseMs: number, capMs: number, random: () => number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(Math.min(capMs, exp * (0.8 + 0.4 * random())));
}

export class CloudProvider implements AttributeProvider {
  readonly #source: MetadataSource;
  readonly #o: Required<Omit<CloudProviderOptions, 'onEvent' | 'origin'>> & Pick<CloudProviderOptions, 'onEvent' | 'origin'>;
  readonly #listeners = new Set<() => void>();
  readonly #abort = new AbortController();
  #facts: CloudFacts | undefined;
  #failures = 0;
  #lastError: unknown;
  #cancelTimer: (() => void) | undefined;
  #inFlight: Promise<void> | undefined;
  #started = false;
  #closed = false;
  #settled = false;
  readonly #firstSettled: Promise<void>;
  #resolveFirst!: () => void;

  constructor(source: MetadataSource, o: CloudProviderOptions = {}) {
    this.#source = source;
    this.#o = {
      refreshMs: 600_000, retryMs: 5_000, maxRetryMs: 600_000, attemptTimeoutMs: 10_000,
      random: Math.random, scheduler: timerScheduler, ...o,
    };
    this.#firstSettled = new Promise((resolve) => { this.#resolveFirst = resolve; });
  }

  get cloud(): CloudName {
    return this.#source.cloud;
  }

  /** How it was chosen (the flag, or the DMI value that named the cloud). */
  get origin(): string {
    return this.#o.origin ?? this.#source.cloud;
  }

  /** The cached answer (undefined until the first success). */
  get facts(): CloudFacts | undefined {
    return this.#facts;
  }

  get status(): CloudProviderStatus {
    const state = this.#closed ? 'closed' : this.#failures > 0 ? 'failing' : this.#facts ? 'ok' : 'pending';
    return { state, failures: this.#failures, ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}) };
  }

  /** Starts the background reads (idempotent). Returns at once. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.refresh();
  }

  /**
   * Waits until the first attempt has finished, at most `timeoutMs`: for a
   * one-shot `netclaim inventory`, which has no later rebuild to pick the
   * answer up. True when facts are cached. Never rejects.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    await Promise.race([this.#firstSettled, timeout]);
    clearTimeout(timer);
    return this.#facts !== undefined;
  }

  /** One attempt now, unless one is in flight (then that one). Never rejects. */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#attempt().finally(() => { this.#inFlight = undefined; });
    return this.#inFlight;
  }

  attributesFor(device: DeviceIdentity, naming: AttributeNaming): Attributes | undefined {
    return this.#facts ? cloudAttributes(this.#facts, device, naming) : undefined;
  }

  /** The NIC's network settings as the cloud knows them (docs/cloud.md, "Suggested config"). */
  suggestedConfig(device: DeviceIdentity): SuggestedConfig | undefined {
    return this.#facts ? suggestedConfig(this.#facts, device) : undefined;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /** Stops reading: the attempt in flight is aborted, no more are scheduled. The cache still answers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTimer?.();
    this.#abort.abort();
    this.#listeners.clear();
    this.#settle();
  }

  async #attempt(): Promise<void> {
    if (this.#closed) return;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.attemptTimeoutMs)]);
    try {
      const facts = await this.#source.fetch(signal);
      if (this.#closed) return;
      const changed = !isDeepStrictEqual(facts, this.#facts);
      this.#facts = facts;
      this.#failures = 0;
      this.#lastError = undefined;
      this.#schedule(this.#o.refreshMs);
      this.#o.onEvent?.({ kind: 'refreshed', cloud: this.cloud, changed, nics: facts.nics.length });
      if (changed) for (const l of [...this.#listeners]) notify(l);
    } catch (error) {
      if (this.#closed) return;
      this.#failures++;
      this.#lastError = error;
      const retryInMs = backoffDelay(this.#failures, this.#o.retryMs, this.#o.maxRetryMs, this.#o.random);
      this.#schedule(retryInMs);
      this.#o.onEvent?.({ kind: 'failed', cloud: this.cloud, error, failures: this.#failures, retryInMs });
    } finally {
      this.#settle();
    }
  }

  #schedule(ms: number): void {
    this.#cancelTimer = this.#o.scheduler.after(ms, () => { this.#cancelTimer = undefined; void this.refresh(); });
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolveFirst();
  }
}

/** A listener that throws is its own problem, not a failed read. */
function notify(listener: () => void): void {
  try {
    listener();
  } catch {
    // ignored: the cache is already updated, and the next change calls it again
  }
}
