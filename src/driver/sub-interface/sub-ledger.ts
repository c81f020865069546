/**
 * The intent ledger of per-claim sub-interfaces (docs/sharing.md): one file
 * per sub-interface, `<stateDir>/sub-interfaces/<name>.json`, written
 * durably BEFORE the link is created and removed only AFTER the link is
 * deleted and the claim's record is gone. So at every instant a sub-interface
 * netclaim may have created is named either by the ledger or by a stored
 * claim record (or both), and a restart can delete or adopt it by name
 * (sub-interfaces.ts, reconcile).
 *
 * The claim store does not read this folder: it loads `*.json` files of its
 * own directory only.
 */
import { mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateError } from '../../common/errors.ts';
import { isClaimSubInterfaceName } from '../../inventory/shareable.ts';
import { removeFileDurable, removeStaleTempFiles, writeFileAtomic } from '../state/atomic-file.ts';
import type { SubInterfaceRecord } from '../record-model.ts';

export interface LedgerEntry extends SubInterfaceRecord {
  readonly claimUid: string;
  readonly request: string;
  readonly device: string;
  readonly pool: string;
  readonly at: string;
}

export const LEDGER_DIR = 'sub-interfaces';

export class SubInterfaceLedger {
  readonly dir: string;
  readonly #dirFd: number;
  readonly #entries = new Map<string, LedgerEntry>();
  /** Files that could not be read back (reported, left in place). */
  readonly problems: StateError[] = [];

  private constructor(dir: string, dirFd: number) {
    this.dir = dir;
    this.#dirFd = dirFd;
  }

  static open(stateDir: string): SubInterfaceLedger {
    const dir = join(stateDir, LEDGER_DIR);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      removeStaleTempFiles(dir);
    } catch (err) {
      throw new StateError(`cannot open the sub-interface ledger at ${dir}`, { cause: err, context: { dir } }, 'STATE_WRITE_FAILED');
    }
    const l = new SubInterfaceLedger(dir, openSync(dir, 'r'));
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      const name = f.slice(0, -'.json'.length);
      try {
        const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as LedgerEntry;
        if (e.name !== name || !isClaimSubInterfaceName(name) || typeof e.claimUid !== 'string') throw new Error('not a ledger entry for this name');
        l.#entries.set(name, e);
      } catch (err) {
        l.problems.push(new StateError(`sub-interface ledger entry ${join(dir, f)} is unreadable`, { cause: err, context: { file: join(dir, f) } }, 'STATE_CORRUPT'));
      }
    }
    return l;
  }

  list(): readonly LedgerEntry[] {
    return [...this.#entries.values()];
  }

  get(name: string): LedgerEntry | undefined {
    return this.#entries.get(name);
  }

  /** Durable before it returns (the caller creates the link only after). */
  put(e: LedgerEntry): void {
    try {
      writeFileAtomic(join(this.dir, `${e.name}.json`), `${JSON.stringify(e)}\n`, 0o600, { dirFd: this.#dirFd });
    } catch (err) {
      throw new StateError(`cannot record sub-interface ${e.name} for claim ${e.claimUid}`, { cause: err, context: { name: e.name } }, 'STATE_WRITE_FAILED');
    }
    this.#entries.set(e.name, e);
  }

  /** After the link is deleted and no record names it any more. */
  remove(name: string): void {
    try {
      removeFileDurable(join(this.dir, `${name}.json`), { dirFd: this.#dirFd });
    } catch (err) {
      throw new StateError(`cannot remove sub-interface ledger entry ${name}`, { cause: err, context: { name } }, 'STATE_WRITE_FAILED');
    }
    this.#entries.delete(name);
  }
}
