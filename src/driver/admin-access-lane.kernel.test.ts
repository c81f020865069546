/**
 * Admin claims on a real RDMA device, which only the QEMU lane has: a
 * soft-RoCE device over a dummy netdev in the VM's init namespace (where
 * rxe must live on 6.1). The lane runs kernel tests once with RDMA in
 * `shared` netns mode and once in `exclusive` mode; this file checks what
 * the node's mode allows: shared, the admin's CDI spec carries the device's
 * real uverbs node (numbers as stat(1) sees them) and RDMA workload hints;
 * exclusive, no character devices (they would not open from the admin's
 * namespace) and the env says so. Either way the netdev stays where and as
 * it was, with an owner's claim prepared on it or not. Skipped on the host
 * with the reason.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../inventory/options.ts';
import { needsQemuLane, testLibc, tool } from '../../test/kernel/netns-fixture.ts';
import { rxeOverDummy } from '../../test/kernel/rxe-fixture.ts';
import { canUseRxe } from '../../test/kernel/vm-guard.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try { c(); } catch { /* best effort */ }
  }
});

const OPTIONS = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };

const statNumbers = (path: string): string => {
  const [maj, min] = tool('stat', ['-c', '%t %T', path]).trim().split(' ');
  return `${parseInt(maj!, 16)}:${parseInt(min!, 16)}`;
};

let seq = 0;
function claimOn(device: string, admin: boolean, ns: string): AllocatedClaim {
  seq += 1;
  return {
    namespace: ns, name: `c${seq}`, uid: `1b000000-0000-4000-8000-${String(seq).padStart(12, '0')}` as ClaimUid,
    reservedFor: [{ resource: 'pods', name: `p${seq}`, uid: `pod-${seq}` }],
    allocation: { results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'lane', device, ...(admin ? { adminAccess: true } : {}) }], config: [] },
  };
}

describe(`admin access on a soft-RoCE device (${testLibc.backend})`, () => {
  it.skipIf(!canUseRxe())(`the RDMA character devices only in shared netns mode; the netdev never moves${canUseRxe() ? '' : ` (${needsQemuLane('rdma_rxe')})`}`, async () => {
    const { host, netdev, rxe } = rxeOverDummy('rxa', cleanups);
    const linkBefore = tool('ip', ['-j', '-d', 'link', 'show', 'dev', netdev]);

    const inv = buildInventory(collectSnapshot(host, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS);
    const device = inv.devices.find((d) => d.ifName === netdev)!;
    expect(device.rdmaDevice).toBe(rxe);
    const owner = claimOn(device.name, false, 'team-a');
    const admin = claimOn(device.name, true, 'diag');
    const dir = mkdtempSync(join(tmpdir(), 'nc-lane-admin-'));
    const store = ClaimStore.open(join(dir, 'state'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
    const byName = new Map([owner, admin].map((c) => [`${c.namespace}/${c.name}`, c]));
    const driver = new ClaimDriver({
      driverName: DRIVER_NAME, poolName: 'lane', claims: { get: (ns, name) => Promise.resolve(byName.get(`${ns}/${name}`)!) }, store,
      inventory: { current: inv, hold: () => {}, release: () => {} }, kernel: hostReads(host, '/sys'), cdiDir: join(dir, 'cdi'),
    });
    const ref = (c: AllocatedClaim): { namespace: string; name: string; uid: ClaimUid } => ({ namespace: c.namespace, name: c.name, uid: c.uid });

    expect((await driver.prepare([ref(owner)])).get(owner.uid)).toHaveProperty('devices');
    const res = (await driver.prepare([ref(admin)])).get(admin.uid)!;
    expect(res, JSON.stringify(res)).toHaveProperty('devices');
    const spec = JSON.parse(readFileSync(store.admin(admin.uid)!.cdiSpec!, 'utf8')) as {
      containerEdits: { env: string[] }; devices: { containerEdits: { deviceNodes?: { path: string; major: number; minor: number }[] } }[];
    };
    const nodes = spec.devices[0]!.containerEdits.deviceNodes ?? [];
    const env = spec.containerEdits.env;
    expect(env).toContain(`NETCLAIM_RDMA_NETNS_MODE=${inv.rdmaNetnsMode}`);
    expect(env).toContain('NETCLAIM_ADMIN_0_OWNER_NAMESPACE=team-a');
    if (inv.rdmaNetnsMode === 'shared') {
      const uverbs = nodes.find((n) => /^\/dev\/infiniband\/uverbs\d+$/.test(n.path));
      expect(uverbs, JSON.stringify(nodes)).toBeDefined();
      expect(`${uverbs!.major}:${uverbs!.minor}`).toBe(statNumbers(uverbs!.path));
      expect(env).toEqual(expect.arrayContaining(['NETCLAIM_ADMIN_0_RDMA_CHAR_DEVICES=true', `NCCL_IB_HCA==${rxe}`, `UCX_NET_DEVICES=${rxe}:1`]));
    } else {
      expect(inv.rdmaNetnsMode).toBe('exclusive');
      expect(nodes).toEqual([]);
      expect(env).toContain('NETCLAIM_ADMIN_0_RDMA_CHAR_DEVICES=false');
    }
    expect((await driver.unprepare([ref(admin)])).get(admin.uid)).toEqual({});
    expect(store.get(owner.uid)).toBeDefined();
    expect(tool('ip', ['-j', '-d', 'link', 'show', 'dev', netdev])).toBe(linkBefore);
  });
});
