/**
 * Self-tests of the NRI runtime peer (test/conformance/nri-peer: containerd's
 * nri/pkg/adaptation) against a trivial Go plugin on nri's pkg/stub
 * (peers/testplugins/nri-plugin): registration, pod events with a real netns
 * path, the CreateContainer adjustment, error propagation, the request
 * timeout, Synchronize, a runtime restart, and the old runtime (nri v0.8.0)
 * delivering pod events through StateChange. Later tests put our TS driver's
 * NRI plugin where the Go plugin is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNetns } from '../kernel/netns-fixture.ts';
import { peerBinary, peersBinDir } from './peers/binaries.ts';
import { closeAllPeerProcesses, JsonLinesProcess, type JsonObject } from './peers/json-lines.ts';
import { NriPeer, type NriPeerOptions, type NriPod } from './peers/nri-peer.ts';

const PLUGIN = '10-test-plugin';
const dirs: string[] = [];

function socketPath(): string {
  const root = mkdtempSync(join(tmpdir(), 'nc-nri-'));
  dirs.push(root);
  return join(root, 'nri.sock');
}

function startPlugin(socket: string, ...extra: string[]): JsonLinesProcess {
  return new JsonLinesProcess(peerBinary('nri-plugin'), ['--socket', socket, ...extra]);
}

/** A runtime peer with the test plugin registered and synchronized. */
async function runtimeWithPlugin(opts: Partial<NriPeerOptions> = {}, ...pluginArgs: string[]): Promise<{ nri: NriPeer; plugin: JsonLinesProcess }> {
  const nri = await NriPeer.start({ socket: socketPath(), ...opts });
  const plugin = startPlugin(nri.socket, ...pluginArgs);
  await nri.waitForPlugin(PLUGIN);
  return { nri, plugin };
}

const pod = (name: string, netns?: string): NriPod => ({
  id: `sandbox-${name}`, name, uid: `uid-${name}`, namespace: 'default', ...(netns ? { netns } : {}),
});

const rpcs = (p: JsonLinesProcess): string[] => p.eventsNamed('rpc').map((e) => String(e['method']).replace('/nri.pkg.api.v1alpha1.Plugin/', ''));

/**
 * The plugin's stdout is another pipe than the runtime's: a reply can be read
 * before the plugin's report of the same call. Waits for the n-th event `name`.
 */
async function pluginEvents(p: JsonLinesProcess, name: string, n = 1): Promise<JsonObject[]> {
  await p.waitForEvent(() => p.eventsNamed(name).length >= n, 5_000, `${n} x ${name}`);
  return p.eventsNamed(name);
}

beforeAll(() => {
  peersBinDir(); // builds the peers on a cold cache (about a minute)
}, 600_000);

afterEach(async () => {
  await closeAllPeerProcesses();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('nri-peer (nri v0.12.3, containerd 2.4)', () => {
  it('registers and configures a plugin, and lists it with its event mask', async () => {
    const { nri, plugin } = await runtimeWithPlugin();
    expect(nri.info).toMatchObject({ nri: 'v0.12.3', podEvents: 'dedicated-rpc', requestTimeoutMs: 2000, registrationTimeoutMs: 5000 });
    expect(await nri.plugins()).toEqual([expect.objectContaining({
      name: PLUGIN, index: '10', base: 'test-plugin', events: 0xf,
      eventNames: 'RunPodSandbox,StopPodSandbox,RemovePodSandbox,CreateContainer', closed: false, pid: plugin.pid,
    })]);
    expect(await pluginEvents(plugin, 'configured')).toEqual([{ event: 'configured', runtime: 'containerd', version: 'v2.4.2' }]);
    await pluginEvents(plugin, 'synchronize');
    expect(rpcs(plugin)).toEqual(['Configure', 'Synchronize']);
  });

  it('delivers RunPodSandbox with the pod\'s real netns path, then CreateContainer with an adjustment', async () => {
    const { nri, plugin } = await runtimeWithPlugin();
    const ns = createNetns('pod');
    expect(await nri.runPodSandbox(pod('web', ns.path))).toMatchObject({ ok: true });
    expect(await pluginEvents(plugin, 'run-pod-sandbox')).toEqual([{
      event: 'run-pod-sandbox', pod: 'web', namespace: 'default', uid: 'uid-web', id: 'sandbox-web', netns: ns.path, netnsIsNsfs: true,
    }]);
    const created = await nri.createContainer({ podId: 'sandbox-web' }, { id: 'ctr-1', name: 'app' });
    expect(created.ok).toBe(true);
    expect(created.adjust?.env).toEqual([{ key: 'NETCLAIM_TEST_POD', value: 'web' }]);
    expect(await nri.stopPodSandbox({ podId: 'sandbox-web' }, { omitNetns: true })).toMatchObject({ ok: true });
    expect(await nri.removePodSandbox({ podId: 'sandbox-web' })).toMatchObject({ ok: true });
    expect((await pluginEvents(plugin, 'stop-pod-sandbox'))[0]?.['netns']).toBeUndefined();
    expect((await pluginEvents(plugin, 'remove-pod-sandbox'))[0]?.['netns']).toBe(ns.path);
    expect(rpcs(plugin)).toEqual(['Configure', 'Synchronize', 'RunPodSandbox', 'CreateContainer', 'StopPodSandbox', 'RemovePodSandbox']);
  });

  it('returns the plugin\'s error to the runtime (sandbox creation fails)', async () => {
    const { nri } = await runtimeWithPlugin();
    const r = await nri.runPodSandbox(pod('will-fail'));
    expect(r.ok).toBe(false);
    expect(r.error).toContain('test plugin refuses pod default/will-fail');
    // A plugin error is not fatal: the plugin stays registered.
    expect((await nri.plugins()).map((p) => p.name)).toEqual([PLUGIN]);
  });

  it('closes a plugin that overruns the request timeout and lets the event succeed', async () => {
    const { nri } = await runtimeWithPlugin({ requestTimeoutMs: 300 }, '--slow-delay', '2s');
    const r = await nri.runPodSandbox(pod('slow-pod'));
    expect(r.ok).toBe(true);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(250);
    await nri.waitForEvent((e) => e['event'] === 'plugin-failed' && e['plugin'] === PLUGIN, 5_000, 'plugin-failed');
    expect(await nri.plugins()).toEqual([]);
  });

  it('sends the runtime\'s pods in Synchronize to a plugin that registers later', async () => {
    const nri = await NriPeer.start({ socket: socketPath() });
    await nri.synchronize([pod('old-1', '/run/netns/nc-gone'), pod('old-2')], [{ id: 'c1', name: 'app', podId: 'sandbox-old-1', state: 'CONTAINER_RUNNING' }]);
    const plugin = startPlugin(nri.socket);
    await nri.waitForPlugin(PLUGIN);
    expect(await pluginEvents(plugin, 'synchronize')).toEqual([{ event: 'synchronize', pods: ['old-1', 'old-2'], containers: 1 }]);
    expect(nri.events.find((e) => e['event'] === 'sync')).toMatchObject({ pods: 2, containers: 1, updates: 0 });
  });

  it('restarts like a runtime: the plugin reconnects and is synchronized with the pods it ran', async () => {
    const { nri, plugin } = await runtimeWithPlugin({}, '--reconnect');
    expect((await nri.runPodSandbox(pod('survivor'))).ok).toBe(true);
    expect((await nri.restart()).ok).toBe(true);
    await plugin.waitForEvent((e) => e['event'] === 'closed', 5_000, 'connection closed');
    await plugin.waitForEvent((e) => e['event'] === 'synchronize' && Array.isArray(e['pods']) && e['pods'].includes('survivor'), 10_000, 'second synchronize');
    // The runtime lists the plugin once its Synchronize returned.
    await nri.waitForEvent(() => nri.events.filter((e) => e['event'] === 'plugin-synchronized').length === 2, 5_000, 'second registration');
    expect((await nri.plugins()).map((p) => p.name)).toEqual([PLUGIN]);
  });
});

describe('nri-peer with the default validator (containerd 2.2+ default_validator.required_plugins)', () => {
  it('refuses to create a container while a required plugin is not connected, by config or by pod annotation, and lets it through once it is', async () => {
    const nri = await NriPeer.start({ socket: socketPath(), requiredPlugins: ['test-plugin'] });
    const ns = createNetns('pod');
    expect(await nri.runPodSandbox(pod('early', ns.path))).toMatchObject({ ok: true }); // sandboxes are not validated
    const refused = await nri.createContainer({ podId: 'sandbox-early' }, { id: 'c1', name: 'app' });
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/required plugin "test-plugin" not present/) as unknown });
    startPlugin(nri.socket);
    await nri.waitForPlugin(PLUGIN);
    expect(await nri.createContainer({ podId: 'sandbox-early' }, { id: 'c2', name: 'app' })).toMatchObject({ ok: true });

    // Without a global requirement, a pod can ask for a plugin by annotation (the validator must be on).
    const byAnnotation = await NriPeer.start({ socket: socketPath(), tolerateMissingAnnotation: 'tolerate-missing-plugins.example' });
    const annotated = { ...pod('annotated', ns.path), annotations: { 'required-plugins.noderesource.dev': '["absent-plugin"]' } };
    expect(await byAnnotation.runPodSandbox(annotated)).toMatchObject({ ok: true });
    expect(await byAnnotation.createContainer({ podId: annotated.id }, { id: 'c3', name: 'app' }))
      .toMatchObject({ ok: false, error: expect.stringMatching(/required plugin "absent-plugin" not present/) as unknown });
    expect(await byAnnotation.runPodSandbox(pod('plain', ns.path))).toMatchObject({ ok: true });
    expect(await byAnnotation.createContainer({ podId: 'sandbox-plain' }, { id: 'c4', name: 'app' })).toMatchObject({ ok: true });
  });
});

describe('nri-peer-legacy (nri v0.8.0, containerd 2.0/2.1)', () => {
  it('delivers pod events through StateChange, CreateContainer as its own RPC', async () => {
    const { nri, plugin } = await runtimeWithPlugin({ runtime: 'legacy' });
    expect(nri.info).toMatchObject({ nri: 'v0.8.0', podEvents: 'state-change' });
    expect((await pluginEvents(plugin, 'configured'))[0]).toMatchObject({ version: 'v2.1.9' });
    const ns = createNetns('old');
    expect(await nri.runPodSandbox(pod('legacy-pod', ns.path))).toMatchObject({ ok: true });
    expect(await pluginEvents(plugin, 'run-pod-sandbox')).toEqual([expect.objectContaining({ pod: 'legacy-pod', netns: ns.path, netnsIsNsfs: true })]);
    const created = await nri.createContainer({ podId: 'sandbox-legacy-pod' }, { id: 'ctr-1', name: 'app' });
    expect(created.adjust?.env).toEqual([{ key: 'NETCLAIM_TEST_POD', value: 'legacy-pod' }]);
    expect((await nri.removePodSandbox({ podId: 'sandbox-legacy-pod' })).ok).toBe(true);
    expect(await pluginEvents(plugin, 'remove-pod-sandbox')).toHaveLength(1);
    expect(rpcs(plugin)).toEqual(['Configure', 'Synchronize', 'StateChange', 'CreateContainer', 'StateChange']);
  });

  it('returns the plugin\'s StateChange error for RunPodSandbox', async () => {
    const { nri } = await runtimeWithPlugin({ runtime: 'legacy' });
    const r = await nri.runPodSandbox(pod('fail-old'));
    expect(r).toMatchObject({ ok: false });
    expect(r.error).toContain('test plugin refuses pod default/fail-old');
  });
});
