/**
 * Namespace pins against the real kernel (docs/pods.md, "Namespace pins";
 * invariants I2 and I4): a pod's namespace is held by a bind mount under the
 * state directory while a device of netclaim's is in it, so a pod deleted
 * while netclaim is down does not take a virtual device with it, and the
 * restarted driver gives the device back, restored, then releases the pin.
 *
 * "Down" is no PodDriver at all; "the runtime deletes the pod" is
 * `ip netns delete` of its /run/netns file with no other reference left
 * (the test's own handle on the namespace is closed first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimDriver, deviceOf, hostAndPod, prepareClaim, refOf } from '../../test/kernel/claim-fixture.ts';
import { createNetns, eventually, ipJson, testLibc, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { isNetnsFile } from '../kernel/netns/netns-pin.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim } from './claim.ts';
import { NetnsPins } from './netns-pins.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Env { host: TestNetns; pod: TestNetns; dir: string; dev: string; store: ClaimStore; pinDir: string; problems: string[]; drivers: PodDriver[] }
let env: Env;

const NET1 = { interface: { name: 'net1', mtu: 1400, hardwareAddr: '02:aa:00:00:16:01', addresses: ['192.168.16.2/24'] } };

beforeEach(() => {
  const { host, pod, dev } = hostAndPod('q', '10.16.0.2/24');
  const dir = mkdtempSync(join(tmpdir(), 'nc-pins-'));
  env = { host, pod, dir, dev, store: ClaimStore.open(join(dir, 'state')), pinDir: join(dir, 'state', 'netns'), problems: [], drivers: [] };
});

afterEach(() => {
  for (const d of env.drivers) d.close();
  env.store.close();
  // Never leave a pin behind: it would keep a test namespace (and the directory) busy.
  for (const f of existsSync(env.pinDir) ? readdirSync(env.pinDir) : []) {
    try {
      execFileSync('umount', ['-l', join(env.pinDir, f)], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
  }
  rmSync(env.dir, { recursive: true, force: true });
});

/** A pod driver over the test store; `pins` false: as netclaim was before pins (or on a host that cannot mount). */
function podDriver(pins = true): PodDriver {
  const d = new PodDriver({
    store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false,
    ...(pins ? { pins: new NetnsPins(env.pinDir, testLibc) } : {}),
    observer: { detachProblems: (_r, p) => env.problems.push(...p) },
  });
  env.drivers.push(d);
  return d;
}

let seq = 0;
async function prepare(podUid: string, over: Partial<Device> = {}): Promise<AllocatedClaim> {
  seq += 1;
  return prepareClaim(env, { uid: `9f000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, podUid, devices: [deviceOf(env.host, env.dev, over)], parameters: NET1 });
}

const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: 'pod', namespace: 'ns', netns });
const names = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();
const linkOf = (ns: TestNetns, name: string): { mtu: number; address: string } => ipJson<{ mtu: number; address: string }[]>(ns, 'link', 'show', 'dev', name)[0]!;
const addrsOf = (ns: TestNetns, name: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', name)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
/** The links inside a namespace reached through a file (a pin), as `ip` sees them there. */
const linksAt = (path: string): string[] =>
  (JSON.parse(execFileSync('nsenter', [`--net=${path}`, 'ip', '-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n !== 'lo');

/** The runtime deletes the pod's namespace: its file goes, and nothing but a pin (if any) holds the namespace any more. */
function deletePodNetns(): void {
  env.pod.handle.close();
  execFileSync('ip', ['netns', 'delete', env.pod.name]);
}

describe('a pod deleted while netclaim is down (namespace pins)', () => {
  it('the pin keeps the namespace and the veth in it alive; the restarted driver gives the veth back restored and releases the pin', async () => {
    const before = { link: linkOf(env.host, env.dev), addrs: addrsOf(env.host, env.dev) };
    const claim = await prepare('pod-q1');
    await podDriver().runPodSandbox(nriPod('pod-q1', env.pod.path));
    const pin = env.store.get(claim.uid)?.attachment?.pin;
    expect(pin).toBe(join(env.pinDir, claim.uid));
    expect(isNetnsFile(pin!)).toBe(true);
    for (const d of env.drivers.splice(0)) d.close(); // netclaim is down

    deletePodNetns(); // the pod is deleted meanwhile
    expect(linksAt(pin!)).toEqual(['net1']); // still there, in the pinned namespace

    // netclaim restarts: the runtime's Synchronize lists no such pod.
    await podDriver().synchronize([], []);
    expect(names(env.host)).toEqual([env.dev, `${env.dev}p`].sort());
    expect(linkOf(env.host, env.dev)).toEqual(expect.objectContaining(before.link));
    expect(addrsOf(env.host, env.dev)).toEqual(before.addrs);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(existsSync(pin!)).toBe(false);
    expect(env.problems).toEqual([]);
  });

  it('without a pin (netclaim before pins, or a host that cannot mount) the veth dies with the namespace', async () => {
    const claim = await prepare('pod-q2');
    await podDriver(false).runPodSandbox(nriPod('pod-q2', env.pod.path));
    expect(env.store.get(claim.uid)?.attachment?.pin).toBeUndefined();
    for (const d of env.drivers.splice(0)) d.close();
    deletePodNetns();
    await podDriver(false).synchronize([], []);
    // Both ends of the pair are gone (the kernel cleans a dead namespace up asynchronously): nothing left to restore
    // (I2 allows it for a virtual device, but the claim lost its device).
    await eventually(() => expect(names(env.host)).toEqual([]));
    expect(env.problems.join('\n')).toMatch(/not found in the pod or on the host/);
  });

  it('a physical device stays in the pinned namespace until the restarted driver moves it back: never returned by the kernel unwatched', async () => {
    const before = linkOf(env.host, env.dev);
    const claim = await prepare('pod-q3', { kind: 'pci' });
    await podDriver().runPodSandbox(nriPod('pod-q3', env.pod.path));
    for (const d of env.drivers.splice(0)) d.close();
    deletePodNetns();
    // The kubelet unprepares the claim of the deleted pod (after the restart's Synchronize would have, or before it).
    const pods = podDriver();
    expect((await claimDriver({ ...env, pods }).unprepare([refOf(claim)])).get(claim.uid)).toEqual({});
    expect(linkOf(env.host, env.dev)).toEqual(expect.objectContaining(before));
    expect(env.store.get(claim.uid)).toBeUndefined();
    expect(readdirSync(env.pinDir)).toEqual([]);
    expect(env.problems).toEqual([]);
  });

  it('StopPodSandbox releases the pin after the device is back; a pin no journal names (a crash after clearing it) is swept at start-up', async () => {
    const claim = await prepare('pod-q4');
    const pods = podDriver();
    await pods.runPodSandbox(nriPod('pod-q4', env.pod.path));
    await pods.stopPodSandbox(nriPod('pod-q4', env.pod.path));
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(readdirSync(env.pinDir)).toEqual([]);

    const orphan = new NetnsPins(env.pinDir, testLibc).pin('0rphan00-0000-4000-8000-000000000000', env.pod.path);
    expect(isNetnsFile(orphan)).toBe(true);
    podDriver();
    expect(existsSync(orphan)).toBe(false);
  });

  it('a sandbox made again for the same pod while the old namespace is still pinned: the device comes back from the old one first, then goes into the new one', async () => {
    const claim = await prepare('pod-q5');
    const pods = podDriver();
    await pods.runPodSandbox(nriPod('pod-q5', env.pod.path));
    const oldPin = env.store.get(claim.uid)!.attachment!.pin!;
    deletePodNetns(); // the old sandbox's namespace lives on in the pin
    const fresh = createNetns('qpod2');
    await pods.runPodSandbox({ ...nriPod('pod-q5', fresh.path), id: 'sandbox-2' });
    await pods.idle();
    expect(names(fresh)).toEqual(['net1']);
    expect(linkOf(fresh, 'net1')).toMatchObject({ mtu: 1400, address: '02:aa:00:00:16:01' });
    expect(env.store.get(claim.uid)?.attachment).toMatchObject({ state: 'attached', netns: fresh.path, pin: oldPin });
    expect(isNetnsFile(oldPin)).toBe(true); // the same path, now pinning the new namespace
    expect(linksAt(oldPin)).toEqual(['net1']);
    await pods.stopPodSandbox({ ...nriPod('pod-q5', fresh.path), id: 'sandbox-2' });
    expect(names(env.host)).toEqual([env.dev, `${env.dev}p`].sort());
    expect(existsSync(oldPin)).toBe(false);
  });
});
