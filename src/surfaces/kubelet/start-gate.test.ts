/**
 * The kubelet's calls during the daemon's start (driver/start-gate.ts,
 * docs/pods.md "NRI is a hard dependency"): the daemon registers before the
 * container runtime's first NRI Synchronize, so a NodePrepareResources or
 * NodeUnprepareResources can arrive before it. Forced here in that order,
 * through the real gRPC server and the real ClaimDriver: the call waits for
 * Synchronize and only then reads anything (I1, I4); past the wait, Prepare
 * is refused with the retryable PREPARE_NRI_NOT_READY and nothing is
 * fetched or stored. The pod side's state is the `podsNotReady` function the
 * PodDriver gives the claim driver (here a variable: the NRI side is tested
 * in test/conformance/daemon-nri.conformance.test.ts).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kubeletClient, unary } from '../../../test/kubelet/kubelet-client.ts';
import { cleanupServers, startServer, testDirs } from '../../../test/kubelet/server-fixture.ts';
import type { ClaimUid } from '../../common/ids.ts';
import { ClaimDriver } from '../../driver/claim-driver.ts';
import type { DriverPort } from '../../driver/driver-port.ts';
import { gateCalls } from '../../driver/start-gate.ts';
import { ClaimStore } from '../../driver/state/claim-store.ts';
import { libc } from '../../kernel/libc/index.ts';
import { FileLock } from './file-lock.ts';
import { SERVICE, type WirePrepareResponse, type WireUnprepareResponse } from './protos.ts';

const stores: ClaimStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  cleanupServers();
});

const ref = { namespace: 'ns', name: 'nic', uid: 'c0000000-0000-4000-8000-0000000000a1' as ClaimUid };
const NOT_SYNCED = 'the container runtime has not connected and synchronized netclaim\'s NRI plugin yet';

/** A claim driver whose pod side is not synchronized yet; `order` records what happens, in order. */
function setUp(waitMs?: number) {
  const dir = testDirs().root;
  const store = ClaimStore.open(join(dir, 'state'));
  stores.push(store);
  const order: string[] = [];
  const pods = { notReady: NOT_SYNCED as string | undefined };
  const driver = new ClaimDriver({
    driverName: 'netclaim.dev', poolName: 'node', store, cdiDir: join(dir, 'cdi'),
    claims: { get: (ns, name) => { order.push(`fetch ${ns}/${name}`); return Promise.reject(new Error('claim not found')); } },
    inventory: { current: { devices: [] }, hold: () => {}, release: () => {} },
    kernel: { snapshot: () => { throw new Error('no kernel'); }, charDevices: () => [] },
    pods: { returnDevices: (uid) => { order.push(`return ${uid}`); return []; } },
    podsNotReady: () => pods.notReady,
  });
  const opened = Promise.withResolvers<void>();
  const gated = gateCalls(driver, opened.promise, waitMs);
  // Seen by the test: the call reached the gate (so "nothing happened yet" is not a race).
  const reached = Promise.withResolvers<void>();
  const port: DriverPort = { ...gated, ready: (signal) => { order.push('call waits'); reached.resolve(); return gated.ready!(signal); } };
  /** What the daemon does when the runtime's first Synchronize has run. */
  const synchronize = (): void => {
    order.push('synchronized');
    pods.notReady = undefined;
    opened.resolve();
  };
  return { store, order, port, reached: reached.promise, synchronize };
}

describe('the kubelet\'s calls before the runtime\'s first Synchronize', () => {
  it('a Prepare that comes first waits for Synchronize (not holding the call lock), and reads the claim only after it', async () => {
    const t = setUp();
    const { server } = await startServer({ driver: t.port });
    const answer = unary<WirePrepareResponse>(kubeletClient(server.paths.draSocket, SERVICE.draV1), 'NodePrepareResources', { claims: [ref] }, 60_000);
    await t.reached;
    expect(t.order).toEqual(['call waits']);
    // The waiting call does not hold the call lock, which the pod hooks (Synchronize among them) take in a rolling update.
    const lock = FileLock.open(server.paths.serializeLock, libc());
    expect(lock.tryLock()).toBe(true);
    lock.close();
    t.synchronize();
    const r = await answer;
    // It went on to the driver after Synchronize (the fetch fails: this test has no API server).
    expect(t.order).toEqual(['call waits', 'synchronized', 'fetch ns/nic']);
    expect(r.claims[ref.uid]?.error).toMatch(/claim not found/);
  });

  it('an Unprepare that comes first waits for Synchronize too', async () => {
    const t = setUp();
    const { server } = await startServer({ driver: t.port });
    const answer = unary<WireUnprepareResponse>(kubeletClient(server.paths.draSocket, SERVICE.draV1), 'NodeUnprepareResources', { claims: [ref] }, 60_000);
    await t.reached;
    expect(t.order).toEqual(['call waits']);
    t.synchronize();
    expect((await answer).claims[ref.uid]).toEqual({ error: '' });
    expect(t.order).toEqual(['call waits', 'synchronized']); // a claim never prepared: nothing to give back
  });

  it('no Synchronize within the wait: Prepare is refused with the retryable PREPARE_NRI_NOT_READY; nothing fetched or stored', async () => {
    const t = setUp(50);
    const { server } = await startServer({ driver: t.port });
    const r = await unary<WirePrepareResponse>(kubeletClient(server.paths.draSocket, SERVICE.draV1), 'NodePrepareResources', { claims: [ref] }, 60_000);
    expect(r.claims[ref.uid]?.error).toMatch(/^PREPARE_NRI_NOT_READY: claim ns\/nic: the container runtime has not connected and synchronized .*the kubelet retries\)$/);
    expect(t.order).toEqual(['call waits']);
    expect(t.store.size).toBe(0);
  });

  it('once open, calls do not wait', async () => {
    const t = setUp(60_000);
    t.synchronize();
    const { server } = await startServer({ driver: t.port });
    const r = await unary<WirePrepareResponse>(kubeletClient(server.paths.draSocket, SERVICE.draV1), 'NodePrepareResources', { claims: [ref] }, 60_000);
    expect(r.claims[ref.uid]?.error).toMatch(/claim not found/);
  });
});
