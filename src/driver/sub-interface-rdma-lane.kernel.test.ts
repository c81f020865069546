/**
 * RDMA over a shared parent (docs/sharing.md, "RDMA over a shared parent") in
 * the QEMU lane: a soft-RoCE device over a dummy netdev in the VM's initial
 * namespace (test/kernel/rxe-fixture.ts) is a shareable parent; two claims on
 * it each get a macvlan, moved by the PodDriver into their own pod namespace
 * with their own address, and
 * - in RDMA netns mode `shared`: each claim's CDI spec hands over the parent's
 *   uverbs (and rdma_cm) nodes and names the parent in NCCL_IB_HCA and
 *   UCX_NET_DEVICES; CreateContainer adds NCCL_IB_GID_INDEX/UCX_IB_GID_INDEX,
 *   the index of the parent's RoCE v2 GID entry that the kernel made for that
 *   pod's address with that pod's macvlan as its netdev (checked with `cat`
 *   on the entry: GID, type, ndev), different for the two pods; release
 *   deletes the children and with them their GID entries;
 * - whatever the mode: with the node in `exclusive` mode, a claim asking for
 *   RDMA is refused (PREPARE_SUB_INTERFACE_RDMA) and nothing is created.
 *
 * No RDMA traffic between the children: soft-RoCE's receive path finds its
 * device from the netdev a packet arrives on, the rxe netdev or a VLAN on it
 * only (drivers/infiniband/sw/rxe/rxe_net.c, get_rxe_from_skb), so a packet
 * arriving on a macvlan child is dropped; a real HCA receives by MAC/GID in
 * hardware. Skipped outside the lane with the reason.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatedClaim, refOf } from '../../test/kernel/claim-fixture.ts';
import { createNetns, eventually, needsQemuLane, testLibc, tool } from '../../test/kernel/netns-fixture.ts';
import { rxeOverDummy } from '../../test/kernel/rxe-fixture.ts';
import { canUseRxe } from '../../test/kernel/vm-guard.ts';
import { DRIVER_NAME } from '../common/driver.ts';
import type { DeviceName } from '../common/ids.ts';
import type { Device } from '../inventory/model.ts';
import { rdmaNetnsModeGet } from '../kernel/netlink/rdma/rdma-ops.ts';
import { linkGetByName } from '../kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';
import { SubInterfaces } from './sub-interface/sub-interfaces.ts';
import { gidOfAddress } from './sub-interface/sub-rdma.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try { c(); } catch { /* best effort */ }
  }
});

interface Rig {
  readonly rxe: string;
  readonly netdev: string;
  readonly dir: string;
  readonly store: ClaimStore;
  readonly pods: PodDriver;
  readonly driver: ClaimDriver;
  readonly claims: AllocatedClaim[];
}

function rig(mode: 'shared' | 'exclusive'): Rig {
  const { host, netdev, rxe } = rxeOverDummy('srp', cleanups);
  const dir = mkdtempSync(join(tmpdir(), 'nc-subrdma-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = ClaimStore.open(join(dir, 'state'));
  cleanups.push(() => store.close());
  const parent: Device = {
    name: `dev-${netdev}` as DeviceName, kind: 'virtual', ifName: netdev, ifIndex: linkGetByName(host, netdev).index, rdmaDevice: rxe,
    charDevices: [], netdevPresent: true, attributes: {}, dropped: [], sharing: { maxSubInterfaces: 4 },
  };
  const pods = new PodDriver({ store, host, libc: testLibc, rdmaExclusive: () => mode === 'exclusive', status: { devicesReady: () => {}, devicesNotReady: () => {} } });
  cleanups.push(() => pods.close());
  const claims: AllocatedClaim[] = [];
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'node', store, inventory: { current: { devices: [parent], rdmaNetnsMode: mode }, hold: () => {}, release: () => {} },
    claims: { get: (_ns, name) => Promise.resolve(claims.find((c) => c.name === name)!) },
    kernel: hostReads(host, '/sys'), cdiDir: join(dir, 'cdi'), subInterfaces: new SubInterfaces(host, join(dir, 'state')),
    pods: { returnDevices: (uid) => pods.returnDevices(uid) },
  });
  return { rxe, netdev, dir, store, pods, driver, claims };
}

const subLinks = (): string[] => (JSON.parse(tool('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith('ncsub'));
const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: uid, namespace: 'ns', netns });
const gidAttr = (rxe: string, what: string): string => tool('cat', [`/sys/class/infiniband/${rxe}/ports/1/${what}`]).trim();

interface Spec { containerEdits?: { env?: string[] }; devices: { containerEdits: { deviceNodes?: { path: string }[] } }[] }

/** The node's RDMA netns mode (global; read once), where soft-RoCE can run. */
function kernelMode(): string | undefined {
  if (!canUseRxe()) return undefined;
  const h = NetnsHandle.current({ libc: testLibc });
  try {
    return rdmaNetnsModeGet(h);
  } finally {
    h.close();
  }
}
const mode = kernelMode();

describe(`RDMA over a shared soft-RoCE parent (${testLibc.backend})`, () => {
  it.skipIf(mode !== 'shared')(`shared mode: each macvlan child's pod gets the parent's RDMA nodes, its name in the hints and the GID index of its own address${mode === undefined ? ` (${needsQemuLane('rdma_rxe')})` : ''}`, async () => {
    const r = rig('shared');
    const pods = [
      { uid: 'pod-ra', addr: '10.83.0.11', ns: createNetns('srpa') },
      { uid: 'pod-rb', addr: '10.83.0.12', ns: createNetns('srpb') },
    ];
    const parentDevice = `dev-${r.netdev}` as DeviceName;
    for (const [i, p] of pods.entries()) {
      const c = allocatedClaim({
        uid: `5c000000-0000-4000-8000-00000000000${i}`, name: `r${i}`, podUid: p.uid,
        devices: [{ name: parentDevice } as Device],
        parameters: { subInterface: { type: 'macvlan', mode: 'bridge' }, interface: { name: 'net1', addresses: [`${p.addr}/24`] }, rdma: { required: true } },
      });
      r.claims.push(c);
      expect((await r.driver.prepare([refOf(c)])).get(c.uid)).not.toHaveProperty('error');
      const spec = JSON.parse(readFileSync(join(r.dir, 'cdi', `netclaim.dev-net_${c.uid}.json`), 'utf8')) as Spec;
      const nodes = spec.devices.flatMap((d) => d.containerEdits.deviceNodes ?? []).map((n) => n.path);
      const uverbs = readdirSync('/sys/class/infiniband_verbs').filter((u) => u.startsWith('uverbs')).find((u) => readFileSync(`/sys/class/infiniband_verbs/${u}/ibdev`, 'utf8').trim() === r.rxe);
      expect(nodes).toContain(`/dev/infiniband/${uverbs}`);
      expect(spec.containerEdits?.env).toEqual([`NCCL_IB_HCA==${r.rxe}`, 'NCCL_SOCKET_IFNAME==net1', `UCX_NET_DEVICES=${r.rxe}:1`]);
    }
    const indices: string[] = [];
    for (const p of pods) {
      await r.pods.runPodSandbox(nriPod(p.uid, p.ns.path));
      const adj = await r.pods.createContainer(nriPod(p.uid, p.ns.path), { id: `c-${p.uid}`, name: 'app', podId: `sandbox-${p.uid}` });
      const env = new Map((adj.env ?? []).map((e) => [e.key, e.value]));
      const index = env.get('NCCL_IB_GID_INDEX');
      expect(index, `GID hint for ${p.uid}: ${JSON.stringify(adj)}`).toMatch(/^\d+$/);
      expect(env.get('UCX_IB_GID_INDEX')).toBe(index);
      // The oracle: the entry the kernel made, read with cat.
      expect(gidAttr(r.rxe, `gids/${index}`)).toBe(gidOfAddress(`${p.addr}/32`));
      expect(gidAttr(r.rxe, `gid_attrs/types/${index}`)).toBe('RoCE v2');
      expect(gidAttr(r.rxe, `gid_attrs/ndevs/${index}`)).toBe('net1');
      indices.push(index!);
    }
    expect(new Set(indices).size).toBe(2);

    for (const p of pods) await r.pods.stopPodSandbox(nriPod(p.uid, p.ns.path));
    for (const c of r.claims) expect((await r.driver.unprepare([refOf(c)])).get(c.uid)).toEqual({});
    expect(subLinks()).toEqual([]);
    // The children are gone, and with them their GID entries (the kernel deletes a netdev's entries at unregister, from a work queue).
    await eventually(() => {
      for (const i of indices) expect(() => gidAttr(r.rxe, `gid_attrs/ndevs/${i}`)).toThrow();
    }, 30_000);
  }, 300_000);

  it.skipIf(mode === undefined)(`exclusive mode: a claim asking for RDMA on a shared parent is refused with PREPARE_SUB_INTERFACE_RDMA and nothing is created${mode === undefined ? ` (${needsQemuLane('rdma_rxe')})` : ''}`, async () => {
    const r = rig('exclusive');
    const c = allocatedClaim({
      uid: '5c000000-0000-4000-8000-000000000009', name: 'rx', podUid: 'pod-rx',
      devices: [{ name: `dev-${r.netdev}` } as Device], parameters: { rdma: { required: true } },
    });
    r.claims.push(c);
    const res = (await r.driver.prepare([refOf(c)])).get(c.uid) as { error?: string };
    expect(res.error).toMatch(/^PREPARE_SUB_INTERFACE_RDMA: .*exclusive/);
    expect(subLinks()).toEqual([]);
    expect(r.store.list()).toEqual([]);
    expect(readdirSync(join(r.dir, 'state', 'sub-interfaces')).filter((f) => !f.startsWith('.'))).toEqual([]);
  }, 120_000);
});
