/**
 * Self-tests of the kubelet peer (test/conformance/kubelet-peer) against a
 * trivial Go DRA plugin (peers/testplugins/dra-plugin): registration with the
 * kubelet's service choice, NotifyRegistrationStatus both ways, the DRA calls
 * over v1 and v1beta1, the health stream, de-registration and the one-shot CLI.
 * They show how later tests drive our TS driver: start a KubeletPeer on a
 * registry dir, start the driver, await its registration, call prepare.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { peerBinary, peersBinDir } from './peers/binaries.ts';
import { closeAllPeerProcesses, JsonLinesProcess, type JsonObject } from './peers/json-lines.ts';
import { KubeletPeer } from './peers/kubelet-peer.ts';

const DRIVER = 'test.netclaim.dev';
const dirs: string[] = [];

function tempDir(): { registry: string; plugins: string } {
  const root = mkdtempSync(join(tmpdir(), 'nc-kpeer-'));
  dirs.push(root);
  return { registry: join(root, 'plugins_registry'), plugins: join(root, 'plugins', DRIVER) };
}

async function startPlugin(d: { registry: string; plugins: string }, ...extra: string[]): Promise<JsonLinesProcess> {
  const p = new JsonLinesProcess(peerBinary('dra-plugin'), ['--registry', d.registry, '--plugin-dir', d.plugins, ...extra]);
  await p.waitForEvent((e) => e['event'] === 'ready', 10_000, 'dra-plugin ready');
  return p;
}

const rpcs = (p: JsonLinesProcess): string[] => p.eventsNamed('rpc').map((e) => String(e['method']));

/** The plugin's stdout is another pipe than the peer's: wait for its report of a call. */
const rpcSeen = (p: JsonLinesProcess, method: string): Promise<unknown> =>
  p.waitForEvent((e) => e['event'] === 'rpc' && e['method'] === method, 5_000, `rpc ${method}`);

beforeAll(() => {
  peersBinDir(); // builds the peers on a cold cache (about a minute)
}, 600_000);

afterEach(async () => {
  await closeAllPeerProcesses();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('kubelet-peer: registration', () => {
  it('registers a plugin listing v1 first, chooses v1.DRAPlugin and tells the plugin', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const plugin = await startPlugin(d, '--versions', 'v1.DRAPlugin,v1beta1.DRAPlugin');
    const reg = await kubelet.waitForRegistration(DRIVER);
    expect(reg).toMatchObject({
      event: 'registered', type: 'DRAPlugin', name: DRIVER, endpoint: join(d.plugins, 'dra.sock'),
      socket: join(d.registry, `${DRIVER}-reg.sock`), versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin'],
      service: 'v1.DRAPlugin', notified: true, attempt: 1,
    });
    expect(reg.warnings).toBeUndefined();
    expect(await plugin.waitForEvent((e) => e['event'] === 'registration-status')).toMatchObject({ registered: true, error: '' });
    await kubelet.waitForEvent((e) => e['event'] === 'connection' && e['connected'] === true, 5_000, 'service connection');
    expect(await kubelet.plugins()).toEqual([{ driver: DRIVER, endpoint: join(d.plugins, 'dra.sock'), service: 'v1.DRAPlugin', connected: true }]);
  });

  it('walks the plugin\'s list in order: v1beta1 first wins, and calls go to the v1beta1 service', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const plugin = await startPlugin(d, '--versions', 'v1beta1.DRAPlugin,v1.DRAPlugin');
    expect((await kubelet.waitForRegistration(DRIVER)).service).toBe('v1beta1.DRAPlugin');
    const r = await kubelet.prepare(DRIVER, [{ namespace: 'ns', uid: 'uid-1', name: 'claim-1' }]);
    expect(r).toMatchObject({ ok: true, service: 'v1beta1.DRAPlugin' });
    expect(r.response?.claims?.['uid-1']?.devices?.[0]).toMatchObject({ poolName: 'pool-a', deviceName: 'dev-claim-1' });
    await rpcSeen(plugin, '/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/NodePrepareResources');
  });

  it('rejects a plugin without a known DRA service, notifies it, and retries with back-off', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const plugin = await startPlugin(d, '--versions', 'v1alpha3.DRAPlugin,v1alpha1.DRAResourceHealth');
    const reg = await kubelet.waitForRegistration(DRIVER);
    expect(reg.event).toBe('registration-failed');
    expect(reg.notified).toBe(true);
    expect(reg.error).toMatch(/plugin validation failed with err: invalid supported gRPC versions of DRA driver plugin test\.netclaim\.dev .*none of services supported by the plugin/);
    const status = await plugin.waitForEvent((e) => e['event'] === 'registration-status');
    expect(status).toMatchObject({ registered: false });
    expect(String(status['error'])).toContain('RegisterPlugin error -- plugin validation failed');
    // The kubelet's operation executor retries failed registrations (500 ms, then doubling).
    await kubelet.waitForEvent((e) => e['event'] === 'registration-failed' && e['attempt'] === 2, 5_000, 'second attempt');
    expect(await kubelet.plugins()).toEqual([]);
  });

  it('rejects a plugin type it has no handler for', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    await startPlugin(d, '--type', 'DevicePlugin');
    const reg = await kubelet.waitForRegistration(DRIVER);
    expect(reg).toMatchObject({ event: 'registration-failed', notified: true, type: 'DevicePlugin' });
    expect(reg.error).toContain('no handler registered for plugin type: DevicePlugin');
  });

  it('uses the registration socket as endpoint when the plugin reports none', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    await startPlugin(d, '--same-socket');
    const reg = await kubelet.waitForRegistered(DRIVER);
    expect(reg.endpoint).toBe(reg.socket);
    expect((await kubelet.prepare(DRIVER, [{ namespace: 'ns', uid: 'u', name: 'c' }])).ok).toBe(true);
  });

  it('de-registers when the registration socket goes away', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const plugin = await startPlugin(d);
    await kubelet.waitForRegistered(DRIVER);
    await plugin.close(); // removes its sockets on SIGTERM
    const ev = await kubelet.waitForEvent((e) => e['event'] === 'deregistered', 5_000, 'deregistration');
    expect(ev).toMatchObject({ name: DRIVER, socket: join(d.registry, `${DRIVER}-reg.sock`) });
    expect(await kubelet.plugins()).toEqual([]);
  });

  it('picks up a socket that existed before it started (kubelet restart)', async () => {
    const d = tempDir();
    await startPlugin(d);
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    expect((await kubelet.waitForRegistration(DRIVER)).event).toBe('registered');
  });
});

describe('kubelet-peer: DRA calls', () => {
  it('round-trips NodePrepareResources and NodeUnprepareResources as protojson, with per-claim errors', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    const plugin = await startPlugin(d);
    await kubelet.waitForRegistered(DRIVER);
    const claims = [{ namespace: 'ns', uid: 'uid-a', name: 'net-a' }, { namespace: 'ns', uid: 'uid-b', name: 'net-fail' }];
    const prep = await kubelet.prepare(DRIVER, claims);
    expect(prep).toMatchObject({ ok: true, service: 'v1.DRAPlugin', endpoint: join(d.plugins, 'dra.sock') });
    expect(prep.response).toEqual({
      claims: {
        'uid-a': { devices: [{ requestNames: ['req-0'], poolName: 'pool-a', deviceName: 'dev-net-a', cdiDeviceIds: [`${DRIVER}/net=net-a`] }] },
        'uid-b': { error: 'canned failure for ns/net-fail' },
      },
    });
    const unprep = await kubelet.unprepare(DRIVER, claims);
    expect(unprep.response).toEqual({ claims: { 'uid-a': {}, 'uid-b': { error: 'canned failure for ns/net-fail' } } });
    await rpcSeen(plugin, '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources');
    expect(rpcs(plugin)).toEqual([
      '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources',
      '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources',
    ]);
  });

  it('reports gRPC failures with their status code', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({});
    const notRegistered = await kubelet.prepare(DRIVER, []);
    expect(notRegistered).toMatchObject({ ok: false, error: `DRA driver ${DRIVER} is not registered` });
    const noSocket = await kubelet.prepare({ endpoint: join(d.plugins, 'dra.sock') }, []);
    expect(noSocket).toMatchObject({ ok: false, code: 'Unavailable' });
    await startPlugin(d, '--versions', 'v1.DRAPlugin');
    const unimplemented = await kubelet.prepare({ endpoint: join(d.plugins, 'dra.sock'), service: 'v1beta1' }, []);
    expect(unimplemented).toMatchObject({ ok: false, code: 'Unimplemented' });
  });

  it('streams health: automatically after registration (v1 preferred) and on demand', async () => {
    const d = tempDir();
    const kubelet = await KubeletPeer.start({ registry: d.registry });
    await startPlugin(d, '--versions', 'v1.DRAPlugin,v1alpha1.DRAResourceHealth,v1.DRAResourceHealth');
    expect((await kubelet.waitForRegistered(DRIVER)).healthService).toBe('v1.DRAResourceHealth');
    const ev = await kubelet.waitForEvent<JsonObject & { response: { devices: unknown[] } }>((e) => e['event'] === 'health', 5_000, 'health message');
    expect(ev).toMatchObject({ driver: DRIVER, service: 'v1.DRAResourceHealth' });
    expect(ev.response.devices).toEqual([expect.objectContaining({
      device: { poolName: 'pool-a', deviceName: 'dev-0' }, health: 'HEALTHY', healthCheckTimeoutSeconds: '30',
    })]);
    // One retry: a CI run (1 in about 10) saw this on-demand stream end early with an error between
    // the two Go programs (peer and test plugin); the error text is kept in the assertion message.
    // The likely cause, fixed in the peer since: the server ends the stream at the deadline the
    // client sent (DEADLINE_EXCEEDED) a moment before the client's own timer fires, which the peer
    // took for an error (the same flake hit netclaim's server in kubelet-plugin.conformance.test.ts).
    let r = await kubelet.watchHealth({ endpoint: join(d.plugins, 'dra.sock'), service: 'v1alpha1' }, 1_200);
    if (!r.ok) r = await kubelet.watchHealth({ endpoint: join(d.plugins, 'dra.sock'), service: 'v1alpha1' }, 1_200);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.messages).toBeGreaterThanOrEqual(2);
  });
});

describe('kubelet-peer: one-shot commands', () => {
  it('register, get-info, prepare and unprepare print one JSON object each', async () => {
    const d = tempDir();
    const bin = peerBinary('kubelet-peer');
    await startPlugin(d, '--versions', 'v1.DRAPlugin,v1beta1.DRAPlugin');
    const run = (...args: string[]): JsonObject => JSON.parse(execFileSync(bin, args, { encoding: 'utf8' })) as JsonObject;
    expect(run('register', '--registry', d.registry, '--timeout', '10s')).toMatchObject({ event: 'registered', service: 'v1.DRAPlugin' });
    expect(run('get-info', '--socket', join(d.registry, `${DRIVER}-reg.sock`))).toMatchObject({ ok: true, info: { type: 'DRAPlugin', name: DRIVER } });
    const claims = JSON.stringify([{ namespace: 'ns', uid: 'u1', name: 'c1' }]);
    const endpoint = join(d.plugins, 'dra.sock');
    expect(run('prepare', '--endpoint', endpoint, '--service', 'v1beta1', '--claims', claims)).toMatchObject({
      ok: true, service: 'v1beta1.DRAPlugin', response: { claims: { u1: { devices: [{ deviceName: 'dev-c1' }] } } },
    });
    expect(run('unprepare', '--endpoint', endpoint, '--claims', claims)).toMatchObject({ ok: true, response: { claims: { u1: {} } } });
  });
});

