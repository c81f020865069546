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
 *
 * Pod hooks run one at a time (kernel work is synchronous anyway), so two
 * hooks for the same pod never interleave.
 */
import { DriverError } from '../common/errors.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { linkGet } from '../kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { attachDevice, detachDevice } from './attach/attach-device.ts';
import type { ClaimStatusSink } from './claim.ts';
import type { AttachedDevice, ClaimRecord } from './plan/plan-types.ts';
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
}

export class PodDriver implements PodPort {
  readonly #o: PodDriverOptions;
  #queue: Promise<unknown> = Promise.resolve();

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
      if (!records.every((r) => r.attachment?.state === 'attached' && this.#inPlace(r))) this.#attachPod(pod);
      return {};
    });
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
          } else if (pod.netns !== undefined && (r.attachment?.state !== 'attached' || !this.#inPlace(r))) {
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
    const run = async (): Promise<T> => {
      const shared = this.#o.shared;
      if (shared !== undefined) await shared.lock();
      const start = performance.now();
      try {
        if (shared !== undefined) this.#o.store.refresh();
        const r = fn();
        this.#o.observer?.hook?.(hook, pod, performance.now() - start);
        return r;
      } catch (err) {
        this.#o.observer?.hook?.(hook, pod, performance.now() - start, err);
        if (rethrow) throw err;
        return undefined as T;
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
    if (pod.netns === undefined || pod.netns === '') {
      throw new DriverError('ATTACH_FAILED', `pod ${pod.namespace}/${pod.name} has netclaim devices but no network namespace (hostNetwork pods cannot take network devices)`);
    }
    const target = NetnsHandle.open(pod.netns, { libc: this.#o.libc });
    const done: { record: ClaimRecord }[] = [];
    try {
      for (const record of records) {
        const journal = this.#journal(record, pod, 'attaching', record.attachment?.devices ?? []);
        done.push({ record: journal });
        crashPoint('attach.after-journal');
        const devices: AttachedDevice[] = [];
        for (const plan of record.devices) {
          if (plan.pod === undefined && !(this.#o.rdmaExclusive() && plan.rdma !== undefined)) continue;
          this.#o.fault?.(`attach:${plan.device}`);
          const r = attachDevice({ host: this.#o.host, pod: target, libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() }, plan);
          if (plan.pod !== undefined) devices.push({ device: plan.device, ifIndex: r.ifIndex, name: r.name, mac: r.mac, ips: r.ips });
          crashPoint('attach.after-device');
        }
        const attached = this.#journal(record, pod, 'attached', devices);
        this.#o.status?.devicesReady(attached, devices);
      }
    } catch (err) {
      // All or nothing for the pod: give back what this call (or an earlier try) attached.
      for (const { record } of done.reverse()) this.#detachRecord(record, target);
      throw err;
    } finally {
      target.close();
    }
  }

  #detachPod(pod: NriPod): void {
    for (const r of this.#o.store.byPod(pod.uid)) {
      if (r.attachment === undefined) continue;
      this.#detachFrom(r, pod.netns !== undefined && pod.netns !== '' ? pod.netns : r.attachment.netns);
    }
  }

  /** Detaches a record's devices from the netns at `path`, or from wherever they are when it is gone. */
  #detachFrom(r: ClaimRecord, path: string): void {
    let target: NetnsHandle | undefined;
    try {
      target = NetnsHandle.open(path, { libc: this.#o.libc });
    } catch {
      target = undefined; // the runtime deleted the netns first: find the devices on the host
    }
    try {
      this.#detachRecord(r, target);
    } finally {
      target?.close();
    }
  }

  /** Detaches every device of a record (RDMA first, inside detachDevice) and clears its journal. */
  #detachRecord(record: ClaimRecord, pod: NetnsHandle | undefined): void {
    const problems: string[] = [];
    for (const plan of [...record.devices].reverse()) {
      const r = detachDevice({ host: this.#o.host, ...(pod === undefined ? {} : { pod }), libc: this.#o.libc, rdmaExclusive: this.#o.rdmaExclusive() }, plan);
      problems.push(...r.problems.map((p) => `${plan.device}: ${p.step}: ${p.message}`));
      if (r.found === 'gone' && plan.pod !== undefined) problems.push(`${plan.device}: not found in the pod or on the host`);
      crashPoint('detach.after-device');
    }
    const { attachment: _, ...rest } = this.#o.store.get(record.claim.uid) ?? record;
    this.#o.store.put(rest);
    if (problems.length > 0) this.#o.observer?.detachProblems?.(record, problems);
  }

  #journal(record: ClaimRecord, pod: NriPod, state: 'attaching' | 'attached', devices: readonly AttachedDevice[]): ClaimRecord {
    const next: ClaimRecord = {
      ...record,
      attachment: { state, sandboxId: pod.id, netns: pod.netns!, devices, at: (this.#o.now ?? (() => new Date()))().toISOString() },
    };
    this.#o.store.put(next);
    return next;
  }

  /** Every attached netdev of the record is in its pod's netns under its name. */
  #inPlace(r: ClaimRecord): boolean {
    const a = r.attachment;
    if (a === undefined) return false;
    let h: NetnsHandle | undefined;
    try {
      h = NetnsHandle.open(a.netns, { libc: this.#o.libc });
      return a.devices.every((d) => linkGet(h!, d.ifIndex).name === d.name);
    } catch {
      return false;
    } finally {
      h?.close();
    }
  }
}
