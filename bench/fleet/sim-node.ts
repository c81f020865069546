/**
 * One simulated node: netclaim's real SlicePublisher, composed as the daemon
 * composes it (src/daemon/daemon.ts #startPublisher: start, then update()
 * with every inventory), fed by the real inventory builder over the node
 * shape (its fast form, checked equal to the builder's output by
 * node-shape.test.ts). Only the kernel is simulated: a link event arms a 25 ms rebuild
 * timer, not reset by later events, as InventoryWatcher.rescan does
 * (src/inventory/watcher.ts, default debounceMs), and the rebuild publishes.
 *
 * Each node has its own API client (its own kept connections, like its own
 * daemon process), as the daemon's client keeps them (kube-api.ts) unless
 * `connections: 'per-request'`. Writes are counted at the client (the publisher's
 * counters, kept across restarts) with a timestamp log for rates.
 */
import type { DriverError } from '../../src/common/errors.ts';
import { KubeApi } from '../../src/surfaces/kube/kube-api.ts';
import { pooledConnections, type ConnectionPool } from '../../src/surfaces/kube/kube-connections.ts';
import { SlicePublisher } from '../../src/surfaces/kube/slice-publisher.ts';
import type { WriteBudgetOptions } from '../../src/surfaces/kube/write-budget.ts';
import type { NodeShape } from './node-shape.ts';

/** The watcher's default rebuild delay after the first event (InventoryWatcher debounceMs). */
export const WATCHER_DEBOUNCE_MS = 25;

export interface SimNodeOptions {
  readonly index: number;
  readonly name: string;
  readonly uid: string;
  readonly shape: NodeShape;
  readonly kubeConfig: () => KubeApi;
  readonly driver: string;
  /** undefined: the publisher's default budget. */
  readonly writeBudget?: WriteBudgetOptions;
  readonly onError: (e: DriverError) => void;
  /** Slice layout variants for the allocation comparison (docs/fleet.md, "Slice layout and the scheduler"). */
  readonly layout?: SliceLayout;
  /**
   * `pooled` (default): kept connections per node, as the daemon has (kube-api.ts). `per-request`: a new
   * TLS connection for every request, as @kubernetes/client-node 2.0 made them — what this bench did
   * before, kept for the comparison in docs/fleet.md.
   */
  readonly connections?: 'pooled' | 'per-request';
}

export interface SliceLayout {
  /** `minimal`: only what the bench's claims and checks read (MINIMAL_ATTRIBUTES); default all 22–27. */
  readonly attributes?: 'all' | 'minimal';
  /** The publisher's maxPerSlice (default 128: one slice per node here). */
  readonly maxPerSlice?: number;
}

/** The attributes the allocation claims select on (rdma, pcieRoot) and verify() reads (ifName, state). */
export const MINIMAL_ATTRIBUTES: ReadonlySet<string> = new Set(['resource.kubernetes.io/pcieRoot', 'netclaim.dev/rdma', 'netclaim.dev/ifName', 'netclaim.dev/state']);

export class SimNode {
  readonly #o: SimNodeOptions;
  readonly #down = new Set<number>();
  #publisher: SlicePublisher | undefined;
  #pool: ConnectionPool | undefined;
  #rebuild: NodeJS.Timeout | undefined;
  /** Writes of publishers already closed (restarts). */
  #past = { creates: 0, updates: 0, deletes: 0, deferred: 0 };
  /** Inventory rebuilds handed to the publisher. */
  rebuilds = 0;

  constructor(o: SimNodeOptions) {
    this.#o = o;
  }

  get name(): string { return this.#o.name; }
  get nics(): number { return this.#o.shape.nics.length; }
  get downCount(): number { return this.#down.size; }

  /** As the daemon starts: publisher started (Node UID read, slices listed and watched), then the first inventory. */
  async start(): Promise<void> {
    const made = this.#o.kubeConfig();
    const kubeConfig = this.#o.connections === 'per-request' ? new KubeApi(made.target, { keepAlive: false }) : made;
    this.#pool = pooledConnections(kubeConfig);
    const p = new SlicePublisher({
      kubeConfig, nodeName: this.#o.name, driver: this.#o.driver, onError: this.#o.onError,
      ...(this.#o.writeBudget !== undefined && { writeBudget: this.#o.writeBudget }),
      ...(this.#o.layout?.maxPerSlice !== undefined && { maxPerSlice: this.#o.layout.maxPerSlice }),
    });
    await p.start();
    this.#publisher = p;
    this.#publish();
  }

  /** A daemon restart: the old process stops (its slices stay), a new one starts from nothing. */
  async restart(): Promise<void> {
    await this.close();
    await this.start();
  }

  async close(): Promise<void> {
    clearTimeout(this.#rebuild);
    this.#rebuild = undefined;
    const p = this.#publisher;
    if (!p) return;
    this.#publisher = undefined;
    await p.close();
    await this.#pool?.close();
    this.#pool = undefined;
    const w = p.writes;
    this.#past = { creates: this.#past.creates + w.creates, updates: this.#past.updates + w.updates, deletes: this.#past.deletes + w.deletes, deferred: this.#past.deferred + p.deferred };
  }

  /** A kernel link event on NIC `i`. */
  setLink(i: number, up: boolean): void {
    if (up) this.#down.delete(i);
    else this.#down.add(i);
    this.#rebuild ??= setTimeout(() => {
      this.#rebuild = undefined;
      this.#publish();
    }, WATCHER_DEBOUNCE_MS);
  }

  /** Resolves when everything handed to the publisher is in the API server (after any pending rebuild). */
  async synced(): Promise<void> {
    while (this.#rebuild !== undefined) await new Promise((r) => setTimeout(r, WATCHER_DEBOUNCE_MS));
    await this.#publisher?.synced();
  }

  /** API writes this node made so far (all its publishers). */
  get writes(): number {
    const w = this.#publisher?.writes;
    return this.#past.creates + this.#past.updates + this.#past.deletes + (w ? w.creates + w.updates + w.deletes : 0);
  }

  get deferred(): number {
    return this.#past.deferred + (this.#publisher?.deferred ?? 0);
  }

  get generation(): number { return this.#publisher?.generation ?? 0; }
  /** Slices of the last publish. */
  get slices(): number { return this.#publisher?.slices ?? 0; }

  #publish(): void {
    this.rebuilds++;
    const devices = this.#o.shape.fastDevices(this.#o.index, this.#down);
    this.#publisher!.update(this.#o.layout?.attributes !== 'minimal' ? devices : devices.map((d) => ({
      ...d, attributes: Object.fromEntries(Object.entries(d.attributes).filter(([k]) => MINIMAL_ATTRIBUTES.has(k))),
    })));
  }
}
