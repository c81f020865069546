/**
 * Our wire-shaped slices as sent (toWire) and as stored (StoredSlice), and a
 * canonical key to compare what is stored with what we want.
 *
 * Everything is wire JSON: the API client (kube-api.ts) sends and receives it
 * as is. (@kubernetes/client-node, used before, renamed the attribute field
 * `int` to `_int` and a request policy's `default` to `_default` in its
 * models and silently dropped fields it did not know, which took a
 * conversion each way; a test that writes slices through client-node must
 * still send its models.)
 */
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

/** Our slice → the wire JSON for create/replace (kube-api.ts sends it as is). */
export function toWire(s: ResourceSlice, resourceVersion?: string): ResourceSlice {
  const json = JSON.parse(JSON.stringify(s)) as { metadata: Record<string, unknown>; spec: { devices?: unknown[]; sharedCounters?: unknown } };
  if (resourceVersion !== undefined) json.metadata['resourceVersion'] = resourceVersion;
  // A counter slice: the API takes devices or sharedCounters, not both (not even an empty list).
  if (json.spec.sharedCounters !== undefined && json.spec.devices?.length === 0) delete json.spec.devices;
  return json as unknown as ResourceSlice;
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
