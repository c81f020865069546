/**
 * Early host-down (early-down.ts) against the real kernel, with a
 * ClaimDriver and a PodDriver wired as the daemon wires them: a freshly
 * prepared claim's devices go down on the host once the answer is out; the
 * pod's attach then finds them down; an unprepare of a claim no pod got
 * puts them back from their snapshots.
 *
 * Invariants attacked (docs/pods.md, "Early host-down"):
 *   ED1  after NodeUnprepareResources succeeds, every device of the claim is
 *        on the host in its snapshot state: up iff it was, its addresses and
 *        the routes through it back, its MTU;
 *   ED2  the early down never touches a device whose claim is gone or whose
 *        pod already has it, and never changes what a pod got;
 *   ED3  a device down in its snapshot stays down.
 * The property test runs random orders of Prepare, the early-down job,
 * RunPodSandbox, StopPodSandbox and Unprepare; the crash test
 * (pod-driver.crash.kernel.test.ts) kills the driver between the downs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocatedClaim, claimDriver, deviceOf, refOf } from '../../test/kernel/claim-fixture.ts';
import { createNetns, deleteNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';
import type { ClaimDriver } from './claim-driver.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Env {
  host: TestNetns;
  pod: TestNetns;
  dir: string;
  devs: string[];
  store: ClaimStore;
  pods: PodDriver;
  claims: ClaimDriver;
  claim: AllocatedClaim;
  problems: string[];
  downs: string[][];
}

/** What the host side of a device looks like to `ip` (the oracle): up, MTU, global addresses, routes through it. */
interface HostView { up: boolean; mtu: number; addrs: string[]; routes: string[] }

function hostView(ns: TestNetns, dev: string): HostView {
  const [l] = ipJson<{ flags: string[]; mtu: number }[]>(ns, 'link', 'show', 'dev', dev);
  const addrs = ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', dev)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();
  const routes = [
    ...ipJson<{ dst: string; gateway?: string }[]>(ns, '-4', 'route', 'show', 'dev', dev),
    ...ipJson<{ dst: string; gateway?: string }[]>(ns, '-6', 'route', 'show', 'dev', dev).filter((r) => !r.dst.startsWith('fe80')),
  ].map((r) => `${r.dst}${r.gateway === undefined ? '' : ` via ${r.gateway}`}`).sort();
  return { up: l!.flags.includes('UP'), mtu: l!.mtu, addrs, routes };
}

const podLinks = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();

let seq = 0;

/**
 * Two veths on a "host", each up with an IPv4 and an IPv6 address and a route through it (what going
 * down flushes: the IPv4 route, the IPv6 address and its routes), one claim of both for one pod, and
 * the two drivers as the daemon wires them.
 */
function setup(opts: { downDev?: boolean; earlySandboxNews?: () => boolean } = {}): Env {
  const host = createNetns('edhost');
  const pod = createNetns('edpod');
  const devs = [uniqueName('ed'), uniqueName('ed')];
  for (const [i, d] of devs.entries()) {
    ip(host, 'link', 'add', d, 'mtu', '1500', 'type', 'veth', 'peer', 'name', `${d}p`);
    ip(host, 'addr', 'add', `10.81.${i}.2/24`, 'dev', d);
    ip(host, 'addr', 'add', `fd81:${i}::2/64`, 'dev', d, 'nodad');
    if (opts.downDev === true && i === 1) continue;
    ip(host, 'link', 'set', d, 'up');
    ip(host, 'link', 'set', `${d}p`, 'up');
    ip(host, 'route', 'add', `10.82.${i}.0/24`, 'via', `10.81.${i}.1`, 'dev', d);
  }
  const dir = mkdtempSync(join(tmpdir(), 'nc-early-down-'));
  const store = ClaimStore.open(join(dir, 'state'));
  seq += 1;
  const devices = devs.map((d) => deviceOf(host, d));
  const claim = allocatedClaim({ uid: `ed000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, name: `c${seq}`, podUid: `pod-${seq}`, devices, parameters: { interface: { mtu: 1400 } } });
  const partial = { host, pod, dir, devs, store, claim, problems: [], downs: [] } as unknown as Env;
  partial.pods = new PodDriver({
    store, host: host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true,
    ...(opts.earlySandboxNews === undefined ? {} : { earlySandboxNews: opts.earlySandboxNews }),
    observer: {
      detachProblems: (_r, p) => partial.problems.push(...p),
      earlyDown: (_r, downed, _ms, problems) => { partial.downs.push([...downed]); partial.problems.push(...problems); },
    },
  });
  partial.claims = claimDriver({ host, store, dir, claims: [claim], devices, pods: partial.pods });
  return partial;
}

function teardown(e: Env): void {
  e.pods.close();
  e.store.close();
  rmSync(e.dir, { recursive: true, force: true });
  deleteNetns(e.pod);
  deleteNetns(e.host);
}

const nriPod = (e: Env): NriPod => ({ id: `sandbox-${e.claim.reservedFor[0]!.uid}`, uid: e.claim.reservedFor[0]!.uid, name: 'pod', namespace: 'ns', netns: e.pod.path });

async function prepare(e: Env): Promise<void> {
  const r = (await e.claims.prepare([refOf(e.claim)])).get(e.claim.uid);
  expect(r && 'error' in r ? r.error : '').toBe('');
}

async function unprepare(e: Env): Promise<void> {
  const r = (await e.claims.unprepare([refOf(e.claim)])).get(e.claim.uid);
  expect(r && 'error' in r ? r.error : '').toBe('');
}

let env: Env | undefined;
afterEach(() => {
  if (env !== undefined) teardown(env);
  env = undefined;
});

describe('early host-down', () => {
  let before: HostView[];
  beforeEach(() => {
    env = setup();
    before = env.devs.map((d) => hostView(env!.host, d));
  });

  it('takes a freshly prepared claim\'s devices down on the host after the answer; the pod\'s attach finds them down and moves them; the give-back restores them', async () => {
    const e = env!;
    expect(before.map((v) => v.up)).toEqual([true, true]);
    await prepare(e);
    // Answered with the devices still up: the down is a job that starts once the answer is out.
    expect(e.devs.map((d) => hostView(e.host, d).up)).toEqual([true, true]);
    await e.pods.idle();
    expect(e.downs).toEqual([e.claim.allocation!.results.map((r) => r.device)]);
    // Down: its IPv4 address stays; its IPv6 address and every route through it are flushed (the snapshot has them).
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before.map((v, i) => ({ ...v, up: false, addrs: [`10.81.${i}.2/24`], routes: [] })));

    await e.pods.runPodSandbox(nriPod(e));
    expect(await e.pods.createContainer(nriPod(e), { id: 'c1', name: 'app', podId: nriPod(e).id })).toEqual({});
    expect(podLinks(e.pod)).toEqual([...e.devs].sort());
    await e.pods.stopPodSandbox(nriPod(e));
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
    await unprepare(e);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
    expect(e.problems).toEqual([]);
  });

  it('an unprepare with no pod restores each device from its snapshot: up, MTU, its IPv6 address and the routes going down flushed', async () => {
    const e = env!;
    await prepare(e);
    await e.pods.idle();
    expect(e.devs.map((d) => hostView(e.host, d).up)).toEqual([false, false]);
    await unprepare(e);
    expect(e.store.get(e.claim.uid)).toBeUndefined();
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
    expect(e.problems).toEqual([]);
  });

  it('an unprepare that comes before the early-down job ran: the job finds no claim and takes nothing down', async () => {
    const e = env!;
    await prepare(e);
    await unprepare(e); // the job is queued behind the answer, not run yet
    await e.pods.idle();
    expect(e.downs).toEqual([]);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
  });

  it('a repeated Prepare (answered from the store) takes nothing down again, and a pod that has the devices keeps them', async () => {
    const e = env!;
    await prepare(e);
    await e.pods.idle();
    await e.pods.runPodSandbox(nriPod(e));
    await e.pods.idle();
    expect(podLinks(e.pod)).toEqual([...e.devs].sort());
    const inPod = ipJson<{ flags: string[] }[]>(e.pod, 'link', 'show', 'dev', e.devs[0]!)[0]!.flags.includes('UP');
    await prepare(e); // the kubelet repeats the call after a restart
    await e.pods.idle();
    expect(e.downs).toHaveLength(1);
    expect(ipJson<{ flags: string[] }[]>(e.pod, 'link', 'show', 'dev', e.devs[0]!)[0]!.flags.includes('UP')).toBe(inPod);
    await e.pods.stopPodSandbox(nriPod(e));
    await unprepare(e);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
  });
});

describe('early host-down while the early attach is on', () => {
  it('leaves a freshly prepared claim\'s devices up; the early attach takes them down and moves them, and the host-down comes back when the watch is lost', async () => {
    let news = true;
    const e = env = setup({ earlySandboxNews: () => news });
    const before = e.devs.map((d) => hostView(e.host, d));
    await e.pods.synchronize([], []);
    await prepare(e);
    await e.pods.idle();
    expect(e.downs).toEqual([]);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
    // containerd reports the sandbox ahead of RunPodSandbox: the attach takes each device down itself, then moves it.
    e.pods.sandboxCreated(nriPod(e));
    await e.pods.idle();
    expect(podLinks(e.pod)).toEqual([...e.devs].sort());
    await e.pods.runPodSandbox(nriPod(e));
    expect(await e.pods.createContainer(nriPod(e), { id: 'c1', name: 'app', podId: nriPod(e).id })).toEqual({});
    await e.pods.stopPodSandbox(nriPod(e));
    await unprepare(e);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
    // The watch lost: the next Prepare takes the devices down again.
    news = false;
    await prepare(e);
    await e.pods.idle();
    expect(e.downs).toEqual([e.claim.allocation!.results.map((r) => r.device)]);
    await unprepare(e);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
    expect(e.problems).toEqual([]);
  });
});

describe('early host-down, a device that was down', () => {
  it('stays down through Prepare and Unprepare (ED3); its neighbour, up, is restored', async () => {
    const e = env = setup({ downDev: true });
    const before = e.devs.map((d) => hostView(e.host, d));
    expect(before.map((v) => v.up)).toEqual([true, false]);
    await prepare(e);
    await e.pods.idle();
    expect(e.downs).toEqual([[e.claim.allocation!.results[0]!.device]]);
    await unprepare(e);
    expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
  });
});

type Op = 'prepare' | 'job' | 'run' | 'stop' | 'unprepare';

describe('early host-down, random orders (ED1, ED2)', () => {
  it('whatever the order of Prepare, the early-down job, RunPodSandbox, StopPodSandbox and Unprepare, an unprepared claim leaves every device as its snapshot, and a running pod has its devices', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom<Op>('prepare', 'job', 'run', 'stop', 'unprepare'), { minLength: 1, maxLength: 8 }), async (ops) => {
      const e = setup();
      try {
        const before = e.devs.map((d) => hostView(e.host, d));
        let prepared = false;
        let running = false;
        for (const op of ops) {
          if (op === 'prepare') {
            await prepare(e);
            prepared = true;
          } else if (op === 'job') await e.pods.idle();
          else if (op === 'run' && prepared) {
            await e.pods.runPodSandbox(nriPod(e));
            expect(await e.pods.createContainer(nriPod(e), { id: 'c1', name: 'app', podId: nriPod(e).id })).toEqual({});
            running = true;
          } else if (op === 'stop') {
            await e.pods.stopPodSandbox(nriPod(e));
            running = false;
          } else if (op === 'unprepare' && !running) {
            await unprepare(e);
            prepared = false;
            expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
          }
          if (running) expect(podLinks(e.pod)).toEqual([...e.devs].sort());
        }
        // The kubelet's end of every pod: stop, then unprepare.
        await e.pods.stopPodSandbox(nriPod(e));
        await unprepare(e);
        await e.pods.idle();
        expect(e.devs.map((d) => hostView(e.host, d))).toEqual(before);
        expect(e.problems).toEqual([]);
      } finally {
        teardown(e);
      }
    }), { numRuns: 25, interruptAfterTimeLimit: 300_000 });
  });
});
