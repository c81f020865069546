/**
 * The publisher's view of the API server: the ResourceSlices of one node and
 * driver (field selectors `spec.nodeName`, `spec.driver`, which is also all a
 * node identity may list or watch), kept current by a watch, plus the
 * results of our own writes (a mutation cache, so a reconcile right after a
 * write does not act on the older state the watch has not delivered yet).
 *
 * Resource versions are compared as integers, as client-go's mutation cache
 * does: the API server's etcd-backed versions are, although the contract
 * calls them opaque. A non-numeric one is simply taken as newer.
 */
import type { KubeApi } from './kube-api.ts';
import { watchStream } from './kube-watch.ts';
import type { DriverError } from '../../common/errors.ts';
import { kubeError, kubeStatus } from './kube-error.ts';
import { fromJson, type StoredSlice } from './slice-codec.ts';

export const SLICES_PATH = '/apis/resource.k8s.io/v1/resourceslices';
/** Deleted UIDs remembered to drop late watch events for them; bounded. */
const TOMBSTONES = 1024;

export interface SliceInformerOptions {
  readonly api: KubeApi;
  readonly driver: string;
  readonly nodeName: string;
  /** The cache changed because of someone else (watch event that is not the echo of our write). */
  readonly onChange: () => void;
  readonly onError: (e: DriverError) => void;
  /**
   * Server-side watch timeout (s). The watch reader (kube-watch.ts) gives up
   * after 30 s without a byte, and bookmarks come less often than that, so the server is
   * asked to end the watch first; it is then resumed from the last version.
   */
  readonly watchTimeoutSeconds?: number;
  readonly retryMaxMs?: number;
}

export class SliceInformer {
  readonly #o: SliceInformerOptions;
  readonly #selector: string;
  readonly #cache = new Map<string, StoredSlice>();
  readonly #tombstones = new Set<string>();
  #rv = '';
  #abort: AbortController | undefined;
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;
  #gone = false;
  #closed = false;

  constructor(o: SliceInformerOptions) {
    this.#o = o;
    this.#selector = `spec.nodeName=${o.nodeName},spec.driver=${o.driver}`;
  }

  /** Lists, then watches from the list's version. Rejects when the first list fails. */
  async start(): Promise<void> {
    await this.list();
    this.#watch();
  }

  /** Replaces the cache with a fresh LIST (after a conflict, or when the watch lost its place). */
  async list(): Promise<void> {
    let res: { items?: unknown[]; metadata?: { resourceVersion?: string } };
    try {
      res = await this.#o.api.request({ path: SLICES_PATH, query: { fieldSelector: this.#selector } });
    } catch (err) {
      throw kubeError('list resourceslices', err, { fieldSelector: this.#selector });
    }
    this.#cache.clear();
    for (const m of res.items ?? []) {
      const s = fromJson(m);
      this.#cache.set(s.name, s);
    }
    this.#rv = res.metadata?.resourceVersion ?? '';
  }

  get slices(): StoredSlice[] {
    return [...this.#cache.values()];
  }

  /** A create/replace response: newer than anything the watch delivered so far. */
  recordWrite(s: StoredSlice): void {
    const c = this.#cache.get(s.name);
    if (!c || c.uid !== s.uid || !newer(c.resourceVersion, s.resourceVersion)) this.#cache.set(s.name, s);
  }

  recordDelete(s: StoredSlice): void {
    if (this.#cache.get(s.name)?.uid === s.uid) this.#cache.delete(s.name);
    this.#tomb(s.uid);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#abort?.abort();
    this.#abort = undefined;
  }

  #watch(): void {
    if (this.#closed) return;
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? 25;
    const query = { fieldSelector: this.#selector, resourceVersion: this.#rv, allowWatchBookmarks: true, timeoutSeconds };
    watchStream(this.#o.api, SLICES_PATH, query, (type, obj) => this.#event(type, obj), (err) => this.#done(err))
      .then((ac) => {
        if (this.#closed) ac.abort();
        else this.#abort = ac;
      }, (err: unknown) => this.#done(err));
  }

  #event(type: string, obj: unknown): void {
    if (type === 'ERROR') {
      // 410 Gone: the version we watch from was compacted; only a new LIST helps.
      if ((obj as { code?: number }).code === 410) this.#gone = true;
      return;
    }
    const s = fromJson(obj);
    if (s.resourceVersion) this.#rv = s.resourceVersion;
    if (type === 'BOOKMARK' || this.#tombstones.has(s.uid)) return;
    const c = this.#cache.get(s.name);
    if (type === 'DELETED') {
      if (c?.uid !== s.uid) return;
      this.#cache.delete(s.name);
      this.#tomb(s.uid);
    } else {
      if (c && c.uid === s.uid && !newer(s.resourceVersion, c.resourceVersion)) return; // echo of our own write
      this.#cache.set(s.name, s);
    }
    this.#o.onChange();
  }

  #done(err: unknown): void {
    this.#abort = undefined;
    if (this.#closed) return;
    const failed = err !== null && err !== undefined;
    if (failed) this.#o.onError(kubeError('watch resourceslices', err, { fieldSelector: this.#selector }));
    if (failed && kubeStatus(err) === 410) this.#gone = true;
    if (!failed && !this.#gone) {
      this.#failures = 0;
      this.#watch();
      return;
    }
    // As client-go's reflector: a failed watch resumes from the last version it delivered (nothing was
    // missed: the server replays from there); only a version that is gone (410) costs a new LIST. A
    // re-list after every failure sent an overloaded API server a LIST per watch time-out (docs/fleet.md).
    const delay = Math.min(this.#o.retryMaxMs ?? 30_000, 100 * 2 ** this.#failures++);
    this.#retry = setTimeout(() => (this.#gone || this.#rv === '' ? void this.#relistAndWatch() : this.#watch()), delay);
  }

  async #relistAndWatch(): Promise<void> {
    try {
      await this.list();
      this.#gone = false;
      this.#o.onChange();
      this.#watch();
    } catch (err) {
      this.#done(err);
    }
  }

  #tomb(uid: string): void {
    this.#tombstones.add(uid);
    if (this.#tombstones.size > TOMBSTONES) this.#tombstones.delete(this.#tombstones.values().next().value!);
  }
}

/** a is strictly newer than b. */
function newer(a: string, b: string): boolean {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return a !== b;
  return BigInt(a) > BigInt(b);
}
