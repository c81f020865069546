/**
 * The checks behind fail-closed (docs/pods.md, invariant I1): whether a
 * stored plan has anything to attach at all, and whether every device of a
 * claim is where its journal says. Both go by the claim's allocated devices,
 * never by the journal's list alone, so a journal that lists fewer devices
 * (or none) than the claim has never passes.
 */
import { NotFoundError } from '../common/errors.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { rdmaDevList } from '../kernel/netlink/rdma/rdma-ops.ts';
import { linkGet } from '../kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import type { ClaimRecord, DevicePlan } from './record-model.ts';

/**
 * Why a plan gives the pod nothing (undefined when it gives something): no
 * netdev to move, and no RDMA device to move (exclusive mode) or to hand over
 * as character devices. Prepare refuses such devices (PREPARE_DEVICE_EMPTY);
 * this catches records stored before it did.
 */
export function attachableProblem(plan: DevicePlan, rdmaExclusive: boolean): string | undefined {
  if (plan.pod !== undefined && plan.host !== undefined) return undefined;
  if (plan.rdma === undefined) return 'has nothing to attach: no network interface to move and no RDMA device';
  if (rdmaExclusive || plan.rdma.charDevices.length > 0) return undefined;
  return `has nothing to attach: no network interface to move, and RDMA device ${plan.rdma.device} has no character devices to hand over`;
}

/**
 * What of the claim is not in place: the journal is not `attached`, a device
 * of the claim has no journal entry, a netdev is not in the pod's namespace
 * under its ifindex and name, an RDMA device moved in exclusive mode is not
 * there. One netlink request per netdev; empty means all in place.
 */
export function notInPlace(r: ClaimRecord, o: { readonly libc: Libc; readonly rdmaExclusive: boolean }): string[] {
  const a = r.attachment;
  if (a?.state !== 'attached') return [`journal is ${a === undefined ? 'empty' : `\`${a.state}\``}`];
  if (r.devices.length === 0) return ['the claim has no devices'];
  let h: NetnsHandle;
  try {
    h = NetnsHandle.open(a.netns, { libc: o.libc });
  } catch (err) {
    return [`the pod's network namespace ${a.netns} cannot be opened: ${err instanceof Error ? err.message : String(err)}`];
  }
  try {
    return r.devices.map((p) => deviceNotInPlace(h, r, p, o.rdmaExclusive)).filter((m) => m !== undefined);
  } finally {
    h.close();
  }
}

function deviceNotInPlace(h: NetnsHandle, r: ClaimRecord, p: DevicePlan, rdmaExclusive: boolean): string | undefined {
  const d = r.attachment!.devices.find((x) => x.device === p.device);
  if (d === undefined) return `${p.device}: not in the journal`;
  try {
    if (d.kind === 'rdma') {
      if (!rdmaExclusive) return (p.rdma?.charDevices.length ?? 0) > 0 ? undefined : `${p.device}: no character devices to hand over`;
      return rdmaDevList(h).some((x) => x.name === d.name) ? undefined : `${p.device}: RDMA device ${d.name} is not in the pod`;
    }
    if (p.pod === undefined) return `${p.device}: journaled as a netdev but planned without one`;
    const l = linkGet(h, d.ifIndex);
    return l.name === d.name ? undefined : `${p.device}: ifindex ${d.ifIndex} in the pod is ${l.name}, not ${d.name}`;
  } catch (err) {
    if (err instanceof NotFoundError) return `${p.device}: ${d.name} (ifindex ${d.ifIndex}) is not in the pod`;
    return `${p.device}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
