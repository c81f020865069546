/**
 * Giving a pod's devices back (StopPodSandbox, RemovePodSandbox, Synchronize
 * for a pod that is gone, NodeUnprepareResources, an attach rolled back):
 * each device moved back from the pod's pinned namespace (else the runtime's
 * path, else found on the host where the kernel returned it) and restored
 * from its snapshot. A claim's journal is cleared only when every device is
 * settled (I2); then its pin is released. A physical device missing from both
 * namespaces after an unpinned namespace died is awaited back on the host
 * (return-wait.ts). The pins' start-up sweep and count live here too.
 */
import { KernelError } from '../kernel/errors.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { timed, type Steps } from '../observe/steps.ts';
import { backOnHost, detachDevice, type DetachResult } from './attach/attach-device.ts';
import { isNamespace, sameNetns } from './attach/netns-guard.ts';
import type { NotReturned } from './claim-driver.ts';
import type { NetnsPins } from './netns-pins.ts';
import type { PodLeases } from './pod-leases.ts';
import type { PodReports } from './pod-reports.ts';
import type { ClaimRecord, DevicePlan } from './record-model.ts';
import { ReturnWait } from './return-wait.ts';
import type { ClaimStore } from './state/claim-store.ts';
import { crashPoint } from './state/crash-points.ts';

const ENOENT = 2;

export interface PodGiveBackOptions {
  readonly store: ClaimStore;
  readonly host: NetnsHandle;
  readonly libc: Libc;
  readonly rdmaExclusive: () => boolean;
  readonly pins?: NetnsPins | undefined;
  readonly reports: PodReports;
  readonly leases: PodLeases;
  /** The running hook's step timings. */
  readonly steps: () => Steps | undefined;
  /** Runs a poll for returning devices in the pod driver's hook queue. */
  readonly run: <T>(fn: () => T) => Promise<T>;
  readonly returnTimeoutMs?: number | undefined;
  readonly returnPollMs?: number | undefined;
}

export class PodGiveBack {
  readonly #o: PodGiveBackOptions;
  /** Physical devices awaited back on the host from a namespace that died. */
  readonly #returns: ReturnWait;

  constructor(o: PodGiveBackOptions) {
    this.#o = o;
    this.#returns = new ReturnWait({
      ...(o.returnTimeoutMs === undefined ? {} : { timeoutMs: o.returnTimeoutMs }),
      ...(o.returnPollMs === undefined ? {} : { pollMs: o.returnPollMs }),
      run: (fn) => o.run(fn),
    });
  }

  /** Stops waiting for devices to come back (their journals stay); idempotent. */
  close(): void {
    this.#returns.close();
  }

  /**
   * Detaches a record's devices from its pinned namespace, else the netns at
   * `path`, or, when that is gone (or no longer a namespace), from wherever
   * they are now. Returns the devices not back yet.
   */
  detachFrom(r: ClaimRecord, runtimePath: string): NotReturned[] {
    const pin = r.attachment?.pin;
    const path = pin !== undefined && this.#o.pins?.held(pin) === true ? pin : runtimePath;
    let target: NetnsHandle | undefined;
    try {
      target = NetnsHandle.open(path, { libc: this.#o.libc });
    } catch (err) {
      // The runtime deleted the netns first: find the devices on the host. Any other
      // failure leaves them unsearched in a namespace that may still hold them.
      if (!(err instanceof KernelError && err.errno === ENOENT)) return this.#unsearchable(r, path, err);
    }
    if (target !== undefined && (!isNamespace(target, this.#o.host) || sameNetns(target, this.#o.host))) {
      target.close(); // a file left where the namespace was mounted, or the host's own: nothing to search there
      target = undefined;
    }
    try {
      return this.detachRecord(r, target);
    } finally {
      target?.close();
    }
  }

  /** The pod's namespace cannot be opened (not because it is gone): nothing is touched, the journal stays. */
  #unsearchable(r: ClaimRecord, path: string, err: unknown): NotReturned[] {
    const reason = `the pod's network namespace ${path} cannot be opened: ${err instanceof Error ? err.message : String(err)}`;
    this.#o.reports.detachProblems(r, [reason]);
    return r.devices.map((d) => ({ device: d.device, reason }));
  }

  /**
   * Detaches every device of a record (RDMA first, inside detachDevice) and
   * clears its journal when all are settled; otherwise the journal stays, and
   * devices on their way back from a dead namespace are awaited.
   */
  detachRecord(record: ClaimRecord, pod: NetnsHandle | undefined): NotReturned[] {
    const problems: string[] = [];
    const left: NotReturned[] = [];
    const pending: DevicePlan[] = [];
    for (const plan of [...record.devices].reverse()) {
      this.#o.leases.release(record, plan, pod, problems, this.#o.steps());
      const r = timed(this.#o.steps(), 'detach', () => detachDevice({ host: this.#o.host, ...(pod === undefined ? {} : { pod }), libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() }, plan));
      problems.push(...r.problems.map((p) => `${plan.device}: ${p.step}: ${p.message}`));
      if (r.found === 'gone' && r.settled && plan.pod !== undefined) problems.push(`${plan.device}: not found in the pod or on the host (a virtual device dies with its namespace)`);
      if (!r.settled) left.push({ device: plan.device, reason: notBackReason(r) });
      if (!r.settled && (r.found === 'pending' || r.rdmaFound === 'pending')) pending.push(plan);
      crashPoint('detach.after-device');
    }
    const current = this.#o.store.get(record.claim.uid) ?? record;
    if (left.length === 0 && current.attachment !== undefined) {
      const { attachment, ...rest } = current;
      timed(this.#o.steps(), 'journal', () => this.#o.store.put(rest));
      this.#returns.settled(record.claim.uid);
      // The pin goes only now: every device is back and restored (or gone), and the journal no longer names it.
      if (attachment.pin !== undefined) timed(this.#o.steps(), 'unpin', () => this.#releasePin(record, attachment.pin!));
    }
    if (problems.length > 0) this.#o.reports.detachProblems(record, problems);
    if (pending.length > 0) this.#returns.await(record.claim.uid, (deadline, late) => this.#returnTick(record.claim.uid, pending, deadline, late));
    return left;
  }

  /** One poll for devices on their way back (return-wait.ts): gives the claim's devices back once all are there; true to poll again. */
  #returnTick(uid: string, plans: readonly DevicePlan[], deadline: number, late: () => boolean): boolean {
    const r = this.#o.store.get(uid);
    if (r?.attachment === undefined) return false;
    const exclusive = this.#o.rdmaExclusive();
    const missing = plans.filter((p) => !backOnHost(this.#o.host, p, exclusive));
    if (missing.length === 0 && this.detachFrom(r, r.attachment.netns).length === 0) return false;
    if (performance.now() < deadline) return true;
    if (missing.length > 0 && late()) {
      const s = this.#returns.timeoutMs / 1000;
      this.#o.reports.detachProblems(r, missing.map((p) => `${p.device}: did not come back to the host within ${s} s after its pod's network namespace died; its host snapshot and journal are kept, and it is restored when a later StopPodSandbox, Synchronize or NodeUnprepareResources finds it back`));
    }
    return false;
  }

  /** Releases a pin whose journal is cleared; a failure is reported, and the start-up sweep tries again. */
  #releasePin(record: ClaimRecord, path: string): void {
    crashPoint('detach.before-unpin');
    try {
      this.#o.pins?.release(path);
    } catch (err) {
      this.#o.reports.detachProblems(record, [`releasing the pin ${path} of the pod's network namespace: ${err instanceof Error ? err.message : String(err)}`]);
    }
    this.countPins();
  }

  /** At start-up: pins no journal names are released (netns-pins.ts). */
  sweepPins(): void {
    const pins = this.#o.pins;
    if (pins === undefined) return;
    pins.sweep(new Set(this.#o.store.list().map((r) => r.attachment?.pin).filter((p) => p !== undefined)));
    this.countPins();
  }

  countPins(): void {
    if (this.#o.pins !== undefined) this.#o.reports.observer?.pins?.(this.#o.pins.heldCount());
  }
}

/** Why a device is not settled, for the unprepare error and logs. */
function notBackReason(r: DetachResult): string {
  if (r.found === 'pending' || r.rdmaFound === 'pending') return 'is not back on the host yet (the kernel returns a physical device from a dead pod namespace asynchronously)';
  if (r.found === 'pod') return `is still in the pod's network namespace (${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ') || 'moving it back failed'})`;
  return `could not be found (${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ')})`;
}
