/**
 * Per-claim sub-interfaces of shareable parents (docs/sharing.md): created
 * on the host at Prepare, moved into the pod by the attach engine like any
 * virtual netdev, deleted at unprepare. Lifecycle of the ledger and the host
 * handle; everything kernel-side goes through the driver's own rtnetlink
 * code.
 *
 * Crash safety, by order of writes:
 *   Prepare:   ledger entry (durable) → create link → claim record (store)
 *   Unprepare: devices back (pod driver) → delete link → record removed → ledger entry removed
 * so a sub-interface that exists is always named by the ledger or by a
 * record. reconcile() (at start) adopts every one a record names, and deletes
 * every other `ncsub*` link of the host namespace and its ledger entry: a
 * crash between ledger and create, between create and record, or anywhere
 * in an unprepare converges with nothing left over and no record lost.
 */
import { DriverError } from '../../common/errors.ts';
import { isClaimSubInterfaceName } from '../../inventory/shareable.ts';
import { KernelError } from '../../kernel/errors.ts';
import { linkAdd, linkDeleteByName } from '../../kernel/netlink/route/link-add.ts';
import { linkGetByName, linkList } from '../../kernel/netlink/route/link-ops.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { ClaimRecord, SubInterfaceRecord } from '../record-model.ts';
import { crashPoint } from '../state/crash-points.ts';
import { SubInterfaceLedger, type LedgerEntry } from './sub-ledger.ts';
import { ipvlanFlags, type SubInterfaceSpec } from './sub-spec.ts';

/** What reconcile needs of the claim store. */
export interface RecordLookup {
  list(): readonly ClaimRecord[];
}

export class SubInterfaces {
  readonly #host: NetnsHandle;
  readonly ledger: SubInterfaceLedger;

  constructor(host: NetnsHandle, stateDir: string) {
    this.#host = host;
    this.ledger = SubInterfaceLedger.open(stateDir);
  }

  /**
   * Sub-interfaces of `device` (pool `pool`) in use by claims other than
   * `claimUid`: named by a stored record, or by a ledger entry (a Prepare in
   * flight, or a leftover reconcile has not removed yet).
   */
  used(records: readonly ClaimRecord[], device: string, pool: string, claimUid: string): number {
    const names = new Set<string>();
    for (const r of records) {
      if (r.claim.uid === claimUid) continue;
      for (const d of r.devices) if (d.subInterface !== undefined && d.device === device && d.pool === pool) names.add(d.subInterface.name);
    }
    for (const e of this.ledger.list()) if (e.claimUid !== claimUid && e.device === device && e.pool === pool) names.add(e.name);
    return names.size;
  }

  /**
   * Records the intent, then creates the link (down) on the host. A link of
   * that name already there is this claim's from an interrupted attempt
   * (the ledger names this claim): it is deleted and created again, so its
   * settings are the spec's. Returns its ifindex.
   */
  create(entry: Omit<LedgerEntry, 'at' | 'type'>, spec: SubInterfaceSpec): number {
    const owner = this.ledger.get(entry.name);
    if (owner !== undefined && owner.claimUid !== entry.claimUid) {
      throw new DriverError('PREPARE_SUB_INTERFACE', `sub-interface name ${entry.name} is already recorded for claim ${owner.claimUid}`, { context: { name: entry.name } });
    }
    this.ledger.put({ ...entry, type: spec.type, at: new Date().toISOString() });
    crashPoint('subif.after-intent');
    if (owner !== undefined) this.deleteLink(entry.name);
    const kind = spec.type === 'macvlan' ? { kind: 'macvlan' as const, parent: entry.parentIfIndex as never, mode: spec.mode }
      : spec.type === 'ipvlan' ? { kind: 'ipvlan' as const, parent: entry.parentIfIndex as never, mode: spec.mode, flags: ipvlanFlags(spec.flags) }
        : { kind: 'vlan' as const, parent: entry.parentIfIndex as never, id: spec.vlanId };
    try {
      linkAdd(this.#host, { name: entry.name, spec: kind });
    } catch (err) {
      // Nothing was created: the intent goes (a crash here leaves it for reconcile, which finds no link).
      this.ledger.remove(entry.name);
      throw new DriverError('PREPARE_SUB_INTERFACE',
        `cannot create ${spec.type} ${entry.name} on ${entry.parent} for request ${entry.request}: ${(err as Error).message}`,
        { cause: err, context: { name: entry.name, parent: entry.parent } });
    }
    crashPoint('subif.after-create');
    return linkGetByName(this.#host, entry.name).index;
  }

  /** Deletes the link from the host namespace if it is there (idempotent). */
  deleteLink(name: string): boolean {
    if (!isClaimSubInterfaceName(name)) throw new DriverError('PREPARE_SUB_INTERFACE', `refusing to delete ${name}: not a netclaim sub-interface name`);
    try {
      linkDeleteByName(this.#host, name);
      return true;
    } catch (err) {
      if (err instanceof KernelError && err.errnoName === 'ENODEV') return false;
      throw err;
    }
  }

  /** Deletes a released claim's sub-interfaces (before its record goes). */
  deleteLinks(subs: readonly SubInterfaceRecord[]): void {
    for (const s of subs) this.deleteLink(s.name);
    if (subs.length > 0) crashPoint('subif.after-delete');
  }

  /** Drops the ledger entries (after the record is gone). */
  forget(subs: readonly SubInterfaceRecord[]): void {
    for (const s of subs) this.ledger.remove(s.name);
  }

  /** Rolls back what a failed Prepare created. Best effort per entry; the first failure is rethrown after all were tried. */
  rollback(names: readonly string[]): void {
    let first: unknown;
    for (const n of names) {
      try {
        this.deleteLink(n);
        this.ledger.remove(n);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /**
   * At start: keep what a record names; delete every other netclaim
   * sub-interface on the host and every ledger entry no record names.
   */
  reconcile(store: RecordLookup): { adopted: string[]; deleted: string[] } {
    const named = new Set(store.list().flatMap((r) => r.devices.flatMap((d) => (d.subInterface === undefined ? [] : [d.subInterface.name]))));
    const adopted: string[] = [];
    const deleted: string[] = [];
    const onHost = linkList(this.#host).filter((l) => isClaimSubInterfaceName(l.name)).map((l) => l.name);
    for (const name of new Set([...onHost, ...this.ledger.list().map((e) => e.name)])) {
      if (named.has(name)) {
        adopted.push(name);
        continue;
      }
      if (this.deleteLink(name)) deleted.push(name);
      if (this.ledger.get(name) !== undefined) this.ledger.remove(name);
    }
    return { adopted, deleted };
  }
}

