/**
 * Fail-closed against the real kernel (docs/pods.md, invariants I1 and I2):
 * a device's host snapshot and journal stay until the device is back on the
 * host and restored, or proven gone; no container starts with a device of
 * its pod missing; nothing is ever attached to the host's own namespace.
 *
 * Veths in a throwaway "host" namespace play the devices. A veth that plays
 * a NIC (inventory kind `pci`) behaves like one where it matters: when its
 * pod's namespace "dies" (its file is unmounted while the namespace lives
 * on), it stays out of reach until the test returns it to the host, as the
 * kernel returns a NIC, asynchronously.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocatedClaim, claimDriver, deviceOf, hostAndPod, prepareClaim, refOf } from '../../test/kernel/claim-fixture.ts';
import { eventually, ip, ipJson, testLibc, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { ClaimUid } from '../common/ids.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim } from './claim.ts';
import { PodDriver, type PodDriverOptions } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Env {
  host: TestNetns; pod: TestNetns; dir: string; dev: string; store: ClaimStore; problems: string[]; drivers: PodDriver[]; mounts: (() => void)[];
}
let env: Env;

const NET1 = { interface: { name: 'net1', mtu: 1400, hardwareAddr: '02:aa:00:00:15:01', addresses: ['192.168.15.2/24'] } };

beforeEach(() => {
  const { host, pod, dev } = hostAndPod('f', '10.15.0.2/24');
  const dir = mkdtempSync(join(tmpdir(), 'nc-fail-closed-'));
  env = { host, pod, dir, dev, store: ClaimStore.open(join(dir, 'state')), problems: [], drivers: [], mounts: [] };
});

afterEach(() => {
  for (const kill of env.mounts) kill();
  for (const d of env.drivers) d.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

function podDriver(o: Partial<PodDriverOptions> = {}): PodDriver {
  const d = new PodDriver({
    store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false,
    observer: { detachProblems: (_r, p) => env.problems.push(...p) }, ...o,
  });
  env.drivers.push(d);
  return d;
}

let seq = 0;
async function prepare(podUid: string, over: Partial<Device> = {}, parameters: unknown = NET1): Promise<AllocatedClaim> {
  seq += 1;
  return prepareClaim(env, { uid: `fc000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, podUid, devices: [deviceOf(env.host, env.dev, over)], parameters });
}

const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: 'pod', namespace: 'ns', netns });
const names = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();
const linkOf = (ns: TestNetns, name: string): { mtu: number; address: string } => ipJson<{ mtu: number; address: string }[]>(ns, 'link', 'show', 'dev', name)[0]!;
const addrsOf = (ns: TestNetns, name: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', name)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);

/**
 * The pod's namespace under a second path, as the runtime mounts it
 * (`/var/run/netns/cni-…`); `kill()` unmounts and removes that path while
 * the namespace lives on (the test still reaches it by its own name).
 */
function runtimeNetns(ns: TestNetns): { path: string; kill: () => void } {
  const path = join(env.dir, 'netns');
  writeFileSync(path, '');
  execFileSync('mount', ['--bind', ns.path, path]);
  let mounted = true;
  const kill = (): void => {
    if (!mounted) return;
    execFileSync('umount', [path]);
    rmSync(path);
    mounted = false;
  };
  env.mounts.push(kill);
  return { path, kill };
}

describe('unprepare never drops the record of a device still in a pod (I2)', () => {
  it('with a pod driver: the device comes back restored (name, MAC, MTU, addresses) before the record goes', async () => {
    const before = { link: linkOf(env.host, env.dev), addrs: addrsOf(env.host, env.dev) };
    const claim = await prepare('pod-u1');
    const pods = podDriver();
    await pods.runPodSandbox(nriPod('pod-u1', env.pod.path));
    expect(linkOf(env.pod, 'net1')).toMatchObject({ mtu: 1400, address: '02:aa:00:00:15:01' });

    // The kubelet unprepares (a restarted daemon: a fresh ClaimDriver over the same store).
    const r = await claimDriver({ ...env, pods }).unprepare([refOf(claim)]);
    expect(r.get(claim.uid)).toEqual({});
    expect(names(env.pod)).toEqual([]);
    expect(linkOf(env.host, env.dev)).toEqual(expect.objectContaining(before.link));
    expect(addrsOf(env.host, env.dev)).toEqual(before.addrs);
    expect(env.store.get(claim.uid)).toBeUndefined();
  });

  it('after a crash, the kubelet\'s retried unprepare comes before Synchronize: no pod driver yet, so the record stays and the error is retryable', async () => {
    const before = linkOf(env.host, env.dev);
    const claim = await prepare('pod-u2');
    const first = podDriver();
    await first.runPodSandbox(nriPod('pod-u2', env.pod.path));
    await first.idle(); // killed after the `attached` journal was written

    // The restarted daemon registered with the kubelet before its NRI plugin synchronized.
    const early = await claimDriver(env).unprepare([refOf(claim)]);
    expect(early.get(claim.uid)?.error).toMatch(/^UNPREPARE_DEVICES_IN_POD: claim ns\/.* device dev-.* may be in the pod/);
    expect(env.store.get(claim.uid)?.attachment?.state).toBe('attached');
    expect(names(env.pod)).toEqual(['net1']);

    // Synchronize: the pod is gone, its device comes back; then the kubelet's retry succeeds.
    await podDriver().synchronize([], []);
    expect(linkOf(env.host, env.dev)).toEqual(expect.objectContaining(before));
    expect((await claimDriver(env).unprepare([refOf(claim)])).get(claim.uid)).toEqual({});
    expect(env.store.get(claim.uid)).toBeUndefined();
  });
});

describe('a physical device on its way back from a dead pod namespace (I2)', () => {
  it('StopPodSandbox keeps the journal; the device is restored the moment the kernel returns it; unprepare waits for that', async () => {
    const before = { link: linkOf(env.host, env.dev), addrs: addrsOf(env.host, env.dev) };
    const claim = await prepare('pod-p1', { kind: 'pci' });
    const pods = podDriver();
    const rt = runtimeNetns(env.pod);
    await pods.runPodSandbox(nriPod('pod-p1', rt.path));

    rt.kill(); // the runtime removed the namespace first; the kernel has not returned the NIC yet
    await pods.stopPodSandbox(nriPod('pod-p1', rt.path));
    expect(env.store.get(claim.uid)?.attachment).toBeDefined();
    const retry = await claimDriver({ ...env, pods }).unprepare([refOf(claim)]);
    expect(retry.get(claim.uid)?.error).toMatch(/^UNPREPARE_DEVICES_IN_POD: .*is not back on the host yet/);
    expect(env.store.get(claim.uid)?.devices[0]?.host).toBeDefined();

    ip(env.pod, 'link', 'set', 'net1', 'netns', env.host.name); // the kernel returns it, under its pod name
    const back = performance.now();
    await eventually(() => expect(env.store.get(claim.uid)?.attachment).toBeUndefined(), 5000);
    const ms = performance.now() - back;
    expect(ms).toBeLessThan(2000); // polled every 250 ms
    expect(linkOf(env.host, env.dev)).toEqual(expect.objectContaining(before.link));
    expect(addrsOf(env.host, env.dev)).toEqual(before.addrs);
    expect(env.problems).toEqual([]);
    expect((await claimDriver({ ...env, pods }).unprepare([refOf(claim)])).get(claim.uid)).toEqual({});
  });

  it('one that never comes back within the bound is reported once; its journal stays, and a later unprepare restores it when it is back', async () => {
    const claim = await prepare('pod-p2', { kind: 'pci' });
    const pods = podDriver({ returnTimeoutMs: 300, returnPollMs: 50 });
    const rt = runtimeNetns(env.pod);
    await pods.runPodSandbox(nriPod('pod-p2', rt.path));
    rt.kill();
    await pods.stopPodSandbox(nriPod('pod-p2', rt.path));
    await eventually(() => expect(env.problems).toEqual([expect.stringMatching(/^dev-.*: did not come back to the host within 0.3 s after its pod's network namespace died/)]), 3000);
    expect(env.store.get(claim.uid)?.attachment).toBeDefined();

    ip(env.pod, 'link', 'set', 'net1', 'netns', env.host.name);
    expect((await claimDriver({ ...env, pods }).unprepare([refOf(claim)])).get(claim.uid)).toEqual({});
    expect(names(env.host)).toContain(env.dev);
    expect(linkOf(env.host, env.dev).mtu).toBe(1500);
  });

  it('a virtual device is declared gone with its namespace (it died with it), also when the runtime left a plain file behind: the journal clears at once', async () => {
    const claim = await prepare('pod-p3');
    const pods = podDriver();
    await pods.runPodSandbox(nriPod('pod-p3', env.pod.path));
    ip(env.pod, 'link', 'del', 'net1'); // a veth dies with its namespace
    // The runtime unmounted the namespace and left its file: a plain file, no namespace to search.
    const left = join(env.dir, 'netns-left');
    writeFileSync(left, '');
    await pods.stopPodSandbox(nriPod('pod-p3', left));
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.problems.join('\n')).toMatch(/not found in the pod or on the host/);
  });
});

describe('one owner per device (I3)', () => {
  it('a device in another claim\'s pod is refused as that claim\'s (PREPARE_DEVICE_CONFLICT), before anything is read from the host', async () => {
    const device = deviceOf(env.host, env.dev);
    const first = await prepare('pod-o1');
    await podDriver().runPodSandbox(nriPod('pod-o1', env.pod.path));
    // The inventory lists it from its last attributes while it is away.
    const second = allocatedClaim({ uid: 'fc000000-0000-4000-8000-0000000000ff', podUid: 'pod-o2', devices: [{ ...device, netdevPresent: false }] });
    const r = await claimDriver({ ...env, claims: [second], devices: [{ ...device, netdevPresent: false }] }).prepare([refOf(second)]);
    expect(r.get(second.uid)).toEqual({ error: expect.stringMatching(new RegExp(`^PREPARE_DEVICE_CONFLICT: device dev-${env.dev} is already prepared for claim ns/${first.name}`)) });
    expect(env.store.get(second.uid)).toBeUndefined();
  });
});

describe('no container without its devices (I1)', () => {
  it('a stored device with nothing to attach (stored before Prepare refused those) fails RunPodSandbox and CreateContainer', async () => {
    const claim = await prepare('pod-e1');
    const r = env.store.get(claim.uid)!;
    const { host: _h, pod: _p, ...empty } = r.devices[0]!;
    // As netclaim stored it before: an empty plan, journaled `attached` with no devices.
    env.store.put({ ...r, devices: [empty], attachment: { state: 'attached', sandboxId: 'sandbox-pod-e1', netns: env.pod.path, devices: [], at: new Date().toISOString() } });
    const pods = podDriver();
    await expect(pods.createContainer(nriPod('pod-e1', env.pod.path), { id: 'c', name: 'app', podId: 'sandbox-pod-e1' }))
      .rejects.toMatchObject({ code: 'ATTACH_DEVICE_EMPTY', message: expect.stringMatching(/device dev-.* has nothing to attach/) });
    await expect(pods.runPodSandbox(nriPod('pod-e1', env.pod.path))).rejects.toMatchObject({ code: 'ATTACH_DEVICE_EMPTY' });
  });

  it('a journal `attached` that lists none of the claim\'s devices never passes CreateContainer: the device is attached first', async () => {
    const claim = await prepare('pod-e2');
    const r = env.store.get(claim.uid)!;
    env.store.put({ ...r, attachment: { state: 'attached', sandboxId: 'sandbox-pod-e2', netns: env.pod.path, devices: [], at: new Date().toISOString() } });
    expect(await podDriver().createContainer(nriPod('pod-e2', env.pod.path), { id: 'c', name: 'app', podId: 'sandbox-pod-e2' })).toEqual({});
    expect(names(env.pod)).toEqual(['net1']);
    expect(env.store.get(claim.uid)?.attachment?.devices.map((d) => d.name)).toEqual(['net1']);
  });

  it('RunPodSandbox refuses the host\'s own namespace under any path: ATTACH_HOST_NETNS, no journal, nothing moved', async () => {
    const claim = await prepare('pod-h1');
    const alias = join(env.dir, 'hostns');
    symlinkSync(env.host.path, alias);
    const pods = podDriver();
    for (const path of [env.host.path, alias]) {
      await expect(pods.runPodSandbox(nriPod('pod-h1', path))).rejects.toMatchObject({ code: 'ATTACH_HOST_NETNS' });
      await expect(pods.createContainer(nriPod('pod-h1', path), { id: 'c', name: 'app', podId: 'sandbox-pod-h1' })).rejects.toMatchObject({ code: 'ATTACH_HOST_NETNS' });
    }
    expect(env.store.get(claim.uid as ClaimUid)?.attachment).toBeUndefined();
    expect(names(env.host)).toEqual([env.dev, `${env.dev}p`].sort());
    expect(linkOf(env.host, env.dev).mtu).toBe(1500);
  });
});
