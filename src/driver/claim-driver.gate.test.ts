/**
 * Prepare waits for the pod side (docs/pods.md, "NRI is a hard dependency"):
 * while the runtime has not synchronized netclaim's NRI plugin, every claim
 * is refused with the retryable PREPARE_NRI_NOT_READY, nothing is fetched or
 * stored, and the claim gets a ClaimPrepareFailed Event with the same text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClaimUid } from '../common/ids.ts';
import { ClaimDriver } from './claim-driver.ts';
import { ClaimStore } from './state/claim-store.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('ClaimDriver and the pod side\'s readiness', () => {
  it('refuses every claim while the runtime has not synchronized the NRI plugin; prepares once it has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-gate-'));
    dirs.push(dir);
    const store = ClaimStore.open(join(dir, 'state'));
    let notReady: string | undefined = 'the container runtime has not connected and synchronized netclaim\'s NRI plugin yet';
    const fetched: string[] = [];
    const events: string[] = [];
    const driver = new ClaimDriver({
      driverName: 'netclaim.dev', poolName: 'node', store, cdiDir: join(dir, 'cdi'),
      claims: { get: (ns, name) => { fetched.push(`${ns}/${name}`); return Promise.reject(new Error('not found')); } },
      inventory: { current: { devices: [] }, hold: () => {}, release: () => {} },
      kernel: { snapshot: () => { throw new Error('no kernel'); }, charDevices: () => [] },
      events: { claimWarning: (c, reason, message) => events.push(`${c.name} ${reason}: ${message}`) },
      podsNotReady: () => notReady,
    });
    const ref = { namespace: 'ns', name: 'nic', uid: 'c0000000-0000-4000-8000-000000000001' as ClaimUid };
    const r = await driver.prepare([ref]);
    const text = 'PREPARE_NRI_NOT_READY: claim ns/nic: the container runtime has not connected and synchronized netclaim\'s NRI plugin yet; '
      + 'no claim is prepared until it is, so that no pod starts without its devices (the kubelet retries)';
    expect(r.get(ref.uid)).toEqual({ error: text });
    expect(events).toEqual([`nic ClaimPrepareFailed: ${text}`]);
    expect(fetched).toEqual([]);
    expect(store.size).toBe(0);

    notReady = undefined;
    await driver.prepare([ref]);
    expect(fetched).toEqual(['ns/nic']); // now it goes on (and fails on the fake API server)
    store.close();
  });
});
