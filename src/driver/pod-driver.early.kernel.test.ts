/**
 * The early attach (PodDriver.sandboxCreated, docs/pods.md "Early attach")
 * against the real kernel: the runtime's news that a pod's sandbox exists,
 * ahead of its RunPodSandbox hook, starts the attach; the NRI hooks stay
 * the authority. Invariants, attacked with random interleavings below:
 *
 *   E1  a device is always in exactly one place: the host, or the namespace
 *       of the sandbox its claim's journal names (never lost, never two);
 *   E2  once the newest sandbox's CreateContainer answered, the device is in
 *       that sandbox's namespace, whatever early news came, late or never;
 *   E3  the early attach never takes a device out of a sandbox: news of a
 *       sandbox the hooks already named, or of a pod whose journal places a
 *       claim, changes nothing;
 *   E4  the pod gone (its sandboxes stopped, the claim unprepared), the
 *       device is back on the host, restored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceOf, prepareClaim } from '../../test/kernel/claim-fixture.ts';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Hooked { readonly hook: string; readonly sandbox: string | undefined; readonly steps: Readonly<Record<string, number>>; readonly err?: string }

let host: TestNetns;
let sandboxNs: { a: TestNetns; b: TestNetns };
let dir: string;
let dev: string;
let store: ClaimStore;
let hooks: Hooked[];
let failAt: string | undefined;
let pods: PodDriver;

const links = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo').sort();
const addrs = (ns: TestNetns, name: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', name)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();

const POD = 'pod-e';
const sandbox = (which: 'a' | 'b', uid = POD): NriPod => ({ id: `sandbox-${which}-${uid}`, uid, name: 'pod', namespace: 'ns', netns: sandboxNs[which].path });

function newDriver(): PodDriver {
  return new PodDriver({
    store, host: host.handle, libc: testLibc, rdmaExclusive: () => false, attachAfterAnswer: true,
    fault: (step) => { if (failAt === step) throw new Error(`injected fault at ${step}`); },
    observer: {
      hook: (hook, pod, _ms, err, steps = {}) => hooks.push({
        hook, sandbox: pod?.id, steps, ...(err === undefined ? {} : { err: err instanceof Error ? err.message : String(err) }),
      }),
    },
  });
}

let seq = 0;
async function prepare(podUid = POD): Promise<AllocatedClaim> {
  seq += 1;
  const uid = `90e00000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
  return prepareClaim({ host, store, dir }, { uid, name: `c${seq}`, podUid, devices: [deviceOf(host, dev)], parameters: { interface: { name: 'net1' } } });
}

/** Where the device is now: 'host', 'a', 'b', or a list of all the places it shows (E1 says one). */
function placeOf(): string {
  const at = [
    ...(links(host).includes(dev) ? ['host'] : []),
    ...(links(sandboxNs.a).includes('net1') ? ['a'] : []),
    ...(links(sandboxNs.b).includes('net1') ? ['b'] : []),
  ];
  return at.length === 1 ? at[0]! : `[${at.join(',')}]`;
}

beforeEach(async () => {
  host = createNetns('ehost');
  sandboxNs = { a: createNetns('epoda'), b: createNetns('epodb') };
  dev = uniqueName('ed');
  ip(host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
  ip(host, 'addr', 'add', '10.81.0.2/24', 'dev', dev);
  ip(host, 'link', 'set', dev, 'up');
  dir = mkdtempSync(join(tmpdir(), 'nc-pod-early-'));
  store = ClaimStore.open(join(dir, 'state'));
  hooks = [];
  failAt = undefined;
  pods = newDriver();
  await pods.synchronize([], []);
});

afterEach(() => {
  pods.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PodDriver: the early attach (the runtime made the sandbox, before its RunPodSandbox)', () => {
  it('moves the devices while the runtime starts the sandbox; RunPodSandbox then does nothing; the gate passes; StopPodSandbox gives them back restored', async () => {
    const claim = await prepare();
    pods.sandboxCreated(sandbox('a'));
    await pods.idle();
    expect(placeOf()).toBe('a');
    expect(store.get(claim.uid)?.attachment).toMatchObject({ state: 'attached', sandboxId: sandbox('a').id, netns: sandboxNs.a.path });
    expect(hooks.map((h) => h.hook)).toEqual(['sync', 'early']);
    expect(hooks[1]!.steps).toHaveProperty('attach');

    await pods.runPodSandbox(sandbox('a'));
    await pods.idle();
    const run = hooks.find((h) => h.hook === 'run')!;
    expect(run.steps).toHaveProperty('early');
    expect(run.steps).not.toHaveProperty('attach');
    expect(await pods.createContainer(sandbox('a'), { id: 'c1', name: 'app', podId: sandbox('a').id })).toEqual({});

    await pods.stopPodSandbox(sandbox('a'));
    expect(placeOf()).toBe('host');
    expect(addrs(host, dev)).toEqual(['10.81.0.2/24']);
    expect(store.get(claim.uid)?.attachment).toBeUndefined();
    expect(hooks.filter((h) => h.err !== undefined)).toEqual([]);
  });

  it('does nothing before the runtime synchronized the plugin, for a pod without netclaim claims, or for a sandbox without a network namespace', async () => {
    await prepare();
    const fresh = newDriver(); // not synchronized yet
    fresh.sandboxCreated(sandbox('a'));
    await fresh.idle();
    fresh.close();
    pods.sandboxCreated(sandbox('a', 'someone-else'));
    const { netns: _none, ...hostNetwork } = sandbox('a');
    pods.sandboxCreated(hostNetwork);
    await pods.idle();
    expect(placeOf()).toBe('host');
    expect(hooks.map((h) => h.hook)).toEqual(['sync']); // nothing queued, nothing reported
  });

  it('news of a sandbox the hooks already named (late) or of a pod a journal places changes nothing (E3)', async () => {
    const claim = await prepare();
    await pods.runPodSandbox(sandbox('a'));
    await pods.idle();
    expect(placeOf()).toBe('a');
    pods.sandboxCreated(sandbox('a')); // late news of the running sandbox
    pods.sandboxCreated(sandbox('b')); // a newer sandbox: only its RunPodSandbox may move the devices
    await pods.idle();
    expect(placeOf()).toBe('a');
    expect(store.get(claim.uid)?.attachment?.sandboxId).toBe(sandbox('a').id);
    await pods.runPodSandbox(sandbox('b'));
    await pods.idle();
    expect(placeOf()).toBe('b');
    // The old sandbox's stop after that leaves the newer one's devices alone.
    await pods.stopPodSandbox(sandbox('a'));
    expect(placeOf()).toBe('b');
    // Stopped, its devices back on the host: news of it that comes only now must not move them into it again.
    await pods.stopPodSandbox(sandbox('b'));
    expect(placeOf()).toBe('host');
    pods.sandboxCreated(sandbox('b'));
    await pods.idle();
    expect(placeOf()).toBe('host');
    expect(store.get(claim.uid)?.attachment).toBeUndefined();
  });

  it('a sandbox that never runs: the claim\'s unprepare gives its devices back from the early attach', async () => {
    const claim = await prepare();
    pods.sandboxCreated(sandbox('a'));
    await pods.idle();
    expect(placeOf()).toBe('a');
    expect(pods.returnDevices(claim.uid)).toEqual([]);
    expect(placeOf()).toBe('host');
    expect(addrs(host, dev)).toEqual(['10.81.0.2/24']);
    expect(store.get(claim.uid)?.attachment).toBeUndefined();
  });

  it('a failed early attach rolls back whole and is reported; RunPodSandbox attaches', async () => {
    const claim = await prepare();
    failAt = `attach:dev-${dev}`;
    pods.sandboxCreated(sandbox('a'));
    await pods.idle();
    expect(placeOf()).toBe('host');
    expect(store.get(claim.uid)?.attachment).toBeUndefined();
    expect(hooks.find((h) => h.hook === 'early')?.err).toMatch(/injected fault/);
    failAt = undefined;
    await pods.runPodSandbox(sandbox('a'));
    await pods.idle();
    expect(placeOf()).toBe('a');
    expect(hooks.find((h) => h.hook === 'run')?.steps).toHaveProperty('attach');
  });

  it('E1–E4 over random orders of the runtime\'s news and hooks for a pod whose first sandbox is replaced', async () => {
    // The hooks of two sandboxes of one pod in the kubelet's order (a's, then b's: b is made once a broke), a's
    // stop anywhere after its CreateContainer; each sandbox's early news anywhere, late, twice, or never (an event
    // stream is best effort), and the early attach failing at random.
    type Step = 'early-a' | 'early-b' | 'run-a' | 'create-a' | 'run-b' | 'create-b' | 'stop-a';
    const order = fc.record({
      stopA: fc.integer({ min: 0, max: 2 }), // after create-a (0), after run-b (1), after create-b (2)
      earlies: fc.array(fc.record({ which: fc.constantFrom('a' as const, 'b' as const), at: fc.integer({ min: 0, max: 6 }), fails: fc.boolean() }), { maxLength: 3 }),
    });
    await fc.assert(fc.asyncProperty(order, async ({ stopA, earlies }) => {
      const claim = await prepare();
      const hooksOf: Step[] = ['run-a', 'create-a', 'run-b', 'create-b'];
      hooksOf.splice(stopA === 0 ? 2 : stopA === 1 ? 3 : 4, 0, 'stop-a');
      const steps: Array<{ step: Step; fails?: boolean }> = hooksOf.map((step) => ({ step }));
      for (const e of [...earlies].sort((x, y) => y.at - x.at)) steps.splice(Math.min(e.at, steps.length), 0, { step: `early-${e.which}`, fails: e.fails });
      const trace: string[] = [];
      try {
        for (const { step, fails } of steps) {
          const [what, which] = step.split('-') as ['early' | 'run' | 'create' | 'stop', 'a' | 'b'];
          const s = sandbox(which);
          failAt = fails === true ? `attach:dev-${dev}` : undefined;
          if (what === 'early') pods.sandboxCreated(s);
          else if (what === 'run') await pods.runPodSandbox(s);
          else if (what === 'stop') await pods.stopPodSandbox(s);
          else await pods.createContainer(s, { id: `c-${which}`, name: 'app', podId: s.id });
          await pods.idle();
          failAt = undefined;
          const at = placeOf();
          trace.push(`${step}${fails === true ? '!' : ''}→${at}`);
          // E1: one place, and the one the journal names.
          const a = store.get(claim.uid)?.attachment;
          expect(at, trace.join(' ')).toBe(a === undefined ? 'host' : a.sandboxId === sandbox('a').id ? 'a' : 'b');
          // E2: once b's CreateContainer answered, the device is in b.
          if (trace.some((t) => t.startsWith('create-b'))) expect(at, trace.join(' ')).toBe('b');
        }
      } finally {
        // E4: the pod gone, whatever happened: its sandboxes' stops, the claim's unprepare.
        failAt = undefined;
        await pods.stopPodSandbox(sandbox('b'));
        await pods.stopPodSandbox(sandbox('a'));
        await pods.idle();
        expect(pods.returnDevices(claim.uid)).toEqual([]);
        store.delete(claim.uid);
      }
      expect(placeOf(), trace.join(' ')).toBe('host');
      expect(addrs(host, dev)).toEqual(['10.81.0.2/24']);
      // Each run starts afresh: new sandbox ids for the driver's memory of hooked sandboxes.
      pods.close();
      pods = newDriver();
      await pods.synchronize([], []);
    }), { numRuns: 40 });
  });
});
