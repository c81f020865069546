/**
 * The shape check of an admin claim's record (record-model.ts, AdminRecord)
 * as it goes to and comes from disk: shallow and structural, as for owner
 * records (claim-record.ts).
 */
import { isObject, recordHeaderProblem } from './claim-record.ts';

export function adminRecordProblem(x: unknown, expectedUid?: string): string | undefined {
  const header = recordHeaderProblem(x, expectedUid);
  if (header !== undefined) return header;
  const r = x as Record<string, unknown>;
  if (r.kind !== 'admin') return `kind ${JSON.stringify(r.kind)}: not an admin claim record`;
  if (typeof r.preparedAt !== 'string') return 'preparedAt: not a string';
  if (r.cdiSpec !== undefined && typeof r.cdiSpec !== 'string') return 'cdiSpec: not a string';
  if (!Array.isArray(r.pods)) return 'pods: not an array';
  for (const [i, p] of r.pods.entries()) {
    if (!isObject(p) || typeof p.uid !== 'string' || typeof p.name !== 'string') return `pods[${i}]: not a {uid, name} object`;
  }
  if (!Array.isArray(r.access)) return 'access: not an array';
  for (const [i, d] of r.access.entries()) {
    if (!isObject(d)) return `access[${i}]: not an object`;
    for (const k of ['request', 'pool', 'device'] as const) {
      if (typeof d[k] !== 'string') return `access[${i}].${k}: not a string`;
    }
    if (!isObject(d.identity)) return `access[${i}].identity: not an object`;
    for (const k of ['charDevices', 'env', 'cdiDeviceIds'] as const) {
      if (!Array.isArray(d[k])) return `access[${i}].${k}: not an array`;
    }
  }
  return undefined;
}
