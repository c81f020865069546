/**
 * Waiting for physical devices to come back to the host after their pod's
 * namespace died (docs/pods.md, "Pending"): the kernel returns such a device
 * asynchronously, so the pod driver polls the host for it, one timer per
 * claim, and gives it back (restored) the moment it is there. Bounded: after
 * `timeoutMs` the wait is reported once per claim and ends; the journal
 * stays for the next hook, Synchronize or unprepare. With a pinned namespace
 * this does not happen (the namespace does not die while netclaim holds it).
 */

/** What one poll does (runs serialised with the pod hooks); true to poll again. */
export type ReturnTick = (deadline: number, late: () => boolean) => boolean;

export interface ReturnWaitOptions {
  /** How long a device may take to come back before it is reported (default 30 s). */
  readonly timeoutMs?: number;
  /** How often the host is checked meanwhile (default 250 ms). */
  readonly pollMs?: number;
  /** Runs a poll after the hooks queued before it (PodDriver's queue). */
  readonly run: (fn: () => boolean) => Promise<boolean>;
}

const TIMEOUT_MS = 30_000;
const POLL_MS = 250;

export class ReturnWait {
  readonly timeoutMs: number;
  readonly #pollMs: number;
  readonly #run: ReturnWaitOptions['run'];
  /** Claims awaited, with their poll timer. */
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Claims already reported late (once until their journal clears). */
  readonly #late = new Set<string>();
  #closed = false;

  constructor(o: ReturnWaitOptions) {
    this.timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
    this.#pollMs = o.pollMs ?? POLL_MS;
    this.#run = o.run;
  }

  /** Starts polling for a claim (no-op while it is already awaited, or once closed). */
  await(uid: string, tick: ReturnTick): void {
    if (this.#timers.has(uid) || this.#closed) return;
    const deadline = performance.now() + this.timeoutMs;
    const late = (): boolean => {
      if (this.#late.has(uid)) return false;
      this.#late.add(uid);
      return true;
    };
    const fire = (): void => {
      void this.#run(() => !this.#closed && tick(deadline, late)).then(
        (again) => { this.#timers.delete(uid); if (again) schedule(); },
        () => { this.#timers.delete(uid); },
      );
    };
    const schedule = (): void => {
      if (this.#closed) return;
      const t = setTimeout(fire, this.#pollMs);
      t.unref();
      this.#timers.set(uid, t);
    };
    schedule();
  }

  /** The claim's journal cleared: a later wait may report again. */
  settled(uid: string): void {
    this.#late.delete(uid);
  }

  /** Stops every wait; idempotent. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
