/**
 * Health of devices in pods against the real kernel: a claim's devices are
 * attached into a "pod" namespace by the PodDriver, then their carrier is
 * taken away from the host side — the veth's peer set down, the macvlan's
 * lower device losing its link — and the watch must see it (through the
 * rtnetlink socket it opened in the pod's namespace: the poll period here is
 * a minute, so only the kernel's events can make the test pass in time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceOf, prepareClaim } from '../../test/kernel/claim-fixture.ts';
import { createNetns, deleteNetns, eventually, ip, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { runStatus } from '../surfaces/cli/status.ts';
import { PodDriver } from './pod-driver.ts';
import { PodHealthWatch } from './pod-health.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Env {
  host: TestNetns;
  pod: TestNetns;
  dir: string;
  store: ClaimStore;
  pods: PodDriver;
  watch: PodHealthWatch;
  changes: number;
}
let env: Env;

const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: 'pod', namespace: 'ns', netns });

beforeEach(() => {
  const host = createNetns('hhost');
  const pod = createNetns('hpod');
  const dir = mkdtempSync(join(tmpdir(), 'nc-pod-health-'));
  const store = ClaimStore.open(join(dir, 'state'));
  const pods = new PodDriver({ store, host: host.handle, libc: testLibc, rdmaExclusive: () => false });
  // A minute between polls: what the test sees within seconds came from kernel events.
  const watch = new PodHealthWatch({ store, host: host.handle, libc: testLibc, rdmaExclusive: () => false, pollMs: 60_000 });
  env = { host, pod, dir, store, pods, watch, changes: 0 };
  watch.onChange(() => { env.changes += 1; });
});

afterEach(() => {
  env.watch.close();
  env.pods.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

let seq = 0;
async function attach(podUid: string, ifName: string): Promise<string> {
  return (await attachNamed(podUid, ifName)).device;
}

/** Prepares a claim of `ifName` for `podUid`, attaches it into the pod and starts watching; the device and its name in the pod. */
async function attachNamed(podUid: string, ifName: string): Promise<{ device: string; name: string }> {
  seq += 1;
  const uid = `91d00000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
  await prepareClaim(env, { uid, name: `c${seq}`, podUid, devices: [deviceOf(env.host, ifName)] });
  await env.pods.runPodSandbox(nriPod(podUid, env.pod.path));
  await env.pods.idle(); // the `attached` journal follows the hook's answer
  env.watch.sync();
  const r = env.store.get(uid)!;
  return { device: r.devices[0]!.device, name: r.attachment!.devices[0]!.name };
}

describe('PodHealthWatch', () => {
  it('a veth in a pod: unhealthy when its host-side peer goes down, healthy again when it comes back, forgotten once given back', async () => {
    const dev = uniqueName('hv');
    ip(env.host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
    ip(env.host, 'link', 'set', `${dev}p`, 'up');
    const { device, name } = await attachNamed('pod-v', dev);
    await eventually(() => expect(env.watch.get(device)).toEqual({ health: 'healthy' }), 5_000);

    ip(env.host, 'link', 'set', `${dev}p`, 'down');
    const down = await eventually(() => {
      const h = env.watch.get(device);
      expect(h?.health).toBe('unhealthy');
      return h!;
    }, 5_000);
    expect(down.message).toMatch(/no carrier \(operstate (lowerlayerdown|down)\)/);

    ip(env.host, 'link', 'set', `${dev}p`, 'up');
    await eventually(() => expect(env.watch.get(device)).toEqual({ health: 'healthy' }), 5_000);
    expect(env.changes).toBeGreaterThanOrEqual(3);

    // The workload sets its interface down: the carrier cannot be read, so the verdict is unknown, not unhealthy.
    ip(env.pod, 'link', 'set', 'dev', name, 'down');
    await eventually(() => expect(env.watch.get(device)?.health).toBe('unknown'), 5_000);

    await env.pods.stopPodSandbox(nriPod('pod-v', env.pod.path));
    env.watch.sync();
    expect(env.watch.get(device)).toBeUndefined();
  });

  it('a macvlan in a pod: unhealthy when its lower device on the host loses its link', async () => {
    const lower = uniqueName('hl');
    const mv = uniqueName('hm');
    ip(env.host, 'link', 'add', lower, 'type', 'veth', 'peer', 'name', `${lower}p`);
    ip(env.host, 'link', 'set', `${lower}p`, 'up');
    ip(env.host, 'link', 'set', lower, 'up');
    ip(env.host, 'link', 'add', mv, 'link', lower, 'type', 'macvlan', 'mode', 'bridge');
    const device = await attach('pod-m', mv);
    await eventually(() => expect(env.watch.get(device)).toEqual({ health: 'healthy' }), 5_000);

    ip(env.host, 'link', 'set', `${lower}p`, 'down'); // the lower veth loses its carrier, the macvlan follows
    await eventually(() => expect(env.watch.get(device)).toMatchObject({ health: 'unhealthy', message: expect.stringMatching(/no carrier/) }), 5_000);
    ip(env.host, 'link', 'set', `${lower}p`, 'up');
    await eventually(() => expect(env.watch.get(device)).toEqual({ health: 'healthy' }), 5_000);
    await env.pods.stopPodSandbox(nriPod('pod-m', env.pod.path));
  });

  it('`netclaim status` reads the same through the pod\'s namespace, from the state directory, without the daemon', async () => {
    const dev = uniqueName('hs');
    ip(env.host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
    ip(env.host, 'link', 'set', `${dev}p`, 'up');
    const { device, name } = await attachNamed('pod-s', dev);
    const status = async (): Promise<Array<Record<string, string>>> => {
      const out: string[] = [];
      const err: string[] = [];
      expect(await runStatus(['--json', '--state-dir', join(env.dir, 'state'), '--netns', env.host.path], (l) => out.push(l), (l) => err.push(l)), err.join('\n')).toBe(0);
      return (JSON.parse(out.join('\n')) as { devices: Array<Record<string, string>> }).devices;
    };
    /** The device's row once its health is `health` (operstate follows the peer asynchronously, through linkwatch). */
    const rowWhen = async (health: string): Promise<Record<string, string> | undefined> => {
      let row: Record<string, string> | undefined;
      for (let i = 0; i < 100 && row?.['health'] !== health; i++) {
        row = (await status()).find((d) => d['device'] === device);
        if (row?.['health'] !== health) await new Promise((r) => setTimeout(r, 100));
      }
      return row;
    };
    expect(await rowWhen('healthy')).toMatchObject({ state: 'in-pod', interface: name, pod: 'ns/pod', claimUid: expect.any(String), health: 'healthy' });
    ip(env.host, 'link', 'set', `${dev}p`, 'down');
    expect(await rowWhen('unhealthy')).toMatchObject({ health: 'unhealthy', problem: expect.stringMatching(/no carrier/) });
    await env.pods.stopPodSandbox(nriPod('pod-s', env.pod.path));
  });

  it('never keeps an unpinned pod namespace alive: once the runtime removed it, the watch lets go and the namespace dies', async () => {
    const dev = uniqueName('hn');
    ip(env.host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
    ip(env.host, 'link', 'set', `${dev}p`, 'up');
    const device = await attach('pod-n', dev);
    await eventually(() => expect(env.watch.get(device)?.health).toBe('healthy'), 5_000);
    deleteNetns(env.pod); // the runtime's mount goes, and the test's own handle
    env.watch.sync();
    expect(env.watch.get(device)).toMatchObject({ health: 'unknown', message: expect.stringMatching(/cannot be read/) });
    // Nothing holds the namespace now: it dies, and the veth end in it with its host-side peer.
    await eventually(() => expect(() => ip(env.host, 'link', 'show', `${dev}p`)).toThrow(), 5_000);
  });

  it('a flapping link: unhealthy while its carrier changes pile up in the window, healthy once the window is quiet (counters read in the pod)', async () => {
    env.watch.close();
    // Polled every 100 ms, counters every tick; a 3 s window (the default is 60 s).
    env.watch = new PodHealthWatch({
      store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, pollMs: 100, counterMs: 0,
      counterRule: { windowMs: 3_000, errors: 10, carrierChanges: 6 },
    });
    const dev = uniqueName('hf');
    ip(env.host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
    ip(env.host, 'link', 'set', `${dev}p`, 'up');
    const { device, name } = await attachNamed('pod-f', dev);
    await eventually(() => expect(env.watch.get(device)).toEqual({ health: 'healthy' }), 5_000);
    const base = env.watch.counters().get(device)?.get('carrier_changes');
    expect(base).toEqual(expect.any(Number));
    for (let i = 0; i < 3; i++) {
      ip(env.host, 'link', 'set', `${dev}p`, 'down');
      ip(env.host, 'link', 'set', `${dev}p`, 'up');
    }
    const flapping = await eventually(() => {
      const h = env.watch.get(device);
      expect(h?.message).toMatch(new RegExp(`^${name}: carrier_changes \\+\\d+ in the last 3 s$`));
      return h!;
    }, 5_000);
    expect(flapping.health).toBe('unhealthy');
    expect(env.watch.counters().get(device)?.get('carrier_changes')).toBe(base! + 6);
    await eventually(() => expect(env.watch.get(device)).toEqual({ health: 'healthy' }), 10_000);
    await env.pods.stopPodSandbox(nriPod('pod-f', env.pod.path));
    env.watch.sync();
    expect(env.watch.counters().get(device)).toBeUndefined(); // given back: its history is gone
  });

  it('a device gone from the pod\'s namespace is unhealthy (RTM_DELLINK in its namespace)', async () => {
    const dev = uniqueName('hg');
    ip(env.host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
    ip(env.host, 'link', 'set', `${dev}p`, 'up');
    const device = await attach('pod-g', dev);
    await eventually(() => expect(env.watch.get(device)?.health).toBe('healthy'), 5_000);
    ip(env.host, 'link', 'del', `${dev}p`); // deleting a veth end deletes its peer in the pod
    await eventually(() => expect(env.watch.get(device)).toMatchObject({ health: 'unhealthy', message: expect.stringMatching(/not in the pod's network namespace/) }), 5_000);
    await env.pods.stopPodSandbox(nriPod('pod-g', env.pod.path));
    env.watch.sync();
  });
});
