/**
 * Between our wire-shaped slices and @kubernetes/client-node's models, and a
 * canonical key to compare what is stored with what we want.
 *
 * Why a codec at all: the generated client renames the attribute field `int`
 * to `_int` in its model (V1DeviceAttribute) and its serializer silently drops
 * a field it does not know, so `{ int: 1500 }` sent as is would be published
 * as an empty attribute. Watch events, on the other hand, arrive as raw JSON
 * with `int`. Everything inside the publisher is wire JSON; only the typed API
 * calls see models.
 */
import type { V1ResourceSlice } from '@kubernetes/client-node';
import type { ResourceSlice, ResourceSliceSpec } from './slices.ts';

/** A slice as stored in the API server, reduced to what the publisher compares. */
export interface StoredSlice {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** UIDs of the Node owner references (ours is there unless someone removed it). */
  readonly ownerUids: readonly string[];
  readonly spec: ResourceSliceSpec;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Our slice → the client's model (for create/replace). */
export function toModel(s: ResourceSlice, resourceVersion?: string): V1ResourceSlice {
  const json = renamePolicyDefault(renameIntKeys(JSON.parse(JSON.stringify(s)) as Json, 'int', '_int'), 'default', '_default') as { metadata: Record<string, unknown> };
  if (resourceVersion !== undefined) json.metadata['resourceVersion'] = resourceVersion;
  // A counter slice: the API takes devices or sharedCounters, not both (not even an empty list).
  const spec = (json as unknown as { spec?: { devices?: unknown[]; sharedCounters?: unknown } }).spec;
  if (spec?.sharedCounters !== undefined && spec.devices?.length === 0) delete spec.devices;
  return json as unknown as V1ResourceSlice;
}

/** A model returned by the client (Dates, `_int`, undefined fields) → StoredSlice. */
export function fromModel(m: V1ResourceSlice): StoredSlice {
  return fromJson(renamePolicyDefault(renameIntKeys(JSON.parse(JSON.stringify(m)) as Json, '_int', 'int'), '_default', 'default'));
}

/** A raw JSON object (watch event) → StoredSlice. */
export function fromJson(o: unknown): StoredSlice {
  const obj = o as { metadata?: { name?: string; uid?: string; resourceVersion?: string; ownerReferences?: Array<{ kind?: string; uid?: string }> }; spec?: ResourceSliceSpec };
  const md = obj.metadata ?? {};
  return {
    name: md.name ?? '',
    uid: md.uid ?? '',
    resourceVersion: md.resourceVersion ?? '',
    ownerUids: (md.ownerReferences ?? []).filter((r) => r.kind === 'Node').map((r) => r.uid ?? ''),
    // A counter slice has no devices on the wire; readers see an empty list (specKey leaves empty lists out).
    spec: obj.spec === undefined ? ({} as ResourceSliceSpec) : { ...obj.spec, devices: obj.spec.devices ?? [] },
  };
}

/**
 * Canonical text of a spec: keys sorted, empty lists and taint `timeAdded`
 * (server-defaulted) left out, so equal content gives equal keys whatever
 * the source (model, watch JSON, our plan).
 */
export function specKey(spec: ResourceSliceSpec): string {
  return JSON.stringify(canonical(spec as unknown as Json, ''));
}

function canonical(v: Json, parentKey: string): Json | undefined {
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map((x) => canonical(x, parentKey) ?? null);
  if (v === null || typeof v !== 'object') return v;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(v).sort()) {
    if (parentKey === 'taints' && k === 'timeAdded') continue;
    const c = canonical(v[k]!, k);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

/**
 * Renames the int field of every attribute value. Only maps under an
 * `attributes` key are touched: `int` is not special anywhere else.
 */
function renameIntKeys(v: Json, from: string, to: string, inAttributes = false): Json {
  if (Array.isArray(v)) return v.map((x) => renameIntKeys(x, from, to));
  if (v === null || typeof v !== 'object') return v;
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) {
    if (inAttributes && x !== null && typeof x === 'object' && !Array.isArray(x) && from in x) {
      const { [from]: n, ...rest } = x;
      out[k] = { ...rest, [to]: n! };
    } else {
      out[k] = renameIntKeys(x, from, to, k === 'attributes');
    }
  }
  return out;
}

/**
 * The same trap in a capacity's request policy (docs/sharing.md): the model
 * calls `default` `_default` (V1CapacityRequestPolicy). Only objects under a
 * `requestPolicy` key are touched.
 */
function renamePolicyDefault(v: Json, from: string, to: string, inPolicy = false): Json {
  if (Array.isArray(v)) return v.map((x) => renamePolicyDefault(x, from, to));
  if (v === null || typeof v !== 'object') return v;
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) out[inPolicy && k === from ? to : k] = renamePolicyDefault(x, from, to, k === 'requestPolicy');
  return out;
}
