import { describe, expect, it } from 'vitest';
import type { IfIndex } from '../../common/ids.ts';
import { AF_INET, AF_INET6 } from '../../common/ip.ts';
import type { Addr } from '../../kernel/netlink/route/addr-types.ts';
import type { Route } from '../../kernel/netlink/route/route-types.ts';
import type { Rule } from '../../kernel/netlink/route/rule-types.ts';
import { changeableFeatures, splitChannels, splitRings } from './host-snapshot-ethtool.ts';
import { deviceRoutes, snapshotAddr, snapshotRoute, snapshotRule } from './host-snapshot.ts';

const DEV = 7 as IfIndex;
const OTHER = 8 as IfIndex;

const route = (r: Partial<Route>): Route => ({
  family: AF_INET, dst: '10.0.0.0/8', tos: 0, table: 254, protocol: 'boot', scope: 'global', type: 'unicast',
  oif: DEV, flags: [], rawFlags: 0, ...r,
});

/** A multipath route: legs instead of an oif. */
const multipath = (nexthops: Route['nexthops'], r: Partial<Route> = {}): Route => {
  const { oif: _oif, ...rest } = route(r);
  return { ...rest, ...(nexthops === undefined ? {} : { nexthops }) };
};

describe('deviceRoutes', () => {
  it('keeps the device\'s routes in every table but local, multipath ones with a leg on it included', () => {
    const keep = [
      route({}),
      route({ table: 100 }),
      route({ table: 253 }),
      multipath([{ oif: OTHER, weight: 1, flags: [] }, { oif: DEV, weight: 1, flags: [] }]),
      route({ family: AF_INET6, dst: '2001:db8::/64', protocol: 'kernel' }),
      route({ family: AF_INET6, dst: 'fe80::/64', protocol: 'static' }),
    ];
    const drop = [
      route({ table: 255, type: 'local' }),
      route({ oif: OTHER }),
      multipath([{ oif: OTHER, weight: 1, flags: [] }]),
      route({ flags: ['cloned'] }),
      route({ family: AF_INET6, dst: 'fe80::/64', protocol: 'kernel' }),
      route({ family: AF_INET6, dst: 'ff00::/8', protocol: 'kernel', type: 'multicast', table: 254 }),
    ];
    expect(deviceRoutes([...keep, ...drop], DEV)).toEqual(keep);
  });
});

describe('snapshotRoute', () => {
  it('turns names into numbers and keeps what restoring needs', () => {
    expect(snapshotRoute(route({
      dst: 'default', gateway: '10.0.0.1', prefSrc: '10.0.0.2', priority: 100, protocol: 'dhcp', metrics: { mtu: 1400 }, table: 100,
    }), DEV)).toEqual({
      family: AF_INET, destination: 'default', gateway: '10.0.0.1', source: '10.0.0.2', scope: 0, table: 100, protocol: 16,
      priority: 100, type: 1, mtu: 1400,
    });
    expect(snapshotRoute(route({ scope: 'link', protocol: 'kernel', type: 'unicast', flags: ['onlink'], gateway: '1.2.3.4' }), DEV))
      .toMatchObject({ scope: 253, protocol: 2, type: 1, onlink: true });
    expect(snapshotRoute(route({ protocol: 99, type: 'blackhole', scope: 'host' }), DEV)).toMatchObject({ protocol: 99, type: 6, scope: 254 });
  });

  it('records every leg of a multipath route; its gateway is the device\'s first leg\'s', () => {
    const r = snapshotRoute(multipath([
      { gateway: '10.2.0.1', oif: OTHER, weight: 1, flags: [] },
      { gateway: '10.1.0.1', oif: DEV, weight: 3, flags: ['onlink'] },
    ]), DEV);
    expect(r.gateway).toBe('10.1.0.1');
    expect(r.nexthops).toEqual([
      { gateway: '10.2.0.1', ifIndex: OTHER, weight: 1 },
      { gateway: '10.1.0.1', ifIndex: DEV, weight: 3, onlink: true },
    ]);
    expect(r).not.toHaveProperty('onlink');
  });
});

describe('snapshotAddr', () => {
  const addr = (a: Partial<Addr>): Addr => ({
    index: DEV, family: AF_INET, address: '10.1.0.1', prefixLen: 24, scope: 'global', flags: ['permanent'], rawFlags: 0x80, ...a,
  });

  it('writes the address as CIDR, the scope as a number, lifetimes only when finite', () => {
    expect(snapshotAddr(addr({ label: 'eth0', validLft: 'forever', preferredLft: 'forever' }), 'eth0')).toEqual({
      cidr: '10.1.0.1/24', family: AF_INET, scope: 0, flags: ['permanent'],
    });
    expect(snapshotAddr(addr({ label: 'eth0:1', validLft: 300, preferredLft: 0, peer: '10.1.0.2' }), 'eth0')).toEqual({
      cidr: '10.1.0.1/24', family: AF_INET, scope: 0, flags: ['permanent'], label: 'eth0:1', peer: '10.1.0.2/24', validLft: 300, preferredLft: 0,
    });
    expect(snapshotAddr(addr({ family: AF_INET6, address: 'fe80::1', prefixLen: 64, scope: 'link' }), 'eth0'))
      .toMatchObject({ cidr: 'fe80::1/64', scope: 253, family: AF_INET6 });
  });
});

describe('snapshotRule', () => {
  it('keeps the selectors the snapshot models', () => {
    const r: Rule = {
      family: AF_INET, priority: 1000, table: 100, action: 'table', invert: false, flags: 0, protocol: 3,
      src: '10.9.0.0/16', dst: '10.10.0.0/16', iif: 'eth0', oif: 'eth1', fwmark: 16, fwmask: 255,
    };
    expect(snapshotRule(r)).toEqual({
      family: AF_INET, priority: 1000, table: 100, source: '10.9.0.0/16', destination: '10.10.0.0/16', iifName: 'eth0', oifName: 'eth1',
      fwmark: 16, fwmask: 255,
    });
  });
});

describe('ethtool parts', () => {
  it('changeableFeatures keeps features that are hw-changeable and not nochange', () => {
    expect(changeableFeatures({
      active: { a: true, b: false, c: true, d: false },
      hw: { a: true, b: true, c: false, d: true },
      wanted: { a: true, b: false, c: true, d: false },
      nochange: { a: false, b: false, c: false, d: true },
    })).toEqual({ a: true, b: false });
  });

  it('splitRings separates maximums from settings', () => {
    expect(splitRings({ rxMax: 4096, txMax: 4096, rx: 1024, tx: 512, txPush: false, tcpDataSplit: 1, hdsThreshMax: 1024, hdsThresh: 0 }))
      .toEqual({ rings: { rx: 1024, tx: 512, txPush: false, tcpDataSplit: 1, hdsThresh: 0 }, ringsMax: { rxMax: 4096, txMax: 4096, hdsThreshMax: 1024 } });
  });

  it('splitChannels keys counts as the claim config does and maximums as …Max', () => {
    expect(splitChannels({ combinedMax: 8, combinedCount: 4, rxMax: 2, rxCount: 0 }))
      .toEqual({ channels: { rx: 0, combined: 4 }, channelsMax: { rxMax: 2, combinedMax: 8 } });
  });
});
