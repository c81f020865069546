/**
 * Some kernel objects cannot live in a test's own namespace (a soft-RoCE
 * device is created in init_net on Linux 6.1). Tests that must touch the
 * machine's init namespace run only inside the QEMU lane's throwaway VM,
 * which sets NETCLAIM_IN_VM=1; elsewhere they skip.
 */
import { existsSync, readFileSync } from 'node:fs';

export const inQemuLane = (): boolean => process.env['NETCLAIM_IN_VM'] === '1';

/** The RDMA subsystem is present (its netlink family exists). */
export const hasRdmaSubsystem = (): boolean => existsSync('/sys/class/infiniband') || existsSync('/sys/module/ib_core');

/** Soft-RoCE can be created here: inside the lane, with rdma_rxe loaded. */
export const canUseRxe = (): boolean => inQemuLane() && existsSync('/sys/module/rdma_rxe');

/**
 * The running kernel (or a loaded module) has this function: /proc/kallsyms
 * lists static ones too. Tells which soft-RoCE this is where the version
 * number would only guess (rxe_disassociate_ucontext: rxe may change
 * namespace; rxe_ns_pernet_sk4: rxe has per-namespace UDP sockets).
 */
export function kernelHasSymbol(symbol: string): boolean {
  try {
    return new RegExp(` ${symbol}(\\t|$)`, 'm').test(readFileSync('/proc/kallsyms', 'utf8'));
  } catch {
    return false;
  }
}
