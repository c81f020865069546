/**
 * The claim's CDI spec file in the runtime's spec directory (normally the
 * dynamic one, /var/run/cdi): written atomically (a runtime that watches the
 * directory never reads half a file; the temp name ends in neither `.json`
 * nor `.yaml`, so it is never parsed), before the claim's record is stored
 * (it must exist before the kubelet passes its ids to the runtime), mode
 * 0644, and removed on Unprepare. Not fsynced: the runtime reads it from the
 * page cache, and what a power loss takes (the file gone, empty or cut
 * short) is written back from the durable record at the next start
 * (claim-cdi-restore.ts compares the bytes). Errors are CDI_WRITE_FAILED with
 * the path in the context.
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError } from '../../common/errors.ts';
import { isValidClaimUid } from '../state/claim-record.ts';
import { removeFileDurable, removeStaleTempFiles, replaceFile } from '../state/atomic-file.ts';
import { claimCdiSpecFileName, claimUidOfCdiSpecFile } from './cdi-names.ts';
import type { ClaimCdiSpec } from './cdi-spec.ts';
import type { CdiSpec } from './cdi-types.ts';
import { cdiSpecProblems } from './cdi-validate.ts';

const SPEC_MODE = 0o644;
const DIR_MODE = 0o755;

/** The bytes written: indented JSON (operators read these files), newline-terminated. */
export function serializeCdiSpec(spec: CdiSpec): string {
  return JSON.stringify(spec, null, 2) + '\n';
}

/** Write (or replace) the claim's spec file, creating `dir` if needed; returns its path. */
export function writeClaimCdiSpec(dir: string, claimSpec: ClaimCdiSpec): string {
  const path = join(dir, specFileName(claimSpec.claimUid, dir));
  const problems = cdiSpecProblems(claimSpec.spec);
  if (problems.length > 0) {
    throw new DriverError('CDI_WRITE_FAILED', `CDI spec for claim ${claimSpec.claimUid} would be refused by the runtime: ${problems.join('; ')}`, {
      context: { path, claimUid: claimSpec.claimUid, problems },
    });
  }
  try {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    replaceFile(path, serializeCdiSpec(claimSpec.spec), SPEC_MODE);
  } catch (err) {
    throw failed('write', claimSpec.claimUid, path, err);
  }
  return path;
}

/**
 * Write the claim's spec file only when it is missing or holds other bytes
 * (after a node reboot the CDI directory, a tmpfs, is empty while the
 * claim store is not: claim-cdi-restore.ts). Returns the path when it wrote.
 */
export function ensureClaimCdiSpec(dir: string, claimSpec: ClaimCdiSpec): string | undefined {
  const path = join(dir, specFileName(claimSpec.claimUid, dir));
  if (fileHolds(path, serializeCdiSpec(claimSpec.spec))) return undefined;
  return writeClaimCdiSpec(dir, claimSpec);
}

/** Whether `path` exists with exactly `content` (a file that cannot be read counts as not). */
export function fileHolds(path: string, content: string): boolean {
  try {
    return readFileSync(path, 'utf8') === content;
  } catch {
    return false;
  }
}

/** Remove the claim's spec file; a missing file (or directory) is fine. Returns whether one was removed. */
export function removeClaimCdiSpec(dir: string, claimUid: string): boolean {
  const path = join(dir, specFileName(claimUid, dir));
  try {
    return removeFileDurable(path);
  } catch (err) {
    throw failed('remove', claimUid, path, err);
  }
}

/** Claim UIDs that have a spec file of ours in `dir`, for reconciling with the claim store at start-up. */
export function listClaimCdiSpecs(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw failed('list', '', dir, err);
  }
  return names.map(claimUidOfCdiSpecFile).filter((u) => u !== undefined).sort();
}

/** Remove temp files of ours a crash left in `dir` (only ours: the directory is shared with other drivers). */
export function removeStaleCdiTempFiles(dir: string): string[] {
  const ours = `.${claimCdiSpecFileName('')}`.slice(0, -'.json'.length);
  try {
    return removeStaleTempFiles(dir, (name) => name.startsWith(ours));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw failed('clean', '', dir, err);
  }
}

function specFileName(claimUid: string, dir: string): string {
  if (!isValidClaimUid(claimUid)) {
    throw new DriverError('CDI_WRITE_FAILED', `claim UID ${JSON.stringify(claimUid)} cannot name a CDI spec file`, { context: { path: dir, claimUid } });
  }
  return claimCdiSpecFileName(claimUid);
}

function failed(what: string, claimUid: string, path: string, err: unknown): DriverError {
  const errno = (err as NodeJS.ErrnoException).code;
  return new DriverError('CDI_WRITE_FAILED', `cannot ${what} CDI spec ${path}: ${errno ?? String(err)}`, {
    cause: err,
    context: { path, claimUid, errno },
  });
}
