/**
 * RDMA netlink against real soft-RoCE (rdma_rxe). Runs in the QEMU lane
 * only: on Linux 6.1 an rxe device can only live in init_net, which the lane's
 * throwaway VM lets tests use (see test/kernel/vm-guard.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNetns, needsQemuLane, testLibc, tool, uniqueName } from '../../../../test/kernel/netns-fixture.ts';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';
import { canUseRxe, kernelHasSymbol } from '../../../../test/kernel/vm-guard.ts';
import { NetnsHandle } from '../../netns/handle.ts';
import {
  rdmaDevGetByName, rdmaDevList, rdmaDevSetNetns, rdmaLinkAdd, rdmaLinkDelete, rdmaNetnsModeGet, rdmaNetnsModeSet, rdmaPortList,
} from './rdma-ops.ts';

const rxe = canUseRxe();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try { c(); } catch { /* best effort */ }
  }
});

/** A dummy netdev in the VM's init_net with an rxe device on top, deleted after the test. */
function makeRxe(host: NetnsHandle): { dev: string; netdev: string } {
  const netdev = uniqueName('rxd');
  const dev = uniqueName('rxe');
  tool('ip', ['link', 'add', netdev, 'type', 'dummy']);
  cleanups.push(() => tool('ip', ['link', 'del', netdev]));
  tool('ip', ['link', 'set', netdev, 'up']);
  rdmaLinkAdd(host, dev, 'rxe', netdev);
  cleanups.push(() => rdmaLinkDelete(host, rdmaDevGetByName(host, dev).index));
  return { dev, netdev };
}

describe.skipIf(!rxe)(`RDMA netlink on soft-RoCE (${testLibc.backend})`, () => {
  it('creates an rxe device and lists it and its port as rdma -j does', () => {
    const host = NetnsHandle.current({ libc: testLibc });
    try {
      const { dev, netdev } = makeRxe(host);
      const d = rdmaDevGetByName(host, dev);
      const oracle = (JSON.parse(tool('rdma', ['-j', 'dev', 'show', dev])) as { ifindex: number; ifname: string; node_type: string; node_guid: string; sys_image_guid: string }[])[0]!;
      expect(d).toMatchObject({ index: oracle.ifindex, name: dev, nodeType: oracle.node_type, nodeGuid: oracle.node_guid, sysImageGuid: oracle.sys_image_guid, ports: 1 });
      const port = rdmaPortList(host).find((p) => p.devName === dev)!;
      const link = (JSON.parse(tool('rdma', ['-j', 'link', 'show', `${dev}/1`])) as { state: string; physical_state: string; netdev: string; netdev_index: number }[])[0]!;
      expect(port).toMatchObject({ devIndex: d.index, port: 1, state: link.state, physState: link.physical_state, netdevName: netdev, netdevIndex: link.netdev_index });
    } finally {
      host.close();
    }
  });

  it('sees devices per namespace according to the RDMA netns mode', () => {
    const host = NetnsHandle.current({ libc: testLibc });
    const ns = createNetns('rd');
    try {
      const { dev } = makeRxe(host);
      const mode = rdmaNetnsModeGet(host);
      const visibleInPod = rdmaDevList(ns.handle).some((d) => d.name === dev);
      // shared: every namespace sees every device; exclusive: only its own namespace does.
      expect(visibleInPod).toBe(mode === 'shared');
    } finally {
      host.close();
    }
  });

  it('refuses to change the namespace mode while other namespaces exist (EBUSY)', () => {
    const host = NetnsHandle.current({ libc: testLibc });
    createNetns('rd');
    try {
      const mode = rdmaNetnsModeGet(host);
      const other = mode === 'shared' ? 'exclusive' : 'shared';
      expect(kernelError(() => rdmaNetnsModeSet(host, other))).toMatchObject({ errnoName: 'EBUSY', op: 'RDMA_NLDEV_CMD_SYS_SET' });
      rdmaNetnsModeSet(host, mode); // setting the current mode is a no-op
      expect(rdmaNetnsModeGet(host)).toBe(mode);
    } finally {
      host.close();
    }
  });

  it('known limit: an rxe device changes namespace only in exclusive mode where rxe has disassociate_ucontext (7.3; 6.1: EOPNOTSUPP), and cannot come back (ENODEV)', () => {
    const host = NetnsHandle.current({ libc: testLibc });
    const ns = createNetns('rd');
    try {
      const { dev } = makeRxe(host);
      const index = rdmaDevGetByName(host, dev).index;
      // Shared mode refuses any move. Exclusive mode needs the driver's disassociate_ucontext,
      // which rxe lacks on 6.1 and has on 7.3 (kernelHasSymbol tells, not the version number).
      if (rdmaNetnsModeGet(host) === 'exclusive' && kernelHasSymbol('rxe_disassociate_ucontext')) {
        rdmaDevSetNetns(host, index, ns.handle);
        expect(rdmaDevList(ns.handle).map((d) => d.name)).toContain(dev);
        expect(rdmaDevList(host).some((d) => d.name === dev)).toBe(false);
        // Away from its netdev's namespace the rxe port cannot open (no UDP socket there: "Couldn't
        // create ib_mad QP1" in the kernel log), and the kernel refuses the way back (7.3: ENODEV).
        // Its netdev's deletion (cleanup) unregisters it.
        const back = kernelError(() => rdmaDevSetNetns(ns.handle, rdmaDevGetByName(ns.handle, dev).index, host));
        expect(back).toMatchObject({ errnoName: 'ENODEV', op: 'RDMA_NLDEV_CMD_SET' });
      } else {
        const err = kernelError(() => rdmaDevSetNetns(host, index, ns.handle));
        expect(err).toMatchObject({ errnoName: 'EOPNOTSUPP', op: 'RDMA_NLDEV_CMD_SET' });
        expect(rdmaDevList(host).some((d) => d.name === dev)).toBe(true);
      }
    } finally {
      host.close();
    }
  });
});

if (!rxe) {
  describe('RDMA netlink', () => {
    it.skip(needsQemuLane('rdma_rxe (and an init namespace the test may change)'), () => {});
  });
}
