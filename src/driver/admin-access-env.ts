/**
 * The environment an admin claim's containers get (pure): what the device
 * is, so a diagnostics tool can find it without a netdev of its own. The
 * values are the device as it was at Prepare; the device itself never moves
 * for an admin claim (admin-access.ts).
 *
 *   NETCLAIM_ADMIN_DEVICES=<dev>,<dev>    the claim's devices, in allocation order
 *   NETCLAIM_ADMIN_<i>_DEVICE             the DRA device name (i counts from 0)
 *   NETCLAIM_ADMIN_<i>_IFNAME             its netdev's name on the host (or in the owner's pod, where
 *                                          the owner's config may have renamed it)
 *   NETCLAIM_ADMIN_<i>_IFINDEX            its netdev's ifindex when it was last on the host
 *   NETCLAIM_ADMIN_<i>_MAC                its MAC as published
 *   NETCLAIM_ADMIN_<i>_PCI_ADDRESS        its PCI function
 *   NETCLAIM_ADMIN_<i>_RDMA_DEVICE        its RDMA device
 *   NETCLAIM_ADMIN_<i>_RDMA_CHAR_DEVICES  `true` when its RDMA character devices were handed over, else `false`
 *   NETCLAIM_ADMIN_<i>_OWNER_NAMESPACE    the namespace of the claim that had it at Prepare (absent: free)
 *   NETCLAIM_RDMA_NETNS_MODE              `shared` or `exclusive`, when the node has RDMA
 *
 * Indexed keys, not per-name ones: a container may get several devices, and
 * a DRA device name (a DNS label) does not map to a variable name one to one.
 * Workload hints (NCCL_IB_HCA, UCX_NET_DEVICES; workload-env.ts) are added
 * for devices whose character devices were handed over, so RDMA tools find
 * them; NCCL_SOCKET_IFNAME never, since the pod gets no netdev.
 */
import { workloadEnv } from './cdi/workload-env.ts';

export interface AdminEnvDevice {
  readonly device: string;
  readonly ifName?: string;
  readonly ifIndex?: number;
  readonly mac?: string;
  readonly pciAddress?: string;
  readonly rdmaDevice?: string;
  readonly ownerNamespace?: string;
  /** Its RDMA character devices are handed over. */
  readonly charDevices: boolean;
  /** The config's `rdma.workloadEnv` (default true). */
  readonly workloadEnv: boolean;
}

export const ADMIN_ENV_PREFIX = 'NETCLAIM_ADMIN_';

/** `K=V` for the claim's containers, sorted by K. */
export function adminAccessEnv(devices: readonly AdminEnvDevice[], rdmaNetnsMode?: string): string[] {
  const env: string[] = [`${ADMIN_ENV_PREFIX}DEVICES=${devices.map((d) => d.device).join(',')}`];
  for (const [i, d] of devices.entries()) {
    const key = (k: string): string => `${ADMIN_ENV_PREFIX}${i}_${k}`;
    env.push(`${key('DEVICE')}=${d.device}`);
    if (d.ifName !== undefined) env.push(`${key('IFNAME')}=${d.ifName}`);
    if (d.ifIndex !== undefined) env.push(`${key('IFINDEX')}=${d.ifIndex}`);
    if (d.mac !== undefined) env.push(`${key('MAC')}=${d.mac}`);
    if (d.pciAddress !== undefined) env.push(`${key('PCI_ADDRESS')}=${d.pciAddress}`);
    if (d.rdmaDevice !== undefined) {
      env.push(`${key('RDMA_DEVICE')}=${d.rdmaDevice}`);
      env.push(`${key('RDMA_CHAR_DEVICES')}=${d.charDevices}`);
    }
    if (d.ownerNamespace !== undefined) env.push(`${key('OWNER_NAMESPACE')}=${d.ownerNamespace}`);
  }
  if (rdmaNetnsMode !== undefined && devices.some((d) => d.rdmaDevice !== undefined)) env.push(`NETCLAIM_RDMA_NETNS_MODE=${rdmaNetnsMode}`);
  env.push(...workloadEnv(devices.filter((d) => d.charDevices && d.workloadEnv && d.rdmaDevice !== undefined).map((d) => ({ rdmaDevice: d.rdmaDevice! }))));
  return env.sort(byKey);
}

const byKey = (a: string, b: string): number => {
  const ka = a.slice(0, a.indexOf('='));
  const kb = b.slice(0, b.indexOf('='));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};
