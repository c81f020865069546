/**
 * The driver behind the NRI surface (PodPort): the moment a pod gets its
 * devices, and the moment it gives them back.
 *
 * RunPodSandbox   the pod's prepared claims (store, by pod UID) → journal
 *                 `attaching` → attach every device (attach/) → journal
 *                 `attached` → claim status (in the background). Any device
 *                 failing rolls back the devices this call attached and fails
 *                 the sandbox; the kubelet retries. A repeated hook converges.
 * CreateContainer fail-closed: every device must be in the pod's netns (it is
 *                 attached now if RunPodSandbox was missed); otherwise the
 *                 container fails.
 * StopPodSandbox  RDMA back, netdev back under its host name, host state
 *                 restored; never throws, never blocks shutdown.
 * RemovePodSandbox the same, for a pod whose stop was missed.
 * Synchronize     after a (re)connect or a driver restart: finish or undo
 *                 what a crash interrupted, re-attach running pods that lack
 *                 their devices, give back devices of pods that are gone.
 * returnDevices   the same give-back for NodeUnprepareResources (ClaimDriver),
 *                 which must not drop the record of a device still in a pod.
 *
 * A claim's journal is cleared only when every device is settled: back on
 * the host and restored, or proven gone (a virtual device destroyed with its
 * namespace) — invariant I2 of docs/pods.md. A physical device missing from
 * both namespaces after its pod's namespace died is on its way back (the
 * kernel returns it asynchronously): the host is polled for it (every
 * `returnPollMs`, at most `returnTimeoutMs`), and it is restored the moment
 * it is seen; if it never comes, that is reported through
 * `observer.detachProblems` and the journal stays for the next try.
 *
 * Pod hooks run one at a time (kernel work is synchronous anyway), so two
 * hooks for the same pod never interleave.
 */
import { DriverError } from '../common/errors.ts';
import { KernelError } from '../kernel/errors.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { attachDevice, backOnHost, detachDevice, type DetachResult } from './attach/attach-device.ts';
import { assertNotHostNetns, isNamespace, sameNetns } from './attach/netns-guard.ts';
import type { ClaimStatusSink } from './claim.ts';
import type { DeviceReturner, NotReturned } from './claim-driver.ts';
import { attachableProblem, notInPlace } from './pod-checks.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './plan/plan-types.ts';
import type { NriContainer, NriContainerAdjustment, NriPod, PodPort } from './pod-port.ts';
import type { ClaimStore } from './state/claim-store.ts';
import { crashPoint } from './state/crash-points.ts';

export interface PodObserver {
  hook?(hook: 'run' | 'stop' | 'remove' | 'create' | 'sync', pod: NriPod | undefined, ms: number, err?: unknown): void;
  /** A detach that could not restore everything, or a device it could not find. */
  detachProblems?(record: ClaimRecord, problems: readonly string[]): void;
  /** A pod the driver could not put right after a restart (Synchronize). */
  unreconciled?(record: ClaimRecord, err: unknown): void;
}

export interface PodDriverOptions {
  readonly store: ClaimStore;
  readonly host: NetnsHandle;
  readonly libc: Libc;
  /** RDMA devices move with the netdev (RDMA netns mode `exclusive`). */
  readonly rdmaExclusive: () => boolean;
  readonly status?: ClaimStatusSink;
  readonly observer?: PodObserver;
  /**
   * Another daemon instance may share the store (rolling update): each hook
   * then holds this cross-process lock and re-reads the store first, so two
   * instances handling the same pod run one after the other and the second
   * converges.
   */
  readonly shared?: { lock(): Promise<void>; unlock(): void };
  /** Fault injection for tests: called before each device's attach. */
  readonly fault?: (step: string) => void;
  readonly now?: () => Date;
  /**
   * How long a physical device may take to come back to the host after its
   * pod's namespace died before that is reported (default 30 s). Its journal
   * stays either way.
   */
  readonly returnTimeoutMs?: number;
  /** How often the host is checked for such a device meanwhile (default 250 ms). */
  readonly returnPollMs?: number;
}

const ENOENT = 2;
const RETURN_TIMEOUT_MS = 30_000;
const RETURN_POLL_MS = 250;

export class PodDriver implements PodPort, DeviceReturner {
  readonly #o: PodDriverOptions;
  #queue: Promise<unknown> = Promise.resolve();
  /** Claims whose devices are awaited back on the host: the poll timer. */
  readonly #returning = new Map<string, ReturnType<typeof setTimeout>>();
  /** Claims already reported for a device that did not come back (reported once until their journal clears). */
  readonly #lateReported = new Set<string>();
  #closed = false;

  constructor(o: PodDriverOptions) {
    this.#o = o;
  }

  runPodSandbox(pod: NriPod): Promise<void> {
    return this.#serial('run', pod, () => this.#attachPod(pod));
  }

  stopPodSandbox(pod: NriPod): Promise<void> {
    return this.#serial('stop', pod, () => this.#detachPod(pod), false);
  }

  removePodSandbox(pod: NriPod): Promise<void> {
    return this.#serial('remove', pod, () => this.#detachPod(pod), false);
  }

  createContainer(pod: NriPod, _container: NriContainer): Promise<NriContainerAdjustment> {
    return this.#serial('create', pod, () => {
      const records = this.#o.store.byPod(pod.uid);
      if (records.length === 0) return {};
      if (records.every((r) => this.#notInPlace(r).length === 0)) return {};
      this.#attachPod(pod);
      // Fail-closed: the container starts only if every device of every claim is now in place.
      const missing = this.#o.store.byPod(pod.uid).flatMap((r) => this.#notInPlace(r).map((m) => `${r.claim.namespace}/${r.claim.name}: ${m}`));
      if (missing.length > 0) {
        throw new DriverError('ATTACH_NOT_IN_PLACE', `pod ${pod.namespace}/${pod.name}: not in place after attaching: ${missing.join('; ')}`, { context: { missing } });
      }
      return {};
    });
  }

  /**
   * Gives a claim's devices back as for a pod that is gone (NodeUnprepareResources
   * of a claim whose journal says they are in a pod); returns those not back on
   * the host yet, whose journal stays. Synchronous, so it runs between two
   * hooks, never inside one (and never waits for the cross-instance lock, which
   * the kubelet call already holds).
   */
  returnDevices(uid: string): readonly NotReturned[] {
    const r = this.#o.store.get(uid);
    if (r?.attachment === undefined) return [];
    return this.#detachFrom(r, r.attachment.netns);
  }

  /** Stops waiting for devices to come back (their journals stay); idempotent. */
  close(): void {
    this.#closed = true;
    for (const t of this.#returning.values()) clearTimeout(t);
    this.#returning.clear();
  }

  synchronize(pods: readonly NriPod[], _containers: readonly NriContainer[]): Promise<void> {
    return this.#serial('sync', undefined, () => {
      const running = new Map(pods.map((p) => [p.uid, p]));
      for (const r of this.#o.store.list()) {
        const pod = running.get(r.podUid);
        try {
          if (pod === undefined) {
            // The pod is gone (stopped while we were away): give its devices back.
            if (r.attachment !== undefined) this.#detachFrom(r, r.attachment.netns);
          } else if (pod.netns !== undefined && this.#notInPlace(r).length > 0) {
            this.#attachPod(pod);
          }
        } catch (err) {
          this.#o.observer?.unreconciled?.(r, err);
        }
      }
    }, false);
  }

  /** Runs hooks one at a time; `rethrow` false swallows errors (after reporting them). */
  #serial<T>(hook: 'run' | 'stop' | 'remove' | 'create' | 'sync', pod: NriPod | undefined, fn: () => T, rethrow = true): Promise<T> {
    return this.#enqueue(() => {
      const start = performance.now();
      try {
        const r = fn();
        this.#o.observer?.hook?.(hook, pod, performance.now() - start);
        return r;
      } catch (err) {
        this.#o.observer?.hook?.(hook, pod, performance.now() - start, err);
        if (rethrow) throw err;
        return undefined as T;
      }
    });
  }

  /** Runs `fn` after everything queued, holding the cross-instance lock (store re-read) when shared. */
  #enqueue<T>(fn: () => T): Promise<T> {
    const run = async (): Promise<T> => {
      const shared = this.#o.shared;
      if (shared !== undefined) await shared.lock();
      try {
        if (shared !== undefined) this.#o.store.refresh();
        return fn();
      } finally {
        shared?.unlock();
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  #attachPod(pod: NriPod): void {
    const records = this.#o.store.byPod(pod.uid);
    if (records.length === 0) return; // not a pod of ours
    const what = `pod ${pod.namespace}/${pod.name}`;
    if (pod.netns === undefined || pod.netns === '') {
      throw new DriverError('ATTACH_FAILED', `${what} has netclaim devices but no network namespace (hostNetwork pods cannot take network devices)`);
    }
    const exclusive = this.#o.rdmaExclusive();
    for (const record of records) {
      for (const plan of record.devices) {
        const problem = attachableProblem(plan, exclusive);
        if (problem !== undefined) {
          throw new DriverError('ATTACH_DEVICE_EMPTY', `${what}, claim ${record.claim.namespace}/${record.claim.name}: device ${plan.device} ${problem}`, {
            context: { device: plan.device, claim: record.claim.uid },
          });
        }
      }
    }
    const target = NetnsHandle.open(pod.netns, { libc: this.#o.libc });
    try {
      assertNotHostNetns(this.#o.host, target, what);
    } catch (err) {
      target.close();
      throw err;
    }
    const done: { record: ClaimRecord }[] = [];
    try {
      for (const record of records) {
        const journal = this.#journal(record, pod, 'attaching', record.attachment?.devices ?? []);
        done.push({ record: journal });
        crashPoint('attach.after-journal');
        const devices: AttachedDevice[] = [];
        for (const plan of record.devices) {
          devices.push(this.#attachOne(plan, target, exclusive));
          crashPoint('attach.after-device');
        }
        const attached = this.#journal(record, pod, 'attached', devices);
        this.#o.status?.devicesReady(attached, devices.filter((d) => d.kind === undefined));
      }
    } catch (err) {
      // All or nothing for the pod: give back what this call (or an earlier try) attached.
      for (const { record } of done.reverse()) this.#detachRecord(record, target);
      throw err;
    } finally {
      target.close();
    }
  }

  /** Attaches one device (a netdev, or an RDMA device in exclusive mode); an RDMA-only device in shared mode is handed over by CDI alone. */
  #attachOne(plan: DevicePlan, target: NetnsHandle, exclusive: boolean): AttachedDevice {
    if (plan.pod === undefined && !exclusive) return { device: plan.device, kind: 'rdma', ifIndex: 0, name: plan.rdma!.device, mac: '', ips: [] };
    this.#o.fault?.(`attach:${plan.device}`);
    const r = attachDevice({ host: this.#o.host, pod: target, libc: this.#o.libc, rdmaExclusive: exclusive }, plan);
    if (plan.pod === undefined) return { device: plan.device, kind: 'rdma', ifIndex: 0, name: r.name, mac: '', ips: [] };
    return { device: plan.device, ifIndex: r.ifIndex, name: r.name, mac: r.mac, ips: r.ips };
  }

  #detachPod(pod: NriPod): void {
    for (const r of this.#o.store.byPod(pod.uid)) {
      if (r.attachment === undefined) continue;
      this.#detachFrom(r, pod.netns !== undefined && pod.netns !== '' ? pod.netns : r.attachment.netns);
    }
  }

  /**
   * Detaches a record's devices from the netns at `path`, or, when that is
   * gone (or no longer a namespace), from wherever they are now. Returns the
   * devices not back yet.
   */
  #detachFrom(r: ClaimRecord, path: string): NotReturned[] {
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
      return this.#detachRecord(r, target);
    } finally {
      target?.close();
    }
  }

  /** The pod's namespace cannot be opened (not because it is gone): nothing is touched, the journal stays. */
  #unsearchable(r: ClaimRecord, path: string, err: unknown): NotReturned[] {
    const reason = `the pod's network namespace ${path} cannot be opened: ${err instanceof Error ? err.message : String(err)}`;
    this.#o.observer?.detachProblems?.(r, [reason]);
    return r.devices.map((d) => ({ device: d.device, reason }));
  }

  /**
   * Detaches every device of a record (RDMA first, inside detachDevice) and
   * clears its journal when all are settled; otherwise the journal stays, and
   * devices on their way back from a dead namespace are awaited.
   */
  #detachRecord(record: ClaimRecord, pod: NetnsHandle | undefined): NotReturned[] {
    const problems: string[] = [];
    const left: NotReturned[] = [];
    const pending: DevicePlan[] = [];
    for (const plan of [...record.devices].reverse()) {
      const r = detachDevice({ host: this.#o.host, ...(pod === undefined ? {} : { pod }), libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() }, plan);
      problems.push(...r.problems.map((p) => `${plan.device}: ${p.step}: ${p.message}`));
      if (r.found === 'gone' && r.settled && plan.pod !== undefined) problems.push(`${plan.device}: not found in the pod or on the host (a virtual device dies with its namespace)`);
      if (!r.settled) left.push({ device: plan.device, reason: notBackReason(r) });
      if (!r.settled && (r.found === 'pending' || r.rdmaFound === 'pending')) pending.push(plan);
      crashPoint('detach.after-device');
    }
    const current = this.#o.store.get(record.claim.uid) ?? record;
    if (left.length === 0 && current.attachment !== undefined) {
      const { attachment: _, ...rest } = current;
      this.#o.store.put(rest);
      this.#lateReported.delete(record.claim.uid);
    }
    if (problems.length > 0) this.#o.observer?.detachProblems?.(record, problems);
    if (pending.length > 0) this.#awaitReturn(record.claim.uid, pending);
    return left;
  }

  /**
   * Polls the host for devices on their way back from a namespace that died,
   * and gives the claim's devices back (restored) as soon as all are there.
   * Bounded: after `returnTimeoutMs` the wait is reported once and ends; the
   * journal stays for the next hook, Synchronize or unprepare.
   */
  #awaitReturn(uid: string, plans: readonly DevicePlan[]): void {
    if (this.#returning.has(uid) || this.#closed) return;
    const deadline = performance.now() + (this.#o.returnTimeoutMs ?? RETURN_TIMEOUT_MS);
    const poll = this.#o.returnPollMs ?? RETURN_POLL_MS;
    const tick = (): void => {
      void this.#enqueue(() => this.#returnTick(uid, plans, deadline)).then(
        (again) => { this.#returning.delete(uid); if (again) schedule(); },
        () => { this.#returning.delete(uid); },
      );
    };
    const schedule = (): void => {
      if (this.#closed) return;
      const t = setTimeout(tick, poll);
      t.unref();
      this.#returning.set(uid, t);
    };
    schedule();
  }

  /** One poll: true to poll again. */
  #returnTick(uid: string, plans: readonly DevicePlan[], deadline: number): boolean {
    if (this.#closed) return false;
    const r = this.#o.store.get(uid);
    if (r?.attachment === undefined) return false;
    const exclusive = this.#o.rdmaExclusive();
    const missing = plans.filter((p) => !backOnHost(this.#o.host, p, exclusive));
    if (missing.length === 0 && this.#detachFrom(r, r.attachment.netns).length === 0) return false;
    if (performance.now() < deadline) return true;
    if (missing.length > 0 && !this.#lateReported.has(uid)) {
      this.#lateReported.add(uid);
      const s = (this.#o.returnTimeoutMs ?? RETURN_TIMEOUT_MS) / 1000;
      this.#o.observer?.detachProblems?.(r, missing.map((p) => `${p.device}: did not come back to the host within ${s} s after its pod's network namespace died; its host snapshot and journal are kept, and it is restored when a later StopPodSandbox, Synchronize or NodeUnprepareResources finds it back`));
    }
    return false;
  }

  #journal(record: ClaimRecord, pod: NriPod, state: 'attaching' | 'attached', devices: readonly AttachedDevice[]): ClaimRecord {
    const unlisted = record.devices.filter((p) => !devices.some((d) => d.device === p.device)).map((p) => p.device);
    if (state === 'attached' && (record.devices.length === 0 || unlisted.length > 0)) {
      // Never `attached` with a device of the claim unaccounted for (or with none at all).
      throw new DriverError('ATTACH_NOT_IN_PLACE', `claim ${record.claim.namespace}/${record.claim.name}: not journaled as attached: ${record.devices.length === 0 ? 'it has no devices' : `nothing attached for ${unlisted.join(', ')}`}`);
    }
    const next: ClaimRecord = {
      ...record,
      attachment: { state, sandboxId: pod.id, netns: pod.netns!, devices, at: (this.#o.now ?? (() => new Date()))().toISOString() },
    };
    this.#o.store.put(next);
    return next;
  }

  /** What of the record is not where its journal says (empty: all in place). */
  #notInPlace(r: ClaimRecord): string[] {
    return notInPlace(r, { libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() });
  }
}

/** Why a device is not settled, for the unprepare error and logs. */
function notBackReason(r: DetachResult): string {
  if (r.found === 'pending' || r.rdmaFound === 'pending') return 'is not back on the host yet (the kernel returns a physical device from a dead pod namespace asynchronously)';
  if (r.found === 'pod') return `is still in the pod's network namespace (${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ') || 'moving it back failed'})`;
  return `could not be found (${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ')})`;
}
