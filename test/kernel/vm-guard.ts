/**
 * Some kernel objects cannot live in a test's own namespace (a soft-RoCE
 * device is created in init_net on Linux 6.1). Tests that must touch the
 * machine's init namespace run only inside the QEMU lane's throwaway VM,
 * which sets NETCLAIM_IN_VM=1; elsewhere they skip.
 */
import { existsSync } from 'node:fs';

export const inQemuLane = (): boolean => process.env['NETCLAIM_IN_VM'] === '1';

/** The RDMA subsystem is present (its netlink family exists). */
export const hasRdmaSubsystem = (): boolean => existsSync('/sys/class/infiniband') || existsSync('/sys/module/ib_core');

/** Soft-RoCE can be created here: inside the lane, with rdma_rxe loaded. */
export const canUseRxe = (): boolean => inQemuLane() && existsSync('/sys/module/rdma_rxe');
