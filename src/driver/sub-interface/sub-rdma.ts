/**
 * RDMA over a shared parent (docs/sharing.md, "RDMA"): which GID index of the
 * parent's RDMA device belongs to a claim's sub-interface (pure).
 *
 * In RDMA netns mode `shared`, a macvlan/ipvlan/VLAN child of a RoCE netdev
 * uses the parent's RDMA device: the kernel adds a RoCE GID entry to the
 * parent's port for each IP address of the child, with the child as the
 * entry's netdev, whatever namespace the child is in
 * (drivers/infiniband/core/roce_gid_mgmt.c: upper devices of the RDMA
 * netdev pass is_eth_port_of_netdev_filter; the inetaddr notifier is not
 * per namespace). The entries are made when the address is added, so in the
 * pod, after Prepare: the index is known only once the pod side has attached
 * the child (NRI CreateContainer), not when the CDI spec is written.
 *
 * The entry is matched by the GID (the IPv4-mapped or IPv6 address: RoCE v2
 * GIDs are the addresses themselves) and type `RoCE v2`; the netdev name the
 * kernel reports is the child's name in the pod's namespace, which other
 * pods may also use (`net1`), so it only narrows several matches. Two
 * matches left (the same address on two children): no index, never a guess.
 *
 * Hints: `NCCL_IB_GID_INDEX` and `UCX_IB_GID_INDEX`, one value for all of a
 * pod's RDMA devices (both variables are global to the process), so they are
 * set only when every such device of the pod resolves to the same index.
 * Sources: NCCL user guide, Environment Variables (NCCL_IB_GID_INDEX: "the
 * Global ID index used in RoCE mode"); UCX `ucx_info -c` (UCX_IB_GID_INDEX,
 * default auto).
 */
import { ipToBytes, parseCidr } from '../../common/ip.ts';
import type { GidEntry } from '../../kernel/sysfs/rdma-gids.ts';
import type { ClaimRecord } from '../record-model.ts';
import { RDMA_PORT } from '../cdi/workload-env.ts';

export const ROCE_V2 = 'RoCE v2';

/** A CIDR's address as sysfs prints a GID (`%pI6`: eight groups of four hex digits; IPv4 mapped into `::ffff:0:0/96`). */
export function gidOfAddress(cidr: string): string {
  const { address, family } = parseCidr(cidr);
  const bytes = family === 2 ? Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), ipToBytes(address)]) : ipToBytes(address);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16).padStart(4, '0'));
  return groups.join(':');
}

/** The RoCE v2 entry among `entries` (all with the address's GID) that is the child's; undefined when none or ambiguous. */
export function chooseGidIndex(entries: readonly GidEntry[], podIfName: string | undefined): number | undefined {
  const v2 = entries.filter((e) => e.type === ROCE_V2);
  const named = podIfName === undefined ? v2 : v2.filter((e) => e.ndev === podIfName);
  const pick = named.length > 0 ? named : v2;
  return pick.length === 1 ? pick[0]!.index : undefined;
}

/** The addresses to look up, IPv4 first (NCCL's default address family is AF_INET), link-local left out. */
export function gidAddresses(ips: readonly string[]): string[] {
  const v4 = ips.filter((c) => parseCidr(c).family === 2);
  const v6 = ips.filter((c) => parseCidr(c).family !== 2 && !/^fe[89ab]/i.test(c));
  return [...v4, ...v6];
}

/** Reads the GID entries of a device's port that have one GID (kernel/sysfs/rdma-gids.ts). */
export type GidLookup = (rdmaDevice: string, port: number, gid: string) => readonly GidEntry[];

export interface SubRdmaGid {
  readonly device: string;
  readonly rdmaDevice: string;
  /** Undefined: the child has no address with a (single) RoCE v2 entry yet. */
  readonly index: number | undefined;
  /** The child has addresses to look up (without any, no entry will come). */
  readonly addressed: boolean;
}

/** The GID index of each attached sub-interface with RDMA in the records (those in the workload hints). */
export function subInterfaceGids(records: readonly ClaimRecord[], lookup: GidLookup): SubRdmaGid[] {
  const out: SubRdmaGid[] = [];
  for (const r of records) {
    for (const d of r.devices) {
      if (d.subInterface === undefined || d.rdma === undefined || !d.workloadEnv) continue;
      const attached = r.attachment?.devices.find((a) => a.device === d.device && a.kind === undefined);
      let index: number | undefined;
      const addresses = gidAddresses(attached?.ips ?? []);
      for (const cidr of addresses) {
        index = chooseGidIndex(lookup(d.rdma.device, RDMA_PORT, gidOfAddress(cidr)), attached?.name);
        if (index !== undefined) break;
      }
      out.push({ device: d.device, rdmaDevice: d.rdma.device, index, addressed: addresses.length > 0 });
    }
  }
  return out;
}

/** `NCCL_IB_GID_INDEX`/`UCX_IB_GID_INDEX` when every sub-interface with RDMA resolved to one index; else none. */
export function gidIndexEnv(gids: readonly SubRdmaGid[]): { key: string; value: string }[] {
  if (gids.length === 0 || gids.some((g) => g.index === undefined)) return [];
  const indices = new Set(gids.map((g) => g.index));
  if (indices.size !== 1) return [];
  const value = String([...indices][0]);
  return [{ key: 'NCCL_IB_GID_INDEX', value }, { key: 'UCX_IB_GID_INDEX', value }];
}
