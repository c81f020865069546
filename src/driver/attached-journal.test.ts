/**
 * The `attached` journal's rules as pure data (attached-journal.ts): never
 * `attached` with a device of the claim missing; a pending journal applies
 * only over the `attaching` journal of its own sandbox; the gate's view
 * reads a pending claim as attached and leaves every other record as stored.
 */
import { describe, expect, it } from 'vitest';
import { journalRecord, stillPending, withPending, type PendingAttached } from './attached-journal.ts';
import type { NriPod } from './pod-port.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './record-model.ts';

const pod: NriPod = { id: 'sandbox-1', uid: 'pod-1', name: 'p', namespace: 'ns', netns: '/run/netns/p' };
const at = (): Date => new Date('2026-12-05T06:00:00Z');
const record = (uid: string, devices: readonly string[]): ClaimRecord => ({
  version: 1, claim: { uid, namespace: 'ns', name: uid }, podUid: pod.uid, podName: pod.name, preparedAt: '2026-12-05T05:00:00Z',
  devices: devices.map((device) => ({ device }) as unknown as DevicePlan), // only the name matters to these rules
});
const attachedDev = (device: string): AttachedDevice => ({ device, ifIndex: 7, name: 'net1', mac: '02:00:00:00:00:01', ips: [] });

describe('attached journal', () => {
  it('journalRecord: `attaching` with any devices; `attached` only with every device of the claim, and never for a claim without devices', () => {
    const r = record('c1', ['a', 'b']);
    expect(journalRecord(r, pod, 'attaching', [], { now: at }).attachment).toEqual({
      state: 'attaching', sandboxId: 'sandbox-1', netns: '/run/netns/p', devices: [], at: '2026-12-05T06:00:00.000Z',
    });
    expect(() => journalRecord(r, pod, 'attached', [attachedDev('a')], { now: at })).toThrow(/ATTACH_NOT_IN_PLACE|nothing attached for b/);
    expect(() => journalRecord(record('c0', []), pod, 'attached', [], { now: at })).toThrow(/it has no devices/);
    expect(journalRecord(r, pod, 'attached', [attachedDev('a'), attachedDev('b')], { now: at }).attachment?.state).toBe('attached');
  });

  it('stillPending: only over the `attaching` journal of the same sandbox (a detach or another sandbox since wins)', () => {
    const r = record('c1', ['a']);
    const attaching = journalRecord(r, pod, 'attaching', [], { now: at });
    const p: PendingAttached = { record: attaching, pod, devices: [attachedDev('a')] };
    expect(stillPending(attaching, p)).toBe(true);
    expect(stillPending(r, p)).toBe(false); // journal cleared (given back)
    expect(stillPending(undefined, p)).toBe(false); // unprepared
    expect(stillPending(journalRecord(r, { ...pod, id: 'sandbox-2' }, 'attaching', [], { now: at }), p)).toBe(false);
    expect(stillPending(journalRecord(r, pod, 'attached', [attachedDev('a')], { now: at }), p)).toBe(false);
  });

  it('withPending: the gate reads a pending claim as attached with its devices; other claims as stored', () => {
    const one = journalRecord(record('c1', ['a']), pod, 'attaching', [], { now: at });
    const two = journalRecord(record('c2', ['b']), pod, 'attaching', [], { now: at });
    const view = withPending([one, two], [{ record: one, pod, devices: [attachedDev('a')] }], { now: at });
    expect(view.map((r) => r.attachment?.state)).toEqual(['attached', 'attaching']);
    expect(view[0]!.attachment?.devices).toEqual([attachedDev('a')]);
    expect(withPending([one], [], { now: at })).toEqual([one]);
  });
});
