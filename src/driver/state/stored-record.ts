/**
 * A stored record of either kind, told apart by `kind`: an owner's claim
 * record (claim-record.ts) or an admin claim's (admin-record.ts). Both live
 * in the same store directory under `<claimUid>.json`; a claim is one or the
 * other (admin-access.ts refuses a claim mixing both).
 */
import { StateError } from '../../common/errors.ts';
import type { AdminRecord, ClaimRecord } from '../record-model.ts';
import { adminRecordProblem } from './admin-record.ts';
import { claimRecordProblem, isObject } from './claim-record.ts';

export type StoredRecord = ClaimRecord | AdminRecord;

export const isAdminRecord = (r: StoredRecord): r is AdminRecord => (r as { kind?: string }).kind === 'admin';

/** Why `x` is not a stored record (an owner's claim record, or an admin claim's, state/admin-record.ts). */
export function storedRecordProblem(x: unknown, expectedUid?: string): string | undefined {
  return isObject(x) && x.kind === 'admin' ? adminRecordProblem(x, expectedUid) : claimRecordProblem(x, expectedUid);
}

/** Parse a stored record (either kind); throws StateError (STATE_CORRUPT) with the reason. */
export function parseStoredRecord(text: string, expectedUid: string, file: string): StoredRecord {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (err) {
    throw new StateError(`claim record ${file} is not JSON`, { cause: err, context: { file } }, 'STATE_CORRUPT');
  }
  const problem = storedRecordProblem(x, expectedUid);
  if (problem !== undefined) {
    throw new StateError(`claim record ${file}: ${problem}`, { context: { file, reason: problem } }, 'STATE_CORRUPT');
  }
  return x as StoredRecord;
}

