/**
 * The VRF step: the pod's VRF device (created when missing, shared by every
 * interface that names it), up, the interface enslaved to it, and the
 * namespace's l3mdev sysctls on so that sockets not bound to the VRF still
 * accept its TCP and UDP traffic (as DraNet does).
 *
 * Enslaving cycles an interface that is up (the kernel flushes its
 * neighbour and route caches that way, dropping IPv6 addresses with it), so
 * the attach enslaves before it adds addresses and brings the link up.
 */
import { NotFoundError, StateError } from '../../common/errors.ts';
import { ifIndex } from '../../common/ids.ts';
import { vrfTableFor } from '../../config/claim-config/defaults.ts';
import type { VrfConfig } from '../../config/claim-config/types.ts';
import { linkDelete, vrfAdd } from '../../kernel/netlink/route/link-add.ts';
import { linkGetByName, linkList, linkSetMaster, linkSetUp } from '../../kernel/netlink/route/link-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import { netSysctlGet, netSysctlSet } from '../../kernel/sysctl/net-sysctl.ts';

export const L3MDEV_SYSCTLS = ['ipv4.tcp_l3mdev_accept', 'ipv4.udp_l3mdev_accept'] as const;

/** What the VRF step changed, for its undo. */
export interface VrfUndo {
  /** The VRF device, when this call created it. */
  created?: { readonly index: number; readonly name: string };
  /** l3mdev sysctls this call changed, with their previous values. */
  readonly sysctls: { readonly key: string; readonly was: string }[];
}

function vrfByName(h: NetnsHandle, name: string): Link | undefined {
  try {
    return linkGetByName(h, name);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/**
 * Ensures the VRF, enslaves `index` to it and sets the l3mdev sysctls,
 * recording each change in `undo` as it happens. A device of that name that
 * is not a VRF, or a VRF with another table, is a StateError.
 * Equivalent to: `ip link add NAME type vrf table T; ip link set NAME up; ip link set IF master NAME;
 * sysctl -w net.ipv4.tcp_l3mdev_accept=1 net.ipv4.udp_l3mdev_accept=1`
 */
export function podVrfApply(h: NetnsHandle, index: number, vrf: VrfConfig, undo: VrfUndo): void {
  const table = vrf.table ?? vrfTableFor(vrf.name);
  let dev = vrfByName(h, vrf.name);
  if (dev === undefined) {
    vrfAdd(h, vrf.name, { table }, { up: true });
    dev = linkGetByName(h, vrf.name);
    undo.created = { index: dev.index, name: vrf.name };
  } else {
    const have = dev.kindData?.kind === 'vrf' ? dev.kindData.table : undefined;
    if (have === undefined) throw new StateError(`a device named ${vrf.name} exists in the pod and is not a VRF (${dev.kind ?? 'no kind'})`);
    if (have !== table) throw new StateError(`VRF ${vrf.name} in the pod uses table ${have}, not ${table}`);
    if (!dev.up) linkSetUp(h, dev.index);
  }
  // Enslaving to the master it already has is a no-op in the kernel.
  linkSetMaster(h, index, dev.index);
  for (const key of L3MDEV_SYSCTLS) {
    const was = netSysctlGet(h, key);
    if (was === undefined || was === '1') continue;
    undo.sysctls.push({ key, was });
    netSysctlSet(h, key, '1');
  }
}

/**
 * Undoes the VRF step: the l3mdev sysctls back, and the VRF deleted when
 * this call created it and no interface other than `index` is enslaved to it
 * (deleting it releases `index`).
 */
export function podVrfUndo(h: NetnsHandle, index: number, undo: VrfUndo): void {
  for (const { key, was } of [...undo.sysctls].reverse()) netSysctlSet(h, key, was);
  const c = undo.created;
  if (c === undefined) return;
  const others = linkList(h, { master: ifIndex(c.index) }).filter((l) => l.index !== index);
  if (others.length === 0) linkDelete(h, ifIndex(c.index));
}
