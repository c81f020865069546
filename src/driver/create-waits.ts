/**
 * With the container gate at StartContainer, the attach after RunPodSandbox's
 * answer waits for the pod's CreateContainer (pod-driver.ts), which then
 * answers at once instead of being read late, behind the attach's
 * synchronous netlink calls and fsyncs on the event loop; the attach then
 * overlaps the container's creation. Bounded: CreateContainer came 3–34 ms
 * after the sandbox on the e2e node, and a container the runtime failed before
 * it never sends one. Only an ordering for speed: the gate checks the devices
 * whatever happened here.
 */

/** The longest an attach waits for its pod's CreateContainer. */
export const ATTACH_WAITS_FOR_CREATE_MS = 100;

/** Waits for pods' CreateContainer, by pod UID; a lifecycle of timers. */
export class CreateWaits {
  readonly #waiting = new Map<string, () => void>();
  readonly #maxMs: number;

  constructor(maxMs = ATTACH_WAITS_FOR_CREATE_MS) {
    this.#maxMs = maxMs;
  }

  /** Settles when `came(podUid)` is called or after the bound; a second wait for the pod releases the first. */
  wait(podUid: string): Promise<void> {
    const w = Promise.withResolvers<void>();
    const done = (): void => {
      clearTimeout(timer);
      if (this.#waiting.get(podUid) === done) this.#waiting.delete(podUid);
      w.resolve();
    };
    const timer = setTimeout(done, this.#maxMs);
    this.#waiting.get(podUid)?.();
    this.#waiting.set(podUid, done);
    return w.promise;
  }

  /** The pod's CreateContainer came: its waiting attach goes once `after` settles (the answer on the socket). */
  came(podUid: string, after: Promise<void>): void {
    const release = this.#waiting.get(podUid);
    if (release !== undefined) void after.then(release);
  }
}
