import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal, hexFixture } from '../../../../test/fuzz/decoder-fuzz.ts';
import { ConfigError } from '../../../common/errors.ts';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../constants.ts';
import { AF_INET, AF_INET6, ipFromBytes } from '../../../common/ip.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { decodeAddr, encodeAddr, encodeAddrDump } from './addr-codec.ts';
import { ADDR_REQUEST_FLAGS } from './addr-constants.ts';
import type { Addr, AddrRequestFlag, AddrSpec } from './addr-types.ts';
import { RTM } from './rtnl-constants.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`addr/${name}`);

/** Decodes every message in `buf`. */
function decodeAll(buf: Buffer): (Addr | undefined)[] {
  const out: (Addr | undefined)[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeAddr(buf, m)); });
  return out;
}

function decodeOne(buf: Buffer): Addr {
  const all = decodeAll(buf);
  if (all.length !== 1 || !all[0]) throw new Error(`expected one address message, got ${all.length}`);
  return all[0];
}

/** Request bytes written with hex and `#` comments; seq and pid are 0 (the socket stamps them). */
const hex = (text: string): string => hexFixture(text).toString('hex');
const add = (index: number, spec: AddrSpec): string =>
  encodeAddr(new NlWriter(), RTM.RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, spec).bytes.toString('hex');

const FIXTURES = ['ipv4', 'ipv4-peer-lifetimes', 'ipv6', 'ipv6-link-local'] as const;

describe('decodeAddr: golden RTM_NEWADDR captured from Linux 6.18', () => {
  it('IPv4 with broadcast and label: IFA_LOCAL = IFA_ADDRESS, permanent', () => {
    expect(decodeOne(fixture('ipv4'))).toEqual({
      index: 3, family: AF_INET, address: '10.1.2.3', prefixLen: 24, local: '10.1.2.3', broadcast: '10.1.2.255',
      label: 'nca:one', scope: 'global', flags: ['permanent'], rawFlags: 0x80, validLft: 'forever', preferredLft: 'forever',
    });
  });

  it('IPv4 point-to-point with lifetimes and a prefix-route metric: IFA_ADDRESS is the peer', () => {
    expect(decodeOne(fixture('ipv4-peer-lifetimes'))).toEqual({
      index: 2, family: AF_INET, address: '10.9.9.1', prefixLen: 32, local: '10.9.9.1', peer: '10.9.9.2', label: 'ncb',
      scope: 'global', flags: [], rawFlags: 0, validLft: 3600, preferredLft: 1800, metric: 50,
    });
  });

  it('IPv6 global with nodad: only IFA_ADDRESS, full flags in IFA_FLAGS', () => {
    expect(decodeOne(fixture('ipv6'))).toEqual({
      index: 3, family: AF_INET6, address: '2001:db8::5', prefixLen: 64, scope: 'global', flags: ['nodad', 'permanent'],
      rawFlags: 0x82, validLft: 'forever', preferredLft: 'forever',
    });
  });

  it('IPv6 link-local made by the kernel: link scope, tentative, proto kernel_ll', () => {
    expect(decodeOne(fixture('ipv6-link-local'))).toEqual({
      index: 3, family: AF_INET6, address: 'fe80::ff:fe00:a', prefixLen: 64, scope: 'link', flags: ['tentative', 'permanent'],
      rawFlags: 0xc0, validLft: 'forever', preferredLft: 'forever', proto: 'kernel_ll',
    });
  });

  it('skips families it does not model and rejects an address of the wrong length', () => {
    const b = fixture('ipv4');
    b[16] = 44; // AF_MCTP
    expect(decodeAll(b)).toEqual([undefined]);
    const v6 = fixture('ipv6');
    v6[16] = AF_INET; // the 16-byte IFA_ADDRESS no longer fits the family
    expect(() => decodeAll(v6)).toThrow(/address attribute of 16 bytes/);
  });

  it('is total: random and mutated input only ever gives a value or a ProtocolError', () => {
    assertDecoderTotal(decodeAll, FIXTURES.map(fixture));
  });
});

describe('encodeAddr: exact request bytes', () => {
  it('IPv4 add with broadcast and label (the ipv4 fixture)', () => {
    expect(add(3, { cidr: '10.1.2.3/24', broadcast: '10.1.2.255', label: 'nca:one' })).toBe(hex(`
      3c 00 00 00 14 00 00 06 00 00 00 00 00 00 00 00  # nlmsghdr: RTM_NEWADDR, CREATE|EXCL
      02 18 00 00 03 00 00 00                          # ifaddrmsg: AF_INET /24 flags 0 scope global ifindex 3
      08 00 02 00 0a 01 02 03                          # IFA_LOCAL
      08 00 01 00 0a 01 02 03                          # IFA_ADDRESS
      0c 00 03 00 6e 63 61 3a 6f 6e 65 00              # IFA_LABEL "nca:one"
      08 00 04 00 0a 01 02 ff                          # IFA_BROADCAST`));
  });

  it('IPv4 point-to-point with lifetimes and metric (the ipv4-peer-lifetimes fixture)', () => {
    expect(add(2, { address: '10.9.9.1', peer: '10.9.9.2', validLft: 3600, preferredLft: 1800, metric: 50 })).toBe(hex(`
      44 00 00 00 14 00 00 06 00 00 00 00 00 00 00 00
      02 20 00 00 02 00 00 00                          # /32 (the peer's prefix)
      08 00 02 00 0a 09 09 01                          # IFA_LOCAL: our address
      08 00 01 00 0a 09 09 02                          # IFA_ADDRESS: the peer
      14 00 06 00 08 07 00 00 10 0e 00 00 00 00 00 00 00 00 00 00  # IFA_CACHEINFO preferred 1800 valid 3600
      08 00 09 00 32 00 00 00                          # IFA_RT_PRIORITY 50`));
  });

  it('IPv6 add with nodad (the ipv6 fixture): IFA_ADDRESS only, flags also in IFA_FLAGS', () => {
    expect(add(3, { cidr: '2001:db8::5/64', flags: ['nodad'] })).toBe(hex(`
      34 00 00 00 14 00 00 06 00 00 00 00 00 00 00 00
      0a 40 02 00 03 00 00 00                          # AF_INET6 /64 flags NODAD
      14 00 01 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 05  # IFA_ADDRESS
      08 00 08 00 02 00 00 00                          # IFA_FLAGS`));
  });

  it('IPv6 link-local with nodad and noprefixroute: the high flag bits only fit IFA_FLAGS', () => {
    expect(add(3, { address: 'fe80::1234', prefixLen: 64, flags: ['nodad', 'noprefixroute'] })).toBe(hex(`
      34 00 00 00 14 00 00 06 00 00 00 00 00 00 00 00
      0a 40 02 00 03 00 00 00                          # header keeps the low byte of the flags
      14 00 01 00 fe 80 00 00 00 00 00 00 00 00 00 00 00 00 12 34
      08 00 08 00 02 02 00 00                          # IFA_FLAGS NODAD|NOPREFIXROUTE`));
  });

  it('IPv6 with a peer sends IFA_LOCAL (ours) and IFA_ADDRESS (peer); replace uses CREATE|REPLACE', () => {
    const w = encodeAddr(new NlWriter(), RTM.RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, 7, { cidr: '2001:db8::1/128', peer: '2001:db8::2' });
    expect(w.bytes.toString('hex')).toBe(hex(`
      40 00 00 00 14 00 00 05 00 00 00 00 00 00 00 00
      0a 80 00 00 07 00 00 00
      14 00 02 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01  # IFA_LOCAL
      14 00 01 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02  # IFA_ADDRESS (peer)`));
  });

  it('delete carries the address and label only; loopback addresses default to host scope', () => {
    const w = encodeAddr(new NlWriter(), RTM.RTM_DELADDR, 0, 1, { cidr: '127.0.0.2/8', label: 'lo:x', validLft: 5, flags: ['nodad'] });
    expect(w.bytes.toString('hex')).toBe(hex(`
      34 00 00 00 15 00 00 00 00 00 00 00 00 00 00 00  # RTM_DELADDR
      02 08 00 fe 01 00 00 00                          # scope host
      08 00 02 00 7f 00 00 02
      08 00 01 00 7f 00 00 02
      09 00 03 00 6c 6f 3a 78 00 00 00 00              # IFA_LABEL "lo:x"`));
  });

  it('dump request: family and ifindex in the header (strict-check filter), the rest zero', () => {
    expect(encodeAddrDump(new NlWriter(), { family: AF_INET6, index: 9 as never }).bytes.toString('hex')).toBe(hex(`
      18 00 00 00 16 00 00 00 00 00 00 00 00 00 00 00  # RTM_GETADDR (the socket adds NLM_F_DUMP)
      0a 00 00 00 09 00 00 00`));
  });
});

describe('encodeAddr: validation names the field', () => {
  const cases: [AddrSpec, RegExp][] = [
    [{}, /AddrSpec\.address: an address \(or cidr\) is required/],
    [{ cidr: '10.0.0.1/33' }, /AddrSpec\.cidr: "10.0.0.1\/33"/],
    [{ cidr: 'nope/24' }, /AddrSpec\.cidr/],
    [{ cidr: '10.0.0.1/24', address: '10.0.0.1' }, /AddrSpec\.address: give either/],
    [{ cidr: '10.0.0.1/24', prefixLen: 24 }, /AddrSpec\.prefixLen: give either/],
    [{ address: '2001:db8::1', prefixLen: 129 }, /AddrSpec\.prefixLen: 129 is not an integer in 0\.\.128/],
    [{ address: '10.0.0.1', prefixLen: 1.5 }, /AddrSpec\.prefixLen/],
    [{ address: '10.0.0.300' }, /AddrSpec\.address: "10.0.0.300" is not an IP address/],
    [{ cidr: '10.0.0.1/32', peer: '2001:db8::2' }, /AddrSpec\.peer: "2001:db8::2" is not IPv4 like the address/],
    [{ cidr: '2001:db8::1/64', peer: '10.0.0.2' }, /AddrSpec\.peer: .* is not IPv6/],
    [{ cidr: '2001:db8::1/64', broadcast: 'ff02::1' }, /AddrSpec\.broadcast: IPv6 has no broadcast/],
    [{ cidr: '2001:db8::1/64', label: 'x' }, /AddrSpec\.label: IPv6/],
    [{ cidr: '10.0.0.1/24', label: 'a-label-that-is-too-long' }, /AddrSpec\.label: .* 1\.\.15 bytes/],
    [{ cidr: '10.0.0.1/24', scope: 'galaxy' as never }, /AddrSpec\.scope: unknown name "galaxy"/],
    [{ cidr: '10.0.0.1/24', scope: 256 }, /AddrSpec\.scope: 256/],
    [{ cidr: '10.0.0.1/24', flags: ['permanent' as AddrRequestFlag] }, /AddrSpec\.flags: unknown flag "permanent"/],
    [{ cidr: '10.0.0.1/24', validLft: 10, preferredLft: 20 }, /AddrSpec\.preferredLft: 20 exceeds validLft 10/],
    [{ cidr: '10.0.0.1/24', preferredLft: 'forever', validLft: 30 }, /AddrSpec\.preferredLft/],
    [{ cidr: '10.0.0.1/24', validLft: 0 }, /AddrSpec\.validLft: must be greater than 0/],
    [{ cidr: '10.0.0.1/24', metric: -1 }, /AddrSpec\.metric/],
    [{ cidr: '10.0.0.1/24', proto: 'kernel_xx' as never }, /AddrSpec\.proto: unknown name/],
  ];
  it('checks dump filters', () => {
    expect(() => encodeAddrDump(new NlWriter(), { index: 0 as never })).toThrow(/AddrFilter\.index/);
    expect(() => encodeAddrDump(new NlWriter(), { family: 7 as never })).toThrow(/AddrFilter\.family/);
  });

  it.each(cases)('%j → %s', (spec, re) => {
    const w = new NlWriter();
    let err: unknown;
    try { encodeAddr(w, RTM.RTM_NEWADDR, 0, 1, spec); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(re);
    expect(w.length).toBe(0);
  });
});

// ---- randomized round trip -------------------------------------------------

const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => ipFromBytes(Buffer.from(a), 0, 4));
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => ipFromBytes(Buffer.from(a), 0, 16));
const lifetime = fc.oneof(fc.constant('forever' as const), fc.integer({ min: 1, max: 0xffff_fffe }));
const requestFlags = fc.subarray(Object.keys(ADDR_REQUEST_FLAGS) as AddrRequestFlag[]);
const scope = fc.oneof(fc.constantFrom('global', 'site', 'link', 'host', 'nowhere' as const), fc.integer({ min: 1, max: 199 }));

interface Case { readonly index: number; readonly spec: AddrSpec }

const specArb: fc.Arbitrary<Case> = fc.boolean().chain((isV4) => fc.record({
  index: fc.integer({ min: 1, max: 0x7fff_ffff }),
  spec: fc.record({
    address: isV4 ? v4 : v6,
    prefixLen: fc.integer({ min: 0, max: isV4 ? 32 : 128 }),
    peer: isV4 ? v4 : v6,
    broadcast: isV4 ? v4 : fc.constant(undefined),
    label: isV4 ? fc.stringMatching(/^[a-z][a-z0-9:]{0,14}$/) : fc.constant(undefined),
    scope,
    flags: requestFlags,
    validLft: lifetime,
    preferredLft: lifetime,
    metric: fc.nat(),
    proto: fc.oneof(fc.constantFrom('unspec', 'kernel_lo', 'kernel_ra', 'kernel_ll' as const), fc.integer({ min: 4, max: 255 })),
  }, { requiredKeys: ['address'] }).filter((s) => {
    const valid = s.validLft === undefined ? 'forever' : s.validLft;
    const pref = s.preferredLft ?? valid;
    return (valid === 'forever' || (pref !== 'forever' && pref <= valid)) && s.peer !== s.address;
  }) as fc.Arbitrary<AddrSpec>,
}));

const PROTO_NAMES: Record<string, string> = { 0: 'unspec', 1: 'kernel_lo', 2: 'kernel_ra', 3: 'kernel_ll' };
const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/** What decodeAddr must give back for a NEWADDR written from `spec`. */
function expected(index: number, s: AddrSpec): Addr {
  const family = s.address!.includes(':') ? AF_INET6 : AF_INET;
  const bits = (s.flags ?? []).reduce((b, f) => b | ADDR_REQUEST_FLAGS[f], 0);
  const hasLft = s.validLft !== undefined || s.preferredLft !== undefined;
  const valid = s.validLft ?? 'forever';
  const scopeNum = s.scope === undefined ? (family === AF_INET && s.address!.startsWith('127.') ? 254 : 0) : s.scope;
  const proto = typeof s.proto === 'string' ? s.proto : s.proto === undefined ? undefined : (PROTO_NAMES[s.proto] ?? s.proto);
  const names = ['nodad', 'optimistic', 'homeaddress', 'managetempaddr', 'noprefixroute', 'mcautojoin'] as const;
  return {
    index: index as Addr['index'],
    family,
    address: s.address!,
    prefixLen: s.prefixLen ?? (family === AF_INET ? 32 : 128),
    ...(family === AF_INET || s.peer !== undefined ? { local: s.address! } : {}),
    ...(s.peer !== undefined ? { peer: s.peer } : {}),
    ...(s.broadcast !== undefined ? { broadcast: s.broadcast } : {}),
    ...(s.label !== undefined ? { label: s.label } : {}),
    scope: typeof scopeNum === 'number' ? (SCOPE_NAMES[scopeNum] ?? scopeNum) as Addr['scope'] : scopeNum,
    flags: names.filter((n) => bits & ADDR_REQUEST_FLAGS[n]),
    rawFlags: bits,
    ...(hasLft ? { validLft: valid, preferredLft: s.preferredLft ?? valid } : {}),
    ...(s.metric !== undefined ? { metric: s.metric } : {}),
    ...(proto !== undefined ? { proto } : {}),
  } as Addr;
}

describe('encodeAddr → decodeAddr round trip', () => {
  // A bounded number of runs, not a time budget; the timeout only leaves room for a loaded machine (1,000 runs took 9.7 s beside a Go build).
  it('gives back every field of a random valid spec', { timeout: 60_000 }, () => {
    fc.assert(fc.property(specArb, ({ index, spec }) => {
      const w = encodeAddr(new NlWriter(), RTM.RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, spec);
      expect(decodeOne(Buffer.from(w.bytes))).toEqual(expected(index, spec));
    }), { numRuns: 300 });
  });
});
