/**
 * One port's RoCE GID table from sysfs: `class/infiniband/<dev>/ports/<port>/gids/<N>`
 * (the GID, printed as eight groups of four hex digits, `%pI6`), and beside it
 * `gid_attrs/types/<N>` (`RoCE v2`, `IB/RoCE v1`) and `gid_attrs/ndevs/<N>` (the
 * netdev the entry belongs to, by its name in its own namespace). The kernel
 * fills RoCE entries from the IP addresses of the device's netdev and of its
 * upper devices (VLAN, macvlan, ipvlan; drivers/infiniband/core/roce_gid_mgmt.c,
 * is_eth_port_of_netdev_filter and rdma_is_upper_dev_rcu) in every network
 * namespace, so a child moved into a pod still adds entries when it gets an
 * address there. What `ibv_devinfo -v` lists as `GID[N]`.
 *
 * Only the entries whose GID equals `gid` are read in full (the table has
 * up to 1024 entries on soft-RoCE; unused ones read as zero, and their
 * attributes fail with EINVAL).
 */
import { join } from 'node:path';
import { DEFAULT_SYSFS_ROOT, isPlainName, listDir, readAttr } from './sysfs-files.ts';

export interface GidEntry {
  readonly index: number;
  /** As sysfs prints it: `0000:0000:0000:0000:0000:ffff:c000:020a`. */
  readonly gid: string;
  /** `RoCE v2`, `IB/RoCE v1`; absent when unreadable. */
  readonly type?: string;
  /** The netdev's name (in its own namespace); absent when unreadable. */
  readonly ndev?: string;
}

/** The port's entries whose GID is `gid` (sysfs form), by index; empty when the device or port is missing. */
export function gidEntriesFor(rdmaDevice: string, port: number, gid: string, root: string = DEFAULT_SYSFS_ROOT): GidEntry[] {
  if (!isPlainName(rdmaDevice) || !Number.isInteger(port) || port < 1) return [];
  const dir = join(root, 'class', 'infiniband', rdmaDevice, 'ports', String(port));
  const out: GidEntry[] = [];
  for (const n of listDir(join(dir, 'gids'))) {
    if (!/^\d+$/.test(n)) continue;
    if (readAttr(join(dir, 'gids', n)) !== gid) continue;
    const type = readAttr(join(dir, 'gid_attrs', 'types', n));
    const ndev = readAttr(join(dir, 'gid_attrs', 'ndevs', n));
    out.push({ index: Number(n), gid, ...(type ? { type } : {}), ...(ndev ? { ndev } : {}) });
  }
  return out.sort((a, b) => a.index - b.index);
}
