/**
 * `interface.dhcp` end to end on the real kernel against a real DHCP server:
 * dnsmasq (Debian's dnsmasq-base) in a "server" namespace on one end of a
 * veth; the other end is a device of the "host", prepared by ClaimDriver and
 * attached by PodDriver.runPodSandbox into a "pod" namespace, where our own
 * client (kernel/dhcp) acquires the lease. The server's lease database is
 * the oracle for each step: acquired (its MAC and IP), renewed (its expiry
 * advances; the log shows the DHCPACK), released at pod deletion (gone).
 *
 * Renewal: dnsmasq's shortest lease is 2 minutes, so the server is told to
 * send T1 = 3 s (`--dhcp-option=option:T1,3`): the renewal is the driver's
 * own timer firing at the T1 the server gave, not a test shortcut.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deviceOf, prepareClaim } from '../../test/kernel/claim-fixture.ts';
import { hasDnsmasq, NO_DNSMASQ, startDnsmasq, type Dnsmasq } from '../../test/kernel/dnsmasq-fixture.ts';
import { createNetns, eventually, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';
import { PodDriver } from './pod-driver.ts';
import type { NriPod } from './pod-port.ts';
import { ClaimStore } from './state/claim-store.ts';

interface Env {
  host: TestNetns;
  pod: TestNetns;
  server: TestNetns;
  dev: string;
  serverIf: string;
  mac: string;
  dir: string;
  store: ClaimStore;
  problems: string[];
  lost: string[];
  pods: PodDriver;
}
let env: Env;

const newPodDriver = (e: Pick<Env, 'store' | 'host' | 'problems' | 'lost'>): PodDriver => new PodDriver({
  store: e.store, host: e.host.handle, libc: testLibc, rdmaExclusive: () => false,
  observer: { detachProblems: (_r, p) => e.problems.push(...p), dhcpLeaseLost: (_r, d, why) => e.lost.push(`${d}: ${why}`) },
});

const nriPod = (uid: string, netns: string): NriPod => ({ id: `sandbox-${uid}`, uid, name: 'pod', namespace: 'ns', netns });
const links = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).filter((n) => n !== 'lo');
const addrs = (ns: TestNetns, dev: string): { local: string; prefixlen: number; valid_life_time: number }[] =>
  ipJson<{ addr_info: { family: string; local: string; prefixlen: number; scope: string; valid_life_time: number }[] }[]>(ns, 'addr', 'show', 'dev', dev)[0]!
    .addr_info.filter((a) => a.family === 'inet');

let seq = 0;
async function prepare(podUid: string, parameters: unknown): Promise<AllocatedClaim> {
  seq += 1;
  const uid = `9dc00000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
  return prepareClaim(env, { uid, name: `c${seq}`, podUid, devices: [deviceOf(env.host, env.dev)], parameters });
}

beforeEach(() => {
  const host = createNetns('dhost');
  const pod = createNetns('dpod');
  const server = createNetns('dsrv');
  const dev = uniqueName('dd');
  const serverIf = uniqueName('ds');
  ip(host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', serverIf, 'netns', server.name);
  ip(host, 'link', 'set', dev, 'up');
  ip(server, 'addr', 'add', '10.79.0.1/24', 'dev', serverIf);
  ip(server, 'link', 'set', serverIf, 'up');
  const mac = ipJson<{ address: string }[]>(host, 'link', 'show', 'dev', dev)[0]!.address;
  const dir = mkdtempSync(join(tmpdir(), 'nc-pod-dhcp-'));
  const store = ClaimStore.open(join(dir, 'state'));
  const partial = { host, pod, server, dev, serverIf, mac, dir, store, problems: [], lost: [] } as unknown as Env;
  partial.pods = newPodDriver(partial);
  env = partial;
});

afterEach(() => {
  env.pods.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

const leaseOf = (srv: Dnsmasq, mac: string) => srv.leases().find((l) => l.mac === mac);
const acks = (srv: Dnsmasq, address: string): number => srv.log().split('\n').filter((l) => l.includes(`DHCPACK(`) && l.includes(` ${address} `)).length;

describe.skipIf(!hasDnsmasq())(`PodDriver with interface.dhcp against dnsmasq (${testLibc.backend})`, () => {
  it('acquires a lease at attach, renews it at T1 (also after a restart), and releases it when the pod stops', async () => {
    const srv = await startDnsmasq({ ns: env.server, ifName: env.serverIf, range: '10.79.0.100,10.79.0.120,255.255.255.0,2m', options: ['option:T1,3', 'option:router,10.79.0.1'] });
    const claim = await prepare('pod-d', { interface: { name: 'net1', dhcp: true, dhcpTimeoutSeconds: 10 } });
    await env.pods.runPodSandbox(nriPod('pod-d', env.pod.path));
    await env.pods.idle();

    // Acquired: the server's lease file has our MAC and the address, which is on the pod's interface with the lease's lifetime.
    const granted = await eventually(() => {
      const l = leaseOf(srv, env.mac);
      expect(l?.ip).toMatch(/^10\.79\.0\.1([01]\d|20)$/);
      return l!;
    });
    expect(links(env.pod)).toEqual(['net1']);
    const onPod = addrs(env.pod, 'net1');
    expect(onPod.map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${granted.ip}/24`]);
    expect(onPod[0]!.valid_life_time).toBeLessThanOrEqual(120);
    const journal = env.store.get(claim.uid)!.attachment!;
    expect(journal).toMatchObject({ state: 'attached', devices: [{ name: 'net1', ips: [`${granted.ip}/24`], dhcp: { address: granted.ip, serverId: '10.79.0.1', renewalTime: 3, routers: ['10.79.0.1'] } }] });
    // The router is recorded, not made the pod's default route (docs/dhcp.md).
    expect(ipJson<{ dst: string }[]>(env.pod, 'route', 'show', 'default')).toEqual([]);
    expect(env.pods.dhcpLeases.size).toBe(1);

    // Renewed at T1 (3 s) by the driver's own timer: the server's expiry advances and it logged a second DHCPACK.
    await eventually(() => expect(leaseOf(srv, env.mac)!.expiry).toBeGreaterThan(granted.expiry), 20_000);
    expect(acks(srv, granted.ip)).toBeGreaterThanOrEqual(2);
    await eventually(() => expect(Date.parse(env.store.get(claim.uid)!.attachment!.devices[0]!.dhcp!.boundAt)).toBeGreaterThan(Date.parse(journal.devices[0]!.dhcp!.boundAt)));

    // A restart: a new PodDriver on the same store re-adopts the lease at Synchronize and keeps renewing it.
    env.pods.close();
    const renewedBefore = leaseOf(srv, env.mac)!.expiry;
    env.pods = newPodDriver(env);
    await env.pods.synchronize([nriPod('pod-d', env.pod.path)], []);
    expect(env.pods.dhcpLeases.size).toBe(1);
    await eventually(() => expect(leaseOf(srv, env.mac)!.expiry).toBeGreaterThan(renewedBefore), 20_000);

    // Released at pod deletion, before the device left the pod: the server's lease is gone.
    await env.pods.stopPodSandbox(nriPod('pod-d', env.pod.path));
    expect(links(env.pod)).toEqual([]);
    await eventually(() => expect(leaseOf(srv, env.mac)).toBeUndefined());
    expect(srv.log()).toMatch(new RegExp(`DHCPRELEASE\\(${env.serverIf}\\) ${granted.ip.replaceAll('.', '\\.')} ${env.mac}`));
    expect(env.pods.dhcpLeases.size).toBe(0);
    expect(env.pods.dhcpLeases.armed).toBe(false);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.problems).toEqual([]);
    expect(env.lost).toEqual([]);
  });

  it('a repeated RunPodSandbox converges on the same lease; a step failing after the lease releases it in the rollback', async () => {
    const srv = await startDnsmasq({ ns: env.server, ifName: env.serverIf, range: '10.79.0.100,10.79.0.120,255.255.255.0,2m' });
    const first0 = await prepare('pod-r', { interface: { name: 'net1', dhcp: true } });
    await env.pods.runPodSandbox(nriPod('pod-r', env.pod.path));
    const first = await eventually(() => leaseOf(srv, env.mac)!);
    await env.pods.runPodSandbox(nriPod('pod-r', env.pod.path));
    expect(srv.leases().filter((l) => l.mac === env.mac).map((l) => l.ip)).toEqual([first.ip]);
    expect(addrs(env.pod, 'net1').map((a) => a.local)).toEqual([first.ip]);
    expect(env.pods.dhcpLeases.size).toBe(1);
    await env.pods.stopPodSandbox(nriPod('pod-r', env.pod.path));
    await eventually(() => expect(leaseOf(srv, env.mac)).toBeUndefined());
    env.store.delete(first0.uid); // unprepared (the device is back on the host)

    // A real fault after the lease: a route whose gateway is not on any link of the pod (the kernel refuses it, ENETUNREACH).
    const claim = await prepare('pod-f', { interface: { name: 'net1', dhcp: true }, routes: [{ destination: '198.51.100.0/24', gateway: '203.0.113.1' }] });
    await expect(env.pods.runPodSandbox(nriPod('pod-f', env.pod.path))).rejects.toMatchObject({ code: 'ATTACH_FAILED', message: expect.stringMatching(/failed at step routes/) });
    expect(srv.log()).toMatch(/DHCPACK/);
    await eventually(() => expect(leaseOf(srv, env.mac)).toBeUndefined()); // released by the rollback
    expect(links(env.pod)).toEqual([]);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.pods.dhcpLeases.size).toBe(0);
  });

  it('many pods: every lease released, no lease tracked, no timer armed and no file descriptor left over', async () => {
    const srv = await startDnsmasq({ ns: env.server, ifName: env.serverIf, range: '10.79.0.100,10.79.0.120,255.255.255.0,2m' });
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const cycle = async (i: number): Promise<void> => {
      const c = await prepare(`pod-m${i}`, { interface: { name: 'net1', dhcp: true } });
      await env.pods.runPodSandbox(nriPod(`pod-m${i}`, env.pod.path));
      expect(env.pods.dhcpLeases.size).toBe(1);
      await env.pods.stopPodSandbox(nriPod(`pod-m${i}`, env.pod.path));
      env.store.delete(c.uid); // unprepared (the device is back on the host)
    };
    await cycle(0); // warm-up: lazily opened sockets and modules
    const before = fds();
    for (let i = 1; i <= 20; i++) await cycle(i);
    await eventually(() => expect(leaseOf(srv, env.mac)).toBeUndefined());
    expect(env.pods.dhcpLeases.size).toBe(0);
    expect(env.pods.dhcpLeases.armed).toBe(false);
    expect(fds()).toBe(before);
    expect(srv.log().split('\n').filter((l) => l.includes('DHCPRELEASE(')).length).toBe(21);
  });

  it('a server that no longer grants the address NAKs the renewal: the address is removed, the loss reported and the lease dropped', async () => {
    let srv = await startDnsmasq({ ns: env.server, ifName: env.serverIf, range: '10.79.0.100,10.79.0.120,255.255.255.0,2m' });
    const claim = await prepare('pod-n', { interface: { name: 'net1', dhcp: true } });
    await env.pods.runPodSandbox(nriPod('pod-n', env.pod.path));
    const granted = await eventually(() => leaseOf(srv, env.mac)!);
    // The server restarts with another range and no memory of the lease (a real server's NAK, not a fake one).
    srv.stop();
    srv = await startDnsmasq({ ns: env.server, ifName: env.serverIf, range: '10.79.0.200,10.79.0.220,255.255.255.0,2m' });
    await env.pods.dhcpLeases.renewAll();
    expect(env.lost).toHaveLength(1);
    expect(env.lost[0]).toMatch(new RegExp(`: the server refused to extend ${granted.ip.replaceAll('.', '\\.')} \\(.+\\); its address was removed$`));
    expect(srv.log()).toMatch(/DHCPNAK/);
    expect(addrs(env.pod, 'net1')).toEqual([]);
    expect(env.pods.dhcpLeases.size).toBe(0);
    await env.pods.idle();
    expect(env.store.get(claim.uid)!.attachment!.devices).toEqual([expect.not.objectContaining({ dhcp: expect.anything() })]);
    expect(env.store.get(claim.uid)!.attachment!.devices[0]!.ips).toEqual([]);
    await env.pods.stopPodSandbox(nriPod('pod-n', env.pod.path));
    expect(srv.log()).not.toMatch(/DHCPRELEASE/); // nothing to give back
    expect(links(env.pod)).toEqual([]);
  });

  it('no server: the attach fails with ATTACH_FAILED naming the dhcp step within the configured time, and is rolled back', async () => {
    const claim = await prepare('pod-t', { interface: { name: 'net1', dhcp: true, dhcpTimeoutSeconds: 1 } });
    await expect(env.pods.runPodSandbox(nriPod('pod-t', env.pod.path))).rejects.toMatchObject({
      code: 'ATTACH_FAILED',
      message: expect.stringMatching(/failed at step dhcp: dhcp\.discover: no usable DHCPOFFER within 1 s/),
      context: expect.objectContaining({ step: 'dhcp' }),
    });
    expect(links(env.pod)).toEqual([]);
    expect(ipJson<{ ifname: string }[]>(env.host, 'link', 'show', 'dev', env.dev)[0]!.ifname).toBe(env.dev);
    expect(env.store.get(claim.uid)?.attachment).toBeUndefined();
    expect(env.pods.dhcpLeases.size).toBe(0);
  });
});

if (!hasDnsmasq()) describe('PodDriver with interface.dhcp against dnsmasq', () => it.skip(NO_DNSMASQ, () => {}));
