/**
 * Keeps the inventory current. One event loop on rtnetlink multicast (links,
 * addresses, routes, tc filters) plus a short eBPF poll (tcx and bpf_link
 * attachments raise no netlink event) and a slow periodic resync as a safety
 * net. Changes are debounced, rebuilt from a fresh snapshot, and delivered as
 * the full current set plus a diff.
 *
 * Devices netclaim holds (`hold()`, called by the driver for every device
 * of a prepared claim) stay published while their netdev is in a pod, with
 * their last known attributes. Those attributes are kept in a HeldDeviceStore
 * (a file in the state directory), so a restarted daemon publishes them from
 * its first slice: hold the stored claims' devices before `start()`.
 */
import { isDeepStrictEqual } from 'node:util';
import { isDriverError } from '../common/errors.ts';
import { NETLINK_ROUTE } from '../kernel/netlink/constants.ts';
import { NetlinkMonitor } from '../kernel/netlink/monitor.ts';
import { routeEventsOpen, type RouteEvent } from '../kernel/netlink/route/route-events.ts';
import type { Libc } from '../kernel/libc/index.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { buildInventory } from './build.ts';
import { collectSnapshot, type CollectOptions } from './collect.ts';
import { diffInventories, isEmptyDiff, type InventoryDiff } from './diff.ts';
import { ebpfFingerprint } from './ebpf-poll.ts';
import type { DeviceName, PciAddress } from '../common/ids.ts';
import type { AttributeProvider, Device, DeviceKind, ExtraAttributes, Inventory, InventorySnapshot, SuggestConfig } from './model.ts';
import type { InventoryOptions } from './options.ts';

/** How often an interrupted dump is taken again before the rebuild counts as failed. */
const DUMP_ATTEMPTS = 5;

/** RTNLGRP_TC: qdisc and classic tc filter changes. */
const RTNLGRP_TC = 4;

/** Where the last known form of held devices survives a restart. */
export interface HeldDeviceStore {
  load(): readonly Device[];
  save(devices: readonly Device[]): void;
}

/** What the driver knows of a held device from its claim record, for when nothing better is known. */
export interface HeldHint {
  readonly kind?: string;
  readonly ifName?: string;
  readonly pciAddress?: string;
  readonly rdmaDevice?: string;
}

export interface WatchOptions {
  readonly libc: Libc;
  readonly heldStore?: HeldDeviceStore;
  /** Quiet time after an event before rebuilding (ms, default 25). */
  readonly debounceMs?: number;
  /** Safety-net full resync (ms, default 60 000). */
  readonly resyncMs?: number;
  /** eBPF attachment poll (ms, default 250; 0 disables). */
  readonly ebpfPollMs?: number;
  /**
   * Attributes from outside the kernel (a cloud provider, src/inventory/cloud): read from its
   * cache on every rebuild, and a rebuild whenever its values change. Its lifecycle is the caller's.
   */
  readonly provider?: AttributeProvider;
  /** A rebuild failed (it is retried with backoff; the last inventory stays): for logs and metrics. */
  readonly onError?: (err: unknown) => void;
}

export type InventoryListener = (inventory: Inventory, diff: InventoryDiff) => void;

export class InventoryWatcher {
  readonly #h: NetnsHandle;
  readonly #collect: CollectOptions;
  readonly #options: InventoryOptions;
  readonly #watch: Required<Omit<WatchOptions, 'heldStore' | 'provider' | 'onError'>> & Pick<WatchOptions, 'onError'>;
  readonly #provider: AttributeProvider | undefined;
  #providerOff: (() => void) | undefined;
  readonly #heldStore: HeldDeviceStore | undefined;
  #persisted: Map<string, Device> | undefined;
  readonly #listeners = new Set<InventoryListener>();
  /** Held device name → its last known form (a stub from the driver's hint until it is seen). */
  readonly #held = new Map<string, Device>();
  #current: Inventory | undefined;
  #monitors: NetlinkMonitor<unknown>[] = [];
  #timers: NodeJS.Timeout[] = [];
  #pending: NodeJS.Timeout | undefined;
  #ebpfPrint = '';
  #closed = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #rebuilds = 0;

  constructor(h: NetnsHandle, collect: CollectOptions, options: InventoryOptions, watch: WatchOptions) {
    this.#h = h;
    this.#collect = collect;
    this.#options = options;
    const { heldStore, provider, ...timing } = watch;
    this.#watch = { debounceMs: 25, resyncMs: 60_000, ebpfPollMs: 250, ...timing };
    this.#heldStore = heldStore;
    this.#provider = provider;
  }

  /** Subscribes to kernel events, then takes the first snapshot (so no change falls in between). */
  start(): Inventory {
    const events = routeEventsOpen(this.#h, { objects: ['link', 'addr', 'route'], libc: this.#watch.libc });
    const tc = new NetlinkMonitor(this.#h, NETLINK_ROUTE, [RTNLGRP_TC], () => true, { libc: this.#watch.libc });
    this.#monitors = [events as NetlinkMonitor<unknown>, tc as NetlinkMonitor<unknown>];
    for (const m of this.#monitors) void this.#pump(m);
    this.#timers.push(setInterval(() => this.rescan('resync'), this.#watch.resyncMs).unref());
    if (this.#watch.ebpfPollMs > 0) this.#timers.push(setInterval(() => this.#pollEbpf(), this.#watch.ebpfPollMs).unref());
    this.#providerOff = this.#provider?.onChange(() => this.rescan('provider'));
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

  /**
   * Keeps a device published (with its last attributes) while netclaim holds it, its netdev
   * in a pod or gone with the pod's namespace; `release()` undoes it. Before `start()`, the
   * stored form from the last run is used; `hint` (from the claim record) stands in when
   * there is none.
   */
  hold(name: string, hint: HeldHint = {}): void {
    if (this.#held.has(name)) return;
    const known = this.#current?.devices.find((d) => d.name === name) ?? this.#loadPersisted().get(name) ?? stub(name, hint);
    this.#held.set(name, known);
    this.#saveHeld();
  }

  release(name: string): void {
    if (!this.#held.delete(name)) return;
    this.#saveHeld();
    this.rescan('release');
  }

  /** The names netclaim holds. */
  get held(): readonly string[] {
    return [...this.#held.keys()];
  }

  /** Schedules a rebuild after the debounce interval (events coalesce). */
  rescan(_why: string): void {
    if (this.#closed || this.#pending) return;
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      if (this.#closed) return;
      try {
        this.#rebuild();
        this.#failures = 0;
      } catch (err) {
        // A failed rebuild (the kernel busy, a table changing faster than dumps finish) never takes
        // the daemon down: the last inventory stays published and the rebuild is tried again later.
        this.#failures++;
        this.#watch.onError?.(err);
        this.#retry = setTimeout(() => { this.#retry = undefined; this.rescan('retry'); }, Math.min(this.#watch.resyncMs, this.#watch.debounceMs * 2 ** Math.min(this.#failures, 10))).unref();
      }
    }, this.#watch.debounceMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#pending) clearTimeout(this.#pending);
    if (this.#retry) clearTimeout(this.#retry);
    this.#providerOff?.();
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
    let print: string;
    try {
      print = ebpfFingerprint(this.#h, this.#current.devices, this.#watch.libc);
    } catch (err) {
      // A device gone between the rebuild and the poll, a busy kernel: the next rebuild sees it.
      this.#watch.onError?.(err);
      this.rescan('ebpf-error');
      return;
    }
    if (print !== this.#ebpfPrint) {
      const first = this.#ebpfPrint === '';
      this.#ebpfPrint = print;
      if (!first) this.rescan('ebpf');
    }
  }

  #rebuild(): Inventory {
    this.#rebuilds++;
    const snapshot = this.#snapshot();
    const next = buildInventory(snapshot, this.#options, [...this.#held.values()], this.#extra(), this.#suggest());
    const diff = diffInventories(this.#current, next);
    this.#current = next;
    this.#refreshHeld(next);
    this.#ebpfPrint = ebpfFingerprint(this.#h, next.devices, this.#watch.libc);
    if (!isEmptyDiff(diff)) for (const fn of this.#listeners) fn(next, diff);
    return next;
  }

  /** The provider's cached attributes in this watcher's naming (never waits for the provider). */
  #extra(): ExtraAttributes | undefined {
    const p = this.#provider;
    return p ? (d) => p.attributesFor(d, this.#options.naming) : undefined;
  }

  /** The provider's cached default configs, if it offers them. */
  #suggest(): SuggestConfig | undefined {
    const p = this.#provider;
    return p?.suggestedConfig ? (d) => p.suggestedConfig!(d) : undefined;
  }

  /**
   * A snapshot; a dump the kernel marks interrupted (NLM_F_DUMP_INTR: the table changed while it was
   * read, e.g. a thousand links added at once) is taken again, as iproute2 does, a few times.
   */
  #snapshot(): InventorySnapshot {
    for (let attempt = 1; ; attempt++) {
      try {
        return collectSnapshot(this.#h, this.#collect, this.#options);
      } catch (err) {
        if (attempt >= DUMP_ATTEMPTS || !isDriverError(err) || err.code !== 'KERNEL_DUMP_INTERRUPTED') throw err;
      }
    }
  }

  /** Held devices take their newest published form (saved when it changed). */
  #refreshHeld(inv: Inventory): void {
    let changed = false;
    for (const d of inv.devices) {
      const before = this.#held.get(d.name);
      if (before === undefined || isDeepStrictEqual(before, d)) continue;
      this.#held.set(d.name, d);
      changed = true;
    }
    if (changed) this.#saveHeld();
  }

  #loadPersisted(): Map<string, Device> {
    this.#persisted ??= new Map((this.#heldStore?.load() ?? []).map((d) => [d.name as string, d]));
    return this.#persisted;
  }

  #saveHeld(): void {
    this.#heldStore?.save([...this.#held.values()]);
  }
}

/** A held device known only from the claim record: published with whatever is still readable. */
function stub(name: string, hint: HeldHint): Device {
  const kind: DeviceKind = isDeviceKind(hint.kind) ? hint.kind : hint.pciAddress !== undefined ? 'pci' : hint.ifName !== undefined ? 'virtual' : 'rdma';
  return {
    name: name as DeviceName, kind, attributes: {}, dropped: [], charDevices: [], netdevPresent: false, held: true,
    ...(hint.ifName !== undefined ? { ifName: hint.ifName } : {}),
    ...(hint.pciAddress !== undefined ? { pciAddress: hint.pciAddress as PciAddress } : {}),
    ...(hint.rdmaDevice !== undefined ? { rdmaDevice: hint.rdmaDevice } : {}),
  };
}

function isDeviceKind(k: string | undefined): k is DeviceKind {
  return k === 'pci' || k === 'vf' || k === 'virtual' || k === 'rdma' || k === 'synthetic';
}

/** Neighbour churn and link-local noise do not change what we publish; everything else may. */
function relevant(ev: unknown): boolean {
  const e = ev as RouteEvent | true;
  if (e === true) return true;
  if (e.object === 'route') return e.route.dst === 'default';
  return e.object === 'link' || e.object === 'addr';
}
