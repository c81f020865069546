/**
 * The pod driver with a device the kernel returns by itself: a netdevsim NIC
 * (it has a bus device, so the kernel moves it back to the initial namespace
 * when its pod's namespace dies, asynchronously, from its netns cleanup
 * work). Needs netdevsim and the VM's own initial namespace as "the host":
 * QEMU lane only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceOf, prepareClaim } from '../../test/kernel/claim-fixture.ts';
import { createNetdevsim, hasNetdevsim } from '../../test/kernel/netdevsim-fixture.ts';
import { createNetns, deleteNetns, eventually, ip, needsQemuLane, testLibc, tool, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { inQemuLane } from '../../test/kernel/vm-guard.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { PodDriver } from './pod-driver.ts';
import { ClaimStore } from './state/claim-store.ts';

interface IpLink { ifname: string; address: string; mtu: number; addr_info?: { local: string; prefixlen: number }[] }
const rootLink = (mac: string): IpLink | undefined => (JSON.parse(tool('ip', ['-j', 'addr', 'show'])) as IpLink[]).find((l) => l.address === mac);

describe('pod driver in the QEMU lane', () => {
  it.skipIf(!hasNetdevsim() || !inQemuLane())(
    `a NIC whose pod namespace died: its journal stays until the kernel has returned it, then it is restored (${needsQemuLane('netdevsim and the VM\'s own init namespace')})`,
    async () => {
      const root = NetnsHandle.current({ libc: testLibc });
      const host: TestNetns = { name: 'init', path: '/proc/1/ns/net', handle: root };
      const staging = createNetns('ls');
      const dev = createNetdevsim(staging).netdevs[0]!;
      ip(staging, 'link', 'set', dev, 'netns', '1'); // the VM's initial namespace is "the host"
      tool('ip', ['addr', 'add', '10.77.0.2/24', 'dev', dev]);
      tool('ip', ['link', 'set', dev, 'up']);
      const before = rootLink(JSON.parse(tool('ip', ['-j', 'link', 'show', 'dev', dev]))[0].address as string)!;
      const dir = mkdtempSync(join(tmpdir(), 'nc-pod-lane-'));
      const store = ClaimStore.open(join(dir, 'state'));
      const problems: string[] = [];
      const pods = new PodDriver({ store, host: root, libc: testLibc, rdmaExclusive: () => false, observer: { detachProblems: (_r, p) => problems.push(...p) } });
      try {
        const device = deviceOf(host, dev, { kind: 'pci' });
        const claim = await prepareClaim({ host, store, dir }, {
          uid: '1a9e0000-0000-4000-8000-000000000001', podUid: 'pod-lane', devices: [device],
          parameters: { interface: { name: 'net1', mtu: 1400, hardwareAddr: '02:aa:00:00:77:01' } },
        });
        const pod = createNetns('lp');
        const sandbox = { id: 'sandbox-lane', uid: 'pod-lane', name: 'pod', namespace: 'ns', netns: pod.path };
        await pods.runPodSandbox(sandbox);
        await pods.idle(); // the `attached` journal follows the hook's answer
        expect(store.get(claim.uid)?.attachment?.state).toBe('attached');

        // The runtime deletes the namespace's file; a last reference keeps the namespace (and the NIC
        // in it) alive a moment longer, so StopPodSandbox surely comes before the kernel returns it.
        const last = NetnsHandle.open(pod.path, { libc: testLibc });
        deleteNetns(pod);
        await pods.stopPodSandbox(sandbox);
        expect(rootLink('02:aa:00:00:77:01')).toBeUndefined();
        expect(store.get(claim.uid)?.attachment).toBeDefined(); // pending, not gone (I2)
        last.close(); // the namespace dies: the kernel returns the NIC to the initial namespace, asynchronously
        const t0 = performance.now();
        await eventually(() => expect(store.get(claim.uid)?.attachment).toBeUndefined(), 10_000);
        const ms = Math.round(performance.now() - t0);
        const after = rootLink(before.address);
        expect(after).toMatchObject({ ifname: dev, mtu: before.mtu });
        expect(after?.addr_info?.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.77.0.2/24');
        expect(problems).toEqual([]);
        process.stdout.write(`pod-driver-lane: NIC returned by the kernel and restored ${ms} ms after its namespace died\n`);
      } finally {
        pods.close();
        store.close();
        rmSync(dir, { recursive: true, force: true });
        root.close();
      }
    },
  );
});
