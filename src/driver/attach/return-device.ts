/**
 * Moving a device from the pod back to the host under its original name, in
 * one RTM_NEWLINK sent in the pod's namespace. The kernel moves first and
 * renames after, and picks the name to move under by itself:
 *
 * - the device's current (pod) name is free on the host: it moves under it,
 *   then is renamed; a taken original name fails the rename only, and the
 *   device stays on the host under its pod name;
 * - the pod name is taken on the host: the original name is used for the
 *   move itself, and if that is taken too nothing moves (EEXIST); the device
 *   is then moved under a fallback name (`ncret<ifindex>`).
 *
 * Either way the name is put right (or reported) by restoreHost, which tries
 * the original name again.
 *
 * The ifindex: the kernel keeps it across moves unless the target namespace
 * uses it, and then picks another. A device that got a new one in the pod
 * asks for its host ifindex back (IFLA_NEW_IFINDEX, Linux 6.5+) when that
 * is free on the host.
 */
import { NotFoundError } from '../../common/errors.ts';
import { KernelError } from '../../kernel/errors.ts';
import { linkGet, linkGetByName, linkSetNetns } from '../../kernel/netlink/route/link-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { HostSnapshot, PodInterfacePlan } from '../plan/plan-types.ts';
import type { DevicePlan } from '../record-model.ts';
import { fallbackName, findDevice } from './find-device.ts';

const EEXIST = 17;

function getOrUndefined(fn: () => Link): Link | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The moved device on the host: same ifindex and one of the expected names (the fast path), else by name. */
function locateOnHost(h: NetnsHandle, index: number, name: string): Link {
  const l = getOrUndefined(() => linkGet(h, index));
  return l?.name === name ? l : linkGetByName(h, name);
}

/** A netdev plan: the parts returning needs. */
export type NetdevPlan = DevicePlan & { readonly host: HostSnapshot; readonly pod: PodInterfacePlan };

/**
 * Moves pod interface `podIndex` to `host`, asking for its original name, and
 * returns it as it is on the host now (its name may still be the pod's or a
 * fallback; restoreHost then renames it). Throws when it cannot move at all.
 * Equivalent to: `ip -n POD link set dev IF netns HOST name ORIGINAL`
 */
export function moveToHost(host: NetnsHandle, pod: NetnsHandle, podIndex: number, plan: NetdevPlan): Link {
  const snap = plan.host;
  // The pod had its host ifindex taken and gave it another: ask for the original back when it is free.
  const index = podIndex !== snap.ifIndex && getOrUndefined(() => linkGet(host, snap.ifIndex)) === undefined ? snap.ifIndex : podIndex;
  const newIfIndex = index === podIndex ? {} : { newIfIndex: index };
  try {
    linkSetNetns(pod, podIndex, host, { name: snap.ifName, ...newIfIndex });
    return locateOnHost(host, index, snap.ifName);
  } catch (err) {
    if (!(err instanceof KernelError) || err.errno !== EEXIST) throw err;
    if (getOrUndefined(() => linkGet(pod, podIndex)) === undefined) {
      // Moved under its pod name; only the rename failed.
      const l = findDevice(host, plan.identity, [plan.pod.name], { strict: true, macs: [plan.pod.mac, snap.mac] });
      if (l === undefined) throw err;
      return l;
    }
    const name = fallbackName(host, podIndex);
    linkSetNetns(pod, podIndex, host, { name, ...newIfIndex });
    return locateOnHost(host, index, name);
  }
}
