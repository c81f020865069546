/**
 * Keeps the inventory current. One event loop on rtnetlink multicast (links,
 * addresses, routes, tc filters) plus a short eBPF poll (tcx and bpf_link
 * attachments raise no netlink event) and a slow periodic resync as a safety
 * net. Changes are debounced, rebuilt from a fresh snapshot, and delivered as
 * the full current set plus a diff.
 *
 * Devices whose netdev leaves the host namespace keep their last attributes:
 * PCI NICs always (their function stays), virtual ones while held (`hold()`,
 * used by the driver for devices it moved into a pod).
 */
import { NETLINK_ROUTE } from '../kernel/netlink/constants.ts';
import { NetlinkMonitor } from '../kernel/netlink/monitor.ts';
import { routeEventsOpen, type RouteEvent } from '../kernel/netlink/route/route-events.ts';
import type { Libc } from '../kernel/libc/index.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { buildInventory } from './build.ts';
import { collectSnapshot, type CollectOptions } from './collect.ts';
import { diffInventories, isEmptyDiff, type InventoryDiff } from './diff.ts';
import { ebpfFingerprint } from './ebpf-poll.ts';
import type { Device, Inventory } from './model.ts';
import type { InventoryOptions } from './options.ts';

/** RTNLGRP_TC: qdisc and classic tc filter changes. */
const RTNLGRP_TC = 4;

export interface WatchOptions {
  readonly libc: Libc;
  /** Quiet time after an event before rebuilding (ms, default 25). */
  readonly debounceMs?: number;
  /** Safety-net full resync (ms, default 60 000). */
  readonly resyncMs?: number;
  /** eBPF attachment poll (ms, default 250; 0 disables). */
  readonly ebpfPollMs?: number;
}

export type InventoryListener = (inventory: Inventory, diff: InventoryDiff) => void;

export class InventoryWatcher {
  readonly #h: NetnsHandle;
  readonly #collect: CollectOptions;
  readonly #options: InventoryOptions;
  readonly #watch: Required<WatchOptions>;
  readonly #listeners = new Set<InventoryListener>();
  readonly #held = new Set<string>();
  #current: Inventory | undefined;
  #monitors: NetlinkMonitor<unknown>[] = [];
  #timers: NodeJS.Timeout[] = [];
  #pending: NodeJS.Timeout | undefined;
  #ebpfPrint = '';
  #closed = false;
  #rebuilds = 0;

  constructor(h: NetnsHandle, collect: CollectOptions, options: InventoryOptions, watch: WatchOptions) {
    this.#h = h;
    this.#collect = collect;
    this.#options = options;
    this.#watch = { debounceMs: 25, resyncMs: 60_000, ebpfPollMs: 250, ...watch };
  }

  /** Subscribes to kernel events, then takes the first snapshot (so no change falls in between). */
  start(): Inventory {
    const events = routeEventsOpen(this.#h, { objects: ['link', 'addr', 'route'], libc: this.#watch.libc });
    const tc = new NetlinkMonitor(this.#h, NETLINK_ROUTE, [RTNLGRP_TC], () => true, { libc: this.#watch.libc });
    this.#monitors = [events as NetlinkMonitor<unknown>, tc as NetlinkMonitor<unknown>];
    for (const m of this.#monitors) void this.#pump(m);
    this.#timers.push(setInterval(() => this.rescan('resync'), this.#watch.resyncMs).unref());
    if (this.#watch.ebpfPollMs > 0) this.#timers.push(setInterval(() => this.#pollEbpf(), this.#watch.ebpfPollMs).unref());
    return this.#rebuild();
  }

  /** The current inventory (after `start()`). */
  get current(): Inventory {
    if (!this.#current) throw new Error('InventoryWatcher not started');
    return this.#current;
  }

  /** How many snapshots were taken (for tests and metrics). */
  get rebuilds(): number {
    return this.#rebuilds;
  }

  /** Calls `fn` with the full set and a diff after every change. Returns an unsubscribe function. */
  subscribe(fn: InventoryListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Keeps a device (with its last attributes) while its netdev is away; `release()` undoes it. */
  hold(name: string): void {
    this.#held.add(name);
  }

  release(name: string): void {
    this.#held.delete(name);
    this.rescan('release');
  }

  /** Schedules a rebuild after the debounce interval (events coalesce). */
  rescan(_why: string): void {
    if (this.#closed || this.#pending) return;
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      if (!this.#closed) this.#rebuild();
    }, this.#watch.debounceMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#pending) clearTimeout(this.#pending);
    await Promise.all(this.#monitors.map((m) => m.close()));
    this.#listeners.clear();
  }

  async #pump(m: NetlinkMonitor<unknown>): Promise<void> {
    try {
      for await (const ev of m) {
        if (ev.kind === 'overrun' || relevant(ev.value)) this.rescan(ev.kind);
      }
    } catch {
      // The monitor failed: the periodic resync keeps the inventory correct; try again later.
      if (!this.#closed) this.rescan('monitor-error');
    }
  }

  #pollEbpf(): void {
    if (this.#closed || !this.#current) return;
    const print = ebpfFingerprint(this.#h, this.#current.devices, this.#watch.libc);
    if (print !== this.#ebpfPrint) {
      const first = this.#ebpfPrint === '';
      this.#ebpfPrint = print;
      if (!first) this.rescan('ebpf');
    }
  }

  #rebuild(): Inventory {
    this.#rebuilds++;
    const snapshot = collectSnapshot(this.#h, this.#collect, this.#options);
    const next = this.#keepDevicesAway(buildInventory(snapshot, this.#options));
    const diff = diffInventories(this.#current, next);
    this.#current = next;
    this.#ebpfPrint = ebpfFingerprint(this.#h, next.devices, this.#watch.libc);
    if (!isEmptyDiff(diff)) for (const fn of this.#listeners) fn(next, diff);
    return next;
  }

  /**
   * A device whose netdev left (into a pod) keeps its last link attributes;
   * a held virtual device stays listed even though it vanished here.
   */
  #keepDevicesAway(next: Inventory): Inventory {
    const prev = this.#current;
    if (!prev) return next;
    const before = new Map(prev.devices.map((d) => [d.name as string, d]));
    const devices: Device[] = next.devices.map((d) => {
      const p = before.get(d.name);
      if (d.netdevPresent || !p) return d;
      return { ...d, ...(p.ifName !== undefined ? { ifName: p.ifName } : {}), attributes: { ...p.attributes, ...d.attributes } };
    });
    const names = new Set(devices.map((d) => d.name as string));
    for (const name of this.#held) {
      const p = before.get(name);
      if (p && !names.has(name)) devices.push({ ...p, netdevPresent: false });
    }
    devices.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { ...next, devices };
  }
}

/** Neighbour churn and link-local noise do not change what we publish; everything else may. */
function relevant(ev: unknown): boolean {
  const e = ev as RouteEvent | true;
  if (e === true) return true;
  if (e.object === 'route') return e.route.dst === 'default';
  return e.object === 'link' || e.object === 'addr';
}
