/**
 * The driver behind the NRI surface (PodPort): the moment a pod gets its
 * devices, and the moment it gives them back.
 *
 * RunPodSandbox   the pod's prepared claims (store, by pod UID) → journal
 *                 `attaching` → attach every device (attach/) → journal
 *                 `attached` (after the container gate, attached-journal.ts)
 *                 → claim status (in the background). Any device failing
 *                 rolls back the devices this call attached and fails the
 *                 sandbox (with `attachAfterAnswer`, the container); the
 *                 kubelet retries. A repeated hook converges.
 * CreateContainer the gate, fail-closed: every device must be in the pod's
 *                 netns (it is attached now if RunPodSandbox was missed);
 *                 otherwise the container fails. Its adjustment:
 *                 container-gate.ts.
 * StopPodSandbox  RDMA back, netdev back under its host name, host state
 *                 restored; never throws, never blocks shutdown. Only for
 *                 the sandbox the journal names (stale-sandbox.ts).
 * RemovePodSandbox the same, for a pod whose stop was missed.
 * Synchronize     after a (re)connect or a driver restart: finish or undo
 *                 what a crash interrupted, re-attach running pods that lack
 *                 their devices, give back devices of pods that are gone.
 * returnDevices   the same give-back for NodeUnprepareResources (ClaimDriver),
 *                 which must not drop the record of a device still in a pod.
 *
 * The runtime connection is part of the driver's state: until the runtime
 * has synchronized the plugin (and again from the moment it drops it),
 * `runtimeProblem()` says why pods cannot be served, and the claim driver
 * refuses Prepare (docs/pods.md, invariant I1).
 *
 * With pins (netns-pins.ts), each attached claim holds its pod's namespace:
 * the journal names the pin before it is made, detach goes through it, and
 * it is released after the journal is cleared (invariants I2, I4).
 *
 * What users see and what is done about a pod that cannot be put right
 * (claim status, Events, eviction by policy) is decided here too, through
 * pod-reports.ts; the observer only hears about it.
 *
 * A claim's journal is cleared only when every device is settled: back on
 * the host and restored, or proven gone (a virtual device destroyed with its
 * namespace) — invariant I2 of docs/pods.md; the give-back is
 * pod-give-back.ts.
 *
 * Pod hooks run one at a time (pod-hook-queue.ts), so two hooks for the same
 * pod never interleave; an attach lets the event loop read (not run) what
 * arrives between its devices.
 *
 * DHCP leases (`interface.dhcp`, docs/dhcp.md): pod-leases.ts.
 */
import { DriverError } from '../common/errors.ts';
import type { ClaimUid } from '../common/ids.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { attachDevice } from './attach/attach-device.ts';
import { assertNotHostNetns } from './attach/netns-guard.ts';
import { journalRecord, stillPending, withPending, type PendingAttached } from './attached-journal.ts';
import type { DeviceReturner, NotReturned } from './claim-driver.ts';
import { adjustmentNeedsDevices, containerAdjustment } from './container-gate.ts';
import type { DhcpLeases } from './dhcp-leases.ts';
import { CreateWaits } from './create-waits.ts';
import { hostDownEarlyClaims, restoreUnattachedClaim, type EarlyDownResult } from './early-down.ts';
import { attachableProblem, notInPlace } from './pod-checks.ts';
import { PodLeases } from './pod-leases.ts';
import { PodReports } from './pod-reports.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './record-model.ts';
import type { PodDriverOptions } from './pod-driver-options.ts';
import type { NriContainer, NriContainerAdjustment, NriPod, PodPort } from './pod-port.ts';
import { PodGiveBack } from './pod-give-back.ts';
import { HookQueue } from './pod-hook-queue.ts';
import { heldElsewhere, sandboxHolds } from './stale-sandbox.ts';
import { RecentIds } from './recent-ids.ts';
import { crashPoint } from './state/crash-points.ts';
import { addStep, timed, type Steps } from '../observe/steps.ts';

/**
 * The longest an attach's `attached` journal waits for its pod's first
 * CreateContainer to answer (attached-journal.ts); any other hook, an
 * unprepare or close writes it sooner. With the gate at StartContainer it is
 * written right after the attach instead (see #attachPod).
 */
const ATTACHED_JOURNAL_WAIT_MS = 250;
/** How many sandbox ids the early attach remembers as already hooked: far more than sandboxes start between two events. */
const HOOKED_SANDBOXES_KEPT = 4096;

/**
 * Lets the event loop read what arrived on the sockets (an NRI request above
 * all) between two steps of a long job: two turns, so a poll phase is
 * always between (one setImmediate from a poll callback runs before the
 * next poll). What it reads is queued behind the job, not run.
 */
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

export type { PodObserver } from './pod-reports.ts';

export type { PodDriverOptions } from './pod-driver-options.ts';

const NOT_SYNCHRONIZED = 'the container runtime has not connected and synchronized netclaim\'s NRI plugin yet';

export class PodDriver implements PodPort, DeviceReturner {
  readonly #o: PodDriverOptions;
  readonly #reports: PodReports;
  readonly #queue: HookQueue;
  /** Why the runtime connection cannot serve pods now; undefined while it is synchronized. */
  #runtime: string | undefined = NOT_SYNCHRONIZED;
  /** Bumped on every lost connection, so a Synchronize of an older connection does not count. */
  #connection = 0;
  /** Giving devices back, and the pins' sweep and count. */
  readonly #giveBack: PodGiveBack;
  /** The DHCP leases of attached interfaces, kept renewed. */
  readonly #leases: PodLeases;
  #closed = false;
  /**
   * Attaches done in the kernel whose `attached` journal is not written yet
   * (attached-journal.ts): written after the pod's CreateContainer answered,
   * else when ATTACHED_JOURNAL_WAIT_MS have passed, and in any case before
   * anything but the container gate reads the store: every other queued
   * job, returnDevices, close. Until then the gate reads them as attached
   * and checks them in the kernel (I1); a crash leaves `attaching`, which
   * Synchronize finishes (I4).
   */
  #pending: PendingAttached[] = [];
  #pendingTimer: NodeJS.Timeout | undefined;
  /**
   * Claims an attach is working on while it lets the event loop run
   * (between its steps): returnDevices leaves them alone (the kubelet's
   * unprepare retries), since the attach goes on with them after.
   */
  readonly #attaching = new Set<string>();
  /** Attaches waiting for their pod's CreateContainer (the gate at StartContainer; create-waits.ts). */
  readonly #createWaits = new CreateWaits();
  /** Sandboxes the runtime's own hooks named (RunPodSandbox, StopPodSandbox, RemovePodSandbox): an early attach for one comes too late. */
  readonly #hookedSandboxes = new RecentIds(HOOKED_SANDBOXES_KEPT);
  /** Sandboxes the early attach attached: their RunPodSandbox has nothing left to do when the journals agree. */
  readonly #earlyAttached = new RecentIds(HOOKED_SANDBOXES_KEPT);

  constructor(o: PodDriverOptions) {
    this.#o = o;
    this.#reports = new PodReports(o);
    this.#queue = new HookQueue({
      shared: o.shared, refresh: () => o.store.refresh(), before: (steps) => this.#flushAttached(steps),
      report: (hook, pod, ms, err, steps) => this.#reports.observer?.hook?.(hook, pod, ms, err, steps),
    });
    this.#leases = new PodLeases({
      libc: o.libc, store: o.store, reports: this.#reports, enqueue: (fn) => this.#queue.job(fn),
      ...(o.pins === undefined ? {} : { pins: o.pins }),
      ...(o.dhcpAttemptMs === undefined ? {} : { attemptMs: o.dhcpAttemptMs }),
    });
    this.#giveBack = new PodGiveBack({
      store: o.store, host: o.host, libc: o.libc, rdmaExclusive: o.rdmaExclusive, pins: o.pins, reports: this.#reports, leases: this.#leases,
      steps: () => this.#queue.steps, run: (fn) => this.#queue.job(fn), returnTimeoutMs: o.returnTimeoutMs, returnPollMs: o.returnPollMs,
    });
    // Shared with another instance (rolling update): under the cross-instance lock, after a re-read, so a pin
    // the other instance is making right now (its journal already names it) is never taken for a leftover.
    if (o.shared === undefined) this.#giveBack.sweepPins();
    else void this.#queue.job(() => this.#giveBack.sweepPins());
  }

  /**
   * Why pods cannot be served now (the runtime has not synchronized the NRI
   * plugin, or dropped it); undefined once it has. The claim driver refuses
   * Prepare meanwhile, and the daemon is not ready.
   */
  runtimeProblem(): string | undefined {
    return this.#runtime;
  }

  /** The runtime dropped the plugin (its restart, a hook past its timeout, a protocol error): not ready until the next Synchronize. */
  runtimeDisconnected(reason: string): void {
    this.#connection += 1;
    if (this.#runtime !== undefined) {
      // Never synchronized on this connection (registration failed, the socket went): still not connected.
      this.#runtime = `${NOT_SYNCHRONIZED} (last attempt: ${reason})`;
      return;
    }
    this.#runtime = `the container runtime dropped netclaim's NRI plugin (${reason}); waiting for it to connect and synchronize again`;
    if (!this.#closed) this.#reports.observer?.runtime?.(false, reason);
  }

  /**
   * The runtime made the sandbox of `pod`, ahead of its RunPodSandbox hook
   * (containerd's `/containers/create` of the sandbox container:
   * surfaces/containerd/sandbox-watch.ts, docs/pods.md "Early attach"). The
   * attach starts now, while the runtime still starts the sandbox, so the
   * kernel's namespace move is off the pod's path; RunPodSandbox then finds
   * the devices in place. Same steps as the hook's attach (journal, pin,
   * devices; all or nothing), and only what the hook would do: nothing while
   * the runtime has not synchronized the plugin, nothing for a pod without
   * netclaim claims or without a network namespace, and only devices on the
   * host: a pod any of whose claims a journal already places (an earlier
   * sandbox of the pod, another try) is left to the NRI hooks, which know
   * which sandbox runs. A failure is reported, and RunPodSandbox tries again.
   */
  sandboxCreated(pod: NriPod): void {
    if (this.#closed || this.#runtime !== undefined || pod.netns === undefined || pod.netns === '') return;
    // Late news (the runtime's hooks for this sandbox came first): the hooks have it.
    if (this.#hookedSandboxes.has(pod.id)) return;
    if (this.#podRecordsNow(pod).length === 0) return; // not a pod of ours (durable before its sandbox exists)
    void this.#queue.hook('early', pod, async () => {
      const records = this.#o.store.byPod(pod.uid);
      if (records.length === 0 || records.some((r) => r.attachment !== undefined)) return;
      // Its `attached` journal at once, not after the container gate: nothing waits for it now, and the pod
      // health watch must take the devices over before the inventory reports them gone from the host (a
      // device health flap the kubelet sees during the pod's start-up costs the pod a PLEG relist, 1 s, when
      // it is deleted: docs/benchmarks.md).
      await this.#attachPod(pod, true, false, true);
      this.#earlyAttached.add(pod.id);
    }, { rethrow: false }).catch(() => {});
  }

  runPodSandbox(pod: NriPod, o: { readonly startGate?: boolean } = {}): Promise<void> {
    this.#hookedSandboxes.add(pod.id);
    const startGate = o.startGate === true;
    if (this.#o.attachAfterAnswer !== true || this.#o.store.byPod(pod.uid).length === 0) return this.#queue.hook('run', pod, () => this.#attachSandbox(pod, startGate));
    // Queued now, so CreateContainer (sent only after this answer) runs after it; but started only on the
    // next turn of the event loop: the attach is synchronous kernel work, and the answer must be on the
    // socket before it begins. Its failure is reported by the observer (and CreateContainer tries again).
    // With the gate at StartContainer, started once the pod's CreateContainer came (or a little later).
    const answered = new Promise<void>((resolve) => setImmediate(resolve));
    const after = o.startGate === true ? Promise.all([answered, this.#createWaits.wait(pod.uid)]).then(() => undefined) : answered;
    this.#queue.hook('run', pod, () => this.#attachSandbox(pod, startGate), { rethrow: false, after }).catch(() => {});
    return Promise.resolve();
  }

  /**
   * RunPodSandbox's attach, unless the early attach (sandboxCreated) attached
   * this sandbox and every claim of the pod is journaled `attached` in it:
   * then nothing (step `early`). An `attached` journal alone is not enough
   * (one stored by an older netclaim may name devices it never attached).
   * The container gate checks the kernel either way.
   */
  #attachSandbox(pod: NriPod, startGate: boolean): Promise<void> {
    const records = this.#o.store.byPod(pod.uid);
    if (this.#earlyAttached.has(pod.id) && records.length > 0 && records.every((r) => sandboxHolds(r, pod) && r.attachment?.state === 'attached')) {
      addStep(this.#queue.steps, 'early', 0);
      return Promise.resolve();
    }
    return this.#attachPod(pod, true, startGate);
  }

  stopPodSandbox(pod: NriPod): Promise<void> {
    this.#hookedSandboxes.add(pod.id);
    return this.#queue.hook('stop', pod, () => this.#detachPod(pod), { rethrow: false });
  }

  removePodSandbox(pod: NriPod): Promise<void> {
    this.#hookedSandboxes.add(pod.id);
    return this.#queue.hook('remove', pod, () => this.#detachPod(pod), { rethrow: false });
  }

  /**
   * CreateContainer. Where the runtime sends StartContainer next and fails
   * the start when it fails (`startGate`), the gate is there, and this
   * answers at once, without waiting for the attach: the container is only
   * created (runc create), nothing of it runs before its start, and the
   * attach goes on meanwhile. Except for a pod whose adjustment needs its
   * devices in place (sub-interfaces with RDMA): then, and on every other
   * runtime, this is the gate.
   */
  createContainer(pod: NriPod, _container: NriContainer, o: { readonly startGate?: boolean } = {}): Promise<NriContainerAdjustment> {
    // The attach waiting for this (runPodSandbox) starts two turns later: this answer is on the socket by then.
    this.#createWaits.came(pod.uid, yieldToIo());
    const records = this.#podRecordsNow(pod);
    // Not a pod of ours: nothing to wait for.
    if (records.length === 0) return this.#answeredNow('create', pod, {}, {});
    // `toStart`: the check is StartContainer's (a step, so that a pod of ours gets its line in the log).
    if (o.startGate === true && !adjustmentNeedsDevices(records)) return this.#answeredNow('create', pod, {}, { toStart: 0 });
    return this.#gate('create', pod, (rs) => containerAdjustment(rs, this.#o.gidLookup));
  }

  /** StartContainer, on a runtime that fails the start when this throws: the gate (I1). */
  startContainer(pod: NriPod, _container: NriContainer): Promise<void> {
    if (this.#podRecordsNow(pod).length === 0) return this.#answeredNow('start', pod, undefined, {});
    return this.#gate('start', pod, () => undefined);
  }

  /**
   * The pod's claims as stored now, read outside the hook queue and the
   * cross-instance lock, to answer a container hook of a pod that is not
   * ours at once (and, with the start gate, CreateContainer). In a rolling
   * update the store is re-read first (a readdir and a stat per record when
   * nothing changed), since the other instance may have prepared them: a
   * pod's claims are durable before its sandbox exists, so a pod with none
   * on disk at its container hooks has none.
   */
  #podRecordsNow(pod: NriPod): readonly ClaimRecord[] {
    if (this.#o.shared !== undefined) this.#o.store.refresh();
    return withPending(this.#o.store.byPod(pod.uid), this.#pending, this.#o);
  }

  /** A container hook answered without the queue (nothing to check now), reported as hooks are. */
  #answeredNow<T>(hook: 'create' | 'start', pod: NriPod, answer: T, steps: Readonly<Record<string, number>>): Promise<T> {
    this.#reports.observer?.hook?.(hook, pod, 0, undefined, steps);
    return Promise.resolve(answer);
  }

  /**
   * The gate (I1): answers only when every device of every claim of the pod
   * is in place in the kernel, attaching what is missing; throws otherwise
   * (the runtime fails the container). An attach whose `attached` journal is
   * still pending counts with the devices it attached (checked all the
   * same); the journal is written after this answer, off the container's path.
   */
  #gate<T>(hook: 'create' | 'start', pod: NriPod, answerWith: (records: readonly ClaimRecord[]) => T): Promise<T> {
    const answer = this.#queue.hook(hook, pod, async () => {
      const records = withPending(this.#o.store.byPod(pod.uid), this.#pending, this.#o);
      if (records.length === 0) return answerWith([]);
      if (timed(this.#queue.steps, 'check', () => records.every((r) => this.#notInPlace(r).length === 0))) return answerWith(records);
      this.#flushAttached(this.#queue.steps);
      await this.#attachPod(pod);
      // Fail-closed: the container starts only if every device of every claim is now in place.
      const now = this.#o.store.byPod(pod.uid);
      const missing = now.flatMap((r) => this.#notInPlace(r).map((m) => `${r.claim.namespace}/${r.claim.name}: ${m}`));
      if (missing.length > 0) {
        throw new DriverError('ATTACH_NOT_IN_PLACE', `pod ${pod.namespace}/${pod.name}: not in place after attaching: ${missing.join('; ')}`, { context: { missing } });
      }
      return answerWith(now);
    }, { gate: true });
    // The answer is written to the runtime before the next turn; the pending `attached` journals right after it.
    void answer.finally(() => this.#pendingSoon(0)).catch(() => {});
    return answer;
  }

  /**
   * Gives a claim's devices back as for a pod that is gone (NodeUnprepareResources
   * of a claim whose journal says they are in a pod); returns those not back on
   * the host yet, whose journal stays. Synchronous, so it runs between two
   * hooks, never inside one (and never waits for the cross-instance lock, which
   * the kubelet call already holds); a claim an attach is working on right now
   * is left to it (not returned: the kubelet retries).
   */
  returnDevices(uid: string): readonly NotReturned[] {
    this.#flushAttached();
    const r = this.#o.store.get(uid);
    if (r?.attachment === undefined) return [];
    if (this.#attaching.has(uid)) return r.devices.map((d) => ({ device: d.device, reason: 'is being attached to its pod right now; the unprepare is retried' }));
    return this.#giveBack.detachFrom(r, r.attachment.netns);
  }

  /**
   * Claims the kubelet's NodePrepareResources just prepared: their devices
   * go down on the host (early-down.ts) in a queued job that starts once the
   * answer is on the socket, and before any hook that arrives after it (the
   * pod's RunPodSandbox comes only after the answer). A claim that is gone
   * by then, or already in a pod, is left alone; none while the early attach
   * is on (`earlySandboxNews`), which takes them down beside the sandbox's start.
   */
  prepared(uids: readonly ClaimUid[]): void {
    if (this.#closed || this.#o.earlySandboxNews?.() === true) return;
    // Two turns: an answer written in this one is on the socket by then (HTTP/2 writes from a native immediate,
    // which runs before the JavaScript ones of its turn).
    const report = (record: ClaimRecord, r: EarlyDownResult, ms: number): void => this.#reports.observer?.earlyDown?.(record, r.downed, ms, r.problems);
    void this.#queue.job(() => hostDownEarlyClaims(this.#o.host, this.#o.store, uids, report), { after: yieldToIo() }).catch(() => {});
  }

  /**
   * NodeUnprepareResources of a claim no pod got its devices from: what the
   * early host-down took down is restored from its snapshot. Synchronous,
   * between two hooks, as returnDevices; a problem is reported as a
   * give-back's are (an Event), and the unprepare goes on.
   */
  restoreUnattached(uid: ClaimUid): void {
    this.#flushAttached();
    const r = restoreUnattachedClaim(this.#o.host, this.#o.store, uid);
    if (r !== undefined && r.problems.length > 0) this.#reports.detachProblems(r.record, r.problems);
  }

  /** Resolves once everything queued so far has run, the pending `attached` journals included. */
  async idle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.#queue.job(() => undefined);
  }

  /** Stops waiting for devices to come back (their journals stay); idempotent. */
  close(): void {
    this.#flushAttached();
    clearTimeout(this.#pendingTimer);
    this.#closed = true;
    this.#giveBack.close();
    this.#leases.close();
  }

  /** The DHCP lease keeper (tests drive a renewal with `renewAll()`). */
  get dhcpLeases(): DhcpLeases {
    return this.#leases.leases;
  }

  synchronize(pods: readonly NriPod[], _containers: readonly NriContainer[]): Promise<void> {
    const connection = this.#connection;
    return this.#queue.hook('sync', undefined, async () => {
      const running = new Map(pods.map((p) => [p.uid, p]));
      for (const r of this.#o.store.list()) {
        const pod = running.get(r.podUid);
        try {
          if (pod === undefined) {
            // The pod is gone (stopped, or deleted while we were away; its pinned namespace still holds the devices): give them back.
            if (r.attachment !== undefined) this.#giveBack.detachFrom(r, r.attachment.netns);
          } else if (pod.netns !== undefined && this.#notInPlace(r).length > 0) {
            await this.#attachPod(pod);
          } else if (r.attachment?.state === 'attached') {
            // In place: state its claim status again, which a crash may have kept from being written (the writer skips what the claim already says).
            this.#reports.devicesReady(r, r.attachment.devices.filter((d) => d.kind === undefined));
            // And keep its DHCP leases renewed again (a restarted daemon re-adopts them from the journal).
            this.#leases.track(r, r.attachment.devices);
          }
        } catch (err) {
          this.#reports.unreconciled(r, err);
        }
      }
    }, { rethrow: false }).finally(() => {
      if (connection !== this.#connection || this.#runtime === undefined) return;
      this.#runtime = undefined;
      this.#reports.observer?.runtime?.(true);
    });
  }

  /**
   * Attaches every claim of the pod: journal `attaching`, pin, each device.
   * `defer` (RunPodSandbox): the `attached` journals are left pending
   * (#pending) for after the container gate, and the event loop runs
   * between the steps, so a request that arrives meanwhile is read and
   * queued (and its wait is seen from when it came). `journalNow` (the
   * early attach): the event loop runs between the steps all the same, but
   * the `attached` journals are written at once.
   */
  async #attachPod(pod: NriPod, defer = false, startGate = false, journalNow = false): Promise<void> {
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
    const target = timed(this.#queue.steps, 'netns', () => NetnsHandle.open(pod.netns!, { libc: this.#o.libc }));
    try {
      assertNotHostNetns(this.#o.host, target, what);
      // Devices still held in another namespace of this pod (an earlier sandbox, kept alive by its pin) come back first.
      timed(this.#queue.steps, 'netns', () => { for (const record of records) this.#releaseElsewhere(record, target, what); });
    } catch (err) {
      target.close();
      throw err;
    }
    const done: { record: ClaimRecord }[] = [];
    const attachedNow: PendingAttached[] = [];
    const uids = records.map((r) => r.claim.uid);
    for (const uid of uids) this.#attaching.add(uid);
    try {
      for (const record of this.#o.store.byPod(pod.uid)) {
        const journal = this.#journal(record, pod, 'attaching', record.attachment?.devices ?? []);
        done.push({ record: journal });
        crashPoint('attach.after-journal');
        if (journal.attachment?.pin !== undefined) {
          timed(this.#queue.steps, 'pin', () => this.#pin(journal, pod.netns!, what));
          crashPoint('attach.after-pin');
        }
        const devices: AttachedDevice[] = [];
        for (const plan of record.devices) {
          if (defer) {
            // Timed: whatever else the event loop runs meanwhile (an inventory event, a renewal) delays the attach.
            const start = performance.now();
            await yieldToIo();
            addStep(this.#queue.steps, 'yield', performance.now() - start);
          }
          devices.push(timed(this.#queue.steps, 'attach', () => this.#attachOne(plan, target, exclusive)));
          this.#leases.track(journal, devices.slice(-1));
          crashPoint('attach.after-device');
        }
        if (defer && !journalNow) {
          journalRecord(record, pod, 'attached', devices, this.#o); // the completeness check, now: never `attached` with a device missing
          attachedNow.push({ record: journal, pod, devices });
          // What the containers read when they start (the device metadata files) goes before the gate can answer.
          timed(this.#queue.steps, 'inPlace', () => this.#reports.devicesInPlace(journal, devices.filter((d) => d.kind === undefined)));
        } else {
          const attached = this.#journal(record, pod, 'attached', devices);
          timed(this.#queue.steps, 'status', () => this.#reports.devicesReady(attached, devices.filter((d) => d.kind === undefined)));
        }
      }
      if (attachedNow.length > 0) {
        this.#pending.push(...attachedNow);
        // With the gate at StartContainer the attach ran while the runtime created the container, off the pod's
        // path: the journal, the claim status and the health watch follow now, before the container starts. Kept
        // until after the start, the health watch's update reached the kubelet just after it and cost a pod deleted
        // at once about 1 s more before its StopPodSandbox (the kubelet re-synced the pod and waited for a relist).
        this.#pendingSoon(startGate ? 0 : ATTACHED_JOURNAL_WAIT_MS);
      }
    } catch (err) {
      // All or nothing for the pod: give back what this call (or an earlier try) attached.
      for (const { record } of done.reverse()) this.#giveBack.detachRecord(record, target);
      throw err;
    } finally {
      for (const uid of uids) this.#attaching.delete(uid);
      target.close();
    }
  }

  /**
   * A record whose journal says its devices are in another namespace than
   * `target` (a sandbox of the same pod made again while the old one's
   * namespace lives on in its pin): give them back from there first, so the
   * attach finds them on the host. Throws when they are not all back.
   */
  #releaseElsewhere(record: ClaimRecord, target: NetnsHandle, what: string): void {
    const a = record.attachment;
    if (a === undefined || !heldElsewhere(record, target, this.#o)) return;
    const left = this.#giveBack.detachFrom(record, a.netns);
    if (left.length > 0) {
      throw new DriverError('ATTACH_FAILED', `${what}: ${left.map((d) => `device ${d.device} ${d.reason}`).join('; ')} (from the pod's earlier network namespace ${a.netns}); the attach is retried`, {
        context: { claim: record.claim.uid, devices: left },
      });
    }
  }

  /** Pins the pod's namespace for a claim (its journal already names the pin). */
  #pin(record: ClaimRecord, netns: string, what: string): void {
    try {
      this.#o.pins!.pin(record.claim.uid, netns);
    } catch (err) {
      throw new DriverError('ATTACH_FAILED', `${what}: cannot pin the pod's network namespace ${netns} at ${record.attachment!.pin!}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err, context: { claim: record.claim.uid, step: 'pin' },
      });
    }
    this.#giveBack.countPins();
  }

  /** Attaches one device (a netdev, or an RDMA device in exclusive mode); an RDMA-only device in shared mode is handed over by CDI alone. */
  #attachOne(plan: DevicePlan, target: NetnsHandle, exclusive: boolean): AttachedDevice {
    if (plan.pod === undefined && !exclusive) return { device: plan.device, kind: 'rdma', ifIndex: 0, name: plan.rdma!.device, mac: '', ips: [] };
    this.#o.fault?.(`attach:${plan.device}`);
    const steps = this.#queue.steps;
    const r = attachDevice({ host: this.#o.host, pod: target, libc: this.#o.libc, rdmaExclusive: exclusive, ...(steps === undefined ? {} : { steps }) }, plan);
    if (plan.pod === undefined) return { device: plan.device, kind: 'rdma', ifIndex: 0, name: r.name, mac: '', ips: [] };
    return { device: plan.device, ifIndex: r.ifIndex, name: r.name, mac: r.mac, ips: r.ips, ...(r.lease === undefined ? {} : { dhcp: r.lease }) };
  }

  #detachPod(pod: NriPod): void {
    for (const r of this.#o.store.byPod(pod.uid)) {
      if (!sandboxHolds(r, pod)) continue; // another (newer) sandbox of the pod holds the devices: stale-sandbox.ts
      this.#giveBack.detachFrom(r, pod.netns !== undefined && pod.netns !== '' ? pod.netns : r.attachment!.netns);
    }
  }

  #journal(record: ClaimRecord, pod: NriPod, state: 'attaching' | 'attached', devices: readonly AttachedDevice[]): ClaimRecord {
    const next = journalRecord(record, pod, state, devices, this.#o);
    timed(this.#queue.steps, 'journal', () => this.#o.store.put(next));
    return next;
  }

  /** Writes the pending `attached` journals within `ms` (a queued job of their own; sooner if anything else runs first). */
  #pendingSoon(ms: number): void {
    if (this.#pending.length === 0 || this.#closed) return;
    clearTimeout(this.#pendingTimer);
    const write = (): void => {
      this.#pendingTimer = undefined;
      if (this.#pending.length > 0) void this.#queue.job(() => undefined).catch(() => {});
    };
    // 0: right after the gate's answer, which is on the socket by the next turn of the event loop.
    this.#pendingTimer = ms === 0 ? undefined : setTimeout(write, ms).unref();
    if (ms === 0) setImmediate(write);
  }

  /** Writes the pending `attached` journals, then their claim status (attached-journal.ts). */
  #flushAttached(steps?: Steps): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    clearTimeout(this.#pendingTimer);
    this.#pendingTimer = undefined;
    for (const p of pending) {
      const start = performance.now();
      try {
        const current = this.#o.store.get(p.record.claim.uid);
        if (!stillPending(current, p)) continue;
        crashPoint('attach.after-answer');
        const next = journalRecord(current, p.pod, 'attached', p.devices, this.#o);
        this.#o.store.put(next);
        addStep(steps, 'journalAfter', performance.now() - start);
        this.#reports.devicesReady(next, p.devices.filter((d) => d.kind === undefined));
        this.#reports.observer?.attached?.(next);
      } catch (err) {
        // The journal stays `attaching`: CreateContainer attaches again (and writes it) or fails the container.
        this.#reports.observer?.hook?.('run', p.pod, performance.now() - start, err, { journalAfter: performance.now() - start });
      }
    }
  }

  /** What of the record is not where its journal says (empty: all in place). */
  #notInPlace(r: ClaimRecord): string[] {
    return notInPlace(r, { libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() });
  }
}
