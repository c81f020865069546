/**
 * The pod side as the claim driver sees it (its DeviceReturner port), from
 * the daemon's start: the pod driver is made after the kubelet plugin server,
 * and the kubelet may call (an unprepare retried after a restart) before it
 * exists. Until then: devices a journal says are in a pod are reported as not
 * back (the unprepare is refused and retried), nothing is taken down early, and
 * a never-attached claim's devices are restored from their snapshots here.
 */
import type { DeviceReturner, NotReturned } from '../driver/claim-driver.ts';
import { restoreUnattachedClaim } from '../driver/early-down.ts';
import type { PodDriver } from '../driver/pod-driver.ts';
import type { ClaimStore } from '../driver/state/claim-store.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import type { Logger } from '../observe/logger.ts';

export function claimPodsPort(pods: () => PodDriver | undefined, o: { host: NetnsHandle; store: ClaimStore; log: Logger }): DeviceReturner {
  return {
    returnDevices: (uid) => pods()?.returnDevices(uid) ?? notStarted(o.store, uid),
    prepared: (uids) => pods()?.prepared(uids),
    restoreUnattached: (uid) => {
      const p = pods();
      if (p !== undefined) return p.restoreUnattached(uid);
      const r = restoreUnattachedClaim(o.host, o.store, uid);
      if (r !== undefined && r.problems.length > 0) o.log.warn({ claimUid: uid, problems: r.problems }, 'devices restored with problems');
    },
  };
}

const notStarted = (store: ClaimStore, uid: string): NotReturned[] =>
  (store.get(uid)?.devices ?? []).map((d) => ({ device: d.device, reason: 'may be in the pod (the NRI side is still starting)' }));
