import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newlyUnhealthy, podHealthEvents, UNHEALTHY_REASON } from './pod-health-events.ts';
import type { PodDeviceHealth } from './pod-health-rules.ts';
import type { ClaimRecord } from './record-model.ts';

const health = fc.record({ health: fc.constantFrom('healthy', 'unhealthy', 'unknown'), message: fc.constantFrom('a', 'b') }) as fc.Arbitrary<PodDeviceHealth>;

describe('pod health Events', () => {
  it('names exactly the devices that turned unhealthy or changed why (property)', () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom('d1', 'd2', 'd3'), health), fc.dictionary(fc.constantFrom('d1', 'd2', 'd3'), health), (b, a) => {
      const before = new Map(Object.entries(b));
      const after = new Map(Object.entries(a));
      const got = newlyUnhealthy(before, after);
      for (const [d, h] of after) {
        const was = before.get(d);
        const expected = h.health === 'unhealthy' && !(was?.health === 'unhealthy' && was.message === h.message);
        expect(got.includes(d)).toBe(expected);
      }
      expect(got.every((d) => after.has(d))).toBe(true);
    }));
  });

  it('warns on the claim holding the device, saying what the taint does', () => {
    let devices = new Map<string, PodDeviceHealth>([['pci-0', { health: 'healthy' }]]);
    const listeners: (() => void)[] = [];
    const record = {
      claim: { namespace: 'team', name: 'nic', uid: 'u1' }, podName: 'job-0',
      attachment: { state: 'attached', devices: [{ device: 'pci-0' }] },
    } as unknown as ClaimRecord;
    const warnings: string[][] = [];
    const off = podHealthEvents({
      pods: { get devices() { return devices; }, onChange: (cb) => { listeners.push(cb); return () => {}; } },
      store: { list: () => [record] },
      events: { claimWarning: (c, reason, message) => warnings.push([c.name, reason, message]) },
      taint: { key: 'netclaim.dev/unhealthy', effect: 'NoExecute' },
    });
    devices = new Map([['pci-0', { health: 'unhealthy', message: 'net1: no carrier (operstate lowerlayerdown)' }]]);
    listeners[0]!();
    listeners[0]!(); // no change: no second Event
    expect(warnings).toEqual([['nic', UNHEALTHY_REASON,
      'device pci-0 in pod team/job-0 is unhealthy: net1: no carrier (operstate lowerlayerdown); tainted netclaim.dev/unhealthy:NoExecute, so pods using it that do not tolerate the taint are evicted']]);
    off();
  });
});
