/**
 * Keeps the DHCP leases of attached pod interfaces alive for the pods' life
 * (RFC 2131 §4.4.5): at T1 a unicast renew to the server that granted the
 * lease, from T2 a broadcast rebind, at expiry the lease is lost (the
 * kernel drops the address itself then: it carries the lease's lifetime,
 * attach/pod-dhcp.ts); on a DHCPNAK the address is removed at once. A failed attempt is retried after half the time left
 * until T2 (renewing) or expiry (rebinding), at least `minRetryMs` later.
 *
 * One timer for all leases, armed for the earliest due one, so the cost
 * does not grow with pods or packets; each attempt is asynchronous
 * (kernel/dhcp/dhcp-client.ts `dhcpExtend`), at most one per lease at a
 * time. The owner (PodDriver) tracks a lease at attach and untracks it at
 * detach, before it sends the release; a lease untracked while an attempt
 * is in flight is left alone when the attempt ends. After a daemon restart
 * the owner tracks the leases its store records again (Synchronize).
 */
import { dhcpExtend, type ExtendResult } from '../kernel/dhcp/dhcp-client.ts';
import { leaseDeadlines } from '../kernel/dhcp/dhcp-messages.ts';
import type { DhcpLease } from '../kernel/dhcp/dhcp-types.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { linkGetByName } from '../kernel/netlink/route/link-ops.ts';
import { podDhcpApply, podDhcpRemove } from './attach/pod-dhcp.ts';

export interface TrackedLease {
  /** The pod's namespace: its pin when held, else the runtime's path. */
  readonly netns: string;
  /** The interface's name in the pod. */
  readonly ifName: string;
  readonly lease: DhcpLease;
}

export interface DhcpLeasesOptions {
  readonly libc: Libc;
  /** A renewed lease, to record (the claim store) so a restart resumes from it. */
  readonly onRenewed?: (key: string, lease: DhcpLease) => void;
  /** A lease that could not be kept (NAK, expired, the interface or namespace gone). */
  readonly onLost?: (key: string, reason: string) => void;
  /** How long one renew or rebind attempt waits for the server (default 2 s). */
  readonly attemptMs?: number;
  /** The shortest wait before retrying a failed attempt (default 10 s). */
  readonly minRetryMs?: number;
  readonly now?: () => number;
}

interface Entry extends TrackedLease {
  /** When the next attempt is due (ms since the epoch). */
  next: number;
  busy: boolean;
}

export class DhcpLeases {
  readonly #o: DhcpLeasesOptions;
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (Infinity: none armed). */
  #armedFor = Infinity;
  #closed = false;

  constructor(o: DhcpLeasesOptions) {
    this.#o = o;
  }

  /** Starts (or, with a newer lease, restarts) keeping `key`'s lease. */
  track(key: string, t: TrackedLease): void {
    if (this.#closed) return;
    const prev = this.#entries.get(key);
    if (prev !== undefined && prev.lease.boundAt >= t.lease.boundAt && prev.netns === t.netns) return;
    const next = leaseDeadlines(t.lease).t1;
    this.#entries.set(key, { ...t, next, busy: false });
    // Only an earlier deadline than the armed one needs the timer moved (tracking n leases stays O(n)).
    if (next < this.#armedFor) this.#arm();
  }

  /** Stops keeping `key`'s lease; returns it (the owner releases it). */
  untrack(key: string): DhcpLease | undefined {
    const e = this.#entries.get(key);
    this.#entries.delete(key);
    // A timer armed for a lease now gone just fires early and re-arms; none is left once nothing is tracked.
    if (this.#entries.size === 0) this.#disarm();
    return e?.lease;
  }

  get(key: string): DhcpLease | undefined {
    return this.#entries.get(key)?.lease;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** True while a timer is armed (at most one, whatever the number of leases). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Attempts every lease now, as if its T1 had come (tests; an operator's nudge). Resolves when they are done. */
  async renewAll(): Promise<void> {
    await Promise.all([...this.#entries].filter(([, e]) => !e.busy).map(([k, e]) => this.#attempt(k, e)));
  }

  /** Stops renewing; the leases stay (recorded by the owner) for the next start. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#entries.clear();
    this.#disarm();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #arm(): void {
    this.#disarm();
    if (this.#closed) return;
    let earliest = Infinity;
    for (const e of this.#entries.values()) if (!e.busy && e.next < earliest) earliest = e.next;
    if (earliest === Infinity) return;
    // setTimeout holds at most 2^31-1 ms; a later deadline re-arms when this fires.
    const wait = Math.min(Math.max(0, earliest - this.#now()), 2 ** 31 - 1);
    this.#armedFor = this.#now() + wait;
    this.#timer = setTimeout(() => this.#tick(), wait);
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#now();
    for (const [key, e] of this.#entries) if (!e.busy && e.next <= now) void this.#attempt(key, e);
    this.#arm();
  }

  async #attempt(key: string, e: Entry): Promise<void> {
    e.busy = true;
    const d = leaseDeadlines(e.lease);
    const mode = this.#now() >= d.t2 ? 'rebind' : 'renew';
    let result: ExtendResult | { kind: 'error'; message: string };
    let pod: NetnsHandle | undefined;
    let index = 0;
    try {
      pod = NetnsHandle.open(e.netns, { libc: this.#o.libc });
      index = linkGetByName(pod, e.ifName).index;
      result = await dhcpExtend({ netns: pod, ifIndex: index, mac: e.lease.mac, libc: this.#o.libc, lease: e.lease, mode, waitMs: this.#o.attemptMs ?? 2000 });
    } catch (err) {
      result = { kind: 'error', message: err instanceof Error ? err.message : String(err) };
    }
    try {
      if (this.#entries.get(key) !== e) return; // untracked (detached) meanwhile: nothing more to do
      e.busy = false;
      if (result.kind === 'ack') {
        podDhcpApply(pod!, index, result.lease);
        this.#entries.set(key, { ...e, lease: result.lease, next: leaseDeadlines(result.lease).t1 });
        this.#o.onRenewed?.(key, result.lease);
        return;
      }
      if (result.kind === 'nak') {
        // RFC 2131 §4.4.5: on a DHCPNAK the client stops using the address at once.
        const gone = podDhcpRemove(pod!, index, e.lease);
        return this.#lose(key, `the server refused to extend ${e.lease.address} (${result.message}); ${gone}`);
      }
      const now = this.#now();
      if (now >= d.expiry) {
        const why = result.kind === 'error' ? result.message : `no answer to ${mode}`;
        return this.#lose(key, `lease of ${e.lease.address} expired (${why}); the kernel removed the address`);
      }
      const target = now < d.t2 ? d.t2 : d.expiry;
      e.next = Math.min(target, now + Math.max(this.#o.minRetryMs ?? 10_000, (target - now) / 2));
    } catch (err) {
      this.#lose(key, `applying the renewed lease of ${e.lease.address}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      pod?.close();
      this.#arm();
    }
  }

  #lose(key: string, reason: string): void {
    this.#entries.delete(key);
    this.#o.onLost?.(key, reason);
  }
}
