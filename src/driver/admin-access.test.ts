/**
 * Admin claims (KEP-5018 adminAccess) without a kernel: what Prepare plans
 * for them (admin-access.ts), how the store keeps their records apart, and a
 * property test driving ClaimDriver through random interleavings of owner
 * and admin prepare/unprepare against a real store on disk.
 *
 * The kernel reads are stand-ins (no netlink here): `snapshot` throws, since
 * an admin claim must never snapshot a device, and `charDevices` returns the
 * character devices of one ConnectX RDMA device with the numbers the kernel
 * gives them (drivers/infiniband/core/uverbs_main.c IB_UVERBS_BASE_MINOR 192
 * on major 231, user_mad.c IB_UMAD_MINOR_BASE 0, ucma.c misc minor for
 * /dev/infiniband/rdma_cm). The device side is tested on real netdevs in
 * admin-access.kernel.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import { isDriverError } from '../common/errors.ts';
import type { ClaimUid, DeviceName, PciAddress } from '../common/ids.ts';
import type { AllocationConfig } from '../config/claim-config/types.ts';
import type { Device } from '../inventory/model.ts';
import { isAdminClaim, prepareAdminClaim, type AdminPrepareContext } from './admin-access.ts';
import type { AllocatedClaim, AllocationResult } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import type { ClaimRecord } from './record-model.ts';
import { claimRecordProblem } from './state/claim-record.ts';
import { ClaimStore } from './state/claim-store.ts';

const POOL = 'node-a';
const CHARS = [
  { path: '/dev/infiniband/uverbs0', type: 'c' as const, major: 231, minor: 192, kind: 'uverbs' },
  { path: '/dev/infiniband/umad0', type: 'c' as const, major: 231, minor: 0, kind: 'umad' },
  { path: '/dev/infiniband/rdma_cm', type: 'c' as const, major: 10, minor: 58, kind: 'rdma_cm' },
];

function device(name: string, ifName: string, ifIndex: number, rdma?: string): Device {
  return {
    name: name as DeviceName, kind: 'pci', ifName, ifIndex, pciAddress: `0000:3b:00.${ifIndex % 8}` as PciAddress,
    ...(rdma === undefined ? {} : { rdmaDevice: rdma }),
    charDevices: rdma === undefined ? [] : CHARS.map((c) => c.path), netdevPresent: true,
    attributes: { [`${DRIVER_NAME}/mac`]: { string: `02:00:00:00:00:0${ifIndex % 10}` } }, dropped: [],
  };
}

const DEVICES = [device('nic-a', 'ens1f0', 7, 'mlx5_0'), device('nic-b', 'ens1f1', 8)];

let seq = 0;
function adminClaim(devices: readonly string[], config: readonly AllocationConfig[] = [], ns = 'diag'): AllocatedClaim {
  seq += 1;
  return {
    namespace: ns, name: `admin-${seq}`, uid: `ad000000-0000-4000-8000-${String(seq).padStart(12, '0')}` as ClaimUid,
    reservedFor: [{ resource: 'pods', name: `diag-${seq}`, uid: `pod-diag-${seq}` }],
    allocation: { results: devices.map((d) => ({ request: 'nic', driver: DRIVER_NAME, pool: POOL, device: d, adminAccess: true })), config },
  };
}

function ctx(over: Partial<AdminPrepareContext> = {}): AdminPrepareContext {
  return {
    driverName: DRIVER_NAME, poolName: POOL, resolve: {}, device: (n) => DEVICES.find((d) => d.name === n),
    charDevices: () => CHARS, rdmaNetnsMode: 'shared', ownerNamespace: () => undefined, now: () => new Date(0), ...over,
  };
}

const results = (c: AllocatedClaim): AllocationResult[] => [...c.allocation!.results];

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isDriverError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected an error');
}

describe('prepareAdminClaim', () => {
  it('gives the RDMA character devices (shared mode) and env describing the device and its owner, and plans no move', () => {
    const c = adminClaim(['nic-a']);
    const r = prepareAdminClaim(c, results(c), ctx({ ownerNamespace: () => 'team-a' }));
    expect(r.kind).toBe('admin');
    expect(r).not.toHaveProperty('devices'); // nothing the pod side could attach
    const d = r.access[0]!;
    expect(d.charDevices.map((x) => x.path)).toEqual(CHARS.map((x) => x.path));
    expect(d.ownerNamespace).toBe('team-a');
    expect(d.env).toEqual([
      'NCCL_IB_HCA==mlx5_0',
      'NETCLAIM_ADMIN_0_DEVICE=nic-a', 'NETCLAIM_ADMIN_0_IFINDEX=7', 'NETCLAIM_ADMIN_0_IFNAME=ens1f0', 'NETCLAIM_ADMIN_0_MAC=02:00:00:00:00:07',
      'NETCLAIM_ADMIN_0_OWNER_NAMESPACE=team-a', 'NETCLAIM_ADMIN_0_PCI_ADDRESS=0000:3b:00.7', 'NETCLAIM_ADMIN_0_RDMA_CHAR_DEVICES=true',
      'NETCLAIM_ADMIN_0_RDMA_DEVICE=mlx5_0', 'NETCLAIM_ADMIN_DEVICES=nic-a', 'NETCLAIM_RDMA_NETNS_MODE=shared', 'UCX_NET_DEVICES=mlx5_0:1',
    ]);
  });

  it('in RDMA exclusive mode hands over no character devices (they work only where the device is) and says so', () => {
    const c = adminClaim(['nic-a']);
    const d = prepareAdminClaim(c, results(c), ctx({ rdmaNetnsMode: 'exclusive' })).access[0]!;
    expect(d.charDevices).toEqual([]);
    expect(d.env).toContain('NETCLAIM_ADMIN_0_RDMA_CHAR_DEVICES=false');
    expect(d.env.some((e) => e.startsWith('NCCL_IB_HCA'))).toBe(false);
    const req = adminClaim(['nic-a'], [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters: { rdma: { required: true } } } }]);
    expect(codeOf(() => prepareAdminClaim(req, results(req), ctx({ rdmaNetnsMode: 'exclusive' })))).toMatch(/^PREPARE_DEVICE_CONFLICT: .*rdma\.required: RDMA netns mode is exclusive/);
  });

  it('refuses a claim config that would change the device, naming every field; rdma is allowed', () => {
    const c = adminClaim(['nic-b'], [{
      source: 'FromClaim',
      opaque: { driver: DRIVER_NAME, parameters: { interface: { name: 'diag0', mtu: 1400 }, routes: [{ destination: '10.0.0.0/8', gateway: '10.1.1.1' }], rdma: { workloadEnv: false } } },
    }]);
    const msg = codeOf(() => prepareAdminClaim(c, results(c), ctx()));
    expect(msg).toMatch(/^PREPARE_ADMIN_ACCESS_CONFIG: /);
    expect(msg).toContain('config[0].opaque.parameters.interface.name');
    expect(msg).toContain('config[0].opaque.parameters.interface.mtu');
    expect(msg).toContain('config[0].opaque.parameters.routes');
    expect(msg).not.toContain('parameters.rdma');
    const ok = adminClaim(['nic-a'], [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters: { rdma: { charDevices: ['umad'], workloadEnv: false } } } }]);
    const d = prepareAdminClaim(ok, results(ok), ctx()).access[0]!;
    expect(d.charDevices.map((x) => x.path)).toEqual(['/dev/infiniband/umad0']);
    expect(d.env.some((e) => e.startsWith('UCX_'))).toBe(false);
  });

  it('does not apply DeviceClass configs (the owners\' settings); an invalid rdma config is CONFIG_CLAIM_INVALID', () => {
    const c = adminClaim(['nic-b'], [{ source: 'FromClass', opaque: { driver: DRIVER_NAME, parameters: { interface: { mtu: 9000 } } } }]);
    expect(prepareAdminClaim(c, results(c), ctx()).access).toHaveLength(1);
    const bad = adminClaim(['nic-b'], [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters: { rdma: { charDevices: ['nope'] } } } }]);
    expect(codeOf(() => prepareAdminClaim(bad, results(bad), ctx()))).toMatch(/^CONFIG_CLAIM_INVALID: .*rdma\.charDevices/);
  });

  it('refuses a claim mixing admin and ordinary requests, names both', () => {
    const c = adminClaim(['nic-a']);
    const mixed = [...results(c), { request: 'own', driver: DRIVER_NAME, pool: POOL, device: 'nic-b' }];
    expect(codeOf(() => isAdminClaim(c, mixed))).toMatch(/^PREPARE_ADMIN_ACCESS_MIXED: .*\(nic\).*\(own\)/);
    expect(isAdminClaim(c, results(c))).toBe(true);
    expect(isAdminClaim(c, [mixed[1]!])).toBe(false);
  });
});

// ---- the store and the driver --------------------------------------------------------------

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nc-admin-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const OWNER_UID = '0a0e0000-0000-4000-8000-000000000001';

/** The owner's claim as the pod side leaves it: prepared and attached in its pod (journal `attached`). */
function ownerRecord(): ClaimRecord {
  return {
    version: 1, claim: { uid: OWNER_UID, namespace: 'team-a', name: 'owner' }, podUid: 'pod-owner', podName: 'trainer-0',
    preparedAt: '2026-01-01T00:00:00.000Z',
    devices: [{
      request: 'nic', pool: POOL, device: 'nic-a', workloadEnv: true, identity: { kind: 'pci', ifName: 'ens1f0', ifIndex: 7, rdmaDevice: 'mlx5_0' },
      env: [], cdiDeviceIds: [],
    }],
    attachment: {
      state: 'attached', sandboxId: 'sb-1', netns: '/var/run/netns/cni-1', at: '2026-01-01T00:00:01.000Z',
      devices: [{ device: 'nic-a', ifIndex: 7, name: 'net1', mac: '02:00:00:00:00:07', ips: ['10.0.0.2/24'] }],
    },
  };
}

function harness(): { store: ClaimStore; driver: ClaimDriver; returned: string[]; held: string[]; claims: Map<string, AllocatedClaim> } {
  const store = ClaimStore.open(join(root, 'state'));
  const returned: string[] = [];
  const held: string[] = [];
  const claims = new Map<string, AllocatedClaim>();
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: POOL, store, cdiDir: join(root, 'cdi'),
    claims: { get: (ns, name) => Promise.resolve(claims.get(`${ns}/${name}`)!) },
    inventory: { current: { devices: DEVICES, rdmaNetnsMode: 'shared' }, hold: (n) => held.push(`+${n}`), release: (n) => held.push(`-${n}`) },
    kernel: { snapshot: () => { throw new Error('an admin claim must never snapshot (or move) a device'); }, charDevices: () => CHARS },
    pods: { returnDevices: (uid) => { returned.push(uid); return []; } },
  });
  return { store, driver, returned, held, claims };
}

const ref = (c: AllocatedClaim): { namespace: string; name: string; uid: ClaimUid } => ({ namespace: c.namespace, name: c.name, uid: c.uid });

describe('ClaimStore: admin records apart', () => {
  it('get/list/byPod never return an admin record; admin()/admins() do; delete removes either kind; a reopen reads both back', () => {
    const { store, driver, claims } = harness();
    store.put(ownerRecord());
    const a = adminClaim(['nic-a']);
    claims.set(`${a.namespace}/${a.name}`, a);
    return driver.prepare([ref(a)]).then((out) => {
      expect(out.get(a.uid)).toMatchObject({ devices: [{ deviceName: 'nic-a', cdiDeviceIds: [`netclaim.dev/net=${a.uid}-nic-a`] }] });
      expect(store.get(a.uid)).toBeUndefined();
      expect(store.list().map((r) => r.claim.uid)).toEqual([OWNER_UID]);
      expect(store.byPod(a.reservedFor[0]!.uid)).toEqual([]);
      expect(store.admins().map((r) => r.claim.uid)).toEqual([a.uid]);
      const spec = JSON.parse(readFileSync(store.admin(a.uid)!.cdiSpec!, 'utf8')) as { devices: { containerEdits: { deviceNodes?: unknown[] } }[] };
      expect(spec.devices[0]!.containerEdits.deviceNodes).toHaveLength(3);
      const stored = store.admin(a.uid);
      // What a build from before admin records checks (the owner-record check without `kind`): it refuses the file, so it never attaches from it.
      expect(claimRecordProblem({ ...stored, kind: undefined })).toBe('podUid: not a string');
      store.close();
      const again = ClaimStore.open(join(root, 'state'));
      expect(again.problems).toEqual([]);
      expect(again.admin(a.uid)).toEqual(stored);
      expect(again.list().map((r) => r.claim.uid)).toEqual([OWNER_UID]);
      expect(codeOf(() => again.put({ ...ownerRecord(), claim: { ...ownerRecord().claim, uid: a.uid } }))).toMatch(/^STATE_INVALID: .*admin claim record/);
      expect(again.delete(a.uid)).toBe(true);
      expect(again.admin(a.uid)).toBeUndefined();
      again.close();
    });
  });
});

type Op =
  | { readonly op: 'adminPrepare'; readonly slot: number; readonly dev: 'nic-a' | 'nic-b' }
  | { readonly op: 'adminUnprepare'; readonly slot: number }
  | { readonly op: 'ownerPrepareAgain' }
  | { readonly op: 'rivalOwnerPrepare' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('adminPrepare' as const), slot: fc.integer({ min: 0, max: 2 }), dev: fc.constantFrom('nic-a' as const, 'nic-b' as const) }),
  fc.record({ op: fc.constant('adminUnprepare' as const), slot: fc.integer({ min: 0, max: 2 }) }),
  fc.constant({ op: 'ownerPrepareAgain' as const }),
  fc.constant({ op: 'rivalOwnerPrepare' as const }),
);

describe('ClaimDriver: owner and admin claims interleaved (property)', () => {
  it('no interleaving of admin prepare/unprepare changes the owner\'s record or placement, or lets a second owner in; the owner\'s unprepare still gives its device back', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
      rmSync(root, { recursive: true, force: true });
      root = mkdtempSync(join(tmpdir(), 'nc-admin-'));
      const h = harness();
      const owner = ownerRecord();
      h.store.put(owner);
      const ownerClaim: AllocatedClaim = {
        namespace: 'team-a', name: 'owner', uid: OWNER_UID as ClaimUid, reservedFor: [{ resource: 'pods', name: 'trainer-0', uid: 'pod-owner' }],
        allocation: { results: [{ request: 'nic', driver: DRIVER_NAME, pool: POOL, device: 'nic-a' }], config: [] },
      };
      const slots: (AllocatedClaim | undefined)[] = [undefined, undefined, undefined];
      try {
        for (const o of ops) {
          if (o.op === 'adminPrepare') {
            const c = slots[o.slot] ?? adminClaim([o.dev]);
            slots[o.slot] = c;
            h.claims.set(`${c.namespace}/${c.name}`, c);
            const r = (await h.driver.prepare([ref(c)])).get(c.uid)!;
            expect(r, JSON.stringify(r)).not.toHaveProperty('error');
          } else if (o.op === 'adminUnprepare') {
            const c = slots[o.slot];
            if (c === undefined) continue;
            expect((await h.driver.unprepare([ref(c)])).get(c.uid)).toEqual({});
            expect(h.store.admin(c.uid)).toBeUndefined();
            slots[o.slot] = undefined;
          } else if (o.op === 'ownerPrepareAgain') {
            // The kubelet repeats Prepare: answered from the store, nothing re-planned.
            expect((await h.driver.prepare([ref(ownerClaim)])).get(ownerClaim.uid as ClaimUid)).toMatchObject({ devices: [{ deviceName: 'nic-a' }] });
          } else {
            seq += 1;
            const rival: AllocatedClaim = { ...ownerClaim, name: `rival-${seq}`, uid: `0b000000-0000-4000-8000-${String(seq).padStart(12, '0')}` as ClaimUid };
            h.claims.set(`${rival.namespace}/${rival.name}`, rival);
            const r = (await h.driver.prepare([ref(rival)])).get(rival.uid)!;
            expect('error' in r ? r.error : '').toMatch(/already prepared for claim team-a\/owner/); // I3 still holds
          }
          // The owner's record (plan, journal: where its device is) is exactly as the pod side left it.
          expect(h.store.get(OWNER_UID)).toEqual(owner);
          expect(h.store.byPod('pod-owner')).toEqual([owner]);
          expect(h.store.list()).toEqual([owner]);
          expect(h.returned).toEqual([]);
          expect(h.held).toEqual([]);
          for (const c of slots) if (c !== undefined) expect(h.store.admin(c.uid)?.access[0]?.device).toBe(c.allocation!.results[0]!.device);
        }
        // The owner's unprepare gives its device back (the pod side is asked once) and leaves the admin records.
        const admins = h.store.admins();
        expect((await h.driver.unprepare([ref(ownerClaim)])).get(ownerClaim.uid as ClaimUid)).toEqual({});
        expect(h.returned).toEqual([OWNER_UID]);
        expect(h.store.get(OWNER_UID)).toBeUndefined();
        expect(h.store.admins()).toEqual(admins);
      } finally {
        h.store.close();
      }
    }), { numRuns: 40 });
  });
});
