/**
 * The last `capacity` ids added, oldest forgotten first: a memory of recent
 * events that stays bounded however long the daemon runs (a Set keeps
 * insertion order, so its first entry is the oldest).
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    this.#capacity = capacity;
  }

  add(id: string): void {
    this.#ids.delete(id); // re-added: the newest again
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) this.#ids.delete(this.#ids.values().next().value!);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
