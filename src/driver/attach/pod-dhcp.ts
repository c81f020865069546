/**
 * DHCP on a pod interface: the lease acquired at attach (step `dhcp`), its
 * address applied with the lease's lifetime, and the lease given back.
 *
 * The address gets the lease time as its valid and preferred lifetime, so
 * if netclaim stops renewing (the daemon gone for longer than the lease) the
 * kernel drops it at expiry instead of the pod keeping an address the server
 * may hand to someone else. Each renewal replaces it with fresh lifetimes.
 *
 * No default route is installed from the server's router option: the pod's
 * default route belongs to its primary network. The routers are recorded
 * with the lease; routes through them are the claim's `routes` (docs/dhcp.md).
 */
import { ifIndex } from '../../common/ids.ts';
import { dhcpAcquire, dhcpRelease } from '../../kernel/dhcp/dhcp-client.ts';
import { INFINITE } from '../../kernel/dhcp/dhcp-messages.ts';
import type { DhcpLease } from '../../kernel/dhcp/dhcp-types.ts';
import type { Libc } from '../../kernel/libc/libc.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import { addrDelete, addrReplace } from '../../kernel/netlink/route/addr-ops.ts';

/** Puts the leased address on the interface (again), with the lease's lifetime. Equivalent to: `ip addr replace CIDR dev N valid_lft L preferred_lft L`. */
export function podDhcpApply(pod: NetnsHandle, index: number, lease: DhcpLease): void {
  const lft = lease.leaseTime === INFINITE ? 'forever' : lease.leaseTime;
  addrReplace(pod, ifIndex(index), { cidr: lease.cidr, validLft: lft, preferredLft: lft });
}

/** Takes the leased address off the interface (a DHCPNAK); says what happened, never throws. Equivalent to: `ip addr del CIDR dev N`. */
export function podDhcpRemove(pod: NetnsHandle, index: number, lease: DhcpLease): string {
  try {
    addrDelete(pod, ifIndex(index), { cidr: lease.cidr });
    return 'its address was removed';
  } catch (err) {
    return `removing its address failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** DISCOVER → OFFER → REQUEST → ACK on the pod interface, then the address. Throws DHCP_TIMEOUT / DHCP_NAK naming the step. */
export function podDhcpAcquire(pod: NetnsHandle, index: number, mac: string, timeoutMs: number, libc: Libc): DhcpLease {
  const lease = dhcpAcquire({ netns: pod, ifIndex: index, mac, libc, timeoutMs });
  podDhcpApply(pod, index, lease);
  return lease;
}

/** DHCPRELEASE for the lease, from the interface (its address is still on it). */
export function podDhcpRelease(pod: NetnsHandle, index: number, lease: DhcpLease, libc: Libc): void {
  dhcpRelease({ netns: pod, ifIndex: index, mac: lease.mac, libc, lease });
}
