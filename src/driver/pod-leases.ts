/**
 * The pod side of DHCP (`interface.dhcp`, docs/dhcp.md): a lease the attach
 * acquired (step `dhcp`) is recorded in the claim's journal with its device
 * and kept renewed by DhcpLeases, through the claim's pin when it holds the
 * pod's namespace; a renewal is written back to the journal and a lost lease
 * is dropped from it (with its address), so a restart resumes from what is
 * true. The lease is released (DHCPRELEASE) at detach, while the device is
 * still in the pod with its address.
 *
 * Every journal write goes through the pod driver's hook queue (`enqueue`),
 * so it never interleaves with an attach or a detach of the same claim.
 */
import type { DhcpLease } from '../kernel/dhcp/dhcp-types.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { linkGetByName } from '../kernel/netlink/route/link-ops.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { timed, type Steps } from '../observe/steps.ts';
import { podDhcpRelease } from './attach/pod-dhcp.ts';
import { DhcpLeases } from './dhcp-leases.ts';
import type { NetnsPins } from './netns-pins.ts';
import type { PodReports } from './pod-reports.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './record-model.ts';
import type { ClaimStore } from './state/claim-store.ts';

export interface PodLeasesOptions {
  readonly libc: Libc;
  readonly store: ClaimStore;
  readonly pins?: NetnsPins;
  readonly reports: PodReports;
  /** Runs a journal write in the pod driver's hook queue. */
  readonly enqueue: (fn: () => void) => Promise<void>;
  /** How long one DHCP renew or rebind attempt waits for the server (default 2 s). */
  readonly attemptMs?: number;
}

export class PodLeases {
  readonly #o: PodLeasesOptions;
  /** Keyed `claimUid/device`. */
  readonly leases: DhcpLeases;

  constructor(o: PodLeasesOptions) {
    this.#o = o;
    this.leases = new DhcpLeases({
      libc: o.libc,
      ...(o.attemptMs === undefined ? {} : { attemptMs: o.attemptMs }),
      onRenewed: (key, lease) => void o.enqueue(() => this.#recordLease(key, lease)).catch(() => {}),
      onLost: (key, reason) => this.#leaseLost(key, reason),
    });
  }

  /**
   * Keeps the DHCP leases of `devices` renewed, through the claim's pin when
   * it holds the namespace (the journal names it), else the runtime's path.
   */
  track(record: ClaimRecord, devices: readonly AttachedDevice[]): void {
    const a = record.attachment;
    if (a === undefined) return;
    const netns = a.pin !== undefined && this.#o.pins?.held(a.pin) === true ? a.pin : a.netns;
    for (const d of devices) {
      if (d.dhcp !== undefined) this.leases.track(`${record.claim.uid}/${d.device}`, { netns, ifName: d.name, lease: d.dhcp });
    }
  }

  /**
   * DHCPRELEASE for a device's lease (tracked, or recorded in the journal),
   * while the device is still in the pod with its address; a failure is a
   * detach problem (the server frees the address at expiry anyway).
   */
  release(record: ClaimRecord, plan: DevicePlan, pod: NetnsHandle | undefined, problems: string[], steps: Steps | undefined): void {
    const tracked = this.leases.untrack(`${record.claim.uid}/${plan.device}`);
    const lease = tracked ?? record.attachment?.devices.find((d) => d.device === plan.device)?.dhcp;
    if (lease === undefined || pod === undefined || plan.pod === undefined) return;
    try {
      const index = timed(steps, 'dhcp', () => linkGetByName(pod, plan.pod!.name).index);
      timed(steps, 'dhcp', () => podDhcpRelease(pod, index, lease, this.#o.libc));
    } catch (err) {
      problems.push(`${plan.device}: dhcp release of ${lease.address} to ${lease.serverId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  close(): void {
    this.leases.close();
  }

  /** Records a renewed lease in the claim's journal (under the hook queue), so a restart resumes from it. */
  #recordLease(key: string, lease: DhcpLease): void {
    const [uid, device] = splitKey(key);
    const r = this.#o.store.get(uid);
    const a = r?.attachment;
    if (r === undefined || a === undefined || !a.devices.some((d) => d.device === device && d.dhcp !== undefined)) return;
    const devices = a.devices.map((d) => (d.device === device ? { ...d, dhcp: lease } : d));
    this.#o.store.put({ ...r, attachment: { ...a, devices } });
  }

  /** A lost lease is reported and dropped from the journal (with its address), so neither a restart nor the detach acts on it again. */
  #leaseLost(key: string, reason: string): void {
    const [uid, device] = splitKey(key);
    const r = this.#o.store.get(uid);
    if (r !== undefined) this.#o.reports.dhcpLeaseLost(r, device, reason);
    void this.#o.enqueue(() => {
      const current = this.#o.store.get(uid);
      const a = current?.attachment;
      if (current === undefined || a === undefined) return;
      const devices = a.devices.map((d) => {
        if (d.device !== device || d.dhcp === undefined) return d;
        const { dhcp, ...rest } = d;
        return { ...rest, ips: d.ips.filter((ip) => ip !== dhcp.cidr) };
      });
      this.#o.store.put({ ...current, attachment: { ...a, devices } });
    }).catch(() => {});
  }
}

/** `claimUid/device` → its parts (a claim UID has no slash). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
