import { describe, expect, it } from 'vitest';
import { AF_INET, AF_INET6 } from '../../common/ip.ts';
import { ringsRequest } from './device-ethtool.ts';
import { podRouteSpec, podRuleSpecs } from './pod-config.ts';
import { eui64LinkLocal, snapshotAddrSpec } from './restore-host.ts';
import { snapshotRouteSpec } from './restore-routing.ts';

describe('requests built from plans and snapshots', () => {
  it('a snapshot address keeps only the flags a request may set, and its label, peer and lifetimes', () => {
    expect(snapshotAddrSpec({ cidr: '10.0.0.1/24', family: AF_INET, scope: 0, label: 'eth0:1', flags: ['permanent', 'noprefixroute', 'secondary'] }))
      .toEqual({ cidr: '10.0.0.1/24', scope: 0, flags: ['noprefixroute'], label: 'eth0:1' });
    expect(snapshotAddrSpec({ cidr: '10.0.0.1/32', family: AF_INET, scope: 0, peer: '10.0.0.2/32', flags: [], validLft: 600, preferredLft: 700 }))
      .toEqual({ cidr: '10.0.0.1/32', scope: 0, flags: [], peer: '10.0.0.2', validLft: 600, preferredLft: 600 });
  });

  it('the kernel\'s own IPv6 link-local address is the modified EUI-64 of the MAC', () => {
    expect(eui64LinkLocal('02:aa:00:00:00:01')).toBe('fe80::aa:ff:fe00:1/64');
    expect(eui64LinkLocal('c6:b7:1a:a2:90:69')).toBe('fe80::c4b7:1aff:fea2:9069/64');
    expect(eui64LinkLocal(undefined)).toBeUndefined();
    expect(eui64LinkLocal('80:00:00:48:fe:80:00:00:00:00:00:00:00:00:00:00:00:00:00:01')).toBeUndefined();
  });

  it('a multipath snapshot route comes back whole, the device\'s own legs on its current ifindex', () => {
    expect(snapshotRouteSpec({
      family: AF_INET, destination: '10.50.0.0/24', scope: 0, table: 254, protocol: 3, type: 1,
      nexthops: [{ gateway: '10.20.0.254', ifIndex: 3, weight: 1 }, { gateway: '10.22.0.254', ifIndex: 5, weight: 2, onlink: true }],
    }, 3, 9)).toEqual({
      dst: '10.50.0.0/24', family: AF_INET, table: 254, protocol: 3, scope: 0, type: 1,
      nexthops: [{ oif: 9, weight: 1, gateway: '10.20.0.254' }, { oif: 5, weight: 2, gateway: '10.22.0.254', onlink: true }],
    });
    expect(snapshotRouteSpec({ family: AF_INET6, destination: '2001:db8::/48', gateway: 'fe80::1', scope: 0, table: 100, protocol: 4, type: 1, priority: 1024, mtu: 1400 }, 3, 3))
      .toEqual({ dst: '2001:db8::/48', family: AF_INET6, table: 100, protocol: 4, scope: 0, type: 1, priority: 1024, metrics: { mtu: 1400 }, oif: 3, gateway: 'fe80::1' });
  });

  it('pod routes and rules: a rule without prefixes takes the families of its table\'s routes', () => {
    expect(podRouteSpec({ destination: '0.0.0.0/0', gateway: '10.0.0.1', scope: 0, table: 200 }, 4))
      .toEqual({ dst: '0.0.0.0/0', oif: 4, gateway: '10.0.0.1', scope: 0, table: 200 });
    const routes = [{ destination: '0.0.0.0/0', table: 200 }, { destination: '::/0', table: 200 }, { destination: '::/0', table: 300 }];
    expect(podRuleSpecs({ priority: 10, table: 200 }, routes)).toEqual([{ priority: 10, table: 200, family: AF_INET }, { priority: 10, table: 200, family: AF_INET6 }]);
    expect(podRuleSpecs({ table: 300 }, routes)).toEqual([{ table: 300, family: AF_INET6 }]);
    expect(podRuleSpecs({ table: 400 }, routes)).toEqual([{ table: 400, family: AF_INET }]);
    expect(podRuleSpecs({ source: '2001:db8::/64', table: 400 }, [])).toEqual([{ src: '2001:db8::/64', table: 400, family: AF_INET6 }]);
  });

  it('ring settings: tcpDataSplit in the kernel\'s ETHTOOL_TCP_DATA_SPLIT_* terms', () => {
    expect(ringsRequest({ rx: 1024, tcpDataSplit: 'auto' })).toEqual({ rx: 1024, tcpDataSplit: 0 });
    expect(ringsRequest({ tcpDataSplit: 'disabled' })).toEqual({ tcpDataSplit: 1 });
    expect(ringsRequest({ tcpDataSplit: 'enabled', txPush: true })).toEqual({ tcpDataSplit: 2, txPush: true });
  });
});
