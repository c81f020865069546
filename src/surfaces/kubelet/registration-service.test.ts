import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver } from '../../../test/kubelet/fake-driver.ts';
import { kubeletClient, unary } from '../../../test/kubelet/kubelet-client.ts';
import { cleanupServers, DRIVER, startServer } from '../../../test/kubelet/server-fixture.ts';
import { SERVICE, type WirePluginInfo } from './protos.ts';
import type { RegistrationStatus } from './registration-service.ts';

afterEach(cleanupServers);

const healthy = [{ poolName: 'p', deviceName: 'd', health: 'healthy' as const, lastUpdatedTime: 1 }];

describe('registration socket', () => {
  it('answers GetInfo with type, name, the DRA socket and every service it serves (health when the driver has it)', async () => {
    const { server, dirs } = await startServer({ driver: new FakeDriver({ health: healthy }) });
    expect(server.paths.registrationSocket).toBe(join(dirs.registryDir, `${DRIVER}-reg.sock`));
    const info = await unary<WirePluginInfo>(kubeletClient(server.paths.registrationSocket, SERVICE.registration), 'GetInfo', {});
    expect(info).toEqual({
      type: 'DRAPlugin', name: DRIVER, endpoint: join(dirs.pluginDir, 'dra.sock'),
      supported_versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin', 'v1.DRAResourceHealth', 'v1alpha1.DRAResourceHealth'],
    });
  });

  it('leaves the health service out for a driver without health, and honours the DRA service list', async () => {
    const { server } = await startServer({ draServices: ['v1beta1.DRAPlugin'] });
    const info = await unary<WirePluginInfo>(kubeletClient(server.paths.registrationSocket, SERVICE.registration), 'GetInfo', {});
    expect(info.supported_versions).toEqual(['v1beta1.DRAPlugin']);
  });

  it('stores NotifyRegistrationStatus, emits it, and resolves `registered` at the first success only', async () => {
    const { server } = await startServer();
    const seen: RegistrationStatus[] = [];
    server.on('registration-status', (s) => seen.push(s));
    const reg = kubeletClient(server.paths.registrationSocket, SERVICE.registration);
    let resolved = false;
    void server.registered.then(() => { resolved = true; });

    await unary(reg, 'NotifyRegistrationStatus', { plugin_registered: false, error: 'RegisterPlugin error -- no' });
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    expect(server.registrationStatus).toEqual({ registered: false, error: 'RegisterPlugin error -- no' });

    await unary(reg, 'NotifyRegistrationStatus', { plugin_registered: true, error: '' });
    await server.registered;
    expect(server.registrationStatus).toEqual({ registered: true, error: '' });
    expect(seen).toEqual([{ registered: false, error: 'RegisterPlugin error -- no' }, { registered: true, error: '' }]);
  });

  it('rejects `registered` with KUBELET_SERVER_CLOSED when closed before the kubelet confirmed', async () => {
    const { server } = await startServer();
    await server.close();
    await expect(server.registered).rejects.toMatchObject({ code: 'KUBELET_SERVER_CLOSED' });
  });
});
