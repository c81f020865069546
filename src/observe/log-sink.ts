/**
 * Where log lines go: stdout, without ever letting its reader hold the daemon
 * up, crash it or keep it from exiting (docs/observability.md, "When the log
 * reader stops reading or goes away").
 *
 * Why not pino's default destination (sonic-boom on fd 1): at exit it writes
 * what is left synchronously and retries a failed write for ever, 10 times a
 * second. With a reader that stopped reading (EAGAIN), or one that went away
 * before a write had failed (EPIPE), `netclaim run` never exited after
 * SIGTERM; and while the reader was stuck, every line waited in memory.
 *
 * This sink:
 *  - hands each line to process.stdout: libuv writes it at once when the
 *    pipe has room and never blocks the event loop (it made fd 1
 *    non-blocking); a file is written synchronously, as before;
 *  - keeps at most `maxBacklogBytes` (or one longer line) waiting for a slow
 *    reader: a line past that is dropped (`backlog`), so a stuck reader
 *    costs a bounded amount of memory and never wedges Prepare or an NRI hook;
 *  - after a write failed (EPIPE: the reader is gone; ENOSPC on a file…)
 *    drops lines without writing (`error`), trying one line again every
 *    `retryMs` (a fifo may get a new reader);
 *  - never throws, and never writes from an error callback (no loop);
 *  - flushes nothing at exit: a line still waiting is lost, not waited for
 *    (`drained()` gives it a bounded chance first).
 *
 * Every line offered ends as exactly one of written, dropped (by reason) or
 * pending: `stats()`.
 */
import type { DestinationStream } from 'pino';

export const DROP_REASONS = ['backlog', 'error'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** What the sink writes to: process.stdout, or any Writable (tests). */
export interface LogTarget {
  write(chunk: string, cb: (err?: Error | null) => void): boolean;
  readonly writableLength: number;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface LogSinkOptions {
  /** Bytes (UTF-16 units for strings) that may wait for a slow reader; default 1 MiB. */
  readonly maxBacklogBytes?: number;
  /** After a failed write, how long lines are dropped before one is tried again; default 5 s. */
  readonly retryMs?: number;
  /** Clock in ms (tests). */
  readonly now?: () => number;
}

export interface LogSinkStats {
  /** Lines the output took. */
  readonly written: number;
  /** Lines given up on, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Lines handed to the output and not yet taken (or failed). */
  readonly pending: number;
  /** The code of the last failed write (`EPIPE`, `ENOSPC`…), if one failed. */
  readonly lastError?: string;
}

export interface LogSink extends DestinationStream {
  stats(): LogSinkStats;
  /** Resolves true once nothing is pending, false after `timeoutMs` (or at once while writes fail). */
  drained(timeoutMs: number): Promise<boolean>;
}

export const DEFAULT_MAX_BACKLOG_BYTES = 1024 * 1024;
export const DEFAULT_RETRY_MS = 5000;

export function createLogSink(target: LogTarget, o: LogSinkOptions = {}): LogSink {
  const maxBacklog = o.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
  const retryMs = o.retryMs ?? DEFAULT_RETRY_MS;
  const now = o.now ?? (() => performance.now());
  let written = 0;
  let pending = 0;
  const dropped: Record<DropReason, number> = { backlog: 0, error: 0 };
  let lastError: string | undefined;
  /** While set, writes are failing: lines are dropped until this time. */
  let failingUntil: number | undefined;
  const waiters = new Set<() => void>();

  const settle = (): void => {
    if (pending !== 0) return;
    for (const w of waiters) w();
    waiters.clear();
  };
  // One callback for every line: no closure per line. It only counts; it never writes.
  const done = (err?: Error | null): void => {
    pending -= 1;
    if (err) {
      dropped.error += 1;
      failed(err);
    } else {
      written += 1;
      failingUntil = undefined;
    }
    settle();
  };
  const failed = (err: Error): void => {
    lastError = (err as NodeJS.ErrnoException).code ?? err.name;
    failingUntil = now() + retryMs;
  };
  // Without a listener, a failed write to a pipe is an uncaught exception (stdout's 'error').
  target.on('error', failed);

  return {
    write(line: string): void {
      if (failingUntil !== undefined) {
        if (now() < failingUntil) {
          dropped.error += 1;
          return;
        }
        // This line tries the output again; the lines after it wait for its answer (done()).
        failingUntil = now() + retryMs;
      }
      // A line longer than the whole backlog still goes when nothing waits.
      const waiting = target.writableLength;
      if (waiting > 0 && waiting + line.length > maxBacklog) {
        dropped.backlog += 1;
        return;
      }
      pending += 1;
      try {
        target.write(line, done);
      } catch (err) {
        // A Writable reports failures through the callback; a throw means it never got the line.
        pending -= 1;
        dropped.error += 1;
        failed(err instanceof Error ? err : new Error(String(err)));
      }
    },
    stats: () => ({ written, pending, dropped: { ...dropped }, ...(lastError === undefined ? {} : { lastError }) }),
    drained(timeoutMs: number): Promise<boolean> {
      if (pending === 0) return Promise.resolve(true);
      if (failingUntil !== undefined) return Promise.resolve(false);
      return new Promise((resolve) => {
        // Not unref'd: the caller awaits it (an exit path), and it is bounded.
        const timer = setTimeout(() => { waiters.delete(ok); resolve(false); }, timeoutMs);
        const ok = (): void => { clearTimeout(timer); resolve(true); };
        waiters.add(ok);
      });
    },
  };
}

let stdoutSink: LogSink | undefined;

/** The process's one sink over stdout (one 'error' listener, one set of counts, whatever the number of loggers). */
export function stdoutLogSink(): LogSink {
  stdoutSink ??= createLogSink(process.stdout);
  return stdoutSink;
}

let stderrGuarded = false;

/**
 * A failed write to stderr (Node's own warnings go there) is ignored rather
 * than an uncaught exception: with stdout and stderr on the same gone pipe,
 * the daemon would otherwise crash on its next warning.
 */
export function ignoreStderrErrors(): void {
  if (stderrGuarded) return;
  stderrGuarded = true;
  process.stderr.on('error', () => {});
}
