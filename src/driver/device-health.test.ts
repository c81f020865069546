import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceHealth, HealthState } from './driver-port.ts';
import { healthTransitions } from './device-health.ts';

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
