/**
 * Early host-down (docs/pods.md, "Early host-down"): a freshly prepared
 * claim's netdevs are taken down on the host right after NodePrepareResources
 * answers, off the pod's path, instead of inside the attach. Bringing a
 * device down waits for the kernel (a macvlan's close waits a full RCU grace
 * period, about 10 ms on the e2e node), and the attach would otherwise do it
 * between RunPodSandbox and the container gate, where the pod waits for it.
 *
 * Only what the attach would do anyway, only earlier: the device is the
 * claim's alone from Prepare on (I3), the attach's first kernel step is this
 * same down, and going down flushes what the host snapshot already holds
 * (IPv4 routes, neighbours, IPv6 addresses).
 *
 * Its undo is the host snapshot, as for a device given back from a pod: a
 * claim unprepared without ever reaching a pod gets each device that is on
 * the host, down, and up in its snapshot restored (restoreHost). Nothing is
 * journaled: the record of the claim (durable before the answer, so before
 * the down) is what says the device may be down, so a crash at any point
 * leaves a device that the pod's attach or the claim's unprepare puts right.
 */
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { linkSetDown } from '../kernel/netlink/route/link-ops.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import { findDevice } from './attach/find-device.ts';
import { restoreHost } from './attach/restore-host.ts';
import type { NetdevPlan } from './attach/return-device.ts';
import type { ClaimRecord, DevicePlan } from './record-model.ts';
import type { ClaimStore } from './state/claim-store.ts';
import { crashPoint } from './state/crash-points.ts';

export interface EarlyDownResult {
  /** The devices taken down now. */
  readonly downed: readonly string[];
  /** `device: why` for each one that could not be (the attach takes it down itself). */
  readonly problems: readonly string[];
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The netdevs of a record the attach moves from the host: not a
 * sub-interface (made for the claim at Prepare, and deleted at unprepare,
 * never restored) and up in the snapshot (a device that was down stays so).
 */
const movedNetdevs = (r: ClaimRecord): NetdevPlan[] =>
  r.devices.filter((p: DevicePlan): p is NetdevPlan => p.host !== undefined && p.pod !== undefined && p.subInterface === undefined && p.host.up);

/** The device on the host under the names the attach's find step looks for; undefined when it is not there. */
const onHost = (host: NetnsHandle, n: NetdevPlan): Link | undefined =>
  findDevice(host, n.identity, [...new Set([n.identity.ifName ?? n.host.ifName, n.host.ifName])]);

/**
 * Takes down, on the host, each device of a prepared claim that has not
 * reached a pod yet (the caller checks the record has no attach journal).
 * Never throws: a device it cannot take down is the attach's to take down.
 */
export function hostDownEarly(host: NetnsHandle, record: ClaimRecord): EarlyDownResult {
  const downed: string[] = [];
  const problems: string[] = [];
  for (const n of movedNetdevs(record)) {
    try {
      const l = onHost(host, n);
      if (l === undefined || !l.up) continue;
      linkSetDown(host, l.index);
      downed.push(n.device);
      crashPoint('prepare.after-early-down');
    } catch (err) {
      problems.push(`${n.device}: ${message(err)}`);
    }
  }
  return { downed, problems };
}

/**
 * A claim unprepared before any pod got its devices: each device that is on
 * the host and down although its snapshot says up is restored from the
 * snapshot (up, with the addresses and routes going down flushed). Returns
 * the devices restored and `device: step: why` for what could not be put
 * back (reported, as a give-back's are; the device stays on the host).
 */
export function restoreEarlyDown(host: NetnsHandle, record: ClaimRecord): { readonly restored: readonly string[]; readonly problems: readonly string[] } {
  const restored: string[] = [];
  const problems: string[] = [];
  for (const n of movedNetdevs(record)) {
    try {
      const l = onHost(host, n);
      if (l === undefined || l.up) continue;
      const r = restoreHost(host, l.index, n.host);
      problems.push(...r.problems.map((p) => `${n.device}: ${p.step}: ${p.message}`));
      restored.push(n.device);
    } catch (err) {
      problems.push(`${n.device}: ${message(err)}`);
    }
  }
  return { restored, problems };
}

/** A claim as stored that no pod has its devices from (no attach journal): what early host-down acts on. */
const unattached = (store: Pick<ClaimStore, 'get'>, uid: string): ClaimRecord | undefined => {
  const r = store.get(uid);
  return r === undefined || r.attachment !== undefined ? undefined : r;
};

/** hostDownEarly for each claim still stored and not in a pod; `report` hears of each that did something. */
export function hostDownEarlyClaims(
  host: NetnsHandle, store: Pick<ClaimStore, 'get'>, uids: readonly string[],
  report?: (record: ClaimRecord, r: EarlyDownResult, ms: number) => void,
): void {
  for (const uid of uids) {
    const record = unattached(store, uid);
    if (record === undefined) continue;
    const start = performance.now();
    const r = hostDownEarly(host, record);
    if (r.downed.length > 0 || r.problems.length > 0) report?.(record, r, performance.now() - start);
  }
}

/** restoreEarlyDown for a claim still stored and not in a pod (its unprepare); its problems, with the record. */
export function restoreUnattachedClaim(host: NetnsHandle, store: Pick<ClaimStore, 'get'>, uid: string): { readonly record: ClaimRecord; readonly problems: readonly string[] } | undefined {
  const record = unattached(store, uid);
  return record === undefined ? undefined : { record, problems: restoreEarlyDown(host, record).problems };
}
