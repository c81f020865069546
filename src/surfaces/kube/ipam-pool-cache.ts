/**
 * The IPPools, kept current by a watch, so that Prepare does not pay an API
 * round trip for them: the LIST a claim with static addresses needed (is the
 * address inside a pool?) and the GET of a pool a claim names were both on
 * the pod's start-up path (docs/benchmarks.md, issue 23).
 *
 * The cache is as current as the watch, which is what a LIST a moment earlier
 * gives too: a pool created after a claim's Prepare misses that claim's
 * static address either way (docs/ipam.md, "Static addresses").
 *
 * - Not synced yet (first LIST failed or still running): callers ask the API
 *   server directly, as without the cache.
 * - The CRD is not installed (404): no pools; listed again every
 *   `absentRelistMs`, so installing the chart later is noticed.
 * - The watch ends: resumed from the last resource version; only 410 Gone
 *   (the version was compacted) costs a new LIST. A failed watch backs off.
 *   A re-list after every watch failure is what made the slice informer
 *   storm an overloaded API server (docs/fleet.md).
 */
import type { KubeApi } from './kube-api.ts';
import { watchStream } from './kube-watch.ts';
import type { DriverError } from '../../common/errors.ts';
import { kubeError, kubeStatus } from './kube-error.ts';

type Obj = Record<string, unknown>;

export interface PoolCacheOptions {
  readonly api: KubeApi;
  readonly group: string;
  readonly version: string;
  readonly onError?: (e: DriverError) => void;
  /** Called before each API request (benchmarks and tests count them). */
  readonly onRequest?: (verb: string) => void;
  readonly watchTimeoutSeconds?: number;
  readonly retryMaxMs?: number;
  readonly absentRelistMs?: number;
}

/** One cached IPPool: its name and raw spec (parsed by the reader, who reports a pool it refuses). */
export interface CachedPool {
  readonly name: string;
  readonly spec: unknown;
}

export class PoolCache {
  readonly #o: PoolCacheOptions;
  readonly #pools = new Map<string, CachedPool>();
  #synced = false;
  #rv = '';
  #gone = false;
  #failures = 0;
  #abort: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: PoolCacheOptions) {
    this.#o = o;
  }

  /** Lists, then watches; never rejects (a failed first LIST is retried, and callers go to the API server meanwhile). */
  async start(): Promise<void> {
    await this.#relistAndWatch();
  }

  /** The pools, or undefined while the cache is not synced (ask the API server). */
  get pools(): readonly CachedPool[] | undefined {
    return this.#synced ? [...this.#pools.values()] : undefined;
  }

  /** A pool by name: undefined when not cached (not synced, or not seen yet: ask the API server). */
  pool(name: string): CachedPool | undefined {
    return this.#synced ? this.#pools.get(name) : undefined;
  }

  get synced(): boolean {
    return this.#synced;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort?.abort();
    this.#abort = undefined;
  }

  get #path(): string {
    return `/apis/${this.#o.group}/${this.#o.version}/ippools`;
  }

  async #list(): Promise<'listed' | 'absent'> {
    this.#o.onRequest?.('list');
    let list: Obj;
    try {
      list = await this.#o.api.request<Obj>({ path: this.#path });
    } catch (err) {
      if (kubeStatus(err) === 404) {
        this.#pools.clear();
        this.#rv = '';
        return 'absent';
      }
      throw kubeError('list ippools', err, {});
    }
    this.#pools.clear();
    for (const item of (list['items'] as Obj[] | undefined) ?? []) this.#put(item);
    this.#rv = String((list['metadata'] as Obj | undefined)?.['resourceVersion'] ?? '');
    return 'listed';
  }

  async #relistAndWatch(): Promise<void> {
    if (this.#closed) return;
    try {
      const r = await this.#list();
      if (this.#closed) return;
      this.#synced = true;
      this.#gone = false;
      this.#failures = 0;
      if (r === 'absent') {
        this.#timer = setTimeout(() => void this.#relistAndWatch(), this.#o.absentRelistMs ?? 30_000);
        return;
      }
      this.#watch();
    } catch (err) {
      this.#o.onError?.(err as DriverError);
      this.#retry(true);
    }
  }

  #watch(): void {
    if (this.#closed) return;
    this.#o.onRequest?.('watch');
    const query = { resourceVersion: this.#rv, allowWatchBookmarks: true, timeoutSeconds: this.#o.watchTimeoutSeconds ?? 25 };
    watchStream(this.#o.api, this.#path, query, (type, obj) => this.#event(type, obj as Obj), (err) => this.#done(err))
      .then((ac) => {
        if (this.#closed) ac.abort();
        else this.#abort = ac;
      }, (err: unknown) => this.#done(err));
  }

  #event(type: string, obj: Obj): void {
    if (type === 'ERROR') {
      if ((obj as { code?: number }).code === 410) this.#gone = true;
      return;
    }
    const rv = (obj['metadata'] as Obj | undefined)?.['resourceVersion'];
    if (typeof rv === 'string' && rv !== '') this.#rv = rv;
    if (type === 'BOOKMARK') return;
    if (type === 'DELETED') this.#pools.delete(String((obj['metadata'] as Obj | undefined)?.['name']));
    else this.#put(obj);
  }

  #put(item: Obj): void {
    const name = (item['metadata'] as Obj | undefined)?.['name'];
    if (typeof name === 'string') this.#pools.set(name, { name, spec: item['spec'] });
  }

  #done(err: unknown): void {
    this.#abort = undefined;
    if (this.#closed) return;
    const failed = err !== null && err !== undefined;
    if (failed) this.#o.onError?.(kubeError('watch ippools', err, {}));
    if (failed && kubeStatus(err) === 410) this.#gone = true;
    if (this.#gone) {
      // The version was compacted: the cache may have missed events; callers ask the API server until the LIST is back.
      this.#synced = false;
      this.#retry(true);
      return;
    }
    if (!failed) {
      this.#failures = 0;
      this.#watch();
      return;
    }
    this.#retry(false);
  }

  /** Backs off, then lists again (`relist`) or resumes the watch from the last version. */
  #retry(relist: boolean): void {
    const delay = Math.min(this.#o.retryMaxMs ?? 30_000, 100 * 2 ** this.#failures++);
    this.#timer = setTimeout(() => (relist ? void this.#relistAndWatch() : this.#watch()), delay);
  }
}
