/**
 * Environment hints that point collective-communication libraries at the
 * claim's devices instead of the pod's default interface (pure). Written into
 * the claim's CDI spec (cdi-spec.ts); note that the runtime REPLACES a
 * variable of the same name that the pod spec set, so these are only derived
 * from what the claim really gives the pod.
 *
 * - `NCCL_IB_HCA` — RDMA devices NCCL's IB/RoCE transport may use. A list of
 *   prefixes separated by `,` (so `mlx5_1` would also match `mlx5_10`); a
 *   leading `=` makes every entry an exact name. Set only when the claim has
 *   RDMA devices. Source: NCCL user guide, Environment Variables,
 *   NCCL_IB_HCA / NCCL_SOCKET_IFNAME ("To match (or not) an exact interface
 *   name, begin the prefix string with the = character").
 * - `NCCL_SOCKET_IFNAME` — IP interfaces for NCCL's bootstrap and socket
 *   transport, same syntax; the pod-side names of the claim's netdevs.
 *   Source: as above.
 * - `UCX_NET_DEVICES` — devices UCX may use, `,`-separated: `<rdmadev>:<port>`
 *   for RDMA (e.g. `mlx5_0:1`), the interface name for TCP (e.g. `eth0`). A
 *   device with RDMA is listed by its RDMA name only (a RoCE netdev's TCP path
 *   is not what the claim is for). Port 1: the devices a pod receives are
 *   single-port (each mlx5 port, and each VF, is its own RDMA device), and
 *   IB ports count from 1. Source: UCX FAQ ("Which network devices does UCX
 *   use?"), Open MPI docs, IB/RoCE (`UCX_NET_DEVICES=mlx5_0:1`).
 * - `NCCL_IB_DISABLE` is NOT set: its default is 0 (IB enabled), so `=0` adds
 *   nothing, and `=1` for socket-only claims would override a user who
 *   brought RDMA another way.
 *
 * Lists keep the devices' order (the claim's request order, the same on every
 * node of a job: NCCL pairs HCAs by list position), without repeats; the
 * variables are sorted by name. A name containing `,` (which a list cannot
 * express) is left out.
 */

export interface WorkloadDevice {
  /** Interface name inside the pod (netdev devices). */
  readonly podIfName?: string;
  /** RDMA device name (`mlx5_0`), for devices with RDMA. */
  readonly rdmaDevice?: string;
}

export const RDMA_PORT = 1;

/** `K=V` strings for a claim's devices, sorted by K; empty when there is nothing to point at. */
export function workloadEnv(devices: readonly WorkloadDevice[]): string[] {
  const hcas = new Set<string>();
  const ifNames = new Set<string>();
  const ucx = new Set<string>();
  for (const d of devices) {
    const rdma = usable(d.rdmaDevice);
    const ifName = usable(d.podIfName);
    if (rdma !== undefined) hcas.add(rdma);
    if (ifName !== undefined) ifNames.add(ifName);
    if (rdma !== undefined) ucx.add(`${rdma}:${RDMA_PORT}`);
    else if (ifName !== undefined) ucx.add(ifName);
  }
  const env: string[] = [];
  if (hcas.size > 0) env.push(`NCCL_IB_HCA==${[...hcas].join(',')}`);
  if (ifNames.size > 0) env.push(`NCCL_SOCKET_IFNAME==${[...ifNames].join(',')}`);
  if (ucx.size > 0) env.push(`UCX_NET_DEVICES=${[...ucx].join(',')}`);
  return env.sort();
}

function usable(name: string | undefined): string | undefined {
  return name === undefined || name === '' || name.includes(',') ? undefined : name;
}
