import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceName } from '../common/ids.ts';
import type { Device, Inventory } from '../inventory/model.ts';
import type { DeviceHealth, HealthState } from './driver-port.ts';
import { DeviceHealthView, healthTransitions } from './device-health.ts';
import type { PodDeviceHealth, PodHealthSource } from './pod-health.ts';

const dev = (name: string, health: HealthState, message?: string, at = 1): DeviceHealth =>
  ({ poolName: 'node', deviceName: name, health, lastUpdatedTime: at, ...(message === undefined ? {} : { message }) });

describe('healthTransitions', () => {
  it('names each device whose health or message changed, and those that came or went; a new timestamp alone is no change', () => {
    const before = [dev('a', 'healthy'), dev('b', 'healthy'), dev('c', 'unknown', 'the device is in a pod'), dev('gone', 'healthy')];
    const after = [dev('a', 'healthy', undefined, 9), dev('b', 'unknown', 'the device is in a pod'), dev('c', 'unknown', 'other'), dev('new', 'unhealthy', 'link lowerlayerdown')];
    expect(healthTransitions(before, after)).toEqual([
      { device: 'b', from: 'healthy', to: 'unknown', message: 'the device is in a pod' },
      { device: 'c', from: 'unknown', to: 'unknown', message: 'other' },
      { device: 'new', from: 'absent', to: 'unhealthy', message: 'link lowerlayerdown' },
      { device: 'gone', from: 'healthy', to: 'absent' },
    ]);
  });

  it('is empty exactly when the two lists say the same of the same devices (any lists)', () => {
    const state = fc.constantFrom<HealthState>('healthy', 'unhealthy', 'unknown');
    const list = fc.uniqueArray(fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd'), health: state, message: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }) }), { selector: (d) => d.name })
      .map((xs) => xs.map((x) => dev(x.name, x.health, x.message)));
    fc.assert(fc.property(list, list, (a, b) => {
      const key = (xs: readonly DeviceHealth[]): string => JSON.stringify(xs.map((d) => [d.deviceName, d.health, d.message ?? null]).sort());
      expect(healthTransitions(a, b).length === 0).toBe(key(a) === key(b));
      expect(healthTransitions(a, a)).toEqual([]);
    }));
  });
});

describe('DeviceHealthView: a device leaving the host for a pod', () => {
  // The inventory as the watcher hands it out (plain data): one virtual device, on the host or away in a pod.
  const device = (present: boolean): Device => ({ name: 'nc1' as DeviceName, kind: 'virtual', ifName: 'nc1', charDevices: [], netdevPresent: present, attributes: {}, dropped: [] });
  function setup(graceMs: number): { view: DeviceHealthView; seen: string[]; move(present: boolean): void; read(h: PodDeviceHealth | undefined): void; clock: { ms: number } } {
    let inv = { devices: [device(true)] } as unknown as Inventory;
    const subs = new Set<(i: Inventory) => void>();
    let reading: PodDeviceHealth | undefined;
    const podSubs = new Set<() => void>();
    const pods: PodHealthSource = { get: () => reading, onChange: (cb) => { podSubs.add(cb); return () => podSubs.delete(cb); } };
    const clock = { ms: 0 };
    const view = new DeviceHealthView({ get current() { return inv; }, subscribe: (fn) => { subs.add(fn); return () => subs.delete(fn); } }, 'node', 'netclaim.dev', () => 1, pods,
      { awayGraceMs: graceMs, nowMs: () => clock.ms });
    const seen: string[] = [];
    view.onChange(() => seen.push(`${view.devices[0]!.health}${view.devices[0]!.message === undefined ? '' : `: ${view.devices[0]!.message}`}`));
    return {
      view, seen, clock,
      move: (present) => { inv = { devices: [device(present)] } as unknown as Inventory; for (const fn of subs) fn(inv); },
      read: (h) => { reading = h; for (const cb of podSubs) cb(); },
    };
  }

  it('keeps its health until the pod watch reads it: the kubelet sees no change when the watch agrees', () => {
    const t = setup(60_000);
    t.move(false); // the inventory saw it leave; no watch yet
    expect(t.view.devices[0]!.health).toBe('healthy');
    t.read({ health: 'healthy' });
    expect(t.seen).toEqual([]);
    t.read({ health: 'unhealthy', message: 'net1: no carrier (operstate lowerlayerdown)' }); // what the watch reads counts at once
    expect(t.seen).toEqual(['unhealthy: net1: no carrier (operstate lowerlayerdown)']);
    t.view.close();
  });

  it('is unknown once the grace ends with no watch reading it; back on the host it is healthy, and a new departure has a new grace', async () => {
    const t = setup(30);
    t.move(false);
    expect(t.seen).toEqual([]);
    t.clock.ms = 31;
    await new Promise((r) => setTimeout(r, 80)); // the view's own timer recomputes after the grace
    expect(t.seen).toEqual(['unknown: the device is in a pod']);
    t.move(true);
    t.move(false);
    expect(t.seen).toEqual(['unknown: the device is in a pod', 'healthy']);
    t.view.close();
  });
});
