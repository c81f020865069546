/**
 * The crash-safe store of prepared claims: one JSON file per claim,
 * `<dir>/<claimUid>.json`, mirrored in memory with an index by pod (NRI
 * events name pods, not claims).
 *
 * Durability: {@link ClaimStore.put} and {@link ClaimStore.delete} reach the
 * disk (file and directory fsynced, state/atomic-file.ts) before they return
 * and before memory changes, so what Prepare acknowledges to the kubelet
 * survives a kill or power loss at any point, and a failed write leaves both
 * disk and memory as they were. A delete removes exactly one claim's file;
 * unlike the reference peer, unpreparing one claim never drops another
 * claim's (or pod's) state.
 *
 * Two kinds of record share the directory: owners' claim records, which
 * every method but the `admin…` ones deals in, and admin claims' records
 * (KEP-5018 adminAccess, record-model.ts AdminRecord), kept in a map of
 * their own. `get`, `list` and `byPod` never return an admin record, so the
 * pod side (attach, verify, reconcile, return) and the device-conflict check
 * cannot see one; `delete` removes a claim's record of either kind.
 *
 * Single writer: the directory belongs to one daemon per node. No file lock
 * is taken here; the kubelet plugin's instance lock (KUBELET_INSTANCE_LOCKED)
 * already keeps a second daemon from starting, and opening clears every
 * temp file it finds on that assumption.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../common/errors.ts';
import type { AdminRecord, ClaimRecord } from '../record-model.ts';
import {
  removeFileDurable, removeStaleTempFiles, syncDir, writeFileAtomic,
  type AtomicWriteStep, type DurableFileOptions, type DurableRemoveStep,
} from './atomic-file.ts';
import { adminRecordProblem } from './admin-record.ts';
import { assertClaimUid, claimRecordProblem, recordFileName, RECORD_SUFFIX } from './claim-record.ts';
import { isAdminRecord, parseStoredRecord } from './stored-record.ts';
import { crashPoint } from './crash-points.ts';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const CORRUPT_SUFFIX = '.corrupt';
/** In a shared store, a temp file younger than this may be another instance's write in progress. */
const SHARED_TEMP_AGE_MS = 60_000;

interface Loaded {
  readonly records: Map<string, ClaimRecord>;
  readonly admin: Map<string, AdminRecord>;
  readonly problems: StateError[];
}

export class ClaimStore {
  readonly dir: string;
  /**
   * Records that could not be loaded at open, one STATE_CORRUPT error each
   * (`context.file`, `context.movedTo` when it was moved aside to
   * `*.corrupt`). The daemon reports them; it never drops them silently.
   */
  readonly problems: readonly StateError[];
  readonly #problems: StateError[];
  readonly #records: Map<string, ClaimRecord>;
  readonly #admin: Map<string, AdminRecord>;
  readonly #byPod = new Map<string, Set<string>>();
  /** What refresh() parsed, by file name and identity (loadRecords): an unchanged file is not read again. */
  readonly #parsed: ParsedCache = new Map();
  #dirFd: number | undefined;
  readonly #writeOptions: DurableFileOptions<AtomicWriteStep>;
  readonly #removeOptions: DurableFileOptions<DurableRemoveStep>;

  private constructor(dir: string, dirFd: number, loaded: Loaded) {
    this.dir = dir;
    this.#dirFd = dirFd;
    this.#records = loaded.records;
    this.#admin = loaded.admin;
    this.#problems = [...loaded.problems];
    this.problems = this.#problems;
    for (const r of this.#records.values()) this.#index(r);
    this.#writeOptions = { dirFd, onStep: (step) => crashPoint(`store.${step}`) };
    this.#removeOptions = { dirFd, onStep: (step) => crashPoint(`store.${step}`) };
  }

  /**
   * Open (creating, mode 0700) the store directory: remove temp files a crash
   * left, load every `<claimUid>.json`, move unreadable ones aside. Throws
   * StateError (STATE_WRITE_FAILED) only when the directory itself is unusable.
   */
  static open(dir: string, opts: { readonly shared?: boolean } = {}): ClaimStore {
    let dirFd: number;
    let loaded: Loaded;
    try {
      mkdirSync(dir, { recursive: true, mode: DIR_MODE });
      // Shared (rolling update: the other instance may be writing right now): only temp files old enough to be a crash's.
      const now = Date.now();
      removeStaleTempFiles(dir, opts.shared === true ? (name) => now - statSync(join(dir, name)).mtimeMs > SHARED_TEMP_AGE_MS : undefined);
      loaded = loadRecords(dir);
      dirFd = openSync(dir, 'r');
    } catch (err) {
      throw new StateError(`cannot open the claim store at ${dir}`, { cause: err, context: { dir } }, 'STATE_WRITE_FAILED');
    }
    return new ClaimStore(dir, dirFd, loaded);
  }

  /**
   * Re-reads every record from disk, for a store another process writes too
   * (two daemon instances during a rolling update, each under the shared
   * lock). Unreadable records are reported in `problems` as at open.
   */
  refresh(): void {
    const records = this.#open();
    const loaded = loadRecords(this.dir, this.#parsed);
    records.clear();
    this.#byPod.clear();
    for (const [uid, r] of loaded.records) {
      records.set(uid, r);
      this.#index(r);
    }
    this.#admin.clear();
    for (const [uid, r] of loaded.admin) this.#admin.set(uid, r);
    this.#problems.push(...loaded.problems);
  }

  get size(): number {
    return this.#open().size;
  }

  get(claimUid: string): ClaimRecord | undefined {
    return this.#open().get(claimUid);
  }

  list(): ClaimRecord[] {
    return [...this.#open().values()];
  }

  /** An admin claim's record (never an owner's). */
  admin(claimUid: string): AdminRecord | undefined {
    this.#open();
    return this.#admin.get(claimUid);
  }

  /** Every admin claim's record. */
  admins(): AdminRecord[] {
    this.#open();
    return [...this.#admin.values()];
  }

  /** Every record reserved for the pod. */
  byPod(podUid: string): ClaimRecord[] {
    const records = this.#open();
    const uids = this.#byPod.get(podUid);
    if (uids === undefined) return [];
    const out: ClaimRecord[] = [];
    for (const uid of uids) out.push(records.get(uid)!);
    return out;
  }

  /**
   * Store (create or replace) a claim's record durably, then in memory.
   * Throws StateError: STATE_INVALID for a record of the wrong shape or an
   * unsafe claim UID, STATE_WRITE_FAILED when the disk refuses (memory is
   * then unchanged and the claim must not be acknowledged).
   */
  put(record: ClaimRecord): void {
    const records = this.#open();
    const uid = record.claim?.uid;
    assertClaimUid(uid);
    const problem = claimRecordProblem(record);
    if (problem !== undefined) {
      throw new StateError(`claim record ${uid}: ${problem}`, { context: { claimUid: uid, reason: problem } });
    }
    if (this.#admin.has(uid)) throw kindClash(uid, 'an admin claim');
    this.#write(uid, record);
    const old = records.get(uid);
    if (old !== undefined) this.#unindex(old);
    records.set(uid, record);
    this.#index(record);
  }

  /**
   * Store (create or replace) an admin claim's record, as {@link put} does an
   * owner's. Throws STATE_INVALID for a wrong shape, or for a UID that has an
   * owner's record (a claim is one kind or the other).
   */
  putAdmin(record: AdminRecord): void {
    this.#open();
    const uid = record.claim?.uid;
    assertClaimUid(uid);
    const problem = adminRecordProblem(record);
    if (problem !== undefined) {
      throw new StateError(`admin claim record ${uid}: ${problem}`, { context: { claimUid: uid, reason: problem } });
    }
    if (this.#records.has(uid)) throw kindClash(uid, 'an owner\'s claim');
    this.#write(uid, record);
    this.#admin.set(uid, record);
  }

  #write(uid: string, record: ClaimRecord | AdminRecord): void {
    const path = join(this.dir, recordFileName(uid));
    try {
      writeFileAtomic(path, JSON.stringify(record) + '\n', FILE_MODE, this.#writeOptions);
    } catch (err) {
      throw writeFailed('write', uid, path, err);
    }
  }

  /**
   * Remove one claim's record (either kind) durably, then from memory; a missing record is
   * fine. Returns whether there was one. Throws StateError
   * (STATE_WRITE_FAILED, memory unchanged) when the disk refuses.
   */
  delete(claimUid: string): boolean {
    const records = this.#open();
    assertClaimUid(claimUid);
    const path = join(this.dir, recordFileName(claimUid));
    let removed: boolean;
    try {
      removed = removeFileDurable(path, this.#removeOptions);
    } catch (err) {
      throw writeFailed('remove', claimUid, path, err);
    }
    if (this.#admin.delete(claimUid)) return true;
    const old = records.get(claimUid);
    if (old === undefined) return removed;
    this.#unindex(old);
    records.delete(claimUid);
    return true;
  }

  /** Release the directory descriptor. Idempotent; any later call throws STATE_INVALID. */
  close(): void {
    if (this.#dirFd === undefined) return;
    const fd = this.#dirFd;
    this.#dirFd = undefined;
    closeSync(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(): Map<string, ClaimRecord> {
    if (this.#dirFd === undefined) throw new StateError(`the claim store at ${this.dir} is closed`, { context: { dir: this.dir } });
    return this.#records;
  }

  #index(r: ClaimRecord): void {
    let set = this.#byPod.get(r.podUid);
    if (set === undefined) this.#byPod.set(r.podUid, (set = new Set()));
    set.add(r.claim.uid);
  }

  #unindex(r: ClaimRecord): void {
    const set = this.#byPod.get(r.podUid);
    if (set === undefined) return;
    set.delete(r.claim.uid);
    if (set.size === 0) this.#byPod.delete(r.podUid);
  }
}

function writeFailed(what: 'write' | 'remove', claimUid: string, path: string, err: unknown): StateError {
  const errno = (err as NodeJS.ErrnoException).code;
  return new StateError(`cannot ${what} the record of claim ${claimUid} at ${path}: ${errno ?? String(err)}`, {
    cause: err,
    context: { claimUid, path, errno },
  }, 'STATE_WRITE_FAILED');
}

function kindClash(uid: string, other: string): StateError {
  return new StateError(`claim ${uid} already has ${other} record; a claim's record keeps its kind`, { context: { claimUid: uid } });
}

/**
 * Records parsed by an earlier load, by file name, with the file's identity
 * then (inode, mtime in ns, size). A record file is only ever replaced whole,
 * by a rename (atomic-file.ts: a new inode each write), or unlinked; so a file
 * with the same identity holds the same bytes, and its record is reused
 * instead of read and parsed again. A refresh in a rolling update (every hook
 * and kubelet call) then costs a readdir and a stat per record.
 */
type ParsedCache = Map<string, { readonly id: string; readonly record: ClaimRecord | AdminRecord }>;

function fileIdentity(file: string): string | undefined {
  try {
    const s = statSync(file, { bigint: true });
    return `${s.ino}:${s.mtimeNs}:${s.size}`;
  } catch {
    return undefined;
  }
}

function loadRecords(dir: string, cache?: ParsedCache): Loaded {
  const records = new Map<string, ClaimRecord>();
  const admin = new Map<string, AdminRecord>();
  const problems: StateError[] = [];
  let moved = false;
  const names = readdirSync(dir).sort();
  if (cache !== undefined) {
    const present = new Set(names);
    for (const name of [...cache.keys()]) if (!present.has(name)) cache.delete(name);
  }
  for (const name of names) {
    if (!name.endsWith(RECORD_SUFFIX) || name.startsWith('.')) continue;
    const file = join(dir, name);
    const uid = name.slice(0, -RECORD_SUFFIX.length);
    const id = cache === undefined ? undefined : fileIdentity(file);
    const known = id === undefined ? undefined : cache!.get(name);
    if (known !== undefined && known.id === id) {
      if (isAdminRecord(known.record)) admin.set(uid, known.record);
      else records.set(uid, known.record);
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      // Unreadable (EISDIR, EIO, EACCES): reported, left where it is.
      problems.push(new StateError(`cannot read claim record ${file}`, { cause: err, context: { file } }, 'STATE_CORRUPT'));
      continue;
    }
    try {
      const r = parseStoredRecord(text, uid, file);
      if (isAdminRecord(r)) admin.set(uid, r);
      else records.set(uid, r);
      // The identity read before the bytes: a write in between leaves a stale identity, so the next load reads it again.
      if (id !== undefined) cache!.set(name, { id, record: r });
    } catch (err) {
      cache?.delete(name);
      const e = err as StateError;
      const movedTo = moveAside(file);
      moved ||= movedTo !== undefined;
      problems.push(new StateError(
        movedTo === undefined ? e.message : `${e.message}; moved to ${movedTo}`,
        { cause: e.cause ?? e, context: { ...e.context, movedTo } },
        'STATE_CORRUPT',
      ));
    }
  }
  if (moved) syncDir(dir);
  return { records, admin, problems };
}

/** Rename a bad record to `<name>.corrupt` (or `.corrupt.N` if that is taken); undefined if that fails too. */
function moveAside(file: string): string | undefined {
  for (let n = 0; n < 1000; n++) {
    const target = n === 0 ? file + CORRUPT_SUFFIX : `${file}${CORRUPT_SUFFIX}.${n}`;
    if (existsSync(target)) continue;
    try {
      renameSync(file, target);
      return target;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
