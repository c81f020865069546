/**
 * Warning Events for devices in pods that turn unhealthy: reason
 * `NetworkDeviceUnhealthy` on the ResourceClaim that holds the device (where
 * `kubectl describe resourceclaim` shows it, beside netclaim's other claim
 * Events; the pod's owner sees the same verdict in the pod's
 * `allocatedResourcesStatus`). With the NoExecute taint on, the message says
 * so: the device taint eviction controller is about to evict the pods using
 * it that do not tolerate the taint, and this Event says why.
 *
 * One Event per change into unhealthy (or of the unhealthy message); the
 * sink folds repeats within 5 minutes into one Event's count.
 */
import type { EventSink } from './claim.ts';
import type { PodDeviceHealth } from './pod-health-rules.ts';
import type { ClaimRecord } from './record-model.ts';

export const UNHEALTHY_REASON = 'NetworkDeviceUnhealthy';

/** The devices whose verdict turned unhealthy, or whose unhealthy message changed, between two readings. */
export function newlyUnhealthy(before: ReadonlyMap<string, PodDeviceHealth>, after: ReadonlyMap<string, PodDeviceHealth>): string[] {
  const out: string[] = [];
  for (const [device, h] of after) {
    const b = before.get(device);
    if (h.health === 'unhealthy' && (b?.health !== 'unhealthy' || b.message !== h.message)) out.push(device);
  }
  return out;
}

export interface PodHealthEventsOptions {
  readonly pods: { readonly devices: ReadonlyMap<string, PodDeviceHealth>; onChange(cb: () => void): () => void };
  readonly store: { list(): readonly ClaimRecord[] };
  readonly events: EventSink;
  /** The taint the device gets, for the message (none: tainting is off). */
  readonly taint?: { readonly key: string; readonly effect: 'NoSchedule' | 'NoExecute' };
}

/** Emits the Events as the pod health watch changes; returns the unsubscribe. */
export function podHealthEvents(o: PodHealthEventsOptions): () => void {
  let before = new Map(o.pods.devices);
  return o.pods.onChange(() => {
    const after = new Map(o.pods.devices);
    const turned = newlyUnhealthy(before, after);
    before = after;
    if (turned.length === 0) return;
    const owners = new Map<string, ClaimRecord>();
    for (const r of o.store.list()) for (const d of r.attachment?.devices ?? []) owners.set(d.device, r);
    for (const device of turned) {
      const r = owners.get(device);
      if (r === undefined) continue;
      const h = after.get(device)!;
      const taint = o.taint === undefined ? '' : o.taint.effect === 'NoExecute'
        ? `; tainted ${o.taint.key}:NoExecute, so pods using it that do not tolerate the taint are evicted`
        : `; tainted ${o.taint.key}:NoSchedule, so no new claim is allocated it`;
      o.events.claimWarning(r.claim, UNHEALTHY_REASON, `device ${device} in pod ${r.claim.namespace}/${r.podName} is unhealthy: ${h.message ?? 'no reason given'}${taint}`);
    }
  });
}
