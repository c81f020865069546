import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver } from '../../../test/kubelet/fake-driver.ts';
import { kubeletClient, messages, watchHealth } from '../../../test/kubelet/kubelet-client.ts';
import { cleanupServers, startServer } from '../../../test/kubelet/server-fixture.ts';
import type { DeviceHealth } from '../../driver/driver-port.ts';
import { SERVICE } from './protos.ts';

afterEach(cleanupServers);

const eth0: DeviceHealth = { poolName: 'node-1', deviceName: 'eth0', health: 'healthy', lastUpdatedTime: 1_760_000_000 };
const eth1: DeviceHealth = { poolName: 'node-1', deviceName: 'eth1', health: 'unknown', lastUpdatedTime: 1_760_000_001, healthCheckTimeoutSeconds: 45, message: 'no carrier yet' };

describe('DRAResourceHealth (v1, v1alpha1) NodeWatchResources', () => {
  it('sends the full list at once, after every change, and again periodically', async () => {
    const driver = new FakeDriver({ health: [eth0, eth1] });
    const { server } = await startServer({ driver, healthResendMs: 150 });
    const stream = watchHealth(kubeletClient(server.paths.draSocket, SERVICE.healthV1alpha1));
    const m = messages(stream);

    expect(await m.next()).toEqual({ devices: [
      { device: { pool_name: 'node-1', device_name: 'eth0' }, health: 'HEALTHY', last_updated_time: 1_760_000_000, health_check_timeout_seconds: 0, message: '' },
      { device: { pool_name: 'node-1', device_name: 'eth1' }, health: 'UNKNOWN', last_updated_time: 1_760_000_001, health_check_timeout_seconds: 45, message: 'no carrier yet' },
    ] });

    driver.healthView?.set([{ ...eth0, health: 'unhealthy', lastUpdatedTime: 1_760_000_100, message: 'link down' }]);
    // On a loaded machine a periodic resend of the first list can come before the change: the
    // change is the first message with the new list (no timing assumed, only the order of lists).
    let changed = await m.next(15_000);
    for (let i = 0; i < 100 && changed.devices.length === 2; i++) {
      expect(changed.devices.map((d) => d.health)).toEqual(['HEALTHY', 'UNKNOWN']); // only the old list, resent
      changed = await m.next(15_000);
    }
    expect(changed).toEqual({ devices: [expect.objectContaining({ health: 'UNHEALTHY', message: 'link down', last_updated_time: 1_760_000_100 })] });

    // Nothing changes any more: what comes next is the periodic resend, the complete current list again.
    const resent = await m.next(15_000);
    expect(resent.devices).toEqual([expect.objectContaining({ health: 'UNHEALTHY' })]);
    stream.cancel();
  });

  it('unsubscribes a cancelled stream, and a graceful close ends open streams with OK', async () => {
    const driver = new FakeDriver({ health: [eth0] });
    const { server } = await startServer({ driver });
    const client = kubeletClient(server.paths.draSocket, SERVICE.healthV1alpha1);
    const first = watchHealth(client);
    const second = messages(watchHealth(client));
    await messages(first).next();
    await second.next();
    expect(driver.healthView?.listeners).toBe(2);
    first.cancel();
    await expect.poll(() => driver.healthView?.listeners).toBe(1);
    await server.close();
    expect(await second.ended).toBeNull();
    expect(driver.healthView?.listeners).toBe(0);
  });

  it('serves v1 (kubelet 1.37) beside v1alpha1 with the same list, both advertised', async () => {
    const driver = new FakeDriver({ health: [eth0, eth1] });
    const { server } = await startServer({ driver });
    expect(server.supportedVersions).toEqual(expect.arrayContaining(['v1.DRAResourceHealth', 'v1alpha1.DRAResourceHealth']));
    const v1 = watchHealth(kubeletClient(server.paths.draSocket, SERVICE.healthV1));
    const alpha = watchHealth(kubeletClient(server.paths.draSocket, SERVICE.healthV1alpha1));
    const [a, b] = await Promise.all([messages(v1).next(), messages(alpha).next()]);
    expect(a).toEqual(b);
    expect(a.devices.map((d) => d.health)).toEqual(['HEALTHY', 'UNKNOWN']);
    v1.cancel();
    alpha.cancel();
  });

  it('is not served when the driver has no health view', async () => {
    const { server } = await startServer();
    expect(server.supportedVersions).not.toContain('v1.DRAResourceHealth');
    for (const svc of [SERVICE.healthV1alpha1, SERVICE.healthV1]) {
      const m = messages(watchHealth(kubeletClient(server.paths.draSocket, svc)));
      expect(await m.ended).toMatchObject({ code: status.UNIMPLEMENTED });
    }
  });
});
