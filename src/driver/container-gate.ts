/**
 * What CreateContainer hands the container beyond the fail-closed check
 * (pod-checks.ts): the GID index hints of sub-interfaces with RDMA
 * (NCCL_IB_GID_INDEX / UCX_IB_GID_INDEX, docs/sharing.md). The parent's GID
 * entry for a child's address exists only once the child has it in the pod,
 * so the hint cannot be in the CDI spec written at Prepare.
 */
import { gidEntriesFor } from '../kernel/sysfs/rdma-gids.ts';
import type { NriContainerAdjustment } from './pod-port.ts';
import type { ClaimRecord } from './record-model.ts';
import { gidIndexEnv, subInterfaceGids, type GidLookup } from './sub-interface/sub-rdma.ts';

/** How long CreateContainer waits for a sub-interface's GID entry: 20 × 50 ms. */
const GID_WAIT_TRIES = 20;
const GID_WAIT_MS = 50;

/** Whether the container's adjustment depends on the devices being in the pod (sub-interfaces with RDMA: their GID hints). */
export const adjustmentNeedsDevices = (records: readonly ClaimRecord[]): boolean =>
  records.some((r) => r.devices.some((d) => d.subInterface !== undefined && d.rdma !== undefined));

/** The container's adjustment for a pod whose claims are `records` (in place); none for a pod without sub-interfaces with RDMA (no read). */
export function containerAdjustment(records: readonly ClaimRecord[], gidLookup: GidLookup | undefined): NriContainerAdjustment {
  if (!adjustmentNeedsDevices(records)) return {};
  const lookup = gidLookup ?? ((dev, port, gid) => gidEntriesFor(dev, port, gid));
  let gids = subInterfaceGids(records, lookup);
  // The kernel adds the entries from a work queue after the address: wait for them a little (this path only).
  for (let i = 0; i < GID_WAIT_TRIES && gids.some((g) => g.index === undefined && g.addressed); i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, GID_WAIT_MS);
    gids = subInterfaceGids(records, lookup);
  }
  const env = gidIndexEnv(gids);
  return env.length === 0 ? {} : { env };
}
