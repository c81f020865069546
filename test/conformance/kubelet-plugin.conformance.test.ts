/**
 * netclaim's kubelet surface (src/surfaces/kubelet) against the kubelet's own
 * client code (kubelet-peer: k8s.io/kubelet v0.37.2 clients + the kubelet's
 * registration and DRA rules): the peer finds our registration socket, picks
 * a DRAPlugin service from our list, notifies us, calls prepare/unprepare over
 * grpc-go (with the :authority a real kubelet sends) and streams health. The
 * driver behind the server is the fake DriverPort of the surface tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeletPluginServer, type KubeletPluginServerOptions } from '../../src/surfaces/kubelet/plugin-server.ts';
import { FakeDriver } from '../kubelet/fake-driver.ts';
import { peersBinDir } from './peers/binaries.ts';
import { closeAllPeerProcesses } from './peers/json-lines.ts';
import { KubeletPeer, type HealthEvent } from './peers/kubelet-peer.ts';

const DRIVER = 'netclaim.dev';
const dirs: string[] = [];
const servers: KubeletPluginServer[] = [];

const ok = { namespace: 'ns', uid: 'uid-a', name: 'net-a' };
const bad = { namespace: 'ns', uid: 'uid-b', name: 'net-fail' };

function setup(): { registry: string; pluginDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'nc-kplug-'));
  dirs.push(root);
  return { registry: join(root, 'plugins_registry'), pluginDir: join(root, 'plugins', DRIVER) };
}

async function serve(d: { registry: string; pluginDir: string }, opts: Partial<KubeletPluginServerOptions> = {}): Promise<KubeletPluginServer> {
  const server = new KubeletPluginServer({ driverName: DRIVER, driver: new FakeDriver(), registryDir: d.registry, pluginDir: d.pluginDir, ...opts });
  servers.push(server);
  await server.start();
  return server;
}

beforeAll(() => {
  peersBinDir();
}, 600_000);

afterEach(async () => {
  for (const s of servers.splice(0)) s.destroy();
  await closeAllPeerProcesses();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('kubelet plugin server vs. kubelet-peer', () => {
  it('registers: the kubelet chooses v1.DRAPlugin and v1 health (over v1alpha1), and tells us', async () => {
    const d = setup();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const server = await serve(d, { driver: new FakeDriver({ health: [] }) });
    const reg = await kubelet.waitForRegistration(DRIVER);
    expect(reg).toMatchObject({
      event: 'registered', type: 'DRAPlugin', name: DRIVER, socket: server.paths.registrationSocket,
      endpoint: server.paths.draSocket, versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin', 'v1.DRAResourceHealth', 'v1alpha1.DRAResourceHealth'],
      service: 'v1.DRAPlugin', healthService: 'v1.DRAResourceHealth', notified: true, attempt: 1,
    });
    expect(reg.warnings).toBeUndefined();
    await server.registered;
    expect(server.registrationStatus).toEqual({ registered: true, error: '' });
  });

  it('prepares and unprepares over v1: devices, a per-claim error, and a thrown exception', async () => {
    const d = setup();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const driver = new FakeDriver();
    await serve(d, { driver });
    await kubelet.waitForRegistered(DRIVER);
    const prep = await kubelet.prepare(DRIVER, [ok, bad]);
    expect(prep).toMatchObject({ ok: true, service: 'v1.DRAPlugin' });
    expect(prep.response).toEqual({
      claims: {
        'uid-a': { devices: [{ requestNames: ['net'], poolName: 'pool-a', deviceName: 'dev-net-a', cdiDeviceIds: ['netclaim.dev/net=net-a'], shareId: 'share-1' }] },
        'uid-b': { error: 'cannot prepare ns/net-fail' },
      },
    });
    driver.throwNext = new Error('store unavailable');
    const failed = await kubelet.prepare(DRIVER, [ok]);
    expect(failed).toMatchObject({ ok: true, response: { claims: { 'uid-a': { error: 'store unavailable' } } } });
    const unprep = await kubelet.unprepare(DRIVER, [ok, bad]);
    expect(unprep.response).toEqual({ claims: { 'uid-a': {}, 'uid-b': { error: 'cannot unprepare ns/net-fail' } } });
  });

  it('advertising only v1beta1: the kubelet chooses it and the calls go over v1beta1', async () => {
    const d = setup();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    await serve(d, { draServices: ['v1beta1.DRAPlugin'] });
    expect(await kubelet.waitForRegistration(DRIVER)).toMatchObject({ event: 'registered', service: 'v1beta1.DRAPlugin', versions: ['v1beta1.DRAPlugin'] });
    const prep = await kubelet.prepare(DRIVER, [ok]);
    expect(prep).toMatchObject({ ok: true, service: 'v1beta1.DRAPlugin' });
    // No share_id on v1beta1.
    expect(prep.response?.claims?.['uid-a']?.devices).toEqual([{ requestNames: ['net'], poolName: 'pool-a', deviceName: 'dev-net-a', cdiDeviceIds: ['netclaim.dev/net=net-a'] }]);
    expect((await kubelet.unprepare(DRIVER, [ok])).response).toEqual({ claims: { 'uid-a': {} } });
  });

  it('streams health to the kubelet: the list at once, changes, periodic resends', async () => {
    const d = setup();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const driver = new FakeDriver({ health: [{ poolName: 'node-1', deviceName: 'eth0', health: 'healthy', lastUpdatedTime: 1_760_000_000 }] });
    const server = await serve(d, { driver, healthResendMs: 300 });
    await kubelet.waitForRegistered(DRIVER);
    const first = await kubelet.waitForEvent<HealthEvent>((e) => e['event'] === 'health', 5_000, 'health message');
    expect(first).toMatchObject({ driver: DRIVER, service: 'v1.DRAResourceHealth' });
    expect(first.response?.devices).toEqual([{ device: { poolName: 'node-1', deviceName: 'eth0' }, health: 'HEALTHY', lastUpdatedTime: '1760000000' }]);
    driver.healthView?.set([{ poolName: 'node-1', deviceName: 'eth0', health: 'unhealthy', lastUpdatedTime: 1_760_000_050, message: 'link down' }]);
    const changed = await kubelet.waitForEvent<HealthEvent>((e) => e['event'] === 'health' && JSON.stringify(e).includes('UNHEALTHY'), 5_000, 'changed health');
    expect(changed.response?.devices?.[0]).toMatchObject({ health: 'UNHEALTHY', message: 'link down' });
    const before = kubelet.healthEvents(DRIVER).length;
    await expect.poll(() => kubelet.healthEvents(DRIVER).length, { timeout: 3_000 }).toBeGreaterThanOrEqual(before + 2);
    // A kubelet before 1.37 knows only v1alpha1: still served, same list.
    const old = await kubelet.watchHealth({ endpoint: server.paths.draSocket, service: 'v1alpha1' }, 1_200);
    expect(old, JSON.stringify(old)).toMatchObject({ ok: true, service: 'v1alpha1.DRAResourceHealth' });
    expect(old.messages).toBeGreaterThanOrEqual(1);
  });

  it('close de-registers; rolling-update instances register side by side and calls go to the newest', async () => {
    const d = setup();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const driverA = new FakeDriver();
    const driverB = new FakeDriver();
    const a = await serve(d, { instance: 'pod-a', driver: driverA });
    await kubelet.waitForEvent((e) => e['event'] === 'registered' && e['socket'] === a.paths.registrationSocket, 15_000, 'instance a');
    const b = await serve(d, { instance: 'pod-b', driver: driverB });
    await kubelet.waitForEvent((e) => e['event'] === 'registered' && e['socket'] === b.paths.registrationSocket, 15_000, 'instance b');
    await expect.poll(async () => (await kubelet.plugins()).filter((p) => p.connected).length, { timeout: 5_000 }).toBe(2);
    expect(await kubelet.prepare(DRIVER, [ok])).toMatchObject({ ok: true, endpoint: b.paths.draSocket });
    expect(driverB.calls).toHaveLength(1);

    await b.close();
    await kubelet.waitForEvent((e) => e['event'] === 'deregistered' && e['socket'] === b.paths.registrationSocket, 5_000, 'b de-registered');
    expect(await kubelet.prepare(DRIVER, [ok])).toMatchObject({ ok: true, endpoint: a.paths.draSocket });
    expect(driverA.calls).toHaveLength(1);
  });
});
