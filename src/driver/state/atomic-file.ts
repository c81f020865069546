/**
 * Durable file replacement and removal, synchronous because they sit on the
 * Prepare path and cost one fsync each way (a promise round trip buys nothing
 * there).
 *
 * A write goes temp file → write → fsync → rename over the target → fsync the
 * directory, so a crash at any point leaves either the old file or the new one,
 * never a torn one, and once the call returns the new content survives power
 * loss ({@link replaceFile} is the same without the fsyncs, for files a
 * durable record can restore). The temp file lives in the target's directory (rename is atomic only
 * within one filesystem) under a dot-name that ends in neither `.json` nor
 * `.yaml`, so no reader that globs the directory (the claim store, a CDI
 * runtime) ever parses it. Leftovers from a crash are removed with
 * {@link removeStaleTempFiles} when the owner opens the directory.
 *
 * Like dra-example-driver's checkpoint.go::writeCheckpoint, plus the
 * directory fsync it leaves out.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Steps of {@link writeFileAtomic}, reported to `onStep` (the crash test kills the process at each). */
export type AtomicWriteStep = 'before-temp-write' | 'after-temp-write' | 'after-fsync' | 'after-rename' | 'after-dir-fsync';
/** Steps of {@link removeFileDurable}. */
export type DurableRemoveStep = 'before-unlink' | 'after-unlink';

export interface DurableFileOptions<Step extends string> {
  /** An open descriptor of the target's directory, fsynced instead of opening the directory again. */
  readonly dirFd?: number;
  /** Called at each step; the claim store wires this to its crash points. */
  readonly onStep?: (step: Step) => void;
}

const TEMP_MARK = '.tmp-';
/** `.<base>.tmp-<pid>-<n>`: what {@link writeFileAtomic} names its temp files. */
const TEMP_NAME = /^\..+\.tmp-\d+-\d+$/;
let tempCounter = 0;

function tempPathFor(path: string): string {
  tempCounter = (tempCounter + 1) >>> 0;
  return join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${tempCounter}`);
}

/**
 * Replace `path` with `data` atomically and durably. Throws the `node:fs`
 * error (with `code`, `syscall`, `path`) unchanged; callers wrap it in their
 * own error code. On failure before the rename the temp file is removed and
 * the old file is untouched; on a failed directory fsync the new file is in
 * place but its durability is unknown, and the caller must not acknowledge it.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  options: DurableFileOptions<AtomicWriteStep> = {},
): void {
  replace(path, data, mode, options, true);
}

/**
 * Replace `path` with `data` atomically, without fsyncs: a crash of the
 * process leaves the old file or the new one, never a torn one, but a power
 * loss may leave the file missing, empty or cut short. Only for files whose
 * bytes are also in a durable record that a restore writes back from (the
 * CDI specs and device-metadata files of a claim: claim-cdi-restore.ts), so
 * the pod's path does not pay two disk flushes per file for them.
 */
export function replaceFile(path: string, data: string | Uint8Array, mode = 0o600): void {
  replace(path, data, mode, {}, false);
}

function replace(path: string, data: string | Uint8Array, mode: number, options: DurableFileOptions<AtomicWriteStep>, durable: boolean): void {
  const { onStep } = options;
  const temp = tempPathFor(path);
  onStep?.('before-temp-write');
  // 'wx': O_CREAT|O_EXCL, never follows or reuses a file someone else left under this name.
  const fd = openSync(temp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    onStep?.('after-temp-write');
    if (durable) fsyncSync(fd);
    onStep?.('after-fsync');
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(temp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkQuietly(temp);
    throw err;
  }
  onStep?.('after-rename');
  if (durable) syncDir(options.dirFd ?? dirname(path));
  onStep?.('after-dir-fsync');
}

/**
 * Remove `path` durably: unlink, then fsync the directory. A missing file (or
 * directory) is not an error: removal is idempotent. Returns whether a file
 * was removed.
 */
export function removeFileDurable(path: string, options: DurableFileOptions<DurableRemoveStep> = {}): boolean {
  const { onStep } = options;
  onStep?.('before-unlink');
  let removed = true;
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    removed = false;
  }
  onStep?.('after-unlink');
  // Even when the file was already gone: an earlier unlink may not have reached the disk.
  try {
    syncDir(options.dirFd ?? dirname(path));
  } catch (err) {
    // No file and no directory: nothing to remove, nothing to make durable.
    if (removed || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return removed;
}

/** fsync a directory (by path or open descriptor), making renames and unlinks in it durable. */
export function syncDir(dir: string | number): void {
  if (typeof dir === 'number') {
    fsyncSync(dir);
    return;
  }
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Remove the temp files a crashed {@link writeFileAtomic} left in `dir`, and
 * return their names. Only for the directory's single owner, at start-up: a
 * concurrent writer's temp file would be removed too. `filter` narrows which
 * temp names are this owner's (a shared directory such as /var/run/cdi).
 */
export function removeStaleTempFiles(dir: string, filter: (name: string) => boolean = () => true): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!isTempFileName(name) || !filter(name)) continue;
    unlinkQuietly(join(dir, name));
    removed.push(name);
  }
  if (removed.length > 0) syncDir(dir);
  return removed;
}

export function isTempFileName(name: string): boolean {
  return TEMP_NAME.test(name);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already failing; the original error is the one to report
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or the directory is unusable; the original error is the one to report
  }
}
