/**
 * Checks on claim records as they go to and come from disk: the claim UID is
 * a safe file name, and a stored record has the shape this build reads
 * (version 1, the claim UID its file is named after, a devices array). The
 * check is structural and shallow on purpose: it catches a torn, foreign or
 * future-version file, not every field of every plan.
 */
import { StateError } from '../../common/errors.ts';

/** Kubernetes UIDs are lowercase UUIDs; allow that alphabet, no leading or trailing `-`, at most 64. */
const CLAIM_UID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export const RECORD_SUFFIX = '.json';

export function isValidClaimUid(uid: string): boolean {
  return CLAIM_UID.test(uid);
}

/** Throws StateError (STATE_INVALID) unless `uid` can name a record file. */
export function assertClaimUid(uid: unknown): asserts uid is string {
  if (typeof uid !== 'string' || !CLAIM_UID.test(uid)) {
    throw new StateError(`claim UID ${JSON.stringify(uid)} is not a safe file name ([a-z0-9-], at most 64, alphanumeric at both ends)`, {
      context: { claimUid: uid },
    });
  }
}

export function recordFileName(uid: string): string {
  return uid + RECORD_SUFFIX;
}

/**
 * Why `x` is not a claim record this build can use, or undefined when it is.
 * `expectedUid` is the UID the file is named after.
 */
export function claimRecordProblem(x: unknown, expectedUid?: string): string | undefined {
  const header = recordHeaderProblem(x, expectedUid);
  if (header !== undefined) return header;
  const r = x as Record<string, unknown>;
  if (r.kind !== undefined) return `kind ${JSON.stringify(r.kind)}: not an owner's claim record`;
  for (const k of ['podUid', 'podName', 'preparedAt'] as const) {
    if (typeof r[k] !== 'string') return `${k}: not a string`;
  }
  if (r.cdiSpec !== undefined && typeof r.cdiSpec !== 'string') return 'cdiSpec: not a string';
  if (r.metadata !== undefined) {
    const m = r.metadata;
    if (!isObject(m) || !isObject(m.spec) || !Array.isArray(m.files)) return 'metadata: not a spec with files';
    for (const [i, f] of m.files.entries()) {
      if (!isObject(f) || typeof f.request !== 'string' || typeof f.hostPath !== 'string' || typeof f.content !== 'string') return `metadata.files[${i}]: not a request, host path and content`;
    }
  }
  if (!Array.isArray(r.devices)) return 'devices: not an array';
  for (const [i, d] of r.devices.entries()) {
    if (!isObject(d)) return `devices[${i}]: not an object`;
    for (const k of ['request', 'pool', 'device'] as const) {
      if (typeof d[k] !== 'string') return `devices[${i}].${k}: not a string`;
    }
    if (!isObject(d.identity)) return `devices[${i}].identity: not an object`;
    if (!Array.isArray(d.env)) return `devices[${i}].env: not an array`;
    if (!Array.isArray(d.cdiDeviceIds)) return `devices[${i}].cdiDeviceIds: not an array`;
    if (d.subInterface !== undefined && (!isObject(d.subInterface) || typeof d.subInterface.name !== 'string')) return `devices[${i}].subInterface: not a sub-interface record`;
  }
  return undefined;
}

/** What every stored record starts with: version 1 and the claim it is for (named as its file is). */
export function recordHeaderProblem(x: unknown, expectedUid?: string): string | undefined {
  if (!isObject(x)) return 'not a JSON object';
  if (x.version !== 1) return `version ${JSON.stringify(x.version)}, this build reads version 1`;
  const claim = x.claim;
  if (!isObject(claim)) return 'claim: not an object';
  for (const k of ['uid', 'namespace', 'name'] as const) {
    if (typeof claim[k] !== 'string') return `claim.${k}: not a string`;
  }
  if (!isValidClaimUid(claim.uid as string)) return `claim.uid ${JSON.stringify(claim.uid)}: not a valid claim UID`;
  if (expectedUid !== undefined && claim.uid !== expectedUid) {
    return `claim.uid ${JSON.stringify(claim.uid)} does not match the file name (${expectedUid})`;
  }
  return undefined;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
