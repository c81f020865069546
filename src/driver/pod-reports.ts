/**
 * What the pod side decides to tell users and do about a pod whose devices
 * it could not put right — the driver's decisions, behind the ports it
 * declares (claim.ts), so the daemon only composes and instruments:
 *
 *   devices in place         claim status Ready (ClaimStatusSink)
 *   detach left problems     Warning Event NetworkDeviceDetachIncomplete
 *   pod not reconciled       Warning Event NetworkDeviceReconcileFailed,
 *                            claim status Ready=False with the reason, and
 *                            with an evictor (policy --evict-unreconciled)
 *                            the pod evicted through the Eviction API
 *
 * Every text is the one error-text format (`CODE: message`, errorText).
 * The observer hears the same things for logs and metrics.
 */
import { errorText } from '../common/errors.ts';
import type { ClaimStatusSink, EventSink, PodEvictor } from './claim.ts';
import type { NriPod } from './pod-port.ts';
import type { AttachedDevice, ClaimRecord } from './record-model.ts';

/** What the pod side reports as it goes (logs, metrics); every method is optional. */
export interface PodObserver {
  /** `ms` from the hook's arrival (queueing included); `steps` says where it went (observe/steps.ts), empty for a pod without our claims. */
  hook?(hook: 'early' | 'run' | 'stop' | 'remove' | 'create' | 'start' | 'sync', pod: NriPod | undefined, ms: number, err?: unknown, steps?: Readonly<Record<string, number>>): void;
  /** A claim's `attached` journal was written after the hook that attached it (attached-journal.ts): its devices are in its pod. */
  attached?(record: ClaimRecord): void;
  /**
   * A freshly prepared claim's devices were taken down on the host ahead of
   * its pod (early-down.ts): `downed`, in `ms`; `problems` are devices left
   * for the attach to take down.
   */
  earlyDown?(record: ClaimRecord, downed: readonly string[], ms: number, problems: readonly string[]): void;
  /** A detach that could not restore everything, or a device it could not find. */
  detachProblems?(record: ClaimRecord, problems: readonly string[]): void;
  /** A pod the driver could not put right after a restart (Synchronize). */
  unreconciled?(record: ClaimRecord, err: unknown): void;
  /** The pod of an unreconciled claim was evicted (`err` when the eviction failed). */
  evicted?(record: ClaimRecord, err?: unknown): void;
  /** The runtime connection became usable (synchronized) or was lost, with why. */
  runtime?(ready: boolean, reason?: string): void;
  /** How many pod namespaces are pinned now. */
  pins?(count: number): void;
  /** A pod interface's DHCP lease could not be kept (NAK, expired): the pod has lost that address. */
  dhcpLeaseLost?(record: ClaimRecord, device: string, reason: string): void;
}

export interface PodReportsOptions {
  readonly status?: ClaimStatusSink;
  readonly events?: EventSink;
  /** Present: evict a pod whose devices cannot be put right (policy `--evict-unreconciled`); absent: report only. */
  readonly evictor?: PodEvictor;
  readonly observer?: PodObserver;
}

export class PodReports {
  readonly #o: PodReportsOptions;

  constructor(o: PodReportsOptions) {
    this.#o = o;
  }

  get observer(): PodObserver | undefined {
    return this.#o.observer;
  }

  /** Before the pod's containers may start (the attach's `attached` journal still to come): what they read at start. */
  devicesInPlace(record: ClaimRecord, devices: readonly AttachedDevice[]): void {
    this.#o.status?.devicesInPlace?.(record, devices);
  }

  devicesReady(record: ClaimRecord, devices: readonly AttachedDevice[]): void {
    this.#o.status?.devicesReady(record, devices);
  }

  detachProblems(record: ClaimRecord, problems: readonly string[]): void {
    this.#o.observer?.detachProblems?.(record, problems);
    this.#o.events?.claimWarning(record.claim, 'NetworkDeviceDetachIncomplete', problems.join('; '));
  }

  dhcpLeaseLost(record: ClaimRecord, device: string, reason: string): void {
    this.#o.observer?.dhcpLeaseLost?.(record, device, reason);
    this.#o.events?.claimWarning(record.claim, 'NetworkDeviceDhcpLeaseLost', `${device}: ${reason}`);
  }

  /** A claim whose devices could not be put in place in its running pod: status, Event, and eviction by policy. */
  unreconciled(record: ClaimRecord, err: unknown): void {
    const text = errorText(err);
    this.#o.observer?.unreconciled?.(record, err);
    this.#o.events?.claimWarning(record.claim, 'NetworkDeviceReconcileFailed', text);
    this.#o.status?.devicesNotReady(record, text);
    const evictor = this.#o.evictor;
    if (evictor === undefined) return;
    evictor.evict(record.claim.namespace, record.podName, text).then(
      () => this.#o.observer?.evicted?.(record),
      (e: unknown) => this.#o.observer?.evicted?.(record, e),
    );
  }
}
