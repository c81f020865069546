import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceName } from '../common/ids.ts';
import type { Device, Inventory } from '../inventory/model.ts';
import { OPER_STATES } from '../kernel/netlink/route/link-constants.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import { DeviceHealthView } from './device-health.ts';
import { podDeviceHealth, type PodDeviceHealth } from './pod-health-rules.ts';
import type { PodHealthSource } from './pod-health.ts';

const link = (over: Partial<Link> = {}): Link => ({
  index: 5 as Link['index'], name: 'net1', type: 1, flags: 0, up: true, operState: 'UP', mtu: 1500, altNames: [], carrier: true, ...over,
});

describe('podDeviceHealth', () => {
  it('judges a netdev by its link in the pod and its RDMA ports', () => {
    expect(podDeviceHealth({ name: 'net1', link: link() })).toEqual({ health: 'healthy' });
    expect(podDeviceHealth({ name: 'net1', link: 'missing' })).toEqual({ health: 'unhealthy', message: "net1 is not in the pod's network namespace" });
    expect(podDeviceHealth({ name: 'net1', link: link({ carrier: false, operState: 'LOWERLAYERDOWN' }) }))
      .toEqual({ health: 'unhealthy', message: 'net1: no carrier (operstate lowerlayerdown)' });
    expect(podDeviceHealth({ name: 'net1', link: link({ up: false, carrier: false, operState: 'DOWN' }) }).health).toBe('unknown');
    const port = { devIndex: 1, devName: 'mlx5_0', port: 1, state: 'DOWN', physState: 'DISABLED' };
    expect(podDeviceHealth({ name: 'net1', link: link(), rdma: { device: 'mlx5_0', ports: [port] } }))
      .toEqual({ health: 'unhealthy', message: 'RDMA mlx5_0 port 1 down (disabled)' });
    expect(podDeviceHealth({ name: 'mlx5_0', rdma: { device: 'mlx5_0', ports: [{ ...port, state: 'ACTIVE' }] } })).toEqual({ health: 'healthy' });
    expect(podDeviceHealth({ name: 'mlx5_0', rdma: { device: 'mlx5_0', ports: [] } })).toEqual({ health: 'unhealthy', message: 'RDMA device mlx5_0 not found' });
  });

  it('a counter verdict makes an otherwise healthy device unhealthy; a dead link is reported as such first', () => {
    const counterProblem = 'net1: rx_crc_errors +37 in the last 60 s';
    expect(podDeviceHealth({ name: 'net1', link: link(), counterProblem })).toEqual({ health: 'unhealthy', message: counterProblem });
    expect(podDeviceHealth({ name: 'net1', link: link({ carrier: false, operState: 'DOWN' }), counterProblem }).message).toMatch(/no carrier/);
    expect(podDeviceHealth({ name: 'net1', link: link({ up: false }), counterProblem }).health).toBe('unknown');
  });

  it('never calls a link without carrier healthy, nor an administratively down one unhealthy (property)', () => {
    fc.assert(fc.property(fc.boolean(), fc.option(fc.boolean(), { nil: undefined }), fc.constantFrom(...OPER_STATES), (up, carrier, operState) => {
      const h = podDeviceHealth({ name: 'net1', link: link({ up, operState, ...(carrier === undefined ? {} : { carrier }) }) });
      if (!up) expect(h.health).toBe('unknown');
      else if (carrier === false || ['DOWN', 'LOWERLAYERDOWN', 'NOTPRESENT'].includes(operState)) expect(h.health).toBe('unhealthy');
      else expect(h.health).toBe('healthy');
    }));
  });
});

describe('DeviceHealthView with pods', () => {
  const away: Device = { name: 'eth1' as DeviceName, kind: 'virtual', ifName: 'eth1', charDevices: [], netdevPresent: false, attributes: {}, dropped: [] };
  const inv = { devices: [away] } as unknown as Inventory;

  it('reports a device in a pod by the pod watch, and follows its changes', () => {
    let state: PodDeviceHealth | undefined;
    const listeners = new Set<() => void>();
    const pods: PodHealthSource = { get: () => state, onChange: (cb) => { listeners.add(cb); return () => listeners.delete(cb); } };
    let t = 100;
    const view = new DeviceHealthView({ current: inv, subscribe: () => () => {} }, 'node', 'netclaim.dev', () => t, pods);
    expect(view.devices).toEqual([{ poolName: 'node', deviceName: 'eth1', health: 'unknown', lastUpdatedTime: 100, message: 'the device is in a pod' }]);
    const seen: string[] = [];
    view.onChange(() => seen.push(view.devices[0]!.health));
    state = { health: 'unhealthy', message: 'net1: no carrier (operstate lowerlayerdown)' };
    t = 200;
    for (const cb of listeners) cb();
    expect(view.devices[0]).toMatchObject({ health: 'unhealthy', lastUpdatedTime: 200 });
    state = { health: 'healthy' };
    for (const cb of listeners) cb();
    for (const cb of listeners) cb(); // no change: no notification
    expect(seen).toEqual(['unhealthy', 'healthy']);
    view.close();
    expect(listeners.size).toBe(0);
  });
});
