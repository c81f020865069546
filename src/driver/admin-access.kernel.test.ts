/**
 * Admin claims (KEP-5018 adminAccess) against the real kernel: a veth in a
 * throwaway "host" namespace is the device, an owner's claim moves it into
 * an "owner pod" namespace through the real ClaimDriver and PodDriver (NRI
 * hooks as the runtime calls them), and an admin claim on the same device is
 * prepared, its pod's hooks run with an "admin pod" namespace, and it is
 * unprepared. The owner's NIC must not notice any of it; the owner's own
 * unprepare still gives it back restored. The record/conflict rules are
 * attacked without a kernel in admin-access.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { allocatedClaim, claimDriver, deviceOf, hostAndPod, refOf } from '../../test/kernel/claim-fixture.ts';
import { createNetns, ipJson, testLibc, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim } from './claim.ts';
import type { ClaimDriver } from './claim-driver.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Env { host: TestNetns; pod: TestNetns; admin: TestNetns; dev: string; dir: string; store: ClaimStore; pods: PodDriver }
let env: Env;

beforeEach(() => {
  const { host, pod, dev } = hostAndPod('adm', '10.81.0.2/24');
  const admin = createNetns('admpod');
  const dir = mkdtempSync(join(tmpdir(), 'nc-admin-kernel-'));
  const store = ClaimStore.open(join(dir, 'state'));
  const pods = new PodDriver({
    store, host: host.handle, libc: testLibc, rdmaExclusive: () => false,
    status: { devicesReady: () => {}, devicesNotReady: () => {} },
  });
  env = { host, pod, admin, dev, dir, store, pods };
});

afterEach(() => {
  env.pods.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

interface LinkView { ifname: string; ifindex: number; mtu: number; address: string; operstate: string; addrs: string[] }
function linkViews(ns: TestNetns): LinkView[] {
  return ipJson<{ ifname: string; ifindex: number; mtu: number; address: string; operstate: string; addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show')
    .filter((l) => l.ifname !== 'lo')
    .map((l) => ({
      ifname: l.ifname, ifindex: l.ifindex, mtu: l.mtu, address: l.address, operstate: l.operstate,
      addrs: l.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort(),
    }))
    .sort((a, b) => a.ifname.localeCompare(b.ifname));
}

const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: uid, namespace: 'ns', netns });

/** The admin claim on `device`, as the API server hands it out: `adminAccess: true` on the result. */
function adminClaim(device: Device, parameters?: unknown): AllocatedClaim {
  return {
    namespace: 'diag', name: 'admin', uid: 'adadadad-0000-4000-8000-000000000001' as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'diag', uid: 'pod-diag' }],
    allocation: {
      results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'node', device: device.name, adminAccess: true }],
      config: parameters === undefined ? [] : [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters } }],
    },
  };
}

function driverFor(claims: readonly AllocatedClaim[], devices: readonly Device[]): ClaimDriver {
  return claimDriver({ host: env.host, store: env.store, dir: env.dir, claims, devices, pods: env.pods });
}

describe('admin access on the real kernel', () => {
  it('an admin claim on a device in use leaves the owner pod\'s NIC untouched through prepare, its pod\'s hooks and unprepare; the owner\'s unprepare still restores it', async () => {
    const device = deviceOf(env.host, env.dev);
    const hostBefore = linkViews(env.host).find((l) => l.ifname === env.dev)!;
    const owner = allocatedClaim({ uid: '0a0a0a0a-0000-4000-8000-000000000001', podUid: 'pod-owner', devices: [device], parameters: {
      interface: { name: 'net1', mtu: 1400, addresses: ['192.168.81.2/24'] },
    } });
    const ownerDriver = driverFor([owner], [device]);
    expect((await ownerDriver.prepare([refOf(owner)])).get(owner.uid)).not.toHaveProperty('error');
    await env.pods.runPodSandbox(nriPod('pod-owner', env.pod.path));
    await env.pods.idle(); // the `attached` journal follows the hook's answer
    const ownerView = linkViews(env.pod);
    expect(ownerView).toMatchObject([{ ifname: 'net1', mtu: 1400, addrs: ['192.168.81.2/24'] }]);
    const ownerRecord = env.store.get(owner.uid);

    // The inventory keeps listing the device while its netdev is in the owner's pod (netdevPresent false).
    const listed = { ...device, netdevPresent: false };
    const admin = adminClaim(listed);
    const adminDriver = driverFor([admin], [listed]);
    const prepared = (await adminDriver.prepare([refOf(admin)])).get(admin.uid)!;
    expect(prepared, JSON.stringify(prepared)).not.toHaveProperty('error');
    await env.pods.runPodSandbox(nriPod('pod-diag', env.admin.path));
    await env.pods.idle(); // the `attached` journal follows the hook's answer
    expect(await env.pods.createContainer(nriPod('pod-diag', env.admin.path), { id: 'c1', name: 'diag', podId: 'sandbox-pod-diag' })).toEqual({});

    expect(linkViews(env.pod)).toEqual(ownerView);
    expect(linkViews(env.admin)).toEqual([]);
    expect(env.store.get(owner.uid)).toEqual(ownerRecord);
    const spec = readFileSync(env.store.admin(admin.uid)!.cdiSpec!, 'utf8');
    expect(spec).toContain(`NETCLAIM_ADMIN_0_IFNAME=${env.dev}`);
    expect(spec).toContain('NETCLAIM_ADMIN_0_OWNER_NAMESPACE=ns');

    await env.pods.stopPodSandbox(nriPod('pod-diag', env.admin.path));
    expect((await adminDriver.unprepare([refOf(admin)])).get(admin.uid)).toEqual({});
    expect(env.store.admin(admin.uid)).toBeUndefined();
    expect(linkViews(env.pod)).toEqual(ownerView);
    expect(env.store.get(owner.uid)).toEqual(ownerRecord);

    await env.pods.stopPodSandbox(nriPod('pod-owner', env.pod.path));
    expect((await ownerDriver.unprepare([refOf(owner)])).get(owner.uid)).toEqual({});
    expect(linkViews(env.pod)).toEqual([]);
    expect(linkViews(env.host).find((l) => l.ifname === env.dev)).toEqual(hostBefore);
  });

  it('an admin claim on a free device does not move it: it stays on the host as it was, through its pod\'s hooks and unprepare', async () => {
    const device = deviceOf(env.host, env.dev);
    const before = linkViews(env.host);
    const admin = adminClaim(device);
    const driver = driverFor([admin], [device]);
    expect((await driver.prepare([refOf(admin)])).get(admin.uid)).not.toHaveProperty('error');
    await env.pods.runPodSandbox(nriPod('pod-diag', env.admin.path));
    await env.pods.idle(); // the `attached` journal follows the hook's answer
    expect(linkViews(env.host)).toEqual(before);
    expect(linkViews(env.admin)).toEqual([]);
    expect(env.store.list()).toEqual([]); // nothing the pod side could attach
    await env.pods.stopPodSandbox(nriPod('pod-diag', env.admin.path));
    expect((await driver.unprepare([refOf(admin)])).get(admin.uid)).toEqual({});
    expect(linkViews(env.host)).toEqual(before);
  });

  it('an admin claim whose config would change the device is refused, naming the field, and changes nothing', async () => {
    const device = deviceOf(env.host, env.dev);
    const before = linkViews(env.host);
    const admin = adminClaim(device, { interface: { mtu: 1300, hardwareAddr: '02:11:22:33:44:55' } });
    const r = (await driverFor([admin], [device]).prepare([refOf(admin)])).get(admin.uid)!;
    expect('error' in r ? r.error : '').toMatch(/config\[0\]\.opaque\.parameters\.interface\.mtu.*config\[0\]\.opaque\.parameters\.interface\.hardwareAddr/);
    expect(env.store.admin(admin.uid)).toBeUndefined();
    expect(linkViews(env.host)).toEqual(before);
  });
});
