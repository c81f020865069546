/**
 * Pure ResourceSlice planning: from a device list to the resource.k8s.io/v1
 * ResourceSlice objects of one node's pool. No I/O, so every packing and
 * naming decision is tested without an API server (slices.test.ts).
 *
 * Packing rule: devices are sorted by name (code units, not locale) and cut
 * into consecutive chunks of `maxPerSlice`; the device at sorted position i
 * goes to slice floor(i / maxPerSlice), named `<node>-<driver>-<i>`. So a
 * device keeps its slice while the number of devices that sort before it
 * stays in the same chunk: adding devices after it, changing attributes or
 * taints never moves it. We do not keep devices "sticky" across deeper
 * reshuffles because any change of the device set bumps the pool generation,
 * which rewrites every slice anyway: stickiness would save no API writes.
 */
import { DriverError } from '../../common/errors.ts';
import { hasListAttribute, isDnsLabel, isDriverName, type Attributes } from '../../inventory/attributes/limits.ts';

/** resource.k8s.io/v1 limits (k8s.io/api resource/v1 ResourceSliceMaxDevices…). */
export const MAX_DEVICES_PER_SLICE = 128;
/** The limit when any device of the slice has taints. */
export const MAX_DEVICES_PER_SLICE_WITH_TAINTS = 64;
const MAX_NAME = 253;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const isDnsSubdomain = (s: string): boolean => s.length <= MAX_NAME && DNS_SUBDOMAIN.test(s);

export interface DeviceTaint {
  /** A label name, e.g. `netclaim.dev/unhealthy`. */
  readonly key: string;
  /** A label value (≤ 63). */
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'NoExecute' | 'None';
  /** Server-defaulted; kept when an existing taint is republished. */
  readonly timeAdded?: string;
}

/** One entry of `spec.devices`, as sent to the API. */
export interface SliceDevice {
  readonly name: string;
  readonly attributes: Attributes;
  readonly taints?: readonly DeviceTaint[];
  /** A shareable parent (docs/sharing.md): allocatable to many claims at once (gate DRAConsumableCapacity). */
  readonly allowMultipleAllocations?: boolean;
  /** Qualified name → DeviceCapacity; each counts against the 32 attributes + capacities of a device. */
  readonly capacity?: Readonly<Record<string, SliceCapacity>>;
  /** KEP-4815 (gate DRAPartitionableDevices): counters taken from the pool's counter sets while allocated (at most 2 sets). */
  readonly consumesCounters?: readonly CounterConsumption[];
}

/** `DeviceCounterConsumption`: counter name → quantity, from one counter set of the pool. */
export interface CounterConsumption {
  readonly counterSet: string;
  readonly counters: Readonly<Record<string, { readonly value: string }>>;
}

/** `CounterSet`: published in a slice of its own (a slice has devices or sharedCounters, never both). */
export interface CounterSet {
  readonly name: string;
  readonly counters: Readonly<Record<string, { readonly value: string }>>;
}

/** resource.k8s.io/v1 ResourceSliceMaxCounterSets. */
export const MAX_COUNTER_SETS_PER_SLICE = 8;

/** `DeviceCapacity`: quantities as strings (resource.Quantity's JSON form). */
export interface SliceCapacity {
  readonly value: string;
  readonly requestPolicy?: {
    readonly default?: string;
    readonly validValues?: readonly string[];
    readonly validRange?: { readonly min: string; readonly max?: string; readonly step?: string };
  };
}

/**
 * The capacity a shareable parent publishes: `<driver>/subInterfaces`, its
 * maximum number of sub-interfaces, each claim consuming exactly one (a
 * request for more is not allocatable: validRange 1..1). This is what
 * Prepare enforces; nothing else (bandwidth) is published.
 */
export const SUB_INTERFACES_CAPACITY = 'subInterfaces';

export function sharingSliceFields(driver: string, sharing: { readonly maxSubInterfaces: number } | undefined): Pick<SliceDevice, 'allowMultipleAllocations' | 'capacity'> {
  if (sharing === undefined) return {};
  return {
    allowMultipleAllocations: true,
    capacity: {
      [`${driver}/${SUB_INTERFACES_CAPACITY}`]: {
        value: String(sharing.maxSubInterfaces),
        requestPolicy: { default: '1', validRange: { min: '1', max: '1' } },
      },
    },
  };
}

export interface ResourcePool {
  readonly name: string;
  readonly generation: number;
  readonly resourceSliceCount: number;
}

export interface ResourceSliceSpec {
  readonly driver: string;
  readonly nodeName: string;
  readonly pool: ResourcePool;
  /** Empty in a counter slice (and then left out on the wire: slice-codec.ts). */
  readonly devices: readonly SliceDevice[];
  readonly sharedCounters?: readonly CounterSet[];
}

export interface NodeOwnerReference {
  readonly apiVersion: 'v1';
  readonly kind: 'Node';
  readonly name: string;
  readonly uid: string;
  readonly controller: true;
}

/** A desired ResourceSlice (wire JSON shape, `int` attributes). */
export interface ResourceSlice {
  readonly apiVersion: 'resource.k8s.io/v1';
  readonly kind: 'ResourceSlice';
  readonly metadata: { readonly name: string; readonly ownerReferences: readonly NodeOwnerReference[] };
  readonly spec: ResourceSliceSpec;
}

export interface PlanOptions {
  readonly driver: string;
  readonly nodeName: string;
  /** The Node's UID, for the owner reference (slices are garbage-collected with their Node). */
  readonly nodeUid: string;
  /** Default: the node name, as DraNet and the kubelet helper do. */
  readonly poolName?: string;
  readonly generation: number;
  /** Default 128, or 64 when any device has taints; never above the API limit that applies. */
  readonly maxPerSlice?: number;
}

/** The slices of one pool, in index order. Throws KUBE_SLICE_INVALID for input the API would refuse. */
export function planSlices(devices: readonly SliceDevice[], o: PlanOptions): ResourceSlice[] {
  checkNames(o);
  const sorted = [...devices].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  checkDevices(sorted);
  const max = sliceLimit(sorted, o.maxPerSlice);
  const chunks: SliceDevice[][] = [];
  for (let i = 0; i < sorted.length; i += max) chunks.push(sorted.slice(i, i + max).map(apiDevice));
  // An empty pool is still published as one empty slice: "no devices" differs from "no pool".
  if (chunks.length === 0) chunks.push([]);
  // Counter sets after the devices, 8 per slice: a slice has devices or sharedCounters, never both.
  const sets = counterSets(sorted);
  const setChunks: CounterSet[][] = [];
  for (let i = 0; i < sets.length; i += MAX_COUNTER_SETS_PER_SLICE) setChunks.push(sets.slice(i, i + MAX_COUNTER_SETS_PER_SLICE));
  const pool = { name: o.poolName ?? o.nodeName, generation: o.generation, resourceSliceCount: chunks.length + setChunks.length };
  const owner: NodeOwnerReference = { apiVersion: 'v1', kind: 'Node', name: o.nodeName, uid: o.nodeUid, controller: true };
  const slice = (i: number, spec: Pick<ResourceSliceSpec, 'devices' | 'sharedCounters'>): ResourceSlice => ({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: sliceName(o.nodeName, o.driver, i), ownerReferences: [owner] },
    spec: { driver: o.driver, nodeName: o.nodeName, pool, ...spec },
  });
  return [
    ...chunks.map((devs, i) => slice(i, { devices: devs })),
    ...setChunks.map((sharedCounters, j) => slice(chunks.length + j, { devices: [], sharedCounters })),
  ];
}

/**
 * The counter sets the devices consume from, by name: each counter holds as
 * much as its largest consumer takes, so devices consuming a set exclude one
 * another (whole vs shared use of one parent: docs/sharing.md). An
 * allow-multiple device is charged once, however many shares it has
 * (the scheduler's allocator, structured/internal/incubating).
 */
export function counterSets(devices: readonly SliceDevice[]): CounterSet[] {
  const sets = new Map<string, Map<string, bigint>>();
  for (const d of devices) {
    for (const c of d.consumesCounters ?? []) {
      const set = sets.get(c.counterSet) ?? new Map<string, bigint>();
      for (const [name, q] of Object.entries(c.counters)) {
        const v = BigInt(q.value);
        if ((set.get(name) ?? 0n) < v) set.set(name, v);
      }
      sets.set(c.counterSet, set);
    }
  }
  return [...sets.keys()].sort().map((name) => ({
    name, counters: Object.fromEntries([...sets.get(name)!.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { value: String(v) }])),
  }));
}

/** Devices per slice for this list: the caller's choice, capped by the API limit that applies. */
export function sliceLimit(devices: readonly SliceDevice[], requested?: number): number {
  // Taints, counters consumed, or list-valued attributes (KEP-5491; kube-apiserver v1.37.2 refuses a 65th device then), cap a slice at 64.
  const cap = devices.some((d) => (d.taints?.length ?? 0) > 0 || (d.consumesCounters?.length ?? 0) > 0 || hasListAttribute(d.attributes)) ? MAX_DEVICES_PER_SLICE_WITH_TAINTS : MAX_DEVICES_PER_SLICE;
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) {
    throw new DriverError('KUBE_SLICE_INVALID', `maxPerSlice must be a positive integer, got ${requested}`);
  }
  return Math.min(requested ?? cap, cap);
}

/**
 * `<node>-<driver>-<index>`, a DNS subdomain of at most 253 characters. The
 * driver is lower-cased with anything outside `[a-z0-9.-]` turned into `-`;
 * when node + driver are too long, the prefix is cut and a hash of the full
 * prefix keeps names of different nodes apart.
 */
export function sliceName(nodeName: string, driver: string, index: number): string {
  const d = driver.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  const prefix = `${nodeName}-${d}`;
  const suffix = `-${index}`;
  if (prefix.length + suffix.length <= MAX_NAME) return prefix + suffix;
  const keep = prefix.slice(0, MAX_NAME - suffix.length - 9).replace(/[-.]+$/, '');
  return `${keep}-${fnv32(prefix)}${suffix}`;
}

/** Only the fields the API knows: inventory devices carry more (kind, ifIndex…). */
function apiDevice(d: SliceDevice): SliceDevice {
  return {
    name: d.name, attributes: d.attributes,
    ...(d.taints && d.taints.length > 0 ? { taints: d.taints } : {}),
    ...(d.allowMultipleAllocations === true ? { allowMultipleAllocations: true } : {}),
    ...(d.capacity !== undefined ? { capacity: d.capacity } : {}),
    ...(d.consumesCounters !== undefined && d.consumesCounters.length > 0 ? { consumesCounters: d.consumesCounters } : {}),
  };
}

function checkNames(o: PlanOptions): void {
  if (!isDnsSubdomain(o.nodeName)) throw new DriverError('KUBE_SLICE_INVALID', `node name "${o.nodeName}" is not a DNS subdomain`);
  if (!isDriverName(o.driver)) throw new DriverError('KUBE_SLICE_INVALID', `driver "${o.driver}" is not a DNS subdomain of at most 63 characters`);
  const pool = o.poolName ?? o.nodeName;
  if (pool.length > MAX_NAME || !pool.split('/').every(isDnsSubdomain)) {
    throw new DriverError('KUBE_SLICE_INVALID', `pool name "${pool}" is not a /-separated list of DNS subdomains`);
  }
  if (!Number.isSafeInteger(o.generation) || o.generation < 0) throw new DriverError('KUBE_SLICE_INVALID', `generation ${o.generation} is not a non-negative integer`);
}

/** Sorted input: duplicates are neighbours. */
function checkDevices(sorted: readonly SliceDevice[]): void {
  for (let i = 0; i < sorted.length; i++) {
    const n = sorted[i]!.name;
    if (!isDnsLabel(n)) throw new DriverError('KUBE_SLICE_INVALID', `device name "${n}" is not a DNS label`, { context: { device: n } });
    if (i > 0 && sorted[i - 1]!.name === n) throw new DriverError('KUBE_SLICE_INVALID', `device "${n}" appears twice in the pool`, { context: { device: n } });
  }
}

/** FNV-1a, 8 hex digits: enough to keep truncated names of different nodes apart. */
function fnv32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
