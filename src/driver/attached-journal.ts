/**
 * The `attached` journal of a claim (docs/pods.md, "Off the sandbox path"):
 * what it says, and the attaches whose `attached` journal is not durable yet.
 *
 * An attach writes `attaching` (durable, naming the sandbox, netns and pin)
 * before the first kernel change; that is what recovery needs. The
 * `attached` journal that follows is written after the pod's container gate
 * has answered (or sooner: before any other hook, unprepare or close reads
 * the store). Until then the attach is `pending` here, in memory, and the
 * gate (container-gate.ts) reads the claim as attached with these devices
 * and checks them in the kernel as it checks a durable journal. A crash
 * before the write leaves `attaching` with the devices in the pod: the state
 * a crash after the last device's move leaves anyway, which Synchronize
 * finishes (I4; crash points `attach.after-device`, `attach.after-answer`).
 */
import { DriverError } from '../common/errors.ts';
import type { NetnsPins } from './netns-pins.ts';
import type { NriPod } from './pod-port.ts';
import type { AttachedDevice, ClaimRecord } from './record-model.ts';

/** An attach done in the kernel whose `attached` journal is not written yet. */
export interface PendingAttached {
  /** The claim's record as the attach journaled it `attaching`. */
  readonly record: ClaimRecord;
  readonly pod: NriPod;
  readonly devices: readonly AttachedDevice[];
}

export interface JournalOptions {
  readonly pins?: NetnsPins | undefined;
  readonly now?: (() => Date) | undefined;
}

/**
 * The record with its journal in `state`. Never `attached` with a device of
 * the claim unaccounted for, or with none at all (ATTACH_NOT_IN_PLACE).
 */
export function journalRecord(record: ClaimRecord, pod: NriPod, state: 'attaching' | 'attached', devices: readonly AttachedDevice[], o: JournalOptions): ClaimRecord {
  const unlisted = record.devices.filter((p) => !devices.some((d) => d.device === p.device)).map((p) => p.device);
  if (state === 'attached' && (record.devices.length === 0 || unlisted.length > 0)) {
    throw new DriverError('ATTACH_NOT_IN_PLACE', `claim ${record.claim.namespace}/${record.claim.name}: not journaled as attached: ${record.devices.length === 0 ? 'it has no devices' : `nothing attached for ${unlisted.join(', ')}`}`);
  }
  return {
    ...record,
    attachment: {
      state, sandboxId: pod.id, netns: pod.netns!, ...(o.pins === undefined ? {} : { pin: o.pins.pathFor(record.claim.uid) }),
      devices, at: (o.now ?? (() => new Date()))().toISOString(),
    },
  };
}

/**
 * Whether a pending `attached` journal still applies to the stored record:
 * only over the `attaching` journal of the same sandbox; anything written
 * since (a detach, another sandbox's attach) wins.
 */
export function stillPending(current: ClaimRecord | undefined, p: PendingAttached): current is ClaimRecord {
  return current?.attachment?.state === 'attaching' && current.attachment.sandboxId === p.pod.id;
}

/**
 * The records as the gate reads them: a claim whose attach is pending reads
 * as `attached` with its devices (in memory only; its kernel state is then
 * checked like any other).
 */
export function withPending(records: readonly ClaimRecord[], pending: readonly PendingAttached[], o: JournalOptions): ClaimRecord[] {
  if (pending.length === 0) return [...records];
  return records.map((r) => {
    const p = pending.find((x) => x.record.claim.uid === r.claim.uid);
    return p !== undefined && stillPending(r, p) ? journalRecord(r, p.pod, 'attached', p.devices, o) : r;
  });
}
