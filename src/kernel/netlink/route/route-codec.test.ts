import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal, hexFixture } from '../../../../test/fuzz/decoder-fuzz.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.ts';
import { AF_INET, AF_INET6, ipFromBytes } from '../../../common/ip.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { decodeRoute, encodeRoute, encodeRouteDump, encodeRouteGet } from './route-codec.ts';
import { resolveRouteGet } from './route-spec.ts';
import type { Route, RouteSpec } from './route-types.ts';
import { RTM } from './rtnl-constants.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`route/${name}`);

function decodeAll(buf: Buffer): (Route | undefined)[] {
  const out: (Route | undefined)[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeRoute(buf, m)); });
  return out;
}

function decodeOne(buf: Buffer): Route {
  const all = decodeAll(buf);
  if (all.length !== 1 || !all[0]) throw new Error(`expected one route message, got ${all.length}`);
  return all[0];
}

const hex = (text: string): string => hexFixture(text).toString('hex');
const add = (spec: RouteSpec): string =>
  encodeRoute(new NlWriter(), RTM.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, spec).bytes.toString('hex');
const idx = (n: number): IfIndex => n as IfIndex;

const FIXTURES = [
  'ipv4-default-via', 'ipv4-metrics-table1000', 'ipv4-multipath', 'ipv4-link-scope-src', 'ipv4-blackhole',
  'ipv4-via-inet6', 'ipv4-get-reply', 'ipv6-via', 'ipv6-multipath',
] as const;
const MAIN = { tos: 0, table: 254, protocol: 'boot', scope: 'global', type: 'unicast', flags: [], rawFlags: 0 } as const;

describe('decodeRoute: golden RTM_NEWROUTE captured from Linux 6.18', () => {
  it('IPv4 default route via a gateway', () => {
    expect(decodeOne(fixture('ipv4-default-via'))).toEqual({
      ...MAIN, family: AF_INET, dst: 'default', gateway: '10.1.0.254', oif: 3,
    });
  });

  it('table 1000 (RTA_TABLE wins over rtm_table 252), proto static, metric and RTA_METRICS', () => {
    expect(decodeOne(fixture('ipv4-metrics-table1000'))).toEqual({
      ...MAIN, family: AF_INET, dst: '192.168.5.0/24', table: 1000, protocol: 'static', gateway: '10.1.0.2', oif: 3,
      priority: 100, metrics: { mtu: 1400, advmss: 1360, initcwnd: 10 },
    });
  });

  it('IPv4 ECMP: RTA_MULTIPATH with weights', () => {
    expect(decodeOne(fixture('ipv4-multipath'))).toEqual({
      ...MAIN, family: AF_INET, dst: '172.16.0.0/16',
      nexthops: [{ gateway: '10.1.0.3', oif: 3, weight: 1, flags: [] }, { gateway: '10.2.0.3', oif: 2, weight: 3, flags: [] }],
    });
  });

  it('link-scope route with a preferred source, table 100', () => {
    expect(decodeOne(fixture('ipv4-link-scope-src'))).toEqual({
      ...MAIN, family: AF_INET, dst: '10.7.0.0/16', table: 100, scope: 'link', oif: 3, prefSrc: '10.1.0.1',
    });
  });

  it('blackhole route: no gateway, no oif', () => {
    expect(decodeOne(fixture('ipv4-blackhole'))).toEqual({
      ...MAIN, family: AF_INET, dst: '198.51.100.0/24', table: 100, type: 'blackhole',
    });
  });

  it('IPv4 route via an IPv6 gateway: RTA_VIA', () => {
    expect(decodeOne(fixture('ipv4-via-inet6'))).toEqual({
      ...MAIN, family: AF_INET, dst: '10.50.0.0/16', gateway: '2001:db8:1::fe', oif: 3,
    });
  });

  it('route lookup reply: a cloned /32 route, protocol unspec', () => {
    expect(decodeOne(fixture('ipv4-get-reply'))).toEqual({
      ...MAIN, family: AF_INET, dst: '203.0.113.9/32', protocol: 'unspec', gateway: '10.1.0.254', oif: 3,
      prefSrc: '10.1.0.1', flags: ['cloned'], rawFlags: 0x200,
    });
  });

  it('IPv6 route via a gateway with metric and router preference', () => {
    expect(decodeOne(fixture('ipv6-via'))).toEqual({
      ...MAIN, family: AF_INET6, dst: '2001:db8:99::/48', gateway: '2001:db8:1::fe', oif: 3, priority: 512, pref: 'high',
    });
  });

  it('IPv6 ECMP: the kernel reports siblings as one RTA_MULTIPATH route', () => {
    expect(decodeOne(fixture('ipv6-multipath'))).toEqual({
      ...MAIN, family: AF_INET6, dst: '2001:db8:aa::/48', priority: 1024, pref: 'medium',
      nexthops: [
        { gateway: '2001:db8:1::fe', oif: 3, weight: 1, flags: [] },
        { gateway: '2001:db8:2::fe', oif: 2, weight: 1, flags: [] },
      ],
    });
  });

  it('skips multicast/MPLS families and rejects addresses that do not fit the family', () => {
    const b = fixture('ipv4-default-via');
    b[16] = 128; // RTNL_FAMILY_IPMR
    expect(decodeAll(b)).toEqual([undefined]);
    const v6 = fixture('ipv6-via');
    v6[16] = AF_INET;
    expect(() => decodeAll(v6)).toThrow(/of 16 bytes in a family 2 route/);
  });

  it('is total: random and mutated input only ever gives a value or a ProtocolError', () => {
    assertDecoderTotal(decodeAll, FIXTURES.map(fixture));
  });
});

describe('encodeRoute: exact request bytes', () => {
  it('default via gateway (the ipv4-default-via fixture): main table, proto boot, scope global', () => {
    expect(add({ dst: 'default', gateway: '10.1.0.254', oif: idx(3) })).toBe(hex(`
      2c 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00  # nlmsghdr: RTM_NEWROUTE, CREATE|EXCL
      02 00 00 00 fe 03 00 01 00 00 00 00              # rtmsg: AF_INET /0, table main, boot, universe, unicast
      08 00 04 00 03 00 00 00                          # RTA_OIF 3
      08 00 05 00 0a 01 00 fe                          # RTA_GATEWAY`));
  });

  it('table 1000 with metrics (the ipv4-metrics-table1000 fixture): rtm_table 0 plus RTA_TABLE', () => {
    expect(add({
      dst: '192.168.5.0/24', gateway: '10.1.0.2', oif: idx(3), protocol: 'static', priority: 100, table: 1000,
      metrics: { mtu: 1400, advmss: 1360, initcwnd: 10 },
    })).toBe(hex(`
      60 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00
      02 18 00 00 00 04 00 01 00 00 00 00              # /24, table in RTA_TABLE, static
      08 00 01 00 c0 a8 05 00                          # RTA_DST
      08 00 0f 00 e8 03 00 00                          # RTA_TABLE 1000
      08 00 04 00 03 00 00 00                          # RTA_OIF
      08 00 05 00 0a 01 00 02                          # RTA_GATEWAY
      08 00 06 00 64 00 00 00                          # RTA_PRIORITY 100
      1c 00 08 00                                      # RTA_METRICS (no NLA_F_NESTED, like iproute2)
        08 00 02 00 78 05 00 00                        #   RTAX_MTU 1400
        08 00 08 00 50 05 00 00                        #   RTAX_ADVMSS 1360
        08 00 0b 00 0a 00 00 00                        #   RTAX_INITCWND 10`));
  });

  it('ECMP (the ipv4-multipath fixture): rtnexthop records with weight - 1 in rtnh_hops', () => {
    expect(add({
      dst: '172.16.0.0/16',
      nexthops: [{ gateway: '10.1.0.3', oif: idx(3) }, { gateway: '10.2.0.3', oif: idx(2), weight: 3 }],
    })).toBe(hex(`
      48 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00
      02 10 00 00 fe 03 00 01 00 00 00 00              # scope global: the nexthops have gateways
      08 00 01 00 ac 10 00 00                          # RTA_DST
      24 00 09 00                                      # RTA_MULTIPATH
        10 00 00 00 03 00 00 00 08 00 05 00 0a 01 00 03  # len 16, flags 0, hops 0, ifindex 3, RTA_GATEWAY
        10 00 00 02 02 00 00 00 08 00 05 00 0a 02 00 03  # hops 2 = weight 3`));
  });

  it('IPv6 route (the ipv6-via fixture) with metric and pref', () => {
    expect(add({ dst: '2001:db8:99::/48', gateway: '2001:db8:1::fe', oif: idx(3), priority: 512, pref: 'high' })).toBe(hex(`
      5c 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00
      0a 30 00 00 fe 03 00 01 00 00 00 00
      14 00 01 00 20 01 0d b8 00 99 00 00 00 00 00 00 00 00 00 00  # RTA_DST
      08 00 04 00 03 00 00 00
      14 00 05 00 20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 fe  # RTA_GATEWAY
      08 00 06 00 00 02 00 00                          # RTA_PRIORITY 512
      05 00 14 00 01 00 00 00                          # RTA_PREF high`));
  });

  it('link-scope route with preferred source (the ipv4-link-scope-src fixture)', () => {
    expect(add({ dst: '10.7.0.0/16', oif: idx(3), prefSrc: '10.1.0.1', table: 100 })).toBe(hex(`
      34 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00
      02 10 00 00 64 03 fd 01 00 00 00 00              # table 100, scope link (no gateway)
      08 00 01 00 0a 07 00 00
      08 00 04 00 03 00 00 00
      08 00 07 00 0a 01 00 01                          # RTA_PREFSRC`));
  });

  it('blackhole (the ipv4-blackhole fixture) and an IPv4 route via an IPv6 gateway (RTA_VIA)', () => {
    expect(add({ dst: '198.51.100.0/24', type: 'blackhole', table: 100 })).toBe(hex(`
      24 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00
      02 18 00 00 64 03 00 06 00 00 00 00              # type blackhole, scope global
      08 00 01 00 c6 33 64 00`));
    expect(add({ dst: '10.50.0.0/16', gateway: '2001:db8:1::fe', oif: idx(3) })).toBe(hex(`
      44 00 00 00 18 00 00 06 00 00 00 00 00 00 00 00
      02 10 00 00 fe 03 00 01 00 00 00 00
      08 00 01 00 0a 32 00 00
      08 00 04 00 03 00 00 00
      16 00 12 00 0a 00 20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 fe 00 00  # RTA_VIA AF_INET6`));
  });

  it('replace uses CREATE|REPLACE; onlink goes into rtm_flags', () => {
    const w = encodeRoute(new NlWriter(), RTM.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
      { dst: '10.9.0.0/16', gateway: '192.0.2.1', oif: idx(4), onlink: true, protocol: 99, scope: 'global' });
    expect(w.bytes.toString('hex')).toBe(hex(`
      34 00 00 00 18 00 00 05 00 00 00 00 00 00 00 00
      02 10 00 00 fe 63 00 01 04 00 00 00              # protocol 99, RTNH_F_ONLINK
      08 00 01 00 0a 09 00 00
      08 00 04 00 04 00 00 00
      08 00 05 00 c0 00 02 01`));
  });

  it('delete: protocol and type 0 (match any), scope nowhere, no metrics', () => {
    const w = encodeRoute(new NlWriter(), RTM.RTM_DELROUTE, 0, { dst: '192.168.5.0/24', table: 1000, metrics: { mtu: 1 } });
    expect(w.bytes.toString('hex')).toBe(hex(`
      2c 00 00 00 19 00 00 00 00 00 00 00 00 00 00 00  # RTM_DELROUTE
      02 18 00 00 00 00 ff 00 00 00 00 00
      08 00 01 00 c0 a8 05 00
      08 00 0f 00 e8 03 00 00`));
  });

  it('dump request: strict-check filters in the header (table, protocol, type) and RTA_TABLE/RTA_OIF', () => {
    expect(encodeRouteDump(new NlWriter(), { family: AF_INET, table: 1000, oif: idx(3) }).bytes.toString('hex')).toBe(hex(`
      2c 00 00 00 1a 00 00 00 00 00 00 00 00 00 00 00  # RTM_GETROUTE (the socket adds NLM_F_DUMP)
      02 00 00 00 00 00 00 00 00 00 00 00
      08 00 0f 00 e8 03 00 00                          # RTA_TABLE
      08 00 04 00 03 00 00 00                          # RTA_OIF`));
    expect(encodeRouteDump(new NlWriter(), { table: 100, protocol: 'static', type: 'blackhole' }).bytes.toString('hex')).toBe(hex(`
      1c 00 00 00 1a 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 64 04 00 06 00 00 00 00`));
  });

  it('route lookup: full-length dst_len, RTA_DST and the optional keys', () => {
    const q = resolveRouteGet('2001:db8::9', { src: '2001:db8::1', oif: idx(3), mark: 7, fibMatch: true });
    expect(encodeRouteGet(new NlWriter(), q).bytes.toString('hex')).toBe(hex(`
      54 00 00 00 1a 00 00 00 00 00 00 00 00 00 00 00
      0a 80 80 00 00 00 00 00 00 20 00 00              # /128 from /128, RTM_F_FIB_MATCH
      14 00 01 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 09
      14 00 02 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
      08 00 04 00 03 00 00 00
      08 00 10 00 07 00 00 00                          # RTA_MARK`));
  });
});

describe('encodeRoute: defaults and validation', () => {
  const scopeOf = (spec: RouteSpec): number => Buffer.from(add(spec), 'hex')[16 + 6]!;

  it('picks the scope `ip route` would', () => {
    expect(scopeOf({ dst: '10.0.0.0/8', oif: idx(2) })).toBe(253);
    expect(scopeOf({ dst: '10.0.0.0/8', gateway: '192.0.2.1' })).toBe(0);
    expect(scopeOf({ dst: '10.0.0.1', type: 'local', oif: idx(2) })).toBe(254);
    expect(scopeOf({ dst: '10.0.0.255', type: 'broadcast', oif: idx(2) })).toBe(253);
    expect(scopeOf({ dst: '10.0.0.0/8', type: 'unreachable' })).toBe(0);
    expect(scopeOf({ dst: '10.0.0.0/8', oif: idx(2), scope: 'host' })).toBe(254);
  });

  it('infers the family of `default` from the gateway, else IPv4 unless told', () => {
    expect(Buffer.from(add({ dst: 'default', gateway: 'fe80::1', oif: idx(2) }), 'hex')[16]).toBe(AF_INET6);
    expect(Buffer.from(add({ dst: 'default', oif: idx(2) }), 'hex')[16]).toBe(AF_INET);
    expect(Buffer.from(add({ dst: 'default', family: AF_INET6, type: 'unreachable' }), 'hex')[16]).toBe(AF_INET6);
  });

  const cases: [RouteSpec, RegExp][] = [
    [{ dst: 'nowhere' }, /RouteSpec\.dst: "nowhere" is not an IP address/],
    [{ dst: '10.0.0.1/24' }, /RouteSpec\.dst: "10.0.0.1\/24" has host bits set beyond \/24/],
    [{ dst: '10.0.0.0/33' }, /RouteSpec\.dst: .* bad prefix length \(0\.\.32\)/],
    [{ dst: '2001:db8::/129' }, /RouteSpec\.dst: .* bad prefix length \(0\.\.128\)/],
    [{ dst: '10.0.0.0/8', family: AF_INET6 }, /RouteSpec\.family: dst "10.0.0.0\/8" is IPv4/],
    [{ dst: '10.0.0.0/8', family: 7 as never }, /RouteSpec\.family: 7 is neither/],
    [{ dst: '2001:db8::/32', gateway: '10.0.0.1' }, /RouteSpec\.gateway: IPv6 routes cannot use the IPv4 gateway/],
    [{ dst: '10.0.0.0/8', gateway: 'gw' }, /RouteSpec\.gateway: "gw" is not an IP address/],
    [{ dst: '10.0.0.0/8', prefSrc: '2001:db8::1' }, /RouteSpec\.prefSrc: .* is not IPv4/],
    [{ dst: '10.0.0.0/8', src: '10.1.0.0/16' }, /RouteSpec\.src: source prefixes \(RTA_SRC\) are IPv6 only/],
    [{ dst: '2001:db8::/32', src: '10.1.0.0/16' }, /RouteSpec\.src: .* is not IPv6/],
    [{ dst: '10.0.0.0/8', table: 0 }, /RouteSpec\.table: 0 is not an integer in 1\.\.4294967295/],
    [{ dst: '10.0.0.0/8', table: 2 ** 32 }, /RouteSpec\.table/],
    [{ dst: '10.0.0.0/8', priority: -1 }, /RouteSpec\.priority/],
    [{ dst: '10.0.0.0/8', oif: idx(0) }, /RouteSpec\.oif: 0 is not an integer/],
    [{ dst: '10.0.0.0/8', tos: 256 }, /RouteSpec\.tos/],
    [{ dst: '10.0.0.0/8', protocol: 'ospf3' as never }, /RouteSpec\.protocol: unknown name "ospf3"/],
    [{ dst: '10.0.0.0/8', scope: 'planet' as never }, /RouteSpec\.scope: unknown name "planet"/],
    [{ dst: '10.0.0.0/8', type: 'wormhole' as never }, /RouteSpec\.type: unknown name "wormhole"/],
    [{ dst: '10.0.0.0/8', type: 'blackhole', gateway: '10.1.1.1' }, /RouteSpec\.type: a blackhole route has no gateway/],
    [{ dst: '10.0.0.0/8', pref: 'high' }, /RouteSpec\.pref: router preference is IPv6 only/],
    [{ dst: '2001:db8::/32', pref: 'urgent' as never }, /RouteSpec\.pref: unknown name/],
    [{ dst: '10.0.0.0/8', metrics: { mtu: -5 } }, /RouteSpec\.metrics\.mtu: -5/],
    [{ dst: '10.0.0.0/8', metrics: { speed: 1 } as never }, /RouteSpec\.metrics\.speed: unknown metric/],
    [{ dst: '10.0.0.0/8', metrics: { ccAlgo: 'a-very-long-congestion-algo' } }, /RouteSpec\.metrics\.ccAlgo/],
    [{ dst: '10.0.0.0/8', nexthops: [] }, /RouteSpec\.nexthops: is empty/],
    [{ dst: '10.0.0.0/8', nexthops: [{}] }, /RouteSpec\.nexthops\[0\]: needs a gateway or an oif/],
    [{ dst: '10.0.0.0/8', nexthops: [{ oif: idx(2), weight: 0 }] }, /RouteSpec\.nexthops\[0\]\.weight: 0/],
    [{ dst: '10.0.0.0/8', nexthops: [{ oif: idx(2) }, { oif: idx(3), weight: 257 }] }, /RouteSpec\.nexthops\[1\]\.weight: 257/],
    [{ dst: '10.0.0.0/8', gateway: '10.1.1.1', nexthops: [{ oif: idx(2) }] }, /RouteSpec\.gateway: cannot be combined with nexthops/],
    [{ dst: '2001:db8::/32', nexthops: [{ gateway: '10.1.1.1' }] }, /RouteSpec\.nexthops\[0\]\.gateway: IPv6 routes cannot/],
  ];
  it.each(cases)('%j → %s', (spec, re) => {
    const w = new NlWriter();
    let err: unknown;
    try { encodeRoute(w, RTM.RTM_NEWROUTE, 0, spec); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(re);
    expect(w.length).toBe(0);
  });

  it('dump filters are checked too', () => {
    expect(() => encodeRouteDump(new NlWriter(), { table: -1 })).toThrow(/RouteFilter\.table: -1/);
    expect(() => encodeRouteDump(new NlWriter(), { oif: idx(0) })).toThrow(/RouteFilter\.oif/);
    expect(() => encodeRouteDump(new NlWriter(), { family: 3 as never })).toThrow(/RouteFilter\.family/);
    expect(() => encodeRouteDump(new NlWriter(), { protocol: 'nope' as never })).toThrow(/RouteFilter\.protocol/);
    expect(() => encodeRouteDump(new NlWriter(), { type: 'nope' as never })).toThrow(/RouteFilter\.type/);
  });

  it('route lookup keys are checked too', () => {
    expect(() => resolveRouteGet('10.0.0.0/8')).toThrow(/RouteGet\.dst: "10.0.0.0\/8" is not an IP address/);
    expect(() => resolveRouteGet('10.0.0.1', { src: '2001:db8::1' })).toThrow(/RouteGet\.src: .* is not IPv4/);
    expect(() => resolveRouteGet('10.0.0.1', { mark: -1 })).toThrow(ConfigError);
  });
});

// ---- randomized round trip -------------------------------------------------

const addrOf = (family: number): fc.Arbitrary<string> => {
  const n = family === AF_INET ? 4 : 16;
  return fc.uint8Array({ minLength: n, maxLength: n }).map((a) => ipFromBytes(Buffer.from(a), 0, n));
};

/** A random prefix with its host bits cleared, as text (`default` for /0). */
const prefixOf = (family: number): fc.Arbitrary<string> => {
  const n = family === AF_INET ? 4 : 16;
  return fc.tuple(fc.uint8Array({ minLength: n, maxLength: n }), fc.integer({ min: 0, max: n * 8 })).map(([a, len]) => {
    const b = Buffer.from(a);
    for (let bit = len; bit < n * 8; bit++) b[bit >> 3]! &= ~(0x80 >> (bit & 7));
    return len === 0 ? 'default' : `${ipFromBytes(b, 0, n)}/${len}`;
  });
};

const oif = fc.integer({ min: 1, max: 0x7fff_ffff }).map(idx);
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const metricsArb = fc.record({
  lock: u32, mtu: u32, window: u32, rtt: u32, rttvar: u32, ssthresh: u32, cwnd: u32, advmss: u32, reordering: u32,
  hoplimit: u32, initcwnd: u32, features: u32, rtoMin: u32, initrwnd: u32, quickack: u32, fastopenNoCookie: u32,
  ccAlgo: fc.stringMatching(/^[a-z][a-z0-9_]{0,14}$/),
}, { requiredKeys: [] });

const routeArb: fc.Arbitrary<RouteSpec> = fc.constantFrom(AF_INET, AF_INET6).chain((family) => {
  const gatewayArb = family === AF_INET ? fc.oneof(addrOf(AF_INET), addrOf(AF_INET6)) : addrOf(AF_INET6);
  const nexthop = fc.record({ gateway: gatewayArb, oif, weight: fc.integer({ min: 1, max: 256 }), onlink: fc.boolean() },
    { requiredKeys: ['oif'] });
  const common = {
    dst: prefixOf(family),
    family: fc.constant(family),
    tos: family === AF_INET ? fc.integer({ min: 0, max: 255 }) : fc.constant(0),
    table: fc.oneof(fc.integer({ min: 1, max: 255 }), u32.filter((t) => t > 0)),
    protocol: fc.oneof(fc.constantFrom('kernel', 'boot', 'static', 'dhcp', 'ra', 'bgp' as const), fc.integer({ min: 0, max: 255 })),
    scope: fc.oneof(fc.constantFrom('global', 'site', 'link', 'host', 'nowhere' as const), fc.integer({ min: 1, max: 199 })),
    prefSrc: addrOf(family),
    priority: u32,
    metrics: metricsArb,
    ...(family === AF_INET6 ? { src: prefixOf(AF_INET6).filter((p) => p !== 'default'), pref: fc.constantFrom('low', 'medium', 'high' as const) } : {}),
  };
  const single = fc.record({
    ...common, type: fc.constantFrom('unicast', 'local', 'broadcast', 'multicast' as const), gateway: gatewayArb, oif, onlink: fc.constant(true),
  }, { requiredKeys: ['dst', 'family', 'table', 'protocol', 'scope'] });
  const multi = fc.record({ ...common, type: fc.constant('unicast' as const), nexthops: fc.array(nexthop, { minLength: 1, maxLength: 4 }) },
    { requiredKeys: ['dst', 'family', 'table', 'protocol', 'scope', 'nexthops'] });
  const reject = fc.record({ ...common, type: fc.constantFrom('blackhole', 'unreachable', 'prohibit', 'throw' as const) },
    { requiredKeys: ['dst', 'family', 'table', 'protocol', 'scope', 'type'] });
  return fc.oneof(single, multi, reject) as fc.Arbitrary<RouteSpec>;
});

const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const PROTOCOLS: Record<number, string> = { 2: 'kernel', 3: 'boot', 4: 'static', 16: 'dhcp', 9: 'ra', 186: 'bgp' };

/** What decodeRoute must give back for a NEWROUTE written from `s` (explicit table, protocol and scope). */
function expected(s: RouteSpec): Route {
  const protocol = typeof s.protocol === 'number' ? (PROTOCOLS[s.protocol] ?? s.protocol) : s.protocol!;
  const rawProtocol = typeof s.protocol === 'number' ? s.protocol : undefined;
  const scope = typeof s.scope === 'number' ? (SCOPES[s.scope] ?? s.scope) : s.scope!;
  const metrics = s.metrics && Object.keys(s.metrics).length > 0 ? s.metrics : undefined;
  return {
    family: s.family!,
    dst: s.dst,
    ...(s.src !== undefined ? { src: s.src } : {}),
    tos: s.tos ?? 0,
    table: s.table!,
    // Every number 0..255 decodes to its name when iproute2 has one.
    protocol: rawProtocol !== undefined && PROTOCOLS[rawProtocol] === undefined ? expect.anything() : protocol,
    scope,
    type: s.type ?? 'unicast',
    ...(s.gateway !== undefined ? { gateway: s.gateway } : {}),
    ...(s.oif !== undefined ? { oif: s.oif } : {}),
    ...(s.prefSrc !== undefined ? { prefSrc: s.prefSrc } : {}),
    ...(s.priority !== undefined ? { priority: s.priority } : {}),
    ...(metrics ? { metrics } : {}),
    ...(s.nexthops ? {
      nexthops: s.nexthops.map((n) => ({
        ...(n.gateway !== undefined ? { gateway: n.gateway } : {}),
        oif: n.oif!, weight: n.weight ?? 1, flags: n.onlink ? ['onlink'] : [],
      })),
    } : {}),
    ...(s.pref !== undefined ? { pref: s.pref } : {}),
    flags: s.onlink ? ['onlink'] : [],
    rawFlags: s.onlink ? 4 : 0,
  } as Route;
}

describe('encodeRoute → decodeRoute round trip', () => {
  // Bounded runs; the timeout leaves room for a loaded machine.
  it('gives back every field of a random valid spec (IPv4 and IPv6, tables > 255, ECMP, RTA_VIA)', { timeout: 60_000 }, () => {
    fc.assert(fc.property(routeArb, (spec) => {
      const w = encodeRoute(new NlWriter(), RTM.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, spec);
      expect(decodeOne(Buffer.from(w.bytes))).toEqual(expected(spec));
    }), { numRuns: 300 });
  });
});
