/**
 * Warnings for users as core/v1 Events on the ResourceClaim: what
 * `kubectl describe resourceclaim` lists (it reads core/v1 Events by
 * involvedObject), shaped as client-go's recorder writes them: name
 * `<claim>.<hex time>`, source {component, host}, reportingComponent and
 * reportingInstance, first/lastTimestamp and count.
 *
 *   const events = new KubeEventSink({ kubeConfig, nodeName, onError: (e) => log.warn({ err: e }, 'event') });
 *   events.claimWarning(claim, 'ClaimPrepareFailed', err.message);   // returns at once
 *   await events.close();
 *
 * claimWarning never blocks and never throws: it queues, and one writer
 * sends the queue in order (so a count patch follows the create it
 * patches). Failures go to `onError`. Repeats are de-duplicated (see
 * event-correlator.ts): within 5 min of the previous occurrence the same
 * (claim, reason, message) bumps `count` on the existing Event with a merge
 * patch, and repeats queued while a write is in flight are folded into one
 * write. The queue is bounded (`maxQueued`); beyond it warnings are dropped
 * and counted.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { DriverError } from '../../common/errors.ts';
import type { EventSink } from '../../driver/claim.ts';
import { EventCorrelator, eventKey } from './event-correlator.ts';
import { MERGE_PATCH, type KubeApi, type KubeRequest } from './kube-api.ts';
import { DEFAULT_KUBE_TIMEOUT_MS } from './kube-deadline.ts';
import { kubeError, kubeStatus } from './kube-error.ts';

export const EVENT_COMPONENT = 'netclaim';
export const EVENT_REPORTING_CONTROLLER = 'netclaim.dev';
/** The API's limits: message (note) 1 KiB, reason 128 characters. */
export const MAX_MESSAGE_BYTES = 1024;
export const MAX_REASON_LENGTH = 128;

export interface EventClaimRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface KubeEventSinkOptions {
  readonly kubeConfig: KubeApi;
  /** source.host and reportingInstance. */
  readonly nodeName: string;
  /** De-duplication window (ms, default 5 min). */
  readonly dedupWindowMs?: number;
  /** Warnings waiting to be written, at most (default 256). */
  readonly maxQueued?: number;
  /** Deadline of one API call (ms, default 5000). */
  readonly timeoutMs?: number;
  readonly onError?: (err: DriverError) => void;
  /** Clock (ms); tests move it. */
  readonly now?: () => number;
}

interface Pending {
  readonly key: string;
  readonly claim: EventClaimRef;
  readonly reason: string;
  readonly message: string;
  readonly firstMs: number;
  lastMs: number;
  occurrences: number;
}

export class KubeEventSink implements EventSink {
  readonly #o: KubeEventSinkOptions;
  readonly #api: KubeApi;
  readonly #correlator: EventCorrelator;
  readonly #now: () => number;
  /** Insertion-ordered; a key leaves when its write starts. */
  readonly #queue = new Map<string, Pending>();
  readonly #stats = { created: 0, patched: 0, folded: 0, dropped: 0, failed: 0 };
  #drain: Promise<void> | undefined;
  #seq = 0;
  #closed = false;

  constructor(o: KubeEventSinkOptions) {
    this.#o = o;
    this.#api = o.kubeConfig;
    this.#correlator = new EventCorrelator(o.dedupWindowMs !== undefined ? { windowMs: o.dedupWindowMs } : {});
    this.#now = o.now ?? Date.now;
  }

  claimWarning(claim: EventClaimRef, reason: string, message: string): void {
    if (this.#closed) {
      this.#stats.dropped++;
      return;
    }
    const reasonText = String(reason).slice(0, MAX_REASON_LENGTH);
    const text = truncateMessage(String(message));
    const key = eventKey(claim.uid, reasonText, text);
    const now = this.#now();
    const queued = this.#queue.get(key);
    if (queued) {
      queued.occurrences++;
      queued.lastMs = now;
      this.#stats.folded++;
      return;
    }
    if (this.#queue.size >= (this.#o.maxQueued ?? 256)) {
      this.#stats.dropped++;
      return;
    }
    this.#queue.set(key, { key, claim: { namespace: claim.namespace, name: claim.name, uid: claim.uid }, reason: reasonText, message: text, firstMs: now, lastMs: now, occurrences: 1 });
    this.#drain ??= this.#run();
  }

  /** Resolves when everything queued so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.#drain) await this.#drain;
  }

  /** Stops accepting warnings, waits up to `graceMs` for the queue, drops the rest. Idempotent. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.#stats.dropped += this.#queue.size;
    this.#queue.clear();
  }

  /** Events created and patched, warnings folded into a queued one, dropped (queue full or closed), failed writes. */
  get stats(): { readonly created: number; readonly patched: number; readonly folded: number; readonly dropped: number; readonly failed: number } {
    return { ...this.#stats };
  }

  async #run(): Promise<void> {
    try {
      for (let next = first(this.#queue); next; next = first(this.#queue)) {
        this.#queue.delete(next.key);
        try {
          await this.#write(next);
        } catch (err) {
          this.#stats.failed++;
          this.#report(kubeError(`event ${next.reason} on resourceclaim ${next.claim.namespace}/${next.claim.name}`, err, { claim: `${next.claim.namespace}/${next.claim.name}`, reason: next.reason }));
        }
      }
    } finally {
      this.#drain = undefined;
    }
  }

  async #write(p: Pending): Promise<void> {
    const c = this.#correlator.decide(p.key, p.lastMs);
    if (c.action === 'patch') {
      const count = c.count + p.occurrences;
      const body = { count, lastTimestamp: rfc3339(p.lastMs) };
      try {
        await this.#call({ method: 'PATCH', path: eventsPath(p.claim.namespace, c.name), body, contentType: MERGE_PATCH });
        this.#correlator.recorded(p.key, c.name, count, p.lastMs);
        this.#stats.patched++;
        return;
      } catch (err) {
        if (kubeStatus(kubeError('patch event', err)) !== 404) throw err;
        this.#correlator.forget(p.key); // expired (event TTL) or deleted: start a new one
      }
    }
    const name = eventName(p.claim.name, p.firstMs, this.#seq++);
    const body = eventBody({ ...p, name, count: p.occurrences, nodeName: this.#o.nodeName });
    await this.#call({ method: 'POST', path: eventsPath(p.claim.namespace), body });
    this.#correlator.recorded(p.key, name, p.occurrences, p.lastMs);
    this.#stats.created++;
  }

  #call(r: KubeRequest): Promise<unknown> {
    return this.#api.request({ ...r, timeoutMs: this.#o.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS });
  }

  #report(e: DriverError): void {
    try {
      this.#o.onError?.(e);
    } catch {
      /* a failing error handler must not stop the queue */
    }
  }
}

function eventsPath(namespace: string, name?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/events${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

function first<V>(m: Map<string, V>): V | undefined {
  return m.values().next().value;
}

export interface EventBodyInput {
  readonly name: string;
  readonly claim: EventClaimRef;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly nodeName: string;
}

/** The core/v1 Event for a claim warning (client model: timestamps as Dates). */
export function eventBody(i: EventBodyInput): CoreV1Event {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: i.name, namespace: i.claim.namespace },
    involvedObject: { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', namespace: i.claim.namespace, name: i.claim.name, uid: i.claim.uid },
    type: 'Warning',
    reason: i.reason,
    message: i.message,
    count: i.count,
    firstTimestamp: new Date(wholeSeconds(i.firstMs)),
    lastTimestamp: new Date(wholeSeconds(i.lastMs)),
    source: { component: EVENT_COMPONENT, host: i.nodeName },
    reportingComponent: EVENT_REPORTING_CONTROLLER,
    reportingInstance: i.nodeName,
  };
}

/**
 * `<claim>.<hex>` like client-go (`%v.%x` of the name and UnixNano); the
 * low bits carry a per-sink sequence number so two warnings in the same
 * millisecond get different names. The claim part is cut so the whole stays
 * a valid DNS subdomain of ≤ 253 characters.
 */
export function eventName(claimName: string, ms: number, seq: number): string {
  const hex = (BigInt(Math.floor(ms)) * 1_000_000n + BigInt(seq % 1_000_000)).toString(16);
  const room = 253 - hex.length - 1;
  const prefix = claimName.length > room ? claimName.slice(0, room).replace(/[-.]+$/, '') : claimName;
  return `${prefix}.${hex}`;
}

/** At most 1 KiB of UTF-8, cut on a character boundary, marked with `…` when cut. */
export function truncateMessage(s: string, maxBytes = MAX_MESSAGE_BYTES): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  const ellipsis = '…';
  let out = '';
  let bytes = Buffer.byteLength(ellipsis);
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > maxBytes) break;
    out += ch;
    bytes += b;
  }
  return out + ellipsis;
}

function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function rfc3339(ms: number): string {
  return new Date(wholeSeconds(ms)).toISOString().replace('.000Z', 'Z');
}
