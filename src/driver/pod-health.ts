/**
 * Health of the devices that are in pods (the host cannot see them; the
 * inventory marks them away). For every claim whose attach journal says
 * `attached`, the pod's namespace is opened (through its pin when one is
 * held, netns-pins.ts) and watched:
 *
 *   links      an rtnetlink socket opened inside that namespace, joined to
 *              RTNLGRP_LINK: the kernel queues a carrier or operstate change
 *              of the device on it (a veth whose host-side peer goes down, a
 *              macvlan whose lower device loses its link), and every
 *              `eventMs` (default 100) the queues of all pods are drained
 *              without blocking (kernel/netlink/event-queue.ts: no reader
 *              parked on a libuv pool thread per pod, which would starve
 *              the pool on a node with many pods)
 *   RDMA ports polled every `pollMs` (RDMA netlink sends no port events):
 *              inside the pod's namespace in RDMA netns mode `exclusive`, on
 *              the host in `shared` mode
 *   counters   every `counterMs` (default 5000): the netdev's error counters
 *              (RTM_GETLINK with statistics, in the pod's namespace) and the
 *              RDMA ports' sysfs counters; a rising error rate makes the
 *              device unhealthy (pod-health-counters.ts)
 *
 * Every `pollMs` the watches are also reconciled with the store (a claim
 * attached or given back, by this instance or another) and every device is
 * re-read, so a lost event costs at most one period. The pod driver's hooks
 * call `sync()` as well, so a watch starts as soon as a pod has its devices.
 *
 * A watch never keeps a pod's namespace alive on its own: without a pin, the
 * namespace the runtime named must still be the one the watch holds, or the
 * watch closes (the kernel returns physical devices only when the last
 * reference to a dead namespace goes).
 */
import { statSync } from 'node:fs';
import { NotFoundError } from '../common/errors.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { linkEventQueueOpen, type NetlinkEventQueue } from '../kernel/netlink/event-queue.ts';
import { rdmaPortList } from '../kernel/netlink/rdma/rdma-ops.ts';
import type { RdmaPort } from '../kernel/netlink/rdma/rdma-types.ts';
import { linkGet } from '../kernel/netlink/route/link-ops.ts';
import { linkCountersGet } from '../kernel/netlink/route/link-stats.ts';
import { rdmaPortCountersRead } from '../kernel/sysfs/rdma-counters.ts';
import { isNetnsFile } from '../kernel/netns/netns-pin.ts';
import type { RouteEvent } from '../kernel/netlink/route/route-events.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { counterSample, counterVerdict, DEFAULT_COUNTER_RULE, emptyHistory, type CounterHistory, type CounterRule } from './pod-health-counters.ts';
import { podDeviceHealth, sameHealth, type PodDeviceHealth, type PodDeviceReading } from './pod-health-rules.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './record-model.ts';

export type { PodDeviceHealth } from './pod-health-rules.ts';

export interface PodHealthOptions {
  readonly store: { list(): readonly ClaimRecord[] };
  readonly host: NetnsHandle;
  readonly libc: Libc;
  /** RDMA devices live in the pod's namespace (RDMA netns mode `exclusive`). */
  readonly rdmaExclusive: () => boolean;
  /** Whether a pin holds a namespace (default: a namespace is mounted there, as NetnsPins.held). */
  readonly pins?: { held(path: string): boolean };
  /** RDMA port poll, re-read and store reconcile period (ms, default 1000). */
  readonly pollMs?: number;
  /** How often the link event queues are drained (ms, default 100): the most a link change waits. */
  readonly eventMs?: number;
  /** How often error counters are sampled (ms, default 5000); checked on the `pollMs` tick. */
  readonly counterMs?: number;
  /** When rising error counters make a device unhealthy (default DEFAULT_COUNTER_RULE). */
  readonly counterRule?: CounterRule;
  /** The sysfs mount for RDMA port counters (default /sys). */
  readonly sysfsRoot?: string;
  /** The clock for counter windows (ms; default Date.now). */
  readonly now?: () => number;
  /** A watch that could not be opened or read (its devices turn unknown). */
  readonly onError?: (err: unknown, claimUid: string) => void;
}

/** The live health of devices in pods, by device name. */
export interface PodHealthSource {
  get(device: string): PodDeviceHealth | undefined;
  onChange(cb: () => void): () => void;
}

interface Watched {
  readonly plan: DevicePlan;
  readonly attached: AttachedDevice;
}

/** One pod namespace watched for one claim. */
class ClaimWatch {
  readonly key: string;
  readonly devices: readonly Watched[];
  readonly #netns: string;
  readonly #pinned: boolean;
  readonly #handle: NetnsHandle;
  readonly #events: NetlinkEventQueue<RouteEvent>;
  readonly #links = new Map<number, Link | 'missing'>();
  /** Error counter history by device: only the claim's devices, only while the watch lives (re-attach starts afresh). */
  readonly #counters = new Map<string, CounterHistory>();

  constructor(record: ClaimRecord, key: string, o: PodHealthOptions) {
    const a = record.attachment!;
    this.key = key;
    this.#netns = a.netns;
    this.#pinned = a.pin !== undefined && (o.pins?.held(a.pin) ?? isNetnsFile(a.pin));
    this.devices = a.devices.flatMap((d) => {
      const plan = record.devices.find((p) => p.device === d.device);
      return plan === undefined ? [] : [{ plan, attached: d }];
    });
    this.#handle = NetnsHandle.open(this.#pinned ? a.pin! : a.netns, { libc: o.libc });
    let events: NetlinkEventQueue<RouteEvent> | undefined;
    try {
      // Joined before the first read: a change in between is both read and queued, never lost.
      this.#events = events = linkEventQueueOpen(this.#handle, o.libc);
      this.readLinks();
    } catch (err) {
      events?.close();
      this.#handle.close();
      throw err;
    }
  }

  /** Applies the link events queued since the last drain; true when one concerned a device of the claim. */
  drain(): boolean {
    const { events, overrun } = this.#events.drain();
    if (overrun) {
      this.readLinks();
      return true;
    }
    let changed = false;
    for (const ev of events) {
      if (ev.object !== 'link' || !this.#links.has(ev.link.index)) continue;
      this.#links.set(ev.link.index, ev.action === 'del' ? 'missing' : ev.link);
      changed = true;
    }
    return changed;
  }

  /** Whether the namespace is still the pod's: pinned, or the runtime's path still names the namespace held. */
  current(): boolean {
    if (this.#pinned) return true;
    try {
      return statSync(this.#netns, { bigint: true }).ino === this.#handle.inode;
    } catch {
      return false;
    }
  }

  /**
   * Re-reads every netdev of the claim in the pod's namespace. What is
   * queued is dropped first: those events are older than this read, and
   * the ones queued after it, applied in order, end at the current state.
   */
  readLinks(): void {
    this.#events.drain();
    for (const { attached } of this.devices) {
      if (attached.kind === 'rdma') continue;
      this.#links.set(attached.ifIndex, readLink(this.#handle, attached.ifIndex));
    }
  }

  /**
   * Samples every device's error counters: the netdev's in the pod's
   * namespace, its RDMA device's ports (summed over ports, `rdma:` and
   * `rdma-hw:` prefixed) from sysfs. A device whose counters cannot be read
   * keeps its history; the state checks still cover it.
   */
  sampleCounters(now: number, rule: CounterRule, sysfsRoot: string | undefined): void {
    for (const { plan, attached } of this.devices) {
      const values = new Map<string, number>();
      try {
        if (attached.kind !== 'rdma') for (const [k, v] of Object.entries(linkCountersGet(this.#handle, attached.ifIndex))) values.set(k, v);
      } catch {
        continue; // gone or unreadable: the link read reports it
      }
      const rdma = plan.rdma?.device;
      if (rdma !== undefined) {
        for (const p of rdmaPortCountersRead(rdma, sysfsRoot)) {
          for (const [k, v] of Object.entries(p.counters)) values.set(`rdma:${k}`, (values.get(`rdma:${k}`) ?? 0) + v);
          for (const [k, v] of Object.entries(p.hw)) values.set(`rdma-hw:${k}`, (values.get(`rdma-hw:${k}`) ?? 0) + v);
        }
      }
      let h = this.#counters.get(plan.device);
      if (h === undefined) this.#counters.set(plan.device, h = emptyHistory());
      counterSample(h, now, values, rule);
    }
  }

  /** The last counter values read, by device. */
  counterValues(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return new Map([...this.#counters].map(([d, h]) => [d, h.last]));
  }

  readings(host: NetnsHandle, exclusive: boolean, now: number, rule: CounterRule): Map<string, PodDeviceReading> {
    const out = new Map<string, PodDeviceReading>();
    let ports: RdmaPort[] | undefined;
    for (const { plan, attached } of this.devices) {
      const rdmaDevice = plan.rdma?.device;
      if (rdmaDevice !== undefined) ports ??= rdmaPortList(exclusive ? this.#handle : host);
      const history = this.#counters.get(plan.device);
      const counterProblem = history === undefined ? undefined : counterVerdict(attached.name, history, now, rule);
      out.set(plan.device, {
        name: attached.name,
        ...(counterProblem === undefined ? {} : { counterProblem }),
        ...(attached.kind === 'rdma' ? {} : { link: this.#links.get(attached.ifIndex) ?? 'missing' }),
        ...(rdmaDevice === undefined ? {} : { rdma: { device: rdmaDevice, ports: ports!.filter((p) => p.devName === rdmaDevice) } }),
      });
    }
    return out;
  }

  close(): void {
    this.#events.close();
    this.#handle.close();
  }
}

function readLink(h: NetnsHandle, index: number): Link | 'missing' {
  try {
    return linkGet(h, index);
  } catch (err) {
    if (err instanceof NotFoundError) return 'missing';
    throw err;
  }
}

export class PodHealthWatch implements PodHealthSource {
  readonly #o: PodHealthOptions;
  readonly #watches = new Map<string, ClaimWatch>();
  readonly #health = new Map<string, PodDeviceHealth>();
  readonly #listeners = new Set<() => void>();
  readonly #timer: NodeJS.Timeout;
  #drainTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #countersAt = -Infinity;

  constructor(o: PodHealthOptions) {
    this.#o = o;
    this.#timer = setInterval(() => { this.#tick(); }, o.pollMs ?? 1000);
    this.#timer.unref();
    this.sync();
  }

  /** Drains every watch's link events; re-evaluates when one changed. */
  drainEvents(): void {
    let changed = false;
    for (const [uid, w] of this.#watches) {
      try {
        changed = w.drain() || changed;
      } catch (err) {
        this.#o.onError?.(err, uid); // the periodic re-read still covers the links
      }
    }
    if (changed) this.#evaluate();
  }

  get(device: string): PodDeviceHealth | undefined {
    return this.#health.get(device);
  }

  /** Every device in a pod with its health (for `netclaim status` and tests). */
  get devices(): ReadonlyMap<string, PodDeviceHealth> {
    return this.#health;
  }

  /** The last error counter values of every device in a pod (metrics, `netclaim status`). */
  counters(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    const out = new Map<string, ReadonlyMap<string, number>>();
    for (const w of this.#watches.values()) for (const [d, v] of w.counterValues()) out.set(d, v);
    return out;
  }

  onChange(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** Opens watches for attached claims and closes those of claims given back; re-evaluates. */
  sync(): void {
    if (this.#closed) return;
    const failed = new Map<string, PodDeviceHealth>();
    const live = new Set<string>();
    for (const r of this.#o.store.list()) {
      const a = r.attachment;
      if (a?.state !== 'attached') continue;
      const key = `${a.sandboxId}|${a.netns}|${a.pin ?? ''}|${a.at}`;
      live.add(r.claim.uid);
      const w = this.#watches.get(r.claim.uid);
      if (w !== undefined && w.key === key && w.current()) continue;
      w?.close();
      this.#watches.delete(r.claim.uid);
      try {
        const next = new ClaimWatch(r, key, this.#o);
        next.sampleCounters(this.#now(), this.#rule, this.#o.sysfsRoot); // the base: what happened before this watch never counts
        if (next.current()) this.#watches.set(r.claim.uid, next);
        else next.close(); // the runtime's namespace is gone and no pin holds it
      } catch (err) {
        this.#o.onError?.(err, r.claim.uid);
        const message = `the pod's network namespace cannot be read: ${err instanceof Error ? err.message : String(err)}`;
        for (const d of a.devices) failed.set(d.device, { health: 'unknown', message });
      }
    }
    for (const [uid, w] of this.#watches) {
      if (live.has(uid)) continue;
      w.close();
      this.#watches.delete(uid);
    }
    // The fast drain runs only while there is something to drain.
    if (this.#watches.size > 0 && this.#drainTimer === undefined) {
      this.#drainTimer = setInterval(() => { this.drainEvents(); }, this.#o.eventMs ?? 100);
      this.#drainTimer.unref();
    } else if (this.#watches.size === 0 && this.#drainTimer !== undefined) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
    }
    this.#evaluate(failed);
  }

  /** Stops every watch; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#drainTimer);
    for (const w of this.#watches.values()) w.close();
    this.#watches.clear();
    this.#listeners.clear();
  }

  #tick(): void {
    const now = this.#now();
    const sample = now - this.#countersAt >= (this.#o.counterMs ?? 5000);
    if (sample) this.#countersAt = now;
    for (const w of this.#watches.values()) {
      try {
        w.readLinks();
        if (sample) w.sampleCounters(now, this.#rule, this.#o.sysfsRoot);
      } catch (err) {
        this.#o.onError?.(err, w.key);
      }
    }
    this.sync();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  get #rule(): CounterRule {
    return this.#o.counterRule ?? DEFAULT_COUNTER_RULE;
  }

  #evaluate(extra: ReadonlyMap<string, PodDeviceHealth> = new Map()): void {
    if (this.#closed) return;
    const next = new Map(extra);
    const exclusive = this.#o.rdmaExclusive();
    const now = this.#now();
    for (const [uid, w] of this.#watches) {
      let readings: Map<string, PodDeviceReading>;
      try {
        readings = w.readings(this.#o.host, exclusive, now, this.#rule);
      } catch (err) {
        this.#o.onError?.(err, uid);
        const message = `cannot read the device state: ${err instanceof Error ? err.message : String(err)}`;
        for (const d of w.devices) next.set(d.plan.device, { health: 'unknown', message });
        continue;
      }
      for (const [device, r] of readings) next.set(device, podDeviceHealth(r));
    }
    const changed = next.size !== this.#health.size || [...next].some(([k, v]) => !sameHealth(v, this.#health.get(k)));
    if (!changed) return;
    this.#health.clear();
    for (const [k, v] of next) this.#health.set(k, v);
    for (const cb of this.#listeners) cb();
  }
}
