/**
 * A driver killed mid-attach or mid-detach (SIGKILL at each named point of
 * pod-driver.ts) leaves a journal a restarted driver acts on: Synchronize
 * finishes the attach of a pod that runs, gives the devices of a pod that
 * does not back to the host restored, and a repeated StopPodSandbox
 * converges. A NodeUnprepareResources killed anywhere (detach, journal
 * write, CDI removal, record unlink) never leaves a device that is not back
 * and restored without its record and journal (I2), and the kubelet's retry
 * converges (I4). Never a device half-configured in a pod nobody tracks.
 * Pod namespaces are pinned as the daemon pins them: a kill between the
 * pin and the first device, or between the journal's clearing and the
 * pin's release, converges too, and a pod deleted while the driver is dead
 * still gets its devices back through the pin.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
import { NetnsPins } from './netns-pins.ts';
import { PodDriver } from './pod-driver.ts';
import { ClaimStore } from './state/claim-store.ts';
import { CRASH_AT_ENV } from './state/crash-points.ts';

/**
 * Each test runs the driver in child processes (each loads the TypeScript sources): on a loaded
 * machine one took 10–15 s, so a test of two or three of them passed the 30 s default. Generous,
 * not unbounded: a child that hangs still fails its test.
 */
const CHILD_TIMEOUT_MS = 120_000;

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/claim-driver/pod-child.ts', import.meta.url).pathname;
const OPTIONS = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
const POD = 'pod-crash';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    const pins = join(d, 'state', 'netns');
    for (const f of existsSync(pins) ? readdirSync(pins) : []) {
      try {
        execFileSync('umount', ['-l', join(pins, f)], { stdio: 'ignore' });
      } catch {
        /* not mounted */
      }
    }
    rmSync(d, { recursive: true, force: true });
  }
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

/** Runs one hook (or, `unprepare`, the kubelet's NodeUnprepareResources) in a child process, killed at `crashAt` if given. */
function child(op: 'run' | 'early' | 'gate' | 'stop' | 'prepared' | 'unprepare', s: Setup, crashAt?: string): { acked: boolean; signal: NodeJS.Signals | null; stderr: string } {
  const env = { ...process.env };
  delete env[CRASH_AT_ENV];
  if (crashAt !== undefined) env[CRASH_AT_ENV] = crashAt;
  const args = [CHILD, op, s.host.path, s.pod.path, join(s.dir, 'state'), POD, s.claim.uid, join(s.dir, 'cdi')];
  const r = spawnSync(NODE, args, { env, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  return { acked: r.stdout.includes('ack'), signal: r.signal, stderr: r.stderr };
}

/** A restarted driver in this process over the same store: the pod driver, and a claim driver that gives devices back through it. */
/** Synchronize with the pod running: an `attaching` journal becomes `attached`, every device in the pod, tuned. */
async function expectFinishedInPod(s: Setup, pods: PodDriver, store: ClaimStore): Promise<void> {
  expect(store.get(s.claim.uid)?.attachment?.state).toBe('attaching');
  await pods.synchronize([nriPod(s)], []);
  expect(store.get(s.claim.uid)?.attachment?.state).toBe('attached');
  expect(names(s.pod)).toEqual([...s.devs].sort());
  expect(s.devs.map((d) => mtuOf(s.pod, d))).toEqual([1400, 1400]);
}

/** Synchronize with no pod: every device is back on the host with its MTU restored, no journal, no pin. */
async function expectAllGivenBack(s: Setup, pods: PodDriver, store: ClaimStore): Promise<void> {
  await pods.synchronize([], []);
  expect(store.get(s.claim.uid)?.attachment).toBeUndefined();
  expect(names(s.host)).toEqual([...s.devs, ...s.devs.map((d) => `${d}p`)].sort());
  expect(s.devs.map((d) => mtuOf(s.host, d))).toEqual([1500, 1500]);
  expect(pinFiles(s)).toEqual([]);
}

function restarted(s: Setup): { pods: PodDriver; claims: ClaimDriver; store: ClaimStore } {
  const store = ClaimStore.open(join(s.dir, 'state'));
  const pods = new PodDriver({ store, host: s.host.handle, libc: testLibc, rdmaExclusive: () => false, pins: pinsOf(s) });
  const claims = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'node', store, pods, cdiDir: join(s.dir, 'cdi'), kernel: hostReads(s.host.handle, '/sys'),
    claims: { get: () => Promise.resolve(s.claim) }, inventory: { current: { devices: [] }, hold: () => {}, release: () => {} },
  });
  return { store, pods, claims };
}

const pinsOf = (s: Setup): NetnsPins => new NetnsPins(join(s.dir, 'state', 'netns'), testLibc);
/** Pin files left in the state directory (live or not). */
const pinFiles = (s: Setup): string[] => pinsOf(s).list();

const names = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();
const mtuOf = (ns: TestNetns, dev: string): number => ipJson<{ mtu: number }[]>(ns, 'link', 'show', 'dev', dev)[0]!.mtu;
const nriPod = (s: Setup): { id: string; uid: string; name: string; namespace: string; netns: string } =>
  ({ id: `sandbox-${POD}`, uid: POD, name: 'pod', namespace: 'ns', netns: s.pod.path });

/** The host side of a device as `ip` sees it: up, MTU, global addresses. */
const hostSide = (s: Setup, dev: string): { up: boolean; mtu: number; addrs: string[] } => {
  const [l] = ipJson<{ flags: string[]; mtu: number; addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(s.host, 'addr', 'show', 'dev', dev);
  return { up: l!.flags.includes('UP'), mtu: l!.mtu, addrs: l!.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`) };
};

describe('a driver killed during the early host-down that follows a Prepare (early-down.ts)', { timeout: CHILD_TIMEOUT_MS * 3 }, () => {
  // @1: the first device down, the second still up; @2: both down.
  for (const point of ['prepare.after-early-down@1', 'prepare.after-early-down@2'] as const) {
    it(`killed at ${point}: the kubelet's unprepare restores every device from its snapshot (ED1)`, async () => {
      const s = await setup();
      const before = s.devs.map((d) => hostSide(s, d));
      const k = child('prepared', s, point);
      expect(k.signal, k.stderr).toBe('SIGKILL');
      expect(hostSide(s, s.devs[0]!).up).toBe(false);
      const { claims, store } = restarted(s);
      try {
        const r = await claims.unprepare([{ namespace: 'ns', name: 'c', uid: s.claim.uid }]);
        expect(r.get(s.claim.uid)).toEqual({});
        expect(store.get(s.claim.uid)).toBeUndefined();
        expect(s.devs.map((d) => hostSide(s, d))).toEqual(before);
      } finally {
        store.close();
      }
    });

    it(`killed at ${point}: Synchronize with the pod running attaches every device, and its give-back restores them`, async () => {
      const s = await setup();
      const before = s.devs.map((d) => hostSide(s, d));
      expect(child('prepared', s, point).signal).toBe('SIGKILL');
      const { pods, store } = restarted(s);
      try {
        await pods.synchronize([nriPod(s)], []);
        expect(store.get(s.claim.uid)?.attachment?.state).toBe('attached');
        expect(names(s.pod)).toEqual([...s.devs].sort());
        await pods.stopPodSandbox(nriPod(s));
        expect(s.devs.map((d) => hostSide(s, d))).toEqual(before);
      } finally {
        store.close();
      }
    });
  }
});

describe('a driver killed mid-attach or mid-detach', { timeout: CHILD_TIMEOUT_MS * 3 }, () => {
  // attach.after-answer: RunPodSandbox answered the runtime (the child acknowledged), its `attached` journal not yet written.
  for (const point of ['attach.after-journal', 'attach.after-pin', 'attach.after-device', 'attach.after-answer'] as const) {
    it(`killed at ${point}: Synchronize with the pod running finishes the attach`, async () => {
      const s = await setup();
      const k = child('run', s, point);
      expect(k.signal, k.stderr).toBe('SIGKILL');
      const { pods, store } = restarted(s);
      try {
        await expectFinishedInPod(s, pods, store);
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
        expect(pinFiles(s)).toEqual([]);
      } finally {
        store.close();
      }
    });

    it(`killed at ${point}, and the pod deleted while the driver is dead: the pin holds its namespace, and Synchronize gives every device back`, async () => {
      const s = await setup();
      expect(child('run', s, point).signal).toBe('SIGKILL');
      s.pod.handle.close();
      execFileSync('ip', ['netns', 'delete', s.pod.name]); // the runtime deletes the pod; only the pin (if made) holds it
      const { pods, store } = restarted(s);
      try {
        await expectAllGivenBack(s, pods, store);
      } finally {
        store.close();
      }
    });
  }

  // The early attach (PodDriver.sandboxCreated) runs before the runtime's RunPodSandbox, so before the runtime lists
  // the sandbox: a restart's Synchronize usually does not name the pod yet (containerd adds the sandbox to the list it
  // synchronizes only after the hook), and gives the devices back; the hook that follows attaches them again.
  // (Its `attached` journal is written at once, not after a container gate: no `attach.after-answer` here.)
  for (const point of ['attach.after-journal', 'attach.after-pin', 'attach.after-device'] as const) {
    it(`killed in the early attach at ${point}: Synchronize without the pod gives everything back; RunPodSandbox then attaches`, async () => {
      const s = await setup();
      const k = child('early', s, point);
      expect(k.signal, k.stderr).toBe('SIGKILL');
      const { pods, store } = restarted(s);
      try {
        await expectAllGivenBack(s, pods, store);
        await pods.runPodSandbox(nriPod(s));
        await pods.idle(); // its `attached` journal follows the hook
        expect(names(s.pod)).toEqual([...s.devs].sort());
        expect(store.get(s.claim.uid)?.attachment?.state).toBe('attached');
      } finally {
        pods.close();
        store.close();
      }
    });

    it(`killed in the early attach at ${point}: Synchronize with the sandbox already running finishes the attach`, async () => {
      const s = await setup();
      expect(child('early', s, point).signal).toBe('SIGKILL');
      const { pods, store } = restarted(s);
      try {
        await expectFinishedInPod(s, pods, store);
      } finally {
        pods.close();
        store.close();
      }
    });
  }

  // The gate opened before the `attached` journal was durable: RunPodSandbox answered, the attach ran after it, the
  // pod's CreateContainer answered from the devices in place (the container may be running), then the kill.
  describe('killed after the container gate answered, before the `attached` journal is durable (attach.after-answer)', () => {
    it('the devices are in the pod and the journal says `attaching`; Synchronize with the pod running finishes it', async () => {
      const s = await setup();
      const k = child('gate', s, 'attach.after-answer');
      expect(k.acked, k.stderr).toBe(true);
      expect(k.signal, k.stderr).toBe('SIGKILL');
      expect(names(s.pod)).toEqual([...s.devs].sort()); // what the gate let the container start with
      const { pods, store } = restarted(s);
      try {
        await expectFinishedInPod(s, pods, store);
        expect(pinFiles(s)).toHaveLength(1);
        // And the pod's next container passes the gate on the durable journal.
        expect(await pods.createContainer(nriPod(s), { id: 'c2', name: 'app', podId: nriPod(s).id })).toEqual({});
      } finally {
        pods.close();
        store.close();
      }
    });

    it('the pod gone meanwhile: Synchronize gives everything back to the host, restored', async () => {
      const s = await setup();
      const k = child('gate', s, 'attach.after-answer');
      expect(k.acked && k.signal === 'SIGKILL', k.stderr).toBe(true);
      s.pod.handle.close();
      execFileSync('ip', ['netns', 'delete', s.pod.name]); // only the pin holds the namespace now
      const { pods, store } = restarted(s);
      try {
        await expectAllGivenBack(s, pods, store);
      } finally {
        pods.close();
        store.close();
      }
    });
  });

  // I2 and I4 as a property of the unprepare path: wherever the kubelet's NodeUnprepareResources
  // is killed, a device that is not back on the host and restored still has its record and
  // journal, and the kubelet's retry after the restart converges with no other help.
  const UNPREPARE_KILLS = [
    'detach.after-device@1', 'detach.after-device@2', 'store.before-temp-write', 'store.after-temp-write', 'store.after-fsync',
    'store.after-rename', 'store.after-dir-fsync', 'unprepare.after-cdi-remove', 'store.before-unlink', 'store.after-unlink',
  ];
  for (const point of UNPREPARE_KILLS) {
    it(`unprepare of a claim whose devices are in the pod, killed at ${point}: no device is ever without its record; the retry converges`, async () => {
      const s = await setup();
      expect(child('run', s).acked).toBe(true);
      const k = child('unprepare', s, point);
      expect(k.signal, k.stderr).toBe('SIGKILL');
      const { claims, pods, store } = restarted(s);
      try {
        const record = store.get(s.claim.uid);
        for (const d of s.devs) {
          const restored = names(s.host).includes(d) && mtuOf(s.host, d) === 1500;
          if (!restored) expect(record?.attachment, `${d} is not restored but its journal is gone`).toBeDefined();
        }
        expect((await claims.unprepare([{ namespace: 'ns', name: 'c', uid: s.claim.uid }])).get(s.claim.uid)).toEqual({});
        expect(store.get(s.claim.uid)).toBeUndefined();
        expect(names(s.pod)).toEqual([]);
        expect(s.devs.map((d) => mtuOf(s.host, d))).toEqual([1500, 1500]);
      } finally {
        pods.close();
        store.close();
      }
    });
  }

  it('killed at detach.before-unpin (journal cleared, pin not released): the restart sweeps the pin, and the devices stay restored', async () => {
    const s = await setup();
    expect(child('run', s).acked).toBe(true);
    expect(pinFiles(s)).toHaveLength(1);
    const k = child('stop', s, 'detach.before-unpin');
    expect(k.signal, k.stderr).toBe('SIGKILL');
    const { pods, store } = restarted(s);
    try {
      expect(store.get(s.claim.uid)?.attachment).toBeUndefined();
      expect(pinFiles(s)).toEqual([]);
      expect(names(s.pod)).toEqual([]);
      expect(s.devs.map((d) => mtuOf(s.host, d))).toEqual([1500, 1500]);
    } finally {
      pods.close();
      store.close();
    }
  });

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
