/**
 * Discovery against the real kernel: a throwaway namespace is "the host",
 * with an empty sysfs fixture root so this machine's own PCI devices stay out.
 * Every published attribute is cross-checked against `ip -j`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetns, deleteNetns, eventually, ip, ipJson, kernelHasLinkKind, needsQemuLane, testLibc, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { buildInventory } from './build.ts';
import { collectSnapshot } from './collect.ts';
import type { Device } from './model.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from './options.ts';

const emptySys = mkdtempSync(join(tmpdir(), 'nc-sys-'));
afterAll(() => rmSync(emptySys, { recursive: true, force: true }));
const hasDummy = kernelHasLinkKind('dummy');
const hasBond = kernelHasLinkKind('bond');
const hasVlan = hasDummy && (() => {
  const probe = createNetns('pv');
  try {
    ip(probe, 'link', 'add', 'ncpl', 'type', 'dummy');
    ip(probe, 'link', 'add', 'link', 'ncpl', 'name', 'ncpv', 'type', 'vlan', 'id', '2');
    return true;
  } catch {
    return false;
  } finally {
    deleteNetns(probe);
  }
})();

const opts = (o: Partial<InventoryOptions> = {}): InventoryOptions => ({ ...DEFAULT_OPTIONS, includeKinds: ['*'], ...o });
const inventory = (ns: TestNetns, o: Partial<InventoryOptions> = {}) => {
  const options = opts(o);
  return buildInventory(collectSnapshot(ns.handle, { sysfsRoot: emptySys }, options), options);
};
const s = (d: Device, name: string): unknown => {
  const v = d.attributes[`netclaim.dev/${name}`];
  return v === undefined ? undefined : Object.values(v)[0];
};

interface IpLink { ifname: string; ifindex: number; mtu: number; address: string; operstate: string; linkinfo?: { info_kind: string } }
interface IpAddr { ifname: string; addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }

/** Checks a device's link attributes against `ip -j -d link` and `ip -j addr`. */
function crossCheck(ns: TestNetns, d: Device): void {
  const l = ipJson<IpLink[]>(ns, '-d', 'link', 'show', d.ifName!)[0]!;
  const a = ipJson<IpAddr[]>(ns, 'addr', 'show', d.ifName!)[0]!;
  const cidrs = (fam: string): string | undefined => {
    const xs = a.addr_info.filter((x) => x.family === fam && x.scope === 'global').map((x) => `${x.local}/${x.prefixlen}`).sort();
    return xs.length ? xs.join(',') : undefined;
  };
  expect({ ifName: s(d, 'ifName'), mtu: s(d, 'mtu'), mac: s(d, 'mac'), state: s(d, 'state'), type: s(d, 'type'), ipv4: s(d, 'ipv4'), ipv6: s(d, 'ipv6') })
    .toEqual({ ifName: l.ifname, mtu: l.mtu, mac: l.address, state: l.operstate.toLowerCase(), type: l.linkinfo?.info_kind ?? 'device', ipv4: cidrs('inet'), ipv6: cidrs('inet6') });
  expect(d.ifIndex).toBe(l.ifindex);
}

describe(`inventory discovery (${testLibc.backend})`, () => {
  it('publishes veth, macvlan and vxlan devices with attributes that match ip; a bridge never (the kernel will not move it)', async () => {
    const ns = createNetns('inv');
    const [va, vb, mv, vx, br] = ['a', 'b', 'm', 'x', 'r'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', va!, 'mtu', '9000', 'type', 'veth', 'peer', 'name', vb!);
    ip(ns, 'link', 'add', mv!, 'link', va!, 'type', 'macvlan', 'mode', 'bridge');
    ip(ns, 'link', 'add', vx!, 'type', 'vxlan', 'id', '42', 'dstport', '4789');
    ip(ns, 'link', 'add', br!, 'type', 'bridge');
    ip(ns, 'link', 'set', va!, 'up');
    ip(ns, 'link', 'set', vb!, 'up');
    ip(ns, 'addr', 'add', '10.42.0.1/24', 'dev', va!);
    ip(ns, 'addr', 'add', 'fd42::1/64', 'dev', va!, 'nodad');
    ip(ns, 'link', 'set', va!, 'alias', 'storage uplink');
    // Operstate settles through linkwatch after `up` (asynchronously, slower on a loaded machine): compare once it has.
    await eventually(() => {
      for (const n of [va!, vb!, mv!]) {
        const st = ipJson<{ operstate: string }[]>(ns, 'link', 'show', n)[0]!.operstate;
        if (st !== 'UP' && st !== 'DOWN') throw new Error(`${n} still ${st}`);
      }
    }, 15_000);
    const inv = inventory(ns);
    expect(inv.devices.map((d) => d.name).sort()).toEqual([va, vb, mv, vx].sort());
    for (const d of inv.devices) {
      expect(d.kind).toBe('virtual');
      crossCheck(ns, d);
    }
    const a = inv.devices.find((d) => d.ifName === va)!;
    expect(s(a, 'alias')).toBe('storage uplink');
    expect(s(a, 'speed')).toBe(10000); // veth reports 10 Gb/s through ethtool
    expect(s(a, 'ebpf')).toBe(false);
    expect(inv.exclusions.map((e) => [e.ifName, e.code]).sort()).toEqual([[br, 'netns-local'], ['lo', 'loopback']].sort());
    // 6.15+ says so in the link (IFLA_NETNS_IMMUTABLE), up to 6.11 in ethtool's netns-local feature; 6.12-6.14 in neither (the kind list).
    const reason = inv.exclusions.find((e) => e.ifName === br)!.reason;
    const [major, minor] = release().split('.').map(Number) as [number, number];
    const v = major * 100 + minor;
    expect(reason).toMatch(v >= 615 ? /IFLA_NETNS_IMMUTABLE/ : v <= 611 ? /netns-local \(ethtool feature\)/ : /bridge devices cannot change namespace/);
  });

  it('leaves out every default-route uplink (backup routes too) and its bridge members; veth only when opted in', () => {
    const ns = createNetns('inv');
    const [up, br, m1, m1p, other, otherp] = ['u', 'br', 'm', 'mp', 'o', 'op'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', br!, 'type', 'bridge');
    ip(ns, 'link', 'add', m1!, 'master', br!, 'type', 'veth', 'peer', 'name', m1p!);
    ip(ns, 'link', 'add', other!, 'type', 'veth', 'peer', 'name', otherp!);
    ip(ns, 'link', 'add', up!, 'type', 'vxlan', 'id', '7', 'dstport', '4789');
    for (const n of [br!, up!, m1!]) ip(ns, 'link', 'set', n, 'up');
    ip(ns, 'addr', 'add', '192.0.2.2/24', 'dev', br!);
    ip(ns, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', br!, 'metric', '10');
    ip(ns, 'addr', 'add', '198.51.100.2/24', 'dev', up!);
    ip(ns, 'route', 'add', 'default', 'via', '198.51.100.1', 'dev', up!, 'metric', '20');
    const free = uniqueName('f');
    ip(ns, 'link', 'add', free, 'type', 'vxlan', 'id', '8', 'dstport', '4789');
    const inv = inventory(ns, { includeKinds: ['vxlan'] });
    const code = (n: string): string | undefined => inv.exclusions.find((e) => e.ifName === n)?.code;
    expect([code(br!), code(m1!), code(other!), code(m1p!)]).toEqual(['uplink', 'uplink-member', 'kind-not-included', 'kind-not-included']);
    // The metric-20 default is a backup route the node still needs: an uplink too.
    expect(code(up!)).toBe('uplink');
    expect(inv.devices.map((d) => d.name)).toEqual([free]);
  });

  it.skipIf(!hasDummy || !hasBond || !hasVlan)(`publishes dummy and vlan, leaves out bond slaves of a bond uplink${!hasDummy || !hasBond || !hasVlan ? ` (${needsQemuLane('dummy, 8021q and bonding')})` : ''}`, () => {
    const ns = createNetns('inv');
    const [bond, s1, s2, dum, vlan] = ['bo', 's', 's', 'du', 'vl'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', bond!, 'type', 'bond', 'mode', 'active-backup');
    for (const x of [s1!, s2!]) { ip(ns, 'link', 'add', x, 'type', 'dummy'); ip(ns, 'link', 'set', x, 'master', bond!); }
    ip(ns, 'link', 'add', dum!, 'type', 'dummy');
    ip(ns, 'link', 'add', 'link', dum!, 'name', vlan!, 'type', 'vlan', 'id', '42');
    ip(ns, 'link', 'set', bond!, 'up');
    ip(ns, 'addr', 'add', '192.0.2.2/24', 'dev', bond!);
    ip(ns, 'route', 'add', 'default', 'via', '192.0.2.1');
    const inv = inventory(ns);
    expect(inv.devices.map((d) => d.name).sort()).toEqual([dum, vlan].sort());
    for (const d of inv.devices) crossCheck(ns, d);
    expect(inv.devices.map((d) => s(d, 'type')).sort()).toEqual(['dummy', 'vlan']);
    expect([bond, s1, s2].map((n) => inv.exclusions.find((e) => e.ifName === n)?.code)).toEqual(['uplink', 'uplink-member', 'uplink-member']);
  });

  it('a macvlan built on top of the uplink stays publishable; the uplink\'s macvlan parent (a lower device) does not', () => {
    const ns = createNetns('inv');
    const [a, b, child, up] = ['a', 'b', 'c', 'u'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'type', 'veth', 'peer', 'name', b!);
    ip(ns, 'link', 'add', child!, 'link', a!, 'type', 'macvlan');
    ip(ns, 'link', 'add', up!, 'link', b!, 'type', 'macvlan');
    for (const n of [a!, b!, up!]) ip(ns, 'link', 'set', n, 'up');
    ip(ns, 'addr', 'add', '192.0.2.2/24', 'dev', a!);
    ip(ns, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', a!);
    ip(ns, 'addr', 'add', '198.51.100.2/24', 'dev', up!);
    ip(ns, 'route', 'add', 'default', 'via', '198.51.100.1', 'dev', up!, 'metric', '500');
    const inv = inventory(ns, { includeKinds: ['macvlan', 'veth'] });
    const code = (n: string): string | undefined => inv.exclusions.find((e) => e.ifName === n)?.code;
    expect(inv.devices.map((d) => d.ifName)).toEqual([child]);
    expect([code(a!), code(up!), code(b!)]).toEqual(['uplink', 'uplink', 'uplink-member']);
  });

  it.skipIf(!hasDummy || !hasVlan)(`a VLAN uplink excludes its parent${!hasDummy || !hasVlan ? ` (${needsQemuLane('dummy and 8021q')})` : ''}`, () => {
    const ns = createNetns('inv');
    const [parent, vlan, other] = ['pa', 'vl', 'ot'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', parent!, 'type', 'dummy');
    ip(ns, 'link', 'add', other!, 'type', 'dummy');
    ip(ns, 'link', 'add', 'link', parent!, 'name', vlan!, 'type', 'vlan', 'id', '100');
    for (const n of [parent!, vlan!]) ip(ns, 'link', 'set', n, 'up');
    ip(ns, 'addr', 'add', '192.0.2.2/24', 'dev', vlan!);
    ip(ns, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', vlan!);
    const inv = inventory(ns);
    expect(inv.devices.map((d) => d.ifName)).toEqual([other]);
    expect(inv.exclusions.find((e) => e.ifName === parent)).toMatchObject({ code: 'uplink-member', reason: `lower device of uplink ${vlan}` });
  });

  it.skipIf(!hasDummy || !hasBond)(`a bond that is not the uplink: the bond is immovable, its members enslaved${!hasDummy || !hasBond ? ` (${needsQemuLane('dummy and bonding')})` : ''}`, () => {
    const ns = createNetns('inv');
    const [bond, s1, s2] = ['bo', 's', 's'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', bond!, 'type', 'bond', 'mode', 'active-backup');
    for (const x of [s1!, s2!]) { ip(ns, 'link', 'add', x, 'type', 'dummy'); ip(ns, 'link', 'set', x, 'master', bond!); }
    const inv = inventory(ns);
    expect(inv.devices).toEqual([]);
    expect([bond, s1, s2].map((n) => inv.exclusions.find((e) => e.ifName === n)?.code)).toEqual(['netns-local', 'enslaved', 'enslaved']);
  });

  it('this machine\'s own NICs, read through the real /sys and the host namespace (read-only): no uplink function, no ifb published', () => {
    const host = NetnsHandle.current({ libc: testLibc });
    try {
      const options = opts({ includeKinds: [] });
      const inv = buildInventory(collectSnapshot(host, { sysfsRoot: '/sys', details: false }, options), options);
      // Oracles: the default routes `ip` shows, and the PCI function each uplink's sysfs device path walks up to.
      const routes = JSON.parse(execFileSync('ip', ['-j', 'route', 'show', 'default'], { encoding: 'utf8' })) as { dev?: string }[];
      const uplinks = [...new Set(routes.map((r) => r.dev).filter((d): d is string => d !== undefined))];
      for (const dev of uplinks) {
        const bdf = realpathSync(`/sys/class/net/${dev}`).split('/').reverse().find((p) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(p));
        expect(inv.devices.some((d) => d.ifName === dev || (bdf !== undefined && (d.pciAddress === bdf || d.objects?.includes(`pci:${bdf}`)))), `uplink ${dev} (${bdf})`).toBe(false);
        expect(inv.exclusions.find((e) => e.ifName === dev)?.code).toBe('uplink');
        if (bdf !== undefined) expect(inv.exclusions.find((e) => e.pciAddress === bdf)?.code).toBe('uplink');
      }
      expect(inv.devices.some((d) => d.ifName?.startsWith('ifb'))).toBe(false);
    } finally {
      host.close();
    }
  });

  it('keeps working when a device moves away: a virtual netdev leaves the inventory of its namespace', () => {
    const ns = createNetns('inv');
    const pod = createNetns('pod');
    const [a, b] = ['a', 'b'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'type', 'veth', 'peer', 'name', b!);
    ip(ns, 'link', 'set', b!, 'netns', pod.name);
    const inv = inventory(ns);
    expect(inv.devices.map((d) => d.ifName)).toEqual([a]);
    expect(inventory(pod).devices.map((d) => d.ifName)).toEqual([b]);
  });
});
