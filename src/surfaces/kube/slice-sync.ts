/**
 * One reconcile step, pure: desired devices + what the API server holds for
 * this node and driver → the generation to publish and the writes to make.
 * Follows k8s.io/dynamic-resource-allocation's resourceslice.Controller
 * (protocols.md §2.6) with stable, index-named slices.
 *
 * Generation rule: the pool generation is bumped whenever the partition of
 * device names into slices would change (devices added or removed, a slice
 * more or less, a repack to 64 when taints appear) or the stored slices do
 * not form one complete generation. Then consumers, which only use the
 * highest generation and only when all `resourceSliceCount` slices of it are
 * there, never see a device twice or miss one mid-update. Attribute or taint
 * changes with the same partition update slices in place, same generation:
 * each slice write is atomic and no device moves.
 */
import { specKey, type StoredSlice } from './slice-codec.ts';
import { planSlices, type PlanOptions, type ResourceSlice, type SliceDevice } from './slices.ts';

/** What the server stored for what we sent, when it dropped fields (a gate off): accepted as converged. */
export interface DroppedFieldsMemo {
  readonly sent: string;
  readonly stored: string;
}

export interface SyncInput {
  readonly devices: readonly SliceDevice[];
  readonly options: Omit<PlanOptions, 'generation'>;
  /** Slices of this node and driver in the API server (any pool, any generation). */
  readonly stored: readonly StoredSlice[];
  /** The highest generation this process published (a deleted pool must not restart lower). */
  readonly lastGeneration: number;
  readonly dropped?: ReadonlyMap<string, DroppedFieldsMemo>;
}

export interface SyncPlan {
  readonly generation: number;
  readonly desired: readonly ResourceSlice[];
  readonly create: readonly ResourceSlice[];
  readonly update: readonly { readonly slice: ResourceSlice; readonly stored: StoredSlice }[];
  /** Obsolete slices: deleted after the new generation is in place. */
  readonly delete: readonly StoredSlice[];
}

export const isNoop = (p: SyncPlan): boolean => p.create.length + p.update.length + p.delete.length === 0;

export function planSync(input: SyncInput): SyncPlan {
  const stored = new Map(input.stored.map((s) => [s.name, s]));
  const current = Math.max(input.lastGeneration, ...input.stored.map((s) => s.spec.pool?.generation ?? 0));
  const trial = planSlices(input.devices, { ...input.options, generation: current });
  const keep = current > 0 && samePartition(trial, stored, current, input.options.poolName ?? input.options.nodeName);
  const generation = keep ? current : current + 1;
  const desired = keep ? trial : planSlices(input.devices, { ...input.options, generation });

  const create: ResourceSlice[] = [];
  const update: { slice: ResourceSlice; stored: StoredSlice }[] = [];
  for (const d of desired) {
    const s = stored.get(d.metadata.name);
    if (!s) create.push(d);
    else if (!converged(d, s, input.dropped?.get(d.metadata.name))) update.push({ slice: withTaintTimes(d, s), stored: s });
  }
  const names = new Set(desired.map((d) => d.metadata.name));
  return { generation, desired, create, update, delete: input.stored.filter((s) => !names.has(s.name)) };
}

/** Stored slices are exactly the planned ones, all at `generation`, each with the same device names. */
function samePartition(plan: readonly ResourceSlice[], stored: ReadonlyMap<string, StoredSlice>, generation: number, pool: string): boolean {
  if (stored.size !== plan.length) return false;
  return plan.every((p) => {
    const s = stored.get(p.metadata.name);
    if (!s || s.spec.pool?.generation !== generation || s.spec.pool.resourceSliceCount !== plan.length || s.spec.pool.name !== pool) return false;
    const names = (s.spec.devices ?? []).map((d) => d.name);
    return names.length === p.spec.devices.length && p.spec.devices.every((d, i) => d.name === names[i]);
  });
}

function converged(d: ResourceSlice, s: StoredSlice, memo: DroppedFieldsMemo | undefined): boolean {
  if (!s.ownerUids.includes(d.metadata.ownerReferences[0]!.uid)) return false;
  const want = specKey(d.spec);
  const have = specKey(s.spec);
  return want === have || (memo !== undefined && memo.sent === want && memo.stored === have);
}

/** Keeps the server-set `timeAdded` of taints that stay, as the upstream controller does. */
function withTaintTimes(d: ResourceSlice, s: StoredSlice): ResourceSlice {
  const old = new Map((s.spec.devices ?? []).map((x) => [x.name, x.taints ?? []]));
  let changed = false;
  const devices = d.spec.devices.map((dev) => {
    if (!dev.taints) return dev;
    const prev = old.get(dev.name) ?? [];
    const taints = dev.taints.map((t) => {
      const p = prev.find((x) => x.key === t.key && x.value === t.value && x.effect === t.effect && x.timeAdded !== undefined);
      if (!p) return t;
      changed = true;
      return { ...t, timeAdded: p.timeAdded! };
    });
    return { ...dev, taints };
  });
  return changed ? { ...d, spec: { ...d.spec, devices } } : d;
}
