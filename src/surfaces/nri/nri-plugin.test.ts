import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeRuntime } from '../../../test/nri/fake-runtime.ts';
import { createLogger } from '../../observe/logger.ts';
import type { PodPort } from '../../driver/pod-port.ts';
import { RpcStatusError } from './ttrpc.ts';
import { NriPlugin, type NriLogger, type NriPluginOptions, type NriPluginState } from './nri-plugin.ts';

const dirs: string[] = [];
const plugins: NriPlugin[] = [];
const runtimes: FakeRuntime[] = [];

afterEach(async () => {
  await Promise.all(plugins.splice(0).map((p) => p.destroy()));
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function socketPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'nc-nri-unit-'));
  dirs.push(d);
  return join(d, 'nri.sock');
}

const port = (over: Partial<PodPort> = {}): PodPort => ({
  runPodSandbox: async () => {}, stopPodSandbox: async () => {}, removePodSandbox: async () => {},
  createContainer: async () => ({}), startContainer: async () => {}, synchronize: async () => {}, ...over,
});

function recordingLog(): NriLogger & { lines: [string, string][] } {
  const lines: [string, string][] = [];
  const at = (level: string) => (_o: object, msg: string): void => { lines.push([level, msg]); };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

function plugin(socket: string, opts: Partial<NriPluginOptions> = {}): NriPlugin {
  const p = new NriPlugin({ socketPath: socket, port: port(), reconnectMinMs: 10, reconnectMaxMs: 40, ...opts });
  plugins.push(p);
  return p;
}

async function runtime(path: string, opts: Parameters<typeof FakeRuntime.listen>[1] = {}): Promise<FakeRuntime> {
  const r = await FakeRuntime.listen(path, opts);
  runtimes.push(r);
  return r;
}

describe('NriPlugin', () => {
  it('validates the plugin name and index as the runtime does', () => {
    expect(() => plugin('/x', { pluginName: 'net claim' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => plugin('/x', { pluginName: 'a/b' })).toThrow(/only \[A-Za-z0-9._\+-\] allowed/);
    expect(() => plugin('/x', { pluginIdx: '7' })).toThrow(/two digits/);
    expect(() => plugin('/x', { pluginIdx: 'ab' })).toThrow(/two digits/);
    expect(plugin('/x', { pluginName: 'Net_claim-1.2+x', pluginIdx: '99' }).fullName).toBe('99-Net_claim-1.2+x');
    expect(plugin('/x').fullName).toBe('00-netclaim.dev');
    expect(plugin('/x').socketPath).toBe('/x');
    expect(new NriPlugin({ port: port() }).socketPath).toBe('/var/run/nri/nri.sock');
  });

  it('takes a pino logger as its log', () => {
    const log: NriLogger = createLogger({ level: 'silent' });
    expect(typeof log.info).toBe('function');
  });

  it('registers with name, index and NRI version, subscribes 0xF, and walks idle → … → ready', async () => {
    const socket = socketPath();
    const rt = await runtime(socket, { requestTimeoutMs: 1234 });
    const p = plugin(socket);
    const states: NriPluginState[] = [];
    p.on('state', (to) => states.push(to));
    p.start();
    p.start(); // idempotent
    await p.ready();
    const s = await rt.session();
    expect(await s.registered).toEqual({ plugin_name: 'netclaim.dev', plugin_idx: '00', NRI_version: 'v0.12.3' });
    expect(await s.events).toBe(0xf);
    expect(states).toEqual(['connecting', 'registering', 'synchronizing', 'ready']);
    expect(p.requestTimeoutMs).toBe(1234);
    expect(p.runtime).toMatchObject({ name: 'fake', version: 'v0.0.1', nriVersion: '' });
  });

  it('retries a missing socket quietly (one warning) and registers once the runtime is there', async () => {
    const socket = socketPath();
    const log = recordingLog();
    const p = plugin(socket, { log });
    p.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(p.state === 'backoff' || p.state === 'connecting').toBe(true);
    await runtime(socket);
    await p.ready();
    expect(log.lines.filter(([l]) => l === 'warn')).toEqual([['warn', `NRI socket ${socket} not reachable; retrying until it is`]]);
  });

  it('keeps retrying when the runtime refuses the registration, logging it once', async () => {
    const socket = socketPath();
    let refusals = 0;
    const log = recordingLog();
    const rt = await runtime(socket, { onRegister: () => { refusals += 1; if (refusals <= 3) throw new RpcStatusError(2, 'invalid plugin name'); } });
    const p = plugin(socket, { log });
    p.start();
    await p.ready();
    expect(refusals).toBe(4);
    expect(rt.sessions).toHaveLength(4);
    expect(log.lines.filter(([l]) => l === 'warn').map(([, m]) => m)).toEqual(['NRI registration failed; reconnecting']);
  });

  it('drops a connection on which the runtime never configures, and reconnects', async () => {
    const socket = socketPath();
    const rt = await runtime(socket, { configure: false });
    const p = plugin(socket, { registrationTimeoutMs: 50 });
    p.start();
    const first = await rt.session(1);
    await first.registered;
    await rt.session(2); // the plugin gave up on the first after 50 ms and came back
    await expect(first.mux.closed).resolves.toBeUndefined(); // the plugin hung up
    expect(p.state).not.toBe('ready');
  });

  it('reconnects after the runtime goes away and comes back on the same path; the driver hears of the drop', async () => {
    const socket = socketPath();
    const rt = await runtime(socket);
    const dropped: string[] = [];
    const p = plugin(socket, { port: port({ runtimeDisconnected: (reason) => dropped.push(reason) }) });
    p.start();
    await p.ready();
    expect(dropped).toEqual([]);
    await rt.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(p.state).not.toBe('ready');
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    const rt2 = await runtime(socket);
    await p.ready();
    expect(await (await rt2.session()).registered).toMatchObject({ plugin_name: 'netclaim.dev' });
  });

  it('close() lets a running hook answer before the socket goes; destroy() does not wait', async () => {
    const socket = socketPath();
    const rt = await runtime(socket);
    let release: () => void = () => {};
    const p = plugin(socket, { port: port({ runPodSandbox: () => new Promise<void>((r) => { release = r; }) }) });
    p.start();
    await p.ready();
    const s = await rt.session();
    const answered = s.call('RunPodSandbox', 'RunPodSandboxRequest', { pod: { id: 's', uid: 'u', name: 'n', namespace: 'd' } });
    await new Promise((r) => setTimeout(r, 20));
    const closing = p.close();
    expect(p.state).toBe('closing');
    release();
    await expect(answered).resolves.toEqual(Buffer.alloc(0));
    await closing;
    expect(p.state).toBe('closed');
    expect(await s.mux.closed).toBeUndefined();
    await expect(p.ready()).rejects.toMatchObject({ code: 'NRI_CONNECTION_CLOSED' });
    expect(p.close()).toBe(closing); // idempotent

    const p2 = plugin(socket, { port: port({ runPodSandbox: () => new Promise<void>(() => {}) }) });
    p2.start();
    await p2.ready();
    const s2 = await rt.session(2);
    const never = s2.call('RunPodSandbox', 'RunPodSandboxRequest', { pod: { id: 's', uid: 'u', name: 'n', namespace: 'd' } });
    await new Promise((r) => setTimeout(r, 20));
    await p2.destroy();
    await expect(never).rejects.toMatchObject({ code: 'NRI_CONNECTION_CLOSED' });
  });

  it('can be closed before it ever connected', async () => {
    const p = plugin(socketPath());
    p.start();
    await new Promise((r) => setTimeout(r, 30));
    await p.close();
    expect(p.state).toBe('closed');
    const idle = plugin(socketPath());
    await idle.close();
    expect(idle.state).toBe('closed');
  });
});
