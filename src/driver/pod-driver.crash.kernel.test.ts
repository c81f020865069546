/**
 * A driver killed mid-attach or mid-detach (SIGKILL at each named point of
 * pod-driver.ts) leaves a journal a restarted driver acts on: Synchronize
 * finishes the attach of a pod that runs, gives the devices of a pod that
 * does not back to the host restored, and a repeated StopPodSandbox
 * converges. Never a device half-configured in a pod nobody tracks.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../inventory/options.ts';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { PodDriver } from './pod-driver.ts';
import { ClaimStore } from './state/claim-store.ts';
import { CRASH_AT_ENV, type CrashPointName } from './state/crash-points.ts';

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/claim-driver/pod-child.ts', import.meta.url).pathname;
const OPTIONS = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
const POD = 'pod-crash';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Setup { host: TestNetns; pod: TestNetns; dir: string; devs: string[]; claim: AllocatedClaim }

/** Two veths on the "host", prepared in one claim for POD (the store is closed again). */
async function setup(): Promise<Setup> {
  const host = createNetns('chost');
  const pod = createNetns('cpod');
  const devs = [uniqueName('cd'), uniqueName('cd')];
  for (const [i, d] of devs.entries()) {
    ip(host, 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
    ip(host, 'addr', 'add', `10.90.${i}.2/24`, 'dev', d);
    ip(host, 'link', 'set', d, 'up');
  }
  const dir = mkdtempSync(join(tmpdir(), 'nc-pod-crash-'));
  dirs.push(dir);
  const inv = buildInventory(collectSnapshot(host.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS);
  const claim: AllocatedClaim = {
    namespace: 'ns', name: 'c', uid: 'c0a55000-0000-4000-8000-000000000001' as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'pod', uid: POD }],
    allocation: {
      results: devs.map((d, i) => ({ request: `nic${i}`, driver: DRIVER_NAME, pool: 'node', device: inv.devices.find((x) => x.ifName === d)!.name })),
      config: [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters: { interface: { mtu: 1400 } } } }],
    },
  };
  const store = ClaimStore.open(join(dir, 'state'));
  try {
    const driver = new ClaimDriver({
      driverName: DRIVER_NAME, poolName: 'node', claims: { get: () => Promise.resolve(claim) }, store,
      inventory: { current: inv, hold: () => {}, release: () => {} }, kernel: hostReads(host.handle, '/sys'), cdiDir: join(dir, 'cdi'),
    });
    await driver.prepare([{ namespace: 'ns', name: 'c', uid: claim.uid }]);
  } finally {
    store.close();
  }
  return { host, pod, dir, devs, claim };
}

function child(op: 'run' | 'stop', s: Setup, crashAt?: CrashPointName): { acked: boolean; signal: NodeJS.Signals | null; stderr: string } {
  const env = { ...process.env };
  delete env[CRASH_AT_ENV];
  if (crashAt !== undefined) env[CRASH_AT_ENV] = crashAt;
  const r = spawnSync(NODE, [CHILD, op, s.host.path, s.pod.path, join(s.dir, 'state'), POD], { env, encoding: 'utf8', timeout: 30_000 });
  return { acked: r.stdout.includes('ack'), signal: r.signal, stderr: r.stderr };
}

/** A restarted driver in this process over the same store. */
function restarted(s: Setup): { pods: PodDriver; store: ClaimStore } {
  const store = ClaimStore.open(join(s.dir, 'state'));
  return { store, pods: new PodDriver({ store, host: s.host.handle, libc: testLibc, rdmaExclusive: () => false }) };
}

const names = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();
const mtuOf = (ns: TestNetns, dev: string): number => ipJson<{ mtu: number }[]>(ns, 'link', 'show', 'dev', dev)[0]!.mtu;
const nriPod = (s: Setup): { id: string; uid: string; name: string; namespace: string; netns: string } =>
  ({ id: `sandbox-${POD}`, uid: POD, name: 'pod', namespace: 'ns', netns: s.pod.path });

describe('a driver killed mid-attach or mid-detach', () => {
  for (const point of ['attach.after-journal', 'attach.after-device'] as const) {
    it(`killed at ${point}: Synchronize with the pod running finishes the attach`, async () => {
      const s = await setup();
      const k = child('run', s, point);
      expect(k.signal, k.stderr).toBe('SIGKILL');
      const { pods, store } = restarted(s);
      try {
        expect(store.get(s.claim.uid)?.attachment?.state).toBe('attaching');
        await pods.synchronize([nriPod(s)], []);
        expect(store.get(s.claim.uid)?.attachment?.state).toBe('attached');
        expect(names(s.pod)).toEqual([...s.devs].sort());
        expect(s.devs.map((d) => mtuOf(s.pod, d))).toEqual([1400, 1400]);
      } finally {
        store.close();
      }
    });

    it(`killed at ${point}: Synchronize without the pod gives everything back to the host`, async () => {
      const s = await setup();
      expect(child('run', s, point).signal).toBe('SIGKILL');
      const { pods, store } = restarted(s);
      try {
        await pods.synchronize([], []);
        expect(store.get(s.claim.uid)?.attachment).toBeUndefined();
        expect(names(s.pod)).toEqual([]);
        expect(names(s.host)).toEqual([...s.devs, ...s.devs.map((d) => `${d}p`)].sort());
        expect(s.devs.map((d) => mtuOf(s.host, d))).toEqual([1500, 1500]);
      } finally {
        store.close();
      }
    });
  }

  it('killed at detach.after-device: a repeated StopPodSandbox converges', async () => {
    const s = await setup();
    expect(child('run', s).acked).toBe(true);
    const k = child('stop', s, 'detach.after-device');
    expect(k.signal, k.stderr).toBe('SIGKILL');
    const { pods, store } = restarted(s);
    try {
      await pods.stopPodSandbox(nriPod(s));
      expect(store.get(s.claim.uid)?.attachment).toBeUndefined();
      expect(names(s.pod)).toEqual([]);
      expect(s.devs.map((d) => mtuOf(s.host, d))).toEqual([1500, 1500]);
    } finally {
      store.close();
    }
  });
});
