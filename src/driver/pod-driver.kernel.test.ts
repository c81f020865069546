/**
 * PodDriver against the real kernel: claims prepared by ClaimDriver (veth
 * devices in a "host" netns), then the NRI hooks as the runtime would call
 * them with a "pod" netns. The attach engine's own step-by-step tests are in
 * attach/; these check the pod-level rules: all or nothing per pod, the
 * journal, fail-closed CreateContainer, restore on stop, Synchronize.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceOf, prepareClaim } from '../../test/kernel/claim-fixture.ts';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim } from './claim.ts';
import type { AttachedDevice, ClaimRecord } from './record-model.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';
import { FileLock } from '../surfaces/kubelet/file-lock.ts';

interface Env {
  host: TestNetns;
  pod: TestNetns;
  dir: string;
  devs: string[];
  store: ClaimStore;
  status: { record: ClaimRecord; devices: readonly AttachedDevice[] }[];
  problems: string[];
  unreconciled: string[];
  faultAt?: string | undefined;
  pods: PodDriver;
}
let env: Env;

const links = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();
const hostLink = (ns: TestNetns, name: string): { mtu: number; address: string; operstate: string } =>
  ipJson<{ mtu: number; address: string; operstate: string }[]>(ns, 'link', 'show', 'dev', name)[0]!;
const addrs = (ns: TestNetns, name: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', name)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();

let seq = 0;
/** Prepares a claim of `devices` (interfaces of the host) for `podUid`, as the kubelet's NodePrepareResources would. */
async function prepare(podUid: string, devices: readonly string[], parameters?: unknown, over: Partial<Device> = {}): Promise<AllocatedClaim> {
  seq += 1;
  const uid = `90d00000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
  return prepareClaim(env, { uid, name: `c${seq}`, podUid, devices: devices.map((d) => deviceOf(env.host, d, over)), parameters });
}

const nriPod = (uid: string, netns?: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: 'pod', namespace: 'ns', ...(netns === undefined ? {} : { netns }) });

beforeEach(() => {
  const host = createNetns('phost');
  const pod = createNetns('ppod');
  const devs = [uniqueName('pd'), uniqueName('pd')];
  for (const [i, d] of devs.entries()) {
    ip(host, 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
    ip(host, 'addr', 'add', `10.80.${i}.2/24`, 'dev', d);
    ip(host, 'link', 'set', d, 'up');
  }
  const dir = mkdtempSync(join(tmpdir(), 'nc-pod-driver-'));
  const store = ClaimStore.open(join(dir, 'state'));
  const partial = { host, pod, dir, devs, store, status: [], problems: [], unreconciled: [] } as unknown as Env;
  partial.pods = new PodDriver({
    store, host: host.handle, libc: testLibc, rdmaExclusive: () => false,
    status: { devicesReady: (record, devices) => partial.status.push({ record, devices }), devicesNotReady: () => {} },
    observer: {
      detachProblems: (_r, p) => partial.problems.push(...p),
      unreconciled: (r, err) => partial.unreconciled.push(`${r.claim.name}: ${err instanceof Error ? err.message : String(err)}`),
    },
    fault: (step) => { if (partial.faultAt === step) throw new Error(`injected fault at ${step}`); },
  });
  env = partial;
});

afterEach(() => {
  env.pods.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

/** A PodDriver attaching after RunPodSandbox's answer, failing where `fault` says, recording the hooks that failed. */
function faultyAfterAnswer(): { pods: PodDriver; errors: string[]; fault: (at: (step: string) => boolean) => void } {
  let failsAt: (step: string) => boolean = () => false;
  const errors: string[] = [];
  const pods = new PodDriver({
    store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true,
    fault: (step) => { if (failsAt(step)) throw new Error(`injected fault at ${step}`); },
    observer: { hook: (hook, _pod, _ms, err) => { if (err !== undefined) errors.push(`${hook}: ${err instanceof Error ? err.message : String(err)}`); } },
  });
  return { pods, errors, fault: (at) => { failsAt = at; } };
}

describe('PodDriver', () => {
  it('RunPodSandbox attaches the pod\'s devices, journals them and reports status; StopPodSandbox gives them back restored', async () => {
    const before = { link: hostLink(env.host, env.devs[0]!), addrs: addrs(env.host, env.devs[0]!) };
    const claim = await prepare('pod-a', [env.devs[0]!], { interface: { name: 'net1', mtu: 1400, addresses: ['192.168.9.2/24'] } });
    await env.pods.runPodSandbox(nriPod('pod-a', env.pod.path));
    await env.pods.idle(); // the `attached` journal and the status follow the hook's answer
    expect(links(env.pod)).toEqual(['net1']);
    expect(addrs(env.pod, 'net1')).toEqual(['192.168.9.2/24']);
    expect(env.store.get(claim.uid)?.attachment).toMatchObject({ state: 'attached', netns: env.pod.path, devices: [{ name: 'net1', ips: ['192.168.9.2/24'] }] });
    expect(env.status.map((s) => s.devices.map((d) => d.name))).toEqual([['net1']]);

    // Repeated (a sandbox retry): converges, nothing changes.
    await env.pods.runPodSandbox(nriPod('pod-a', env.pod.path));
    expect(links(env.pod)).toEqual(['net1']);

    await env.pods.stopPodSandbox(nriPod('pod-a', env.pod.path));
    expect(links(env.pod)).toEqual([]);
    expect(hostLink(env.host, env.devs[0]!)).toMatchObject({ mtu: before.link.mtu, address: before.link.address });
    expect(addrs(env.host, env.devs[0]!)).toEqual(before.addrs);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.problems).toEqual([]);
  });

  it('RunPodSandbox answers before its `attached` journal is written (off the sandbox path); CreateContainer answers before it too, from the devices in place, and it follows the answer; a restart states the status again', async () => {
    const claim = await prepare('pod-j', [env.devs[0]!], { interface: { name: 'net1' } });
    await env.pods.runPodSandbox(nriPod('pod-j', env.pod.path));
    // Answered: the device is in the pod, the journal still `attaching` (durable since before the move), no status yet.
    expect(links(env.pod)).toEqual(['net1']);
    expect(env.store.get(claim.uid)?.attachment?.state).toBe('attaching');
    expect(env.status).toEqual([]);
    // CreateContainer, the gate, checks the devices the attach put in place (in the kernel) and answers before the write.
    expect(await env.pods.createContainer(nriPod('pod-j', env.pod.path), { id: 'c1', name: 'app', podId: 'sandbox-pod-j' })).toEqual({});
    expect(env.store.get(claim.uid)?.attachment?.state).toBe('attaching');
    expect(env.status).toEqual([]);
    // Written right after the answer, with the claim status.
    await env.pods.idle();
    expect(env.store.get(claim.uid)?.attachment?.state).toBe('attached');
    expect(env.status.map((s) => s.devices.map((d) => d.name))).toEqual([['net1']]);
    // Synchronize (a restart, a reconnect) states the status of an attached claim again: a crash may have lost the write.
    await env.pods.synchronize([nriPod('pod-j', env.pod.path)], []);
    expect(env.status.map((s) => s.devices.map((d) => d.name))).toEqual([['net1'], ['net1']]);
    await env.pods.stopPodSandbox(nriPod('pod-j', env.pod.path));
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
  });

  it('a StopPodSandbox right after the gate answered (the `attached` journal still pending) writes it first, then gives every device back', async () => {
    const claim = await prepare('pod-p', [env.devs[0]!], { interface: { name: 'net1' } });
    await env.pods.runPodSandbox(nriPod('pod-p', env.pod.path));
    expect(await env.pods.createContainer(nriPod('pod-p', env.pod.path), { id: 'c1', name: 'app', podId: 'sandbox-pod-p' })).toEqual({});
    expect(env.store.get(claim.uid)?.attachment?.state).toBe('attaching');
    await env.pods.stopPodSandbox(nriPod('pod-p', env.pod.path));
    expect(links(env.pod)).toEqual([]);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.status.map((s) => s.devices.map((d) => d.name))).toEqual([['net1']]); // the pending journal's status, written before the stop
    expect(env.problems).toEqual([]);
  });

  it('an unprepare that comes while an attach lets the event loop run (between its devices) leaves the claim to the attach: not returned, retried', async () => {
    const seen: string[] = [];
    let uid = '';
    const pods = new PodDriver({
      store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true,
      // Called before each device's attach, inside the job: what an unprepare arriving between two devices would meet.
      fault: () => { seen.push(...pods.returnDevices(uid).map((d) => `${d.device} ${d.reason}`)); },
    });
    try {
      const claim = await prepare('pod-u', [env.devs[0]!, env.devs[1]!]);
      uid = claim.uid;
      await pods.runPodSandbox(nriPod('pod-u', env.pod.path));
      expect(await pods.createContainer(nriPod('pod-u', env.pod.path), { id: 'c1', name: 'app', podId: 'sandbox-pod-u' })).toEqual({});
      expect(seen).toHaveLength(4); // two devices asked about, twice
      expect(seen.every((x) => x.includes('is being attached to its pod right now'))).toBe(true);
      expect(links(env.pod)).toEqual(env.devs.slice().sort());
      await pods.idle();
      expect(env.store.get(claim.uid)?.attachment?.state).toBe('attached');
      // Once the attach is done, the same call gives them back.
      expect(pods.returnDevices(uid)).toEqual([]);
      expect(links(env.pod)).toEqual([]);
      expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    } finally {
      pods.close();
    }
  });

  it('attachAfterAnswer: RunPodSandbox answers first, CreateContainer waits for the attach; a failed attach fails the container, not the sandbox, and leaves nothing behind', async () => {
    const { pods, errors, fault } = faultyAfterAnswer();
    let faultAt: string | undefined;
    fault((step) => step === faultAt);
    try {
      const claim = await prepare('pod-k', [env.devs[0]!, env.devs[1]!]);
      const second = env.store.get(claim.uid)!.devices[1]!.device;
      faultAt = `attach:${second}`;
      await pods.runPodSandbox(nriPod('pod-k', env.pod.path)); // answered before the attach
      // The fault strikes in the queued attach; CreateContainer, queued behind it, attaches again, fails the same way, and fails the container.
      await expect(pods.createContainer(nriPod('pod-k', env.pod.path), { id: 'c1', name: 'app', podId: 'sandbox-pod-k' })).rejects.toThrow(/injected fault/);
      expect(errors).toEqual([expect.stringMatching(/^run: .*injected fault/), expect.stringMatching(/^create: .*injected fault/)]);
      expect(links(env.pod)).toEqual([]);
      expect(links(env.host)).toEqual([...env.devs, ...env.devs.map((d) => `${d}p`)].sort());
      expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
      // The kubelet retries the container: now it goes, with both devices in place.
      faultAt = undefined;
      await pods.runPodSandbox(nriPod('pod-k', env.pod.path));
      expect(links(env.pod)).toEqual([]); // answered before the attach began (it starts on the next turn of the event loop)
      expect(await pods.createContainer(nriPod('pod-k', env.pod.path), { id: 'c2', name: 'app', podId: 'sandbox-pod-k' })).toEqual({});
      expect(links(env.pod)).toEqual(env.devs.slice().sort());
      await pods.idle(); // the `attached` journal follows the gate's answer
      expect(env.store.get(claim.uid)?.attachment?.state).toBe('attached');
      await pods.stopPodSandbox(nriPod('pod-k', env.pod.path));
      expect(links(env.pod)).toEqual([]);
    } finally {
      pods.close();
    }
  });

  it('a stale sandbox\'s StopPodSandbox and RemovePodSandbox leave the devices in the pod\'s newer sandbox (the kubelet made a new one; its GC removes the old later)', async () => {
    const claim = await prepare('pod-s', [env.devs[0]!], { interface: { name: 'net1' } });
    const first: NriPod = { ...nriPod('pod-s', env.pod.path), id: 'sandbox-1' };
    await env.pods.runPodSandbox(first);
    expect(links(env.pod)).toEqual(['net1']);
    // The kubelet recreates the sandbox (the old one broke, e.g. containerd restarted under its RunPodSandbox).
    const pod2 = createNetns('ppod2');
    const second: NriPod = { ...nriPod('pod-s', pod2.path), id: 'sandbox-2' };
    await env.pods.runPodSandbox(second);
    expect(links(env.pod)).toEqual([]);
    expect(links(pod2)).toEqual(['net1']);
    // The old sandbox's stop and removal come after: not the sandbox the devices are in.
    await env.pods.stopPodSandbox(first);
    await env.pods.removePodSandbox(first);
    expect(links(pod2)).toEqual(['net1']);
    expect(env.store.get(claim.uid)?.attachment).toMatchObject({ state: 'attached', sandboxId: 'sandbox-2', netns: pod2.path });
    expect(await env.pods.createContainer(second, { id: 'c1', name: 'app', podId: 'sandbox-2' })).toEqual({});
    await env.pods.stopPodSandbox(second);
    expect(links(pod2)).toEqual([]);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.problems).toEqual([]);
  });

  it('all or nothing per pod: a failure on the second device rolls back the first and fails the sandbox', async () => {
    const claim = await prepare('pod-b', [env.devs[0]!, env.devs[1]!]);
    const second = env.store.get(claim.uid)!.devices[1]!.device;
    env.faultAt = `attach:${second}`;
    await expect(env.pods.runPodSandbox(nriPod('pod-b', env.pod.path))).rejects.toThrow(/injected fault/);
    expect(links(env.pod)).toEqual([]);
    expect(links(env.host)).toEqual([...env.devs, ...env.devs.map((d) => `${d}p`)].sort());
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    env.faultAt = undefined;
    await env.pods.runPodSandbox(nriPod('pod-b', env.pod.path));
    expect(links(env.pod)).toEqual(env.devs.slice().sort());
  });

  it('CreateContainer is fail-closed: it attaches when RunPodSandbox was missed, and fails the container when it cannot', async () => {
    await prepare('pod-c', [env.devs[0]!]);
    expect(await env.pods.createContainer(nriPod('pod-c', env.pod.path), { id: 'c1', name: 'app', podId: 'sandbox-pod-c' })).toEqual({});
    expect(links(env.pod)).toEqual([env.devs[0]]);
    await prepare('pod-d', [env.devs[1]!]);
    await expect(env.pods.createContainer(nriPod('pod-d'), { id: 'c2', name: 'app', podId: 'sandbox-pod-d' })).rejects.toThrow(/no network namespace/);
    // A pod without netclaim claims is none of our business.
    expect(await env.pods.createContainer(nriPod('other', env.pod.path), { id: 'c3', name: 'app', podId: 'x' })).toEqual({});
  });

  it('Synchronize gives back the devices of pods that are gone and re-attaches running pods that lack them', async () => {
    const a = await prepare('pod-e', [env.devs[0]!]);
    await env.pods.runPodSandbox(nriPod('pod-e', env.pod.path));
    const b = await prepare('pod-f', [env.devs[1]!]);
    const pod2 = createNetns('ppod2');
    // pod-e is gone while the driver was away; pod-f runs but its sandbox hook was missed.
    await env.pods.synchronize([nriPod('pod-f', pod2.path)], []);
    expect(env.store.get(a.uid)?.attachment).toBeUndefined();
    expect(links(env.pod)).toEqual([]);
    expect(links(env.host)).toContain(env.devs[0]);
    expect(env.store.get(b.uid)?.attachment?.state).toBe('attached');
    expect(links(pod2)).toEqual([env.devs[1]]);
  });

  it('Synchronize reports a running pod whose device cannot be attached (it is gone from the host)', async () => {
    const c = await prepare('pod-h', [env.devs[1]!]);
    ip(env.host, 'link', 'del', env.devs[1]!);
    await env.pods.synchronize([nriPod('pod-h', env.pod.path)], []);
    expect(env.unreconciled).toEqual([expect.stringMatching(new RegExp(`^${c.name}: .*find`))]);
    expect(env.store.get(c.uid)?.attachment).toBeUndefined();
  });

  it('two instances sharing the store (rolling update): concurrent hooks for one pod run one after the other and converge', async () => {
    const lockPath = join(env.dir, 'serialize.lock');
    const locks = [FileLock.open(lockPath, testLibc), FileLock.open(lockPath, testLibc)];
    const stores = [ClaimStore.open(join(env.dir, 'state'), { shared: true }), ClaimStore.open(join(env.dir, 'state'), { shared: true })];
    try {
      const c = await prepare('pod-s', [env.devs[0]!, env.devs[1]!]); // written through env.store, unknown to the two until they refresh
      const [a, b] = stores.map((store, i) => new PodDriver({
        store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false,
        shared: { lock: () => locks[i]!.lock(), unlock: () => locks[i]!.unlock() },
      }));
      await Promise.all([a!.runPodSandbox(nriPod('pod-s', env.pod.path)), b!.runPodSandbox(nriPod('pod-s', env.pod.path))]);
      await Promise.all([a!.idle(), b!.idle()]);
      expect(links(env.pod)).toEqual([...env.devs].sort());
      stores[0]!.refresh();
      expect(stores[0]!.get(c.uid)?.attachment?.state).toBe('attached');
      await Promise.all([a!.stopPodSandbox(nriPod('pod-s', env.pod.path)), b!.stopPodSandbox(nriPod('pod-s', env.pod.path))]);
      expect(links(env.pod)).toEqual([]);
      expect(links(env.host)).toEqual([...env.devs, ...env.devs.map((d) => `${d}p`)].sort());
      stores[1]!.refresh();
      expect(stores[1]!.get(c.uid)?.attachment).toBeUndefined();
    } finally {
      for (const s of stores) s.close();
      for (const l of locks) l.close();
    }
  });

  describe('the gate at StartContainer (a runtime that fails a start the plugin fails: containerd 2.x)', () => {
    const startGate = { startGate: true } as const;

    it('CreateContainer answers at once, before the attach has begun; StartContainer is the gate and finds every device in place', async () => {
      const hooks: string[] = [];
      const pods = new PodDriver({
        store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true,
        observer: { hook: (hook, _pod, _ms, err) => hooks.push(`${hook}${err === undefined ? '' : ' failed'}`) },
      });
      try {
        const claim = await prepare('pod-st', [env.devs[0]!, env.devs[1]!], { interface: { mtu: 1400 } });
        const pod = nriPod('pod-st', env.pod.path);
        await pods.runPodSandbox(pod);
        expect(await pods.createContainer(pod, { id: 'c1', name: 'app', podId: pod.id }, startGate)).toEqual({});
        expect(links(env.pod)).toEqual([]); // answered while the attach had not started: nothing of the container runs yet
        await pods.startContainer(pod, { id: 'c1', name: 'app', podId: pod.id });
        expect(links(env.pod)).toEqual(env.devs.slice().sort());
        await pods.idle();
        expect(env.store.get(claim.uid)?.attachment?.state).toBe('attached');
        expect(hooks).toEqual(['create', 'run', 'start']);
        await pods.stopPodSandbox(pod);
        expect(links(env.pod)).toEqual([]);
      } finally {
        pods.close();
      }
    });

    it('fail-closed: an attach that fails (in the background, then again in the gate) fails the start; nothing is left in the pod; the retried start goes', async () => {
      const { pods, errors, fault } = faultyAfterAnswer();
      let faultAt: string | undefined;
      fault((step) => step === faultAt);
      try {
        const claim = await prepare('pod-sf', [env.devs[0]!, env.devs[1]!]);
        faultAt = `attach:${env.store.get(claim.uid)!.devices[1]!.device}`;
        const pod = nriPod('pod-sf', env.pod.path);
        await pods.runPodSandbox(pod);
        expect(await pods.createContainer(pod, { id: 'c1', name: 'app', podId: pod.id }, startGate)).toEqual({});
        await expect(pods.startContainer(pod, { id: 'c1', name: 'app', podId: pod.id })).rejects.toThrow(/injected fault/);
        expect(errors).toEqual([expect.stringMatching(/^run: .*injected fault/), expect.stringMatching(/^start: .*injected fault/)]);
        expect(links(env.pod)).toEqual([]);
        expect(links(env.host)).toEqual([...env.devs, ...env.devs.map((d) => `${d}p`)].sort());
        expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
        // A device taken out of the pod after the attach (by anyone): the next start is refused too, naming it.
        faultAt = undefined;
        await pods.startContainer(pod, { id: 'c2', name: 'app', podId: pod.id });
        expect(links(env.pod)).toEqual(env.devs.slice().sort());
        await pods.idle();
        ip(env.pod, 'link', 'set', env.devs[0]!, 'netns', env.host.name);
        faultAt = `attach:${env.store.get(claim.uid)!.devices[0]!.device}`;
        await expect(pods.startContainer(pod, { id: 'c3', name: 'app', podId: pod.id })).rejects.toThrow(/injected fault/);
        await pods.stopPodSandbox(pod);
      } finally {
        pods.close();
      }
    });

    it('the attach after RunPodSandbox waits for the pod\'s CreateContainer (answered first), or a little while when none comes', async () => {
      const pods = new PodDriver({ store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true });
      try {
        await prepare('pod-w1', [env.devs[0]!]);
        await prepare('pod-w2', [env.devs[1]!]);
        const [p1, p2] = [nriPod('pod-w1', env.pod.path), nriPod('pod-w2', env.pod.path)];
        await pods.runPodSandbox(p1, startGate);
        expect(await pods.createContainer(p1, { id: 'c1', name: 'app', podId: p1.id }, startGate)).toEqual({});
        expect(links(env.pod)).toEqual([]); // the answer went first
        await pods.startContainer(p1, { id: 'c1', name: 'app', podId: p1.id });
        expect(links(env.pod)).toEqual([env.devs[0]!]);
        // No CreateContainer for this one (the runtime failed the container before it): the attach goes ahead all the same.
        await pods.runPodSandbox(p2, startGate);
        await pods.idle();
        expect(links(env.pod)).toEqual(env.devs.slice().sort());
        for (const p of [p1, p2]) await pods.stopPodSandbox(p);
        expect(links(env.pod)).toEqual([]);
      } finally {
        pods.close();
      }
    });

    it('in a rolling update (a store shared with another instance): the claim the other instance prepared is read without the lock; CreateContainer answers at once, StartContainer gates under the lock', async () => {
      const lock = FileLock.open(join(env.dir, 'serialize.lock'), testLibc);
      const store = ClaimStore.open(join(env.dir, 'state'), { shared: true });
      const hooks: string[] = [];
      const pods = new PodDriver({
        store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true,
        shared: { lock: () => lock.lock(), unlock: () => lock.unlock() },
        observer: { hook: (hook, _pod, _ms, _err, steps) => hooks.push(`${hook} ${Object.keys(steps ?? {}).sort().join(',')}`) },
      });
      try {
        const c = await prepare('pod-sr', [env.devs[0]!]); // written through env.store: this instance has not read it
        const pod = nriPod('pod-sr', env.pod.path);
        expect(await pods.createContainer(pod, { id: 'c1', name: 'app', podId: pod.id }, startGate)).toEqual({});
        expect(hooks).toEqual(['create toStart']); // the claim was seen (a pod not ours has no step), and nothing waited
        await pods.startContainer(pod, { id: 'c1', name: 'app', podId: pod.id }); // RunPodSandbox was missed: the gate attaches
        expect(links(env.pod)).toEqual([env.devs[0]!]);
        expect(hooks[1]).toMatch(/^start .*lock.*refresh/);
        await pods.idle();
        env.store.refresh();
        expect(env.store.get(c.uid)?.attachment?.state).toBe('attached');
        await pods.stopPodSandbox(pod);
        expect(links(env.pod)).toEqual([]);
      } finally {
        pods.close();
        store.close();
        lock.close();
      }
    });

    it('a container of a pod without netclaim claims is answered at once at both hooks, even while another pod\'s attach is queued', async () => {
      const pods = new PodDriver({ store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true });
      try {
        await prepare('pod-q', [env.devs[0]!]);
        await pods.runPodSandbox(nriPod('pod-q', env.pod.path)); // its attach is queued for the next turn
        const other = nriPod('pod-other', '/proc/self/ns/net');
        expect(await pods.createContainer(other, { id: 'o1', name: 'app', podId: other.id })).toEqual({});
        await pods.startContainer(other, { id: 'o1', name: 'app', podId: other.id });
        expect(links(env.pod)).toEqual([]); // both answered before that attach ran
        await pods.idle();
        expect(links(env.pod)).toEqual([env.devs[0]!]);
        await pods.stopPodSandbox(nriPod('pod-q', env.pod.path));
      } finally {
        pods.close();
      }
    });
  });

  it('StopPodSandbox after the runtime deleted the netns: the veth died with it; reported, never thrown', async () => {
    await prepare('pod-g', [env.devs[0]!]);
    const pod = createNetns('ppod3');
    await env.pods.runPodSandbox(nriPod('pod-g', pod.path));
    ip(pod, 'link', 'del', env.devs[0]!); // as if the netns died and took the veth with it
    await expect(env.pods.stopPodSandbox(nriPod('pod-g'))).resolves.toBeUndefined();
    expect(env.problems.join('\n')).toMatch(/not found/);
  });
});
