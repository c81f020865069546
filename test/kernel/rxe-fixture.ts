/**
 * A soft-RoCE device over a dummy netdev in the QEMU lane's initial namespace (rdma_rxe binds
 * only there on Debian 12's 6.1), for the lane tests of discovery, prepare and admin access.
 * Everything made is undone through `cleanups`, in reverse order, by the test's afterEach.
 */
import { rdmaDevGetByName, rdmaLinkAdd, rdmaLinkDelete } from '../../src/kernel/netlink/rdma/rdma-ops.ts';
import { NetnsHandle } from '../../src/kernel/netns/handle.ts';
import { testLibc, tool, uniqueName } from './netns-fixture.ts';

export interface RxeOverDummy {
  readonly host: NetnsHandle;
  readonly netdev: string;
  readonly rxe: string;
}

export function rxeOverDummy(tag: string, cleanups: (() => void)[]): RxeOverDummy {
  const host = NetnsHandle.current({ libc: testLibc });
  cleanups.push(() => host.close());
  const netdev = uniqueName(tag);
  const rxe = uniqueName('rxe');
  tool('ip', ['link', 'add', netdev, 'type', 'dummy']);
  cleanups.push(() => tool('ip', ['link', 'del', netdev]));
  tool('ip', ['link', 'set', netdev, 'up']);
  rdmaLinkAdd(host, rxe, 'rxe', netdev);
  cleanups.push(() => rdmaLinkDelete(host, rdmaDevGetByName(host, rxe).index));
  return { host, netdev, rxe };
}
