/**
 * The pod side's decisions about a pod it cannot put right, and about a
 * detach that left problems, made in the driver behind its ports (claim
 * status, Events, eviction by policy), in the one error-text format.
 */
import { describe, expect, it } from 'vitest';
import { DriverError } from '../common/errors.ts';
import { PodReports } from './pod-reports.ts';
import type { ClaimRecord } from './record-model.ts';

const record: ClaimRecord = {
  version: 1, claim: { uid: 'c1', namespace: 'ns', name: 'nic' }, podUid: 'p1', podName: 'job-0', preparedAt: '2026-01-01T00:00:00Z', devices: [],
};

function fakes(evict = true): { reports: PodReports; seen: string[] } {
  const seen: string[] = [];
  const reports = new PodReports({
    events: { claimWarning: (c, reason, message) => seen.push(`event ${c.name} ${reason}: ${message}`) },
    status: { devicesReady: (r) => seen.push(`ready ${r.claim.name}`), devicesNotReady: (r, m) => seen.push(`not-ready ${r.claim.name}: ${m}`) },
    ...(evict ? { evictor: { evict: (ns, name, why) => { seen.push(`evict ${ns}/${name}: ${why}`); return Promise.resolve(); } } } : {}),
    observer: { unreconciled: () => seen.push('observed unreconciled'), evicted: (_r, err) => seen.push(`observed evicted ${err === undefined ? 'ok' : 'error'}`) },
  });
  return { reports, seen };
}

describe('PodReports', () => {
  it('a pod that cannot be put right: Event, Ready=False and (by policy) eviction, all with `CODE: message`', async () => {
    const { reports, seen } = fakes();
    reports.unreconciled(record, new DriverError('ATTACH_FAILED', 'attach of dev-a failed at step move: EBUSY'));
    await Promise.resolve();
    const text = 'ATTACH_FAILED: attach of dev-a failed at step move: EBUSY';
    expect(seen).toEqual([
      'observed unreconciled',
      `event nic NetworkDeviceReconcileFailed: ${text}`,
      `not-ready nic: ${text}`,
      `evict ns/job-0: ${text}`,
      'observed evicted ok',
    ]);
  });

  it('without the eviction policy it only reports', () => {
    const { reports, seen } = fakes(false);
    reports.unreconciled(record, new Error('plain'));
    expect(seen).toEqual(['observed unreconciled', 'event nic NetworkDeviceReconcileFailed: plain', 'not-ready nic: plain']);
  });

  it('detach problems become one Warning Event on the claim', () => {
    const { reports, seen } = fakes();
    reports.detachProblems(record, ['dev-a: name: taken', 'dev-a: routes: EINVAL']);
    expect(seen).toEqual(['event nic NetworkDeviceDetachIncomplete: dev-a: name: taken; dev-a: routes: EINVAL']);
  });
});
