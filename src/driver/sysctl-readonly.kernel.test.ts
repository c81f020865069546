/**
 * Sysctls where /proc/sys is read-only (docs/pods.md, "Sysctls"): the
 * container runtimes mount it so in a container that is not privileged,
 * which is how the DaemonSet ships. The driver runs in a child process in a
 * mount namespace of its own with /proc/sys bind-mounted read-only:
 *
 * - per-interface IPv4 sysctls are set in the pod and restored on the host
 *   over rtnetlink (IFLA_INET_CONF), so such claims work;
 * - a claim that needs a write only /proc/sys can make (an IPv6 sysctl, the
 *   IPv6 half of `forwarding`, a VRF, or a host IPv6 sysctl the device would
 *   not get back) is refused at Prepare, naming the field.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocatedClaim, deviceOf } from '../../test/kernel/claim-fixture.ts';
import { createNetns, ip, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { AllocatedClaim } from './claim.ts';

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/claim-driver/readonly-child.ts', import.meta.url).pathname;
/** A mount namespace of the child's own, /proc/sys read-only in it (what runc does for an unprivileged container). */
const READ_ONLY = ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$0" "$@"'];

interface Env { host: TestNetns; pod: TestNetns; dir: string; devs: string[] }
let env: Env;

beforeEach(() => {
  const host = createNetns('rhost');
  const pod = createNetns('rpod');
  const devs = [uniqueName('rd'), uniqueName('rd')];
  for (const [i, d] of devs.entries()) {
    ip(host, 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
    ip(host, 'addr', 'add', `10.17.${i}.2/24`, 'dev', d);
    ip(host, 'link', 'set', d, 'up');
  }
  env = { host, pod, dir: mkdtempSync(join(tmpdir(), 'nc-sysro-')), devs };
});

afterEach(() => {
  rmSync(env.dir, { recursive: true, force: true });
});

const sysctlW = (ns: TestNetns, ...kv: string[]): void => { execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', ...kv]); };
const sysctlR = (ns: TestNetns, key: string): string => execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();

/** Runs the child under a read-only /proc/sys; returns what it printed after `result`. */
function readOnlyChild<T>(...args: string[]): T {
  const r = spawnSync('unshare', [...READ_ONLY, NODE, CHILD, ...args], { encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('result '));
  if (line === undefined) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(line.slice('result '.length)) as T;
}

let seq = 0;
function claimOf(podUid: string, dev: string, parameters: unknown): AllocatedClaim {
  seq += 1;
  return allocatedClaim({ uid: `5c000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, name: `c${seq}`, podUid, devices: [deviceOf(env.host, dev)], parameters });
}

function prepareReadOnly(claims: AllocatedClaim[]): Record<string, { devices?: unknown[]; error?: string }> {
  const file = join(env.dir, `claims-${seq}.json`);
  writeFileSync(file, JSON.stringify({ claims, devices: env.devs.map((d) => deviceOf(env.host, d)) }));
  return readOnlyChild('prepare', env.host.path, join(env.dir, 'state'), join(env.dir, 'cdi'), file);
}

describe('/proc/sys read-only (the DaemonSet not privileged)', () => {
  it('the child really cannot write /proc/sys', () => {
    const r = spawnSync('unshare', [...READ_ONLY, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/conf/default/arp_ignore'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('IPv4 sysctls are set in the pod and restored on the host over rtnetlink', () => {
    const [d] = env.devs as [string];
    sysctlW(env.host, `net.ipv4.conf.${d}.arp_ignore=2`, `net.ipv4.conf.${d}.rp_filter=1`, `net.ipv4.conf.${d}.arp_announce=1`);
    const claim = claimOf('pod-r1', d, { interface: { name: 'net1', arpIgnore: 1, sysctls: { 'ipv4.rp_filter': 2, 'ipv4.accept_local': 1 } } });
    expect(prepareReadOnly([claim])[claim.uid]).toMatchObject({ devices: [expect.anything()] });

    const r = readOnlyChild<{ run: string; podSysctls: Record<string, string>; problems: string[] }>(
      'cycle', env.host.path, join(env.dir, 'state'), env.pod.path, 'pod-r1', 'net1', 'ipv4.arp_ignore,ipv4.rp_filter,ipv4.accept_local',
    );
    expect(r.run).toBe('ok');
    expect(r.podSysctls).toEqual({ 'ipv4.arp_ignore': '1', 'ipv4.rp_filter': '2', 'ipv4.accept_local': '1' });
    expect(r.problems).toEqual([]);
    expect(['arp_ignore', 'rp_filter', 'arp_announce'].map((k) => sysctlR(env.host, `net.ipv4.conf.${d}.${k}`))).toEqual(['2', '1', '1']);
  });

  it('claims needing a write only /proc/sys can make are refused at Prepare, naming the field', () => {
    const [d0, d1] = env.devs as [string, string];
    sysctlW(env.host, `net.ipv6.conf.${d1}.forwarding=1`); // conf/default.forwarding stays 0: a returned device would not get it back
    const v6 = claimOf('pod-r2', d0, { interface: { sysctls: { 'ipv6.accept_ra': 0 } } });
    const fwd = claimOf('pod-r3', d0, { interface: { forwarding: true } });
    const vrf = claimOf('pod-r4', d0, { interface: { vrf: { name: 'blue' } } });
    const host = claimOf('pod-r5', d1, {});
    const r = prepareReadOnly([v6, fwd, vrf, host]);
    const fields = (uid: string): string => r[uid]?.error ?? 'prepared';
    expect(fields(v6.uid)).toMatch(/^PREPARE_SYSCTLS_READ_ONLY: claim ns\/.*: \/proc\/sys is read-only .* request nic0 \(device dev-.*\): interface.sysctls\["ipv6.accept_ra"\] sets net.ipv6.conf.<interface>.accept_ra/);
    expect(fields(fwd.uid)).toMatch(/^PREPARE_SYSCTLS_READ_ONLY: .*: interface.forwarding sets net.ipv6.conf.<interface>.forwarding/);
    expect(fields(vrf.uid)).toMatch(/^PREPARE_SYSCTLS_READ_ONLY: .*: vrf a VRF needs net.ipv4.tcp_l3mdev_accept/);
    expect(fields(host.uid)).toMatch(new RegExp(`^PREPARE_SYSCTLS_READ_ONLY: .*: net.ipv6.conf.${d1}.forwarding is 1 on the host, and a device returned to the host gets 0`));
  });
});
