import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { kubeletClient, unary } from '../../../test/kubelet/kubelet-client.ts';
import { cleanupServers, DRIVER, newServer, startServer, testDirs } from '../../../test/kubelet/server-fixture.ts';
import { KubeletPluginServer } from './plugin-server.ts';
import { SERVICE, type WirePluginInfo, type WirePrepareResponse } from './protos.ts';
import { FakeDriver } from '../../../test/kubelet/fake-driver.ts';

afterEach(cleanupServers);

const claim = { namespace: 'ns', uid: 'uid-a', name: 'net-a' };
const mode = (p: string): number => statSync(p).mode & 0o777;
const isSocket = (p: string): boolean => existsSync(p) && statSync(p).isSocket();

/** A socket file whose server is gone, as a crashed instance leaves it. */
async function staleSocket(path: string): Promise<void> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(`${path}.tmp`, r));
  renameSync(`${path}.tmp`, path); // libuv unlinks only the name it bound
  await new Promise((r) => srv.close(r));
}

function prepare(socket: string): Promise<WirePrepareResponse> {
  return unary<WirePrepareResponse>(kubeletClient(socket, SERVICE.draV1), 'NodePrepareResources', { claims: [claim] });
}

describe('KubeletPluginServer: socket files', () => {
  it('creates missing directories 0700 and sockets 0600, and leaves an existing registry dir as it is', async () => {
    const d = testDirs();
    mkdirSync(d.registryDir, { mode: 0o750 });
    const { server } = await startServer({ dirs: d });
    expect(mode(d.pluginDir)).toBe(0o700);
    expect(mode(d.registryDir)).toBe(0o750);
    expect(isSocket(server.paths.draSocket) && isSocket(server.paths.registrationSocket)).toBe(true);
    expect(mode(server.paths.draSocket)).toBe(0o600);
    expect(mode(server.paths.registrationSocket)).toBe(0o600);
  });

  it('replaces stale sockets of a dead instance', async () => {
    const d = testDirs();
    const paths = newServer({ dirs: d }).server.paths;
    mkdirSync(d.registryDir, { recursive: true });
    mkdirSync(d.pluginDir, { recursive: true });
    await staleSocket(paths.draSocket);
    await staleSocket(paths.registrationSocket);
    const { server } = await startServer({ dirs: d });
    expect((await prepare(server.paths.draSocket)).claims['uid-a'].error).toBe('');
  });

  it.each(['registration', 'dra'] as const)('never deletes a non-socket file at the %s socket path: clear error, nothing left listening', async (which) => {
    const d = testDirs();
    const { server } = newServer({ dirs: d });
    const path = which === 'dra' ? server.paths.draSocket : server.paths.registrationSocket;
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'precious');
    await expect(server.start()).rejects.toMatchObject({ code: 'KUBELET_SOCKET_PATH_OCCUPIED', context: { path } });
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(server.state).toBe('closed');
    expect(isSocket(server.paths.draSocket) || isSocket(server.paths.registrationSocket)).toBe(false);
    await expect(server.registered).rejects.toMatchObject({ code: 'KUBELET_SOCKET_PATH_OCCUPIED' });
  });

  it('rejects an unusable driver name, instance or socket path before touching anything', async () => {
    expect(() => newServer({ driverName: 'Bad/Name' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => newServer({ instance: '../x' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const { server } = newServer({ pluginDir: join(testDirs().root, 'x'.repeat(120)) });
    await expect(server.start()).rejects.toMatchObject({ code: 'KUBELET_LISTEN_FAILED' });
  });
});

describe('KubeletPluginServer: lifecycle', () => {
  it('start and close are idempotent; close removes both sockets; start after close rejects', async () => {
    const { server } = newServer();
    const started = server.start();
    expect(server.start()).toBe(started);
    await started;
    expect(server.state).toBe('serving');
    const closed = server.close();
    expect(server.close()).toBe(closed);
    await closed;
    expect(server.state).toBe('closed');
    expect(existsSync(server.paths.draSocket) || existsSync(server.paths.registrationSocket)).toBe(false);
    await expect(server.start()).rejects.toMatchObject({ code: 'KUBELET_SERVER_CLOSED' });
    server.destroy();
  });

  it('close during start waits for the start, then closes; destroy during start makes start reject', async () => {
    const a = newServer().server;
    const started = a.start();
    await a.close();
    await started;
    expect(a.state).toBe('closed');
    const b = newServer().server;
    const starting = b.start();
    b.destroy();
    await expect(starting).rejects.toMatchObject({ code: 'KUBELET_SERVER_CLOSED' });
    expect(existsSync(b.paths.draSocket) || existsSync(b.paths.registrationSocket)).toBe(false);
  });

  it('close lets an in-flight prepare finish but takes the registration socket away at once', async () => {
    const { server, driver } = await startServer();
    let open!: () => void;
    driver.gate = new Promise((r) => { open = r; });
    const call = prepare(server.paths.draSocket);
    await expect.poll(() => driver.calls.length).toBe(1);
    const closed = server.close();
    await expect.poll(() => existsSync(server.paths.registrationSocket)).toBe(false);
    expect(server.state).toBe('closing');
    open();
    expect((await call).claims['uid-a'].error).toBe('');
    await closed;
    expect(existsSync(server.paths.draSocket)).toBe(false);
  });

  it('destroy cancels in-flight calls and cleans up at once; closing a never-started server is fine', async () => {
    const { server, driver } = await startServer();
    driver.gate = new Promise(() => { /* never */ });
    const call = prepare(server.paths.draSocket);
    await expect.poll(() => driver.calls.length).toBe(1);
    server.destroy();
    server.destroy();
    expect(server.state).toBe('closed');
    expect(existsSync(server.paths.draSocket) || existsSync(server.paths.registrationSocket)).toBe(false);
    await expect(call).rejects.toMatchObject({ code: expect.any(Number) });
    await server.close();
    const idle = newServer().server;
    await idle.close();
    expect(idle.state).toBe('closed');
  });
});

describe('KubeletPluginServer: one instance per socket names, rolling updates', () => {
  it('refuses a second instance on the same socket names and leaves the first one serving', async () => {
    const first = await startServer();
    const second = newServer({ dirs: first.dirs });
    await expect(second.server.start()).rejects.toMatchObject({
      code: 'KUBELET_INSTANCE_LOCKED', message: expect.stringContaining(`held by pid ${process.pid}`),
    });
    expect((await prepare(first.server.paths.draSocket)).claims['uid-a'].error).toBe('');
    await first.server.close();
    // The lock went with the first instance: a restart takes over.
    const third = await startServer({ dirs: first.dirs });
    expect(third.server.state).toBe('serving');
  });

  it('names sockets per instance, runs instances side by side, and refuses a reused instance suffix', async () => {
    const d = testDirs();
    const a = await startServer({ dirs: d, instance: 'pod-uid-a' });
    const b = await startServer({ dirs: d, instance: 'pod-uid-b' });
    expect(a.server.paths.registrationSocket).toBe(join(d.registryDir, `${DRIVER}-pod-uid-a-reg.sock`));
    expect(a.server.paths.draSocket).toBe(join(d.pluginDir, 'dra-pod-uid-a.sock'));
    for (const s of [a.server, b.server]) {
      const info = await unary<WirePluginInfo>(kubeletClient(s.paths.registrationSocket, SERVICE.registration), 'GetInfo', {});
      expect(info.endpoint).toBe(s.paths.draSocket);
    }
    await expect(newServer({ dirs: d, instance: 'pod-uid-a' }).server.start()).rejects.toMatchObject({ code: 'KUBELET_INSTANCE_LOCKED' });
    // A non-rolling instance uses other names and may coexist (e.g. while switching modes).
    await startServer({ dirs: d });
  });

  it('removes its lock file on close, and the files of instances that died without closing, never a live one\'s', async () => {
    const d = testDirs();
    const live = await startServer({ dirs: d, instance: 'live' });
    // A dead instance: its lock file (nobody holds it) and its stale sockets.
    writeFileSync(join(d.pluginDir, 'instance-dead.lock'), '4242\n');
    writeFileSync(join(d.pluginDir, 'instance-dead.started'), '');
    await staleSocket(join(d.pluginDir, 'dra-dead.sock'));
    await staleSocket(join(d.registryDir, `${DRIVER}-dead-reg.sock`));
    const next = await startServer({ dirs: d, instance: 'next' });
    expect(existsSync(join(d.pluginDir, 'instance-dead.lock'))).toBe(false);
    expect(existsSync(join(d.pluginDir, 'instance-dead.started'))).toBe(false);
    expect(existsSync(join(d.pluginDir, 'dra-dead.sock'))).toBe(false);
    expect(existsSync(join(d.registryDir, `${DRIVER}-dead-reg.sock`))).toBe(false);
    // The live one keeps everything and still serves.
    expect(isSocket(live.server.paths.draSocket) && isSocket(live.server.paths.registrationSocket)).toBe(true);
    expect(existsSync(live.server.paths.instanceLock)).toBe(true);
    expect((await prepare(live.server.paths.draSocket)).claims['uid-a'].error).toBe('');
    // Its start marker (the surge startup probe's) only once the daemon says the start is complete.
    expect(existsSync(live.server.paths.startedMarker)).toBe(false);
    live.server.markStarted();
    expect(existsSync(live.server.paths.startedMarker)).toBe(true);
    await live.server.close();
    expect(existsSync(live.server.paths.instanceLock)).toBe(false);
    expect(existsSync(live.server.paths.startedMarker)).toBe(false);
    expect(existsSync(next.server.paths.instanceLock)).toBe(true);
  });

  it('serializes prepare across instances through serialize.lock', async () => {
    const d = testDirs();
    const a = await startServer({ dirs: d, instance: 'a' });
    const b = await startServer({ dirs: d, instance: 'b', driver: new FakeDriver() });
    let open!: () => void;
    a.driver.gate = new Promise((r) => { open = r; });
    const callA = prepare(a.server.paths.draSocket);
    await expect.poll(() => a.driver.calls.length).toBe(1);
    const callB = prepare(b.server.paths.draSocket);
    await new Promise((r) => setTimeout(r, 150));
    expect(b.driver.calls).toHaveLength(0); // waiting for instance a's call
    open();
    await Promise.all([callA, callB]);
    expect(b.driver.calls).toHaveLength(1);
  });

  it('answers a call cancelled while waiting for the lock with CANCELLED, without calling the driver', async () => {
    const d = testDirs();
    const a = await startServer({ dirs: d, instance: 'a' });
    const b = await startServer({ dirs: d, instance: 'b', driver: new FakeDriver() });
    a.driver.gate = new Promise(() => { /* never */ });
    void prepare(a.server.paths.draSocket).catch(() => undefined);
    await expect.poll(() => a.driver.calls.length).toBe(1);
    const c = kubeletClient(b.server.paths.draSocket, SERVICE.draV1);
    await expect(unary(c, 'NodePrepareResources', { claims: [claim] }, 200)).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
    await new Promise((r) => setTimeout(r, 100));
    expect(b.driver.calls).toHaveLength(0);
  });
});

describe('KubeletPluginServer: defaults', () => {
  it('uses the kubelet\'s default directories', () => {
    const s = new KubeletPluginServer({ driverName: DRIVER, driver: new FakeDriver() });
    expect(s.paths).toEqual({
      registrationSocket: `/var/lib/kubelet/plugins_registry/${DRIVER}-reg.sock`,
      draSocket: `/var/lib/kubelet/plugins/${DRIVER}/dra.sock`,
      instanceLock: `/var/lib/kubelet/plugins/${DRIVER}/instance.lock`,
      serializeLock: `/var/lib/kubelet/plugins/${DRIVER}/serialize.lock`,
      startedMarker: `/var/lib/kubelet/plugins/${DRIVER}/instance.started`,
    });
    expect(s.supportedVersions).toEqual(['v1.DRAPlugin', 'v1beta1.DRAPlugin']);
  });
});
