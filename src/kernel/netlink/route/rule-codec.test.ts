import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/errors.ts';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.ts';
import { AF_INET, AF_INET6, ipFromBytes, type IpFamily } from '../../../common/ip.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { RTM } from './rtnl-constants.ts';
import { decodeRule, decodeRulePayload, encodeRule, encodeRuleDump } from './rule-codec.ts';
import { RULE_ACTION_CODES } from './rule-constants.ts';
import type { NumRange, Rule, RuleAction, RuleSpec } from './rule-types.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`rule/${name}`);

/** Decodes the single message of a captured datagram through the header path. */
function decodeFixture(name: string): Rule | undefined {
  const buf = fixture(name);
  const out: (Rule | undefined)[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeRule(buf, m)); });
  expect(out).toHaveLength(1);
  return out[0];
}

const base = { action: 'table', invert: false, flags: 0, protocol: 0 } as const;

describe('decodeRule (golden kernel bytes, Linux 6.18)', () => {
  it('decodes the default local rule (priority 0 is omitted by the kernel; proto kernel)', () => {
    expect(decodeFixture('local-v4')).toEqual({ ...base, family: AF_INET, priority: 0, table: 255, protocol: 2 });
  });

  it('decodes a from/to/table rule', () => {
    expect(decodeFixture('from-to-table')).toEqual({
      ...base, family: AF_INET, priority: 100, table: 100, src: '10.1.0.0/16', dst: '10.2.0.0/24',
    });
  });

  it('decodes an fwmark/mask rule', () => {
    expect(decodeFixture('fwmark')).toEqual({ ...base, family: AF_INET, priority: 200, table: 200, fwmark: 0x10, fwmask: 0xff });
  });

  it('decodes an iif/oif rule with a table above 255 (header table is RT_TABLE_COMPAT, FRA_TABLE wins)', () => {
    expect(decodeFixture('iif-oif')).toEqual({ ...base, family: AF_INET, priority: 300, table: 300, iif: 'ncv0', oif: 'ncv1' });
  });

  it('decodes an l3mdev rule (table 0)', () => {
    expect(decodeFixture('l3mdev')).toEqual({ ...base, family: AF_INET, priority: 1000, table: 0, l3mdev: true });
  });

  it('decodes an IPv6 rule', () => {
    expect(decodeFixture('from-v6')).toEqual({ ...base, family: AF_INET6, priority: 100, table: 1000, src: '2001:db8::/32' });
  });

  it('skips rules of other families (RTNL_FAMILY_IPMR)', () => {
    const b = fixture('local-v4').subarray(16);
    b[0] = 128;
    expect(decodeRulePayload(b)).toBeUndefined();
  });

  it('rejects an address whose length does not fit the family', () => {
    const b = Buffer.from(fixture('from-v6').subarray(16));
    b[0] = AF_INET;
    expect(() => decodeRulePayload(b)).toThrow(/FRA_SRC: 16-byte address/);
  });
});

describe('encodeRule (exact request bytes)', () => {
  const hex = (w: NlWriter): string => w.bytes.toString('hex');

  it('RTM_NEWRULE from/to/table/priority', () => {
    const w = encodeRule(new NlWriter(), RTM.RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL,
      { src: '10.1.0.0/16', dst: '10.2.0.0/24', table: 100, priority: 100 });
    expect(hex(w)).toBe([
      '3c000000', '2000', '0006', '00000000', '00000000',
      '02181000', '64000001', '00000000',
      '08000600', '64000000', '08000200', '0a010000', '08000100', '0a020000', '08000f00', '64000000',
    ].join(''));
  });

  it('RTM_NEWRULE defaults to table main, and puts a big table only in FRA_TABLE', () => {
    expect(hex(encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0, {}))).toBe(
      '24000000200000000000000000000000' + '02000000fe000001' + '00000000' + '08000f00fe000000');
    expect(hex(encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0, { table: 1000 }))).toBe(
      '24000000200000000000000000000000' + '0200000000000001' + '00000000' + '08000f00e8030000');
  });

  it('RTM_NEWRULE not iif fwmark/mask prohibit (IPv6)', () => {
    const w = encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0,
      { family: AF_INET6, iif: 'eth0', fwmark: 1, fwmask: 0xff, invert: true, action: 'prohibit', priority: 5 });
    expect(hex(w)).toBe([
      '40000000', '2000', '0000', '00000000', '00000000',
      '0a000000', '00000008', '02000000',
      '08000600', '05000000', '09000300', '65746830', '00000000',
      '08000a00', '01000000', '08001000', 'ff000000',
    ].join(''));
  });

  it('RTM_NEWRULE l3mdev, goto, ports, uid range, protocol', () => {
    expect(hex(encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0, { l3mdev: true, priority: 1000 }))).toBe(
      '2c000000200000000000000000000000' + '0200000000000001' + '00000000' + '08000600e8030000' + '0500130001000000');
    expect(hex(encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0, { goto: 100 }))).toBe(
      '24000000200000000000000000000000' + '0200000000000002' + '00000000' + '0800040064000000');
    expect(hex(encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0,
      { action: 'blackhole', ipProto: 6, sport: { start: 1000, end: 2000 }, dport: { start: 80, end: 80 }, uidRange: { start: 100, end: 200 }, protocol: 4 }))).toBe(
      '48000000200000000000000000000000' + '0200000000000006' + '00000000'
      + '0c001400' + '64000000c8000000' + '05001500' + '04000000' + '05001600' + '06000000'
      + '08001700' + 'e803d007' + '08001800' + '50005000');
  });

  it('RTM_DELRULE sends only the fields given (action unspec matches any)', () => {
    expect(hex(encodeRule(new NlWriter(), RTM.RTM_DELRULE, 0, { priority: 100 }))).toBe(
      '24000000210000000000000000000000' + '0200000000000000' + '00000000' + '0800060064000000');
  });

  it('RTM_GETRULE dump request is a bare header', () => {
    expect(hex(encodeRuleDump(new NlWriter(), AF_INET6))).toBe('1c000000220000000000000000000000' + '0a0000000000000000000000');
  });
});

describe('encodeRule validation (ConfigError naming the field, nothing written)', () => {
  const bad: [RuleSpec, RegExp][] = [
    [{ src: '10.0.0.0/33' }, /rule src:/],
    [{ dst: 'not-an-ip' }, /rule dst:/],
    [{ src: '10.0.0.0/8', dst: '2001:db8::/32' }, /rule dst: is not of family 2/],
    [{ family: AF_INET6, src: '10.0.0.0/8' }, /rule src:/],
    [{ priority: -1 }, /rule priority:/],
    [{ priority: 2 ** 32 }, /rule priority:/],
    [{ priority: 1.5 }, /rule priority:/],
    [{ table: 0 }, /rule table:/],
    [{ table: 2 ** 32 }, /rule table:/],
    [{ action: 'lookup' as RuleAction }, /rule action:/],
    [{ action: 'goto' }, /rule goto: is required/],
    [{ action: 'nop', goto: 5 }, /rule goto:/],
    [{ l3mdev: true, table: 10 }, /rule table: .*mutually exclusive/],
    [{ iif: 'a-very-long-interface-name' }, /rule iif:/],
    [{ oif: '' }, /rule oif:/],
    [{ fwmark: -1 }, /rule fwmark:/],
    [{ fwmask: 2 ** 32 }, /rule fwmask:/],
    [{ sport: { start: 2000, end: 1000 } }, /rule sport:/],
    [{ dport: { start: 0, end: 10 } }, /rule dport\.start:/],
    [{ uidRange: { start: 1, end: 2 ** 32 } }, /rule uidRange\.end:/],
    [{ protocol: 256 }, /rule protocol:/],
    [{ ipProto: -1 }, /rule ipProto:/],
    [{ suppressPrefixLen: 33 }, /rule suppressPrefixLen:/],
    [{ family: 7 as IpFamily }, /rule family:/],
  ];
  it.each(bad)('%j', (spec, msg) => {
    const w = new NlWriter();
    expect(() => encodeRule(w, RTM.RTM_NEWRULE, 0, spec)).toThrow(ConfigError);
    expect(() => encodeRule(w, RTM.RTM_NEWRULE, 0, spec)).toThrow(msg);
    expect(w.length).toBe(0);
  });
});

// ---- randomized round trips ----------------------------------------------

const u32 = fc.nat({ max: 0xffff_ffff });
const range16 = fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }))
  .map(([a, b]): NumRange => ({ start: Math.min(a, b), end: Math.max(a, b) }));
const range32 = fc.tuple(u32, u32).map(([a, b]): NumRange => ({ start: Math.min(a, b), end: Math.max(a, b) }));
const ifname = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,14}$/);

function cidrArb(family: IpFamily): fc.Arbitrary<string> {
  const size = family === AF_INET ? 4 : 16;
  return fc.tuple(fc.uint8Array({ minLength: size, maxLength: size }), fc.nat({ max: size * 8 }))
    .map(([bytes, len]) => `${ipFromBytes(Buffer.from(bytes), 0, size)}/${len}`);
}

const specArb: fc.Arbitrary<RuleSpec> = fc.constantFrom<IpFamily>(AF_INET, AF_INET6).chain((family) =>
  fc.record({
    family: fc.constant(family),
    priority: u32,
    action: fc.constantFrom<RuleAction>('table', 'nop', 'blackhole', 'unreachable', 'prohibit'),
    table: fc.integer({ min: 1, max: 0xffff_ffff }),
    invert: fc.boolean(),
    src: cidrArb(family),
    dst: cidrArb(family),
    iif: ifname,
    oif: ifname,
    fwmark: u32,
    fwmask: u32,
    suppressPrefixLen: fc.nat({ max: family === AF_INET ? 32 : 128 }),
    suppressIfGroup: fc.nat({ max: 0xffff_fffe }),
    protocol: fc.nat({ max: 255 }),
    ipProto: fc.nat({ max: 255 }),
    sport: range16,
    dport: range16,
    uidRange: range32,
    tos: fc.nat({ max: 255 }),
  }, { requiredKeys: ['family'] }));

/** What the kernel would report for a rule added with `spec` (the same defaults as `encodeRule`). */
function expected(spec: RuleSpec): Rule {
  const { family, action = 'table', table, invert = false, tos, protocol = 0, priority = 0, ...rest } = spec;
  const t = table ?? (action === 'table' ? 254 : undefined);
  return {
    ...rest,
    family: family!,
    priority,
    table: t ?? 0,
    action,
    invert,
    flags: invert ? 2 : 0,
    protocol,
    ...(tos ? { tos } : {}),
  };
}

describe('rule round trip (encode RTM_NEWRULE → decode)', () => {
  it('decodes every field it encodes', () => {
    fc.assert(fc.property(specArb, (spec) => {
      const w = encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0, spec);
      const rule = decodeRulePayload(w.bytes, 16);
      expect(rule).toEqual(expected(spec));
      expect(RULE_ACTION_CODES[rule!.action as RuleAction]).toBe(w.bytes[16 + 7]);
    }), { numRuns: 500 });
  });

  it('round-trips goto rules', () => {
    fc.assert(fc.property(u32, fc.boolean(), (target, v6) => {
      const w = encodeRule(new NlWriter(), RTM.RTM_NEWRULE, 0, { goto: target, family: v6 ? AF_INET6 : AF_INET });
      expect(decodeRulePayload(w.bytes, 16)).toEqual(expected({ family: v6 ? AF_INET6 : AF_INET, action: 'goto', goto: target }));
    }), { numRuns: 100 });
  });
});

describe('decodeRule is total', () => {
  it('only returns or throws ProtocolError on malformed input', () => {
    const seeds = ['local-v4', 'from-to-table', 'fwmark', 'iif-oif', 'l3mdev', 'from-v6'].map((n) => fixture(n).subarray(16));
    assertDecoderTotal((b) => decodeRulePayload(b), seeds);
    // Through the framing too: whole datagrams.
    assertDecoderTotal((b) => forEachMessage(b, b.length, (m) => { decodeRule(b, m); }), seeds.map((_, i) => fixture(['local-v4', 'from-to-table', 'fwmark', 'iif-oif', 'l3mdev', 'from-v6'][i]!)));
  });
});
