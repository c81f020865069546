/**
 * Runs prepare/unprepare calls one at a time, as the Go kubeletplugin helper
 * does by default: the kubelet may send calls for several pods at once, and
 * during a rolling update two driver instances may each be handed one. Inside
 * the process a promise chain orders the calls; across instances a flock on
 * `<pluginDir>/serialize.lock` (the helper's file name) does.
 */
import type { FileLock } from './file-lock.ts';

export class CallSerializer {
  readonly #serial: boolean;
  readonly #fileLock: FileLock | undefined;
  #tail: Promise<void> = Promise.resolve();

  /** `serial: false` runs every call at once (the driver serializes itself). */
  constructor(serial: boolean, fileLock?: FileLock) {
    this.#serial = serial;
    this.#fileLock = fileLock;
  }

  /**
   * Runs `fn` after every earlier call has finished and the cross-instance
   * lock is held. When `signal` aborts first (the kubelet gave up on the
   * call), `fn` never runs and the signal's reason is thrown.
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!this.#serial) return fn();
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => { release = resolve; });
    try {
      await previous;
      signal?.throwIfAborted();
      await this.#fileLock?.lock(signal);
      try {
        signal?.throwIfAborted();
        return await fn();
      } finally {
        this.#fileLock?.unlock();
      }
    } finally {
      release();
    }
  }
}
