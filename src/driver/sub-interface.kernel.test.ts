/**
 * Per-claim sub-interfaces of a shareable parent (docs/sharing.md) against
 * the real kernel: claims prepared by ClaimDriver on one veth parent of a
 * test "host" namespace each get a macvlan of their own, which the pod
 * driver moves into their own "pod" namespace with their config; traffic
 * flows between two of them; release deletes them and leaves the parent as
 * it was; capacity and bad configs are refused and change nothing. (ipvlan
 * and VLAN are absent from this host's kernel: their creation runs in the
 * QEMU lane.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocatedClaim, deviceOf, inventoryOf, refOf } from '../../test/kernel/claim-fixture.ts';
import { createNetns, deleteNetns, ip, ipJson, needsQemuLane, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { DRIVER_NAME } from '../common/driver.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';
import { SubInterfaces } from './sub-interface/sub-interfaces.ts';
import { wholeTwinName } from '../inventory/shareable.ts';

interface Env {
  host: TestNetns;
  parent: string;
  device: Device;
  dir: string;
  store: ClaimStore;
  subs: SubInterfaces;
  pods: PodDriver;
  claims: AllocatedClaim[];
  driver: ClaimDriver;
}
let env: Env;

interface LinkJson { ifname: string; mtu: number; address: string; operstate: string; flags: string[]; linkinfo?: { info_kind?: string; info_data?: { mode?: string } } }
const links = (ns: TestNetns): LinkJson[] => ipJson<LinkJson[]>(ns, '-d', 'link', 'show').filter((l) => l.ifname !== 'lo');
const subLinks = (ns: TestNetns): string[] => links(ns).map((l) => l.ifname).filter((n) => n.startsWith('ncsub')).sort();
const addrs = (ns: TestNetns, name: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', name)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort();
const ledger = (): string[] => readdirSync(join(env.dir, 'state', 'sub-interfaces')).filter((f) => !f.startsWith('.')).sort();
const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: uid, namespace: 'ns', netns });

/** One UDP datagram from `from` to `to`'s `addr` (node's dgram in each namespace; sent until it arrives). */
async function udpBetween(from: TestNetns, to: TestNetns, addr: string): Promise<string> {
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  const recv = spawn('ip', ['netns', 'exec', to.name, 'node', '-e',
    `const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{process.stdout.write(String(m));process.exit(0)});s.bind(${port},'${addr}');setTimeout(()=>process.exit(2),30000)`]);
  let got = '';
  recv.stdout.on('data', (d: Buffer) => { got += String(d); });
  const done = new Promise<number | null>((r) => recv.on('exit', r));
  const send = `const s=require('dgram').createSocket('udp4');s.send('hello from pod-a',${port},'${addr}',()=>s.close())`;
  for (let i = 0; i < 60 && recv.exitCode === null; i++) {
    execFileSync('ip', ['netns', 'exec', from.name, 'node', '-e', send]);
    await Promise.race([done, new Promise((r) => setTimeout(r, 250))]);
  }
  recv.kill();
  await done;
  return got;
}

/** Whether this kernel has a link kind that needs a lower device (probed on a veth in a scratch namespace). */
function kernelHasLowerKind(kind: string, ...typeArgs: string[]): boolean {
  const probe = createNetns('spk');
  try {
    ip(probe, 'link', 'add', 'ncprobe0', 'type', 'veth', 'peer', 'name', 'ncprobe1');
    ip(probe, 'link', 'add', 'link', 'ncprobe0', 'name', 'ncprobe', 'type', kind, ...typeArgs);
    return true;
  } catch {
    return false;
  } finally {
    deleteNetns(probe);
  }
}

let seq = 0;
function claimOn(podUid: string, parameters?: unknown, device = env.device): AllocatedClaim {
  seq += 1;
  const c = allocatedClaim({ uid: `5b000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, name: `s${seq}`, podUid, devices: [device], parameters });
  env.claims.push(c);
  return c;
}

function newDriver(devices: readonly Device[] = [env.device]): ClaimDriver {
  return new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'node', store: env.store, inventory: inventoryOf(devices),
    claims: { get: (_ns, name) => Promise.resolve(env.claims.find((c) => c.name === name)!) },
    kernel: hostReads(env.host.handle, '/sys'), cdiDir: join(env.dir, 'cdi'), subInterfaces: env.subs,
    pods: { returnDevices: (uid) => env.pods.returnDevices(uid) },
  });
}

async function prepare(c: AllocatedClaim, driver = env.driver): Promise<{ error?: string }> {
  return (await driver.prepare([refOf(c)])).get(c.uid) as { error?: string };
}

beforeEach(() => {
  const host = createNetns('shost');
  const parent = uniqueName('sp');
  ip(host, 'link', 'add', parent, 'mtu', '1500', 'type', 'veth', 'peer', 'name', `${parent}p`);
  ip(host, 'addr', 'add', '10.82.0.1/24', 'dev', parent);
  ip(host, 'link', 'set', `${parent}p`, 'up');
  ip(host, 'link', 'set', parent, 'up');
  const dir = mkdtempSync(join(tmpdir(), 'nc-subif-'));
  const store = ClaimStore.open(join(dir, 'state'));
  const partial = { host, parent, dir, store, claims: [], subs: new SubInterfaces(host.handle, join(dir, 'state')) } as unknown as Env;
  partial.device = deviceOf(host, parent, { sharing: { maxSubInterfaces: 2 } });
  partial.pods = new PodDriver({
    store, host: host.handle, libc: testLibc, rdmaExclusive: () => false,
    status: { devicesReady: () => {}, devicesNotReady: () => {} },
  });
  env = partial;
  env.driver = newDriver();
});

afterEach(() => {
  env.pods.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

describe('per-claim sub-interfaces of a shareable parent', () => {
  it('two claims on one parent each get a macvlan in their own pod with their config; release deletes them; the parent is untouched', async () => {
    const parentBefore = links(env.host).find((l) => l.ifname === env.parent)!;
    const podA = createNetns('spoda');
    const podB = createNetns('spodb');
    const a = claimOn('pod-a', { subInterface: { type: 'macvlan', mode: 'bridge' }, interface: { name: 'net1', mtu: 1400, addresses: ['10.82.0.11/24'] } });
    const b = claimOn('pod-b', { subInterface: { mode: 'bridge' }, interface: { name: 'data0', addresses: ['10.82.0.12/24'] } });
    expect(await prepare(a)).not.toHaveProperty('error');
    expect(await prepare(b)).not.toHaveProperty('error');
    // Created on the host, down, recorded in the ledger and in each claim's record.
    const names = subLinks(env.host);
    expect(names).toHaveLength(2);
    expect(ledger()).toEqual(names.map((n) => `${n}.json`));
    expect(env.store.get(a.uid)!.devices[0]!.subInterface).toMatchObject({ type: 'macvlan', parent: env.parent });
    // Prepare is idempotent: answered from the store, nothing new created.
    expect(await prepare(a)).not.toHaveProperty('error');
    expect(subLinks(env.host)).toEqual(names);

    await env.pods.runPodSandbox(nriPod('pod-a', podA.path));
    await env.pods.runPodSandbox(nriPod('pod-b', podB.path));
    const inA = links(podA);
    expect(inA.map((l) => [l.ifname, l.linkinfo?.info_kind, l.linkinfo?.info_data?.mode, l.mtu])).toEqual([['net1', 'macvlan', 'bridge', 1400]]);
    expect(links(podB).map((l) => [l.ifname, l.linkinfo?.info_kind])).toEqual([['data0', 'macvlan']]);
    expect(addrs(podA, 'net1')).toEqual(['10.82.0.11/24']);
    expect(addrs(podB, 'data0')).toEqual(['10.82.0.12/24']);
    expect(subLinks(env.host)).toEqual([]);
    // Traffic between the two pods through the parent (macvlan bridge mode), never leaving the test namespaces.
    expect(await udpBetween(podA, podB, '10.82.0.12')).toBe('hello from pod-a');

    await env.pods.stopPodSandbox(nriPod('pod-a', podA.path));
    await env.pods.stopPodSandbox(nriPod('pod-b', podB.path));
    expect((await env.driver.unprepare([refOf(a), refOf(b)])).get(a.uid)).toEqual({});
    expect(subLinks(env.host)).toEqual([]);
    expect(links(podA)).toEqual([]);
    expect(links(podB)).toEqual([]);
    expect(ledger()).toEqual([]);
    expect(env.store.list()).toEqual([]);
    const parentAfter = links(env.host).find((l) => l.ifname === env.parent)!;
    expect([parentAfter.mtu, parentAfter.address, parentAfter.operstate]).toEqual([parentBefore.mtu, parentBefore.address, parentBefore.operstate]);
    expect(addrs(env.host, env.parent)).toEqual(['10.82.0.1/24']);
  });

  it('capacity: a claim over the parent\'s maximum is refused with PREPARE_CAPACITY_EXCEEDED and changes nothing', async () => {
    expect(await prepare(claimOn('p1'))).not.toHaveProperty('error');
    expect(await prepare(claimOn('p2'))).not.toHaveProperty('error');
    const before = { links: subLinks(env.host), ledger: ledger(), records: env.store.list().length };
    const third = claimOn('p3');
    const r = await prepare(third);
    expect(r.error).toMatch(/PREPARE_CAPACITY_EXCEEDED|has 2 of 2 sub-interfaces in use/);
    expect({ links: subLinks(env.host), ledger: ledger(), records: env.store.list().length }).toEqual(before);
    expect(env.store.get(third.uid)).toBeUndefined();
    // Released capacity can be used again.
    await env.driver.unprepare([refOf(env.claims[0]!)]);
    expect(await prepare(third)).not.toHaveProperty('error');
  });

  it('bad sub-interface configs are refused, naming the field, and create nothing', async () => {
    const other = uniqueName('so');
    ip(env.host, 'link', 'add', other, 'type', 'veth', 'peer', 'name', `${other}p`);
    const plain = deviceOf(env.host, other);
    const driver = newDriver([env.device, plain]);
    const cases: [unknown, Device, RegExp][] = [
      [{ subInterface: { type: 'vlan' } }, env.device, /subInterface\.vlanId is required for type vlan/],
      [{ subInterface: { type: 'macvlan', mode: 'l3' } }, env.device, /subInterface\.mode "l3" is not a macvlan mode/],
      [{ subInterface: { type: 'macvlan', flags: 'vepa' } }, env.device, /subInterface\.flags is for type ipvlan only/],
      [{ subInterface: { type: 'macvlan' } }, plain, /not a shareable parent/],
    ];
    for (const [parameters, device, message] of cases) {
      const r = await prepare(claimOn('bad', parameters, device), driver);
      expect(r.error).toMatch(message);
    }
    expect(subLinks(env.host)).toEqual([]);
    expect(ledger()).toEqual([]);
    expect(env.store.list()).toEqual([]);
  });

  it('a later Prepare step failing rolls the sub-interface back', async () => {
    // An ethtool feature the macvlan lacks: planning (after the macvlan was created) refuses the device.
    const r = await prepare(claimOn('p4', { ethtool: { features: { 'no-such-feature': true } } }));
    expect(r.error).toMatch(/PREPARE_DEVICE_CONFLICT|no-such-feature/);
    expect(subLinks(env.host)).toEqual([]);
    expect(ledger()).toEqual([]);
  });

  it('a bridge (which cannot move) is a parent: its claim\'s macvlan goes into the pod, the bridge stays', async () => {
    const br = uniqueName('sbr');
    ip(env.host, 'link', 'add', br, 'type', 'bridge');
    ip(env.host, 'link', 'set', br, 'up');
    const bridge = deviceOf(env.host, br, { sharing: { maxSubInterfaces: 4 } });
    const driver = newDriver([bridge]);
    const pod = createNetns('spodc');
    const c = claimOn('pod-c', { interface: { name: 'net1', addresses: ['10.83.0.2/24'] } }, bridge);
    expect(await prepare(c, driver)).not.toHaveProperty('error');
    await env.pods.runPodSandbox(nriPod('pod-c', pod.path));
    expect(links(pod).map((l) => [l.ifname, l.linkinfo?.info_kind, l.linkinfo?.info_data?.mode])).toEqual([['net1', 'macvlan', 'bridge']]);
    await env.pods.stopPodSandbox(nriPod('pod-c', pod.path));
    expect((await driver.unprepare([refOf(c)])).get(c.uid)).toEqual({});
    expect(subLinks(env.host)).toEqual([]);
    expect(links(env.host).map((l) => l.ifname)).toContain(br);
  });

  it('a whole twin (<parent>-whole) moves the parent itself into its pod and gives it back; the held name is the parent\'s', async () => {
    const parent: Device = { ...env.device, sharing: { maxSubInterfaces: 2, whole: true } };
    const held: string[] = [];
    const driver = new ClaimDriver({
      driverName: DRIVER_NAME, poolName: 'node', store: env.store,
      inventory: { current: { devices: [parent] }, hold: (n) => held.push(n), release: (n) => held.splice(held.indexOf(n), 1) },
      claims: { get: (_ns, name) => Promise.resolve(env.claims.find((c) => c.name === name)!) },
      kernel: hostReads(env.host.handle, '/sys'), cdiDir: join(env.dir, 'cdi'), subInterfaces: env.subs,
      pods: { returnDevices: (uid) => env.pods.returnDevices(uid) },
    });
    const pod = createNetns('spodw');
    const c = claimOn('pod-w', { interface: { name: 'net1' } }, { ...parent, name: wholeTwinName(parent.name) as Device['name'] });
    expect(await prepare(c, driver)).not.toHaveProperty('error');
    expect(env.store.get(c.uid)!.devices[0]).toMatchObject({ device: wholeTwinName(parent.name), host: { ifName: env.parent } });
    expect(env.store.get(c.uid)!.devices[0]!.subInterface).toBeUndefined();
    expect(held).toEqual([parent.name]);
    expect(subLinks(env.host)).toEqual([]);
    await env.pods.runPodSandbox(nriPod('pod-w', pod.path));
    expect(links(pod).map((l) => [l.ifname, l.linkinfo?.info_kind])).toEqual([['net1', 'veth']]);
    await env.pods.stopPodSandbox(nriPod('pod-w', pod.path));
    expect((await driver.unprepare([refOf(c)])).get(c.uid)).toEqual({});
    expect(links(env.host).map((l) => l.ifname)).toContain(env.parent);
    expect(addrs(env.host, env.parent)).toEqual(['10.82.0.1/24']);
    expect(held).toEqual([]);
  });

  // `data`: as the lane's iproute2 (Debian 12's 6.1, ip/iplink_ipvlan.c) prints IFLA_IPVLAN_MODE and the private flag.
  for (const [type, module, probe, parameters, data] of [
    ['ipvlan', 'ipvlan', ['ipvlan', 'mode', 'l2'], { subInterface: { type: 'ipvlan', mode: 'l3', flags: 'private' } }, { mode: 'l3', private: true }],
    ['vlan', 'vlan (8021q)', ['vlan', 'id', '5'], { subInterface: { type: 'vlan', vlanId: 100 } }, { id: 100 }],
  ] as const) {
    it.skipIf(!kernelHasLowerKind(probe[0], ...probe.slice(1)))(`${type} sub-interfaces: created with their settings, moved into the pod, deleted at release (${needsQemuLane(module)})`, async () => {
      const pod = createNetns('spodl');
      const c = claimOn('pod-l', { ...parameters, interface: { name: 'net1', addresses: ['10.86.0.2/24'] } });
      expect(await prepare(c)).not.toHaveProperty('error');
      const [name] = subLinks(env.host);
      expect(ipJson<LinkJson[]>(env.host, '-d', 'link', 'show', 'dev', name!)[0]!.linkinfo).toMatchObject({ info_kind: type, info_data: data });
      await env.pods.runPodSandbox(nriPod('pod-l', pod.path));
      expect(links(pod).map((l) => [l.ifname, l.linkinfo?.info_kind])).toEqual([['net1', type]]);
      await env.pods.stopPodSandbox(nriPod('pod-l', pod.path));
      expect((await env.driver.unprepare([refOf(c)])).get(c.uid)).toEqual({});
      expect(subLinks(env.host)).toEqual([]);
      expect(ledger()).toEqual([]);
    });
  }

  it('restart: reconcile deletes a sub-interface no record names and keeps (adopts) recorded ones', async () => {
    const kept = claimOn('p6');
    expect(await prepare(kept)).not.toHaveProperty('error');
    const [recorded] = subLinks(env.host);
    // A leftover of a crash between create and record: a macvlan with our prefix and a ledger entry, no record.
    ip(env.host, 'link', 'add', 'ncsub00000000ff', 'link', env.parent, 'type', 'macvlan');
    const restarted = new SubInterfaces(env.host.handle, join(env.dir, 'state'));
    expect(restarted.reconcile(env.store)).toEqual({ adopted: [recorded], deleted: ['ncsub00000000ff'] });
    expect(subLinks(env.host)).toEqual([recorded]);
  });
});
