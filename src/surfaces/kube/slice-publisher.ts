/**
 * Publishes one node's devices as ResourceSlices and keeps them so.
 *
 *   const p = new SlicePublisher({ kubeConfig, nodeName });
 *   await p.start();                 // reads the Node's UID, lists and watches our slices
 *   watcher.subscribe((inv) => p.update(inv.devices));
 *   ...
 *   await p.close();                 // stops the watch; the slices stay (the kubelet removes them)
 *
 * Every reconcile is planSync (pure) over the informer's view, then creates
 * and updates (the new generation), then deletes (the old one). Bursts of
 * update() are coalesced (`debounceMs` after the first), failed reconciles
 * are retried with exponential backoff after a fresh LIST, and any change
 * someone else makes to our slices (a delete, an edit) is reverted
 * `driftDelayMs` after the watch reports it. Nothing is written before the
 * first update(): a restarted driver must not wipe the pool it cannot see yet.
 *
 * Publishes (reconciles that write) are paced by a write budget
 * (write-budget.ts, default 1/s with bursts of 5): when it is spent, the
 * reconcile waits for the next token and then publishes the latest desired
 * state, so a flapping link costs bounded writes and the last state still
 * goes out. A reconcile with nothing to write costs nothing.
 */
import { DriverError, isDriverError, StateError } from '../../common/errors.ts';
import type { Attributes } from '../../inventory/attributes/limits.ts';
import { DRIVER_NAME } from '../../inventory/attributes/names.ts';
import { kubeError, kubeStatus } from './kube-error.ts';
import type { KubeApi } from './kube-api.ts';
import { fromJson, specKey, toWire, type StoredSlice } from './slice-codec.ts';
import { SLICES_PATH, SliceInformer } from './slice-informer.ts';
import { isNoop, planSync, type DroppedFieldsMemo, type SyncPlan } from './slice-sync.ts';
import { budgetTake, budgetWait, createWriteBudget, DEFAULT_WRITE_BUDGET, type WriteBudget, type WriteBudgetOptions } from './write-budget.ts';
import { sharingSliceFields, type ResourceSlice, type SliceDevice } from './slices.ts';
import { sharingDropped, sharingUnsupportedMessage } from './sharing-fallback.ts';
import { PARENT_COUNTER, wholeTwinName } from '../../inventory/shareable.ts';

/** What the publisher is given: inventory devices fit (extra fields are ignored). */
export interface PublishDevice {
  readonly name: string;
  readonly attributes: Attributes;
  /** Set when the device is unhealthy: a reason (becomes the taint value) or true. */
  readonly unhealthy?: string | boolean;
  /** The effect of the unhealthy taint (default NoSchedule; NoExecute evicts pods using the device that do not tolerate it). */
  readonly taintEffect?: 'NoSchedule' | 'NoExecute';
  /** A shareable parent (docs/sharing.md); `whole`: also published whole, the two exclusive through a counter set. */
  readonly sharing?: { readonly maxSubInterfaces: number; readonly whole?: boolean };
}

export interface SlicePublisherOptions {
  readonly kubeConfig: KubeApi;
  readonly nodeName: string;
  /** Default DRIVER_NAME (`netclaim.dev`). */
  readonly driver?: string;
  /** The Node's UID for the owner reference; read from the Node object when absent. */
  readonly nodeUid?: string;
  readonly poolName?: string;
  readonly maxPerSlice?: number;
  /** Publish unhealthy devices with a `<driver>/unhealthy` NoSchedule taint (slices then hold ≤ 64). */
  readonly taintUnhealthy?: boolean;
  /** Coalescing window after the first update() of a burst (ms, default 50). */
  readonly debounceMs?: number;
  /** Delay before repairing a change someone else made (ms, default 500). */
  readonly driftDelayMs?: number;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Publishes per second and burst (default DEFAULT_WRITE_BUDGET; ratePerSec 0: no budget). */
  readonly writeBudget?: WriteBudgetOptions;
  /** Server-side watch timeout before the watch is resumed (s, default 25; see SliceInformer). */
  readonly watchTimeoutSeconds?: number;
  /** Background failures (each is also counted in `errors`). */
  readonly onError?: (err: DriverError) => void;
  /**
   * The server dropped the fields of a shareable device (sharing-fallback.ts):
   * called once; from then on shareable devices are not published.
   */
  readonly onSharingUnsupported?: (message: string) => void;
}

export class SlicePublisher {
  readonly #o: SlicePublisherOptions & { readonly driver: string };
  readonly #api: KubeApi;
  readonly #informer: SliceInformer;
  readonly #dropped = new Map<string, DroppedFieldsMemo>();
  #nodeUid: string | undefined;
  #desired: readonly SliceDevice[] | undefined;
  #input: readonly PublishDevice[] = [];
  /** The cluster cannot share (sharing-fallback.ts): shareable devices are left out. */
  #noSharing = false;
  #version = 0;
  #syncedVersion = 0;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  readonly #budget: WriteBudget | undefined;
  /** While the budget is spent: no reconcile before this time (ms since epoch). */
  #notBefore = 0;
  #running = false;
  #inflight: Promise<void> | undefined;
  #again = false;
  #needList = false;
  #failures = 0;
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  #last: SyncPlan | undefined;
  #counters = { errors: 0, creates: 0, updates: 0, deletes: 0, syncs: 0, deferred: 0 };
  #lastError: DriverError | undefined;
  /** The backoff between start() attempts, ended early by close(). */
  #startWait: { readonly resolve: () => void; readonly timer: NodeJS.Timeout } | undefined;

  constructor(o: SlicePublisherOptions) {
    this.#o = { ...o, driver: o.driver ?? DRIVER_NAME };
    this.#nodeUid = o.nodeUid;
    this.#budget = createWriteBudget(o.writeBudget ?? DEFAULT_WRITE_BUDGET, Date.now());
    this.#api = o.kubeConfig;
    this.#informer = new SliceInformer({
      api: this.#api, driver: this.#o.driver, nodeName: o.nodeName,
      onChange: () => this.#schedule(this.#o.driftDelayMs ?? 500),
      onError: (e) => this.#report(e),
      ...(o.retryMaxMs !== undefined ? { retryMaxMs: o.retryMaxMs } : {}),
      ...(o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
    });
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new StateError(`SlicePublisher: start() in state ${this.#state}`);
    this.#state = 'starting';
    // A transient failure (no response, 429, 5xx) is retried with backoff, as client-go's reflector
    // retries its LIST: at fleet scale a new connection can be closed by a busy API server
    // (docs/fleet.md, "Writes that failed at the client"), and that must not stop the daemon.
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.#nodeUid === undefined) this.#nodeUid = await this.#readNodeUid();
        await this.#informer.start();
        break;
      } catch (err) {
        if (this.#state !== 'starting' || !isTransient(err)) {
          if (this.#state === 'starting') this.#state = 'new'; // may be retried
          throw err;
        }
        this.#report(kubeError('start slice publisher', err));
        const min = this.#o.retryMinMs ?? 200;
        await new Promise<void>((resolve) => {
          this.#startWait = { resolve, timer: setTimeout(resolve, Math.min(this.#o.retryMaxMs ?? 30_000, min * 2 ** attempt) * (0.75 + Math.random() / 4)) };
        });
        this.#startWait = undefined;
        if (this.#state !== 'starting') return; // closed while waiting
      }
    }
    if (this.#state !== 'starting') return; // closed meanwhile
    this.#state = 'running';
    if (this.#desired) this.#schedule(0);
  }

  /** The devices to publish now (the full set). Cheap; writes happen after the debounce. */
  update(devices: readonly PublishDevice[]): void {
    if (this.#state === 'closed') throw new StateError('SlicePublisher: update() after close()');
    this.#input = devices;
    this.#desired = this.#publishable(devices);
    this.#version++;
    this.#schedule(this.#o.debounceMs ?? 50);
  }

  /** Resolves once everything given to update() so far is in the API server. */
  synced(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new StateError('SlicePublisher closed'));
    if (this.#syncedVersion === this.#version && this.#version > 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stops the watch and timers and waits for a write in flight. Slices are left in place. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    if (this.#startWait) {
      clearTimeout(this.#startWait.timer);
      this.#startWait.resolve();
    }
    this.#informer.close();
    for (const w of this.#waiters.splice(0)) w.reject(new StateError('SlicePublisher closed'));
    await this.#inflight;
  }

  /** Slices of the last published plan. */
  get slices(): number { return this.#last?.desired.length ?? 0; }
  /** Devices in them. */
  get devices(): number { return this.#last?.desired.reduce((n, s) => n + s.spec.devices.length, 0) ?? 0; }
  get generation(): number { return this.#last?.generation ?? 0; }
  /** Failed reconciles, watch failures and dropped-field reports. */
  get errors(): number { return this.#counters.errors; }
  /** Successful API writes by kind, and reconciles that ran to the end. */
  get writes(): { readonly creates: number; readonly updates: number; readonly deletes: number; readonly syncs: number } {
    const { creates, updates, deletes, syncs } = this.#counters;
    return { creates, updates, deletes, syncs };
  }
  /** Reconciles the write budget held back (each publishes the latest state later). */
  get deferred(): number { return this.#counters.deferred; }
  get lastError(): DriverError | undefined { return this.#lastError; }

  /** Arms the reconcile timer unless one is due sooner (so bursts coalesce and latency stays bounded). */
  #schedule(delayMs: number): void {
    if (this.#state !== 'running' || this.#desired === undefined) return;
    const now = Date.now();
    const due = Math.max(now + delayMs, this.#notBefore); // a spent budget holds every reconcile back
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#running) this.#again = true; // the loop in #run picks it up
      else this.#inflight = this.#run();
    }, due - now);
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        await this.#syncOnce();
      } while (this.#again && this.#state === 'running');
      this.#failures = 0;
    } catch (err) {
      const e = kubeError('publish resourceslices', err);
      this.#report(e);
      if (e.code === 'KUBE_SLICE_INVALID') return; // retrying cannot help; the next update() may
      this.#needList = true; // whatever failed, the cache may be wrong now
      const min = this.#o.retryMinMs ?? 200;
      const delay = Math.min(this.#o.retryMaxMs ?? 30_000, min * 2 ** this.#failures++) * (0.75 + Math.random() / 4);
      this.#schedule(delay);
    } finally {
      this.#running = false;
    }
  }

  async #syncOnce(): Promise<void> {
    const version = this.#version;
    if (this.#needList) {
      await this.#informer.list();
      this.#needList = false;
    }
    const plan = planSync({
      devices: this.#desired!, stored: this.#informer.slices, lastGeneration: this.#last?.generation ?? 0, dropped: this.#dropped,
      options: {
        driver: this.#o.driver, nodeName: this.#o.nodeName, nodeUid: this.#nodeUid!,
        ...(this.#o.poolName !== undefined ? { poolName: this.#o.poolName } : {}),
        ...(this.#o.maxPerSlice !== undefined ? { maxPerSlice: this.#o.maxPerSlice } : {}),
      },
    });
    if (!isNoop(plan) && this.#budget !== undefined && !budgetTake(this.#budget, Date.now())) {
      // Spent: publish later whatever is desired then (update() keeps only the latest).
      this.#counters.deferred++;
      this.#notBefore = Date.now() + budgetWait(this.#budget, Date.now());
      this.#schedule(0);
      return;
    }
    if (!isNoop(plan)) {
      // The new generation first, complete; only then the old slices go (upstream order for consumers).
      await settleAll([...plan.create.map((s) => this.#create(s)), ...plan.update.map((u) => this.#replace(u.slice, u.stored))]);
      await settleAll(plan.delete.map((s) => this.#delete(s)));
    }
    this.#last = plan;
    this.#counters.syncs++;
    if (version === this.#version) {
      this.#syncedVersion = version;
      for (const w of this.#waiters.splice(0)) w.resolve();
    }
  }

  async #create(s: ResourceSlice): Promise<void> {
    const res = await this.#call('create', s.metadata.name, () => this.#api.request({ method: 'POST', path: SLICES_PATH, query: { fieldManager: this.#o.driver }, body: toWire(s) }));
    this.#stored(s, fromJson(res));
    this.#counters.creates++;
  }

  async #replace(s: ResourceSlice, old: StoredSlice): Promise<void> {
    const body = toWire(s, old.resourceVersion);
    const res = await this.#call('replace', s.metadata.name, () => this.#api.request({ method: 'PUT', path: slicePath(s.metadata.name), query: { fieldManager: this.#o.driver }, body }));
    this.#stored(s, fromJson(res));
    this.#counters.updates++;
  }

  /** With preconditions: a slice someone changed since we looked is not deleted blindly. */
  async #delete(s: StoredSlice): Promise<void> {
    try {
      await this.#call('delete', s.name, () => this.#api.request({
        method: 'DELETE', path: slicePath(s.name), body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: s.uid, resourceVersion: s.resourceVersion } },
      }));
    } catch (err) {
      if (kubeStatus(err) !== 404) throw err;
    }
    this.#informer.recordDelete(s);
    this.#counters.deletes++;
  }

  async #call<T>(op: string, name: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw kubeError(`${op} resourceslice ${name}`, err, { slice: name });
    }
  }

  /** Records a write result; when the server kept less than we sent, accepts that form instead of looping. */
  #stored(sent: ResourceSlice, got: StoredSlice): void {
    this.#informer.recordWrite(got);
    this.#checkSharing(sent, got);
    const want = specKey(sent.spec);
    const have = specKey(got.spec);
    if (want === have) {
      this.#dropped.delete(sent.metadata.name);
      return;
    }
    const known = this.#dropped.get(sent.metadata.name);
    this.#dropped.set(sent.metadata.name, { sent: want, stored: have });
    if (known?.sent !== want) {
      this.#report(new DriverError('KUBE_FIELDS_DROPPED', `resourceslice ${sent.metadata.name}: the API server stored fewer fields than sent (a feature gate off?)`, { context: { slice: sent.metadata.name } }));
    }
  }

  async #readNodeUid(): Promise<string> {
    try {
      const node = await this.#api.request<{ metadata?: { uid?: string } }>({ path: `/api/v1/nodes/${encodeURIComponent(this.#o.nodeName)}` });
      const uid = node.metadata?.uid;
      if (!uid) throw new Error('Node has no metadata.uid');
      return uid;
    } catch (err) {
      throw kubeError(`read node ${this.#o.nodeName}`, err);
    }
  }

  #sliceDevice(d: PublishDevice): SliceDevice {
    const shared = sharingSliceFields(this.#o.driver, d.sharing);
    if (!this.#o.taintUnhealthy || !d.unhealthy) return { name: d.name, attributes: d.attributes, ...shared };
    const value = typeof d.unhealthy === 'string' ? labelValue(d.unhealthy) : '';
    return { name: d.name, attributes: d.attributes, ...shared, taints: [{ key: `${this.#o.driver}/unhealthy`, ...(value ? { value } : {}), effect: d.taintEffect ?? 'NoSchedule' }] };
  }

  #publishable(devices: readonly PublishDevice[]): SliceDevice[] {
    return (this.#noSharing ? devices.filter((d) => d.sharing === undefined) : devices).flatMap((d) => withWholeTwin(this.#sliceDevice(d), d.sharing));
  }

  /** Once: the server dropped the sharing fields; republish without shareable devices. */
  #checkSharing(sent: ResourceSlice, got: StoredSlice): void {
    if (this.#noSharing) return;
    const lost = sharingDropped(sent.spec, got.spec);
    if (lost.length === 0) return;
    this.#noSharing = true;
    this.#o.onSharingUnsupported?.(sharingUnsupportedMessage(sent.metadata.name, lost));
    this.#desired = this.#publishable(this.#input);
    this.#version++;
    this.#schedule(0);
  }

  #report(e: DriverError): void {
    this.#counters.errors++;
    this.#lastError = e;
    this.#o.onError?.(e);
  }
}

/**
 * A parent that can also move whole (docs/sharing.md, "Whole vs shared use"):
 * the shareable device and its whole twin (same attributes and taints,
 * neither allowMultipleAllocations nor capacity), each consuming the one
 * counter of the parent's counter set (named as the parent), so the
 * scheduler allocates one or the other, never both.
 */
export function withWholeTwin(shared: SliceDevice, sharing: PublishDevice['sharing']): SliceDevice[] {
  if (sharing?.whole !== true) return [shared];
  const consumesCounters = [{ counterSet: shared.name, counters: { [PARENT_COUNTER]: { value: '1' } } }];
  const { allowMultipleAllocations: _a, capacity: _c, ...plain } = shared;
  return [{ ...shared, consumesCounters }, { ...plain, name: wholeTwinName(shared.name), consumesCounters }];
}

/** A label value (≤ 63, alphanumeric at both ends, `-_.` inside) from free text. */
export function labelValue(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** Worth retrying: 429, a 5xx, or no response because the transport failed (a connection closed, refused, reset, timed out). */
function isTransient(err: unknown): boolean {
  const status = kubeStatus(err);
  if (status !== 0) return status === 429 || status >= 500;
  if (!isDriverError(err) || err.code !== 'KUBE_REQUEST_FAILED') return false;
  // The transport's error is the cause or below it: the socket's (ECONNREFUSED, ECONNRESET, …), an HTTP/2 stream's or
  // session's (ERR_HTTP2_*: cancelled with the session, GOAWAY), a deadline's TimeoutError (UND_ERR_*: client-node's fetch).
  for (let c: unknown = err.cause, i = 0; c !== null && typeof c === 'object' && i < 6; c = (c as { cause?: unknown }).cause, i++) {
    const { code, name } = c as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && /^(ERR_HTTP2_|UND_ERR_|ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)/.test(code)) return true;
    if (name === 'TimeoutError') return true; // an AbortSignal.timeout deadline
  }
  return false;
}

function slicePath(name: string): string {
  return `${SLICES_PATH}/${encodeURIComponent(name)}`;
}

/** Waits for every write (so the cache records each success), then fails with the first failure. */
async function settleAll(ps: readonly Promise<void>[]): Promise<void> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r) => r.status === 'rejected');
  if (bad) throw bad.reason;
}
