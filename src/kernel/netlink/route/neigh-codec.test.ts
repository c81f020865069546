import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/errors.ts';
import { ifIndex } from '../../../common/ids.ts';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.ts';
import { AF_INET, AF_INET6, ipFromBytes } from '../../../common/ip.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { decodeNeigh, decodeNeighPayload, encodeNeigh, encodeNeighDump, neighStateNames } from './neigh-codec.ts';
import { AF_BRIDGE, NEIGH_STATE_BITS } from './neigh-constants.ts';
import type { Neigh, NeighSpec, NeighState } from './neigh-types.ts';
import { RTM } from './rtnl-constants.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const FIXTURES = ['v4-permanent', 'v6-permanent-router', 'v6-noarp-multicast', 'v4-proxy'] as const;
const fixture = (name: string): Buffer => goldenFixture(`neigh/${name}`);

function decodeFixture(name: string): Neigh | undefined {
  const buf = fixture(name);
  const out: (Neigh | undefined)[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeNeigh(buf, m)); });
  expect(out).toHaveLength(1);
  return out[0];
}

const plain = { flags: 0, router: false, proxy: false, externLearn: false, managed: false, type: 1 } as const;
/** nda_cacheinfo of an entry dumped 10 ms (1 tick) after it was made. */
const fresh = { confirmedMs: 10, usedMs: 10, updatedMs: 10, refcnt: 0 };

describe('decodeNeigh (golden kernel bytes, Linux 6.18)', () => {
  it('decodes a permanent IPv4 entry', () => {
    expect(decodeFixture('v4-permanent')).toEqual({
      ...plain, family: AF_INET, index: 3, dst: '10.0.0.2', lladdr: '02:00:00:00:00:02', state: ['permanent'], probes: 0, cacheInfo: fresh,
    });
  });

  it('decodes a permanent IPv6 router entry', () => {
    expect(decodeFixture('v6-permanent-router')).toEqual({
      ...plain, flags: 0x80, router: true, family: AF_INET6, index: 3, dst: '2001:db8::2', lladdr: '02:00:00:00:00:03',
      state: ['permanent'], probes: 0, cacheInfo: { confirmedMs: 0, usedMs: 0, updatedMs: 0, refcnt: 0 },
    });
  });

  it('decodes a kernel-made NOARP multicast entry', () => {
    expect(decodeFixture('v6-noarp-multicast')).toEqual({
      ...plain, type: 5, family: AF_INET6, index: 3, dst: 'ff02::16', lladdr: '33:33:00:00:00:16', state: ['noarp'],
      probes: 0, cacheInfo: { confirmedMs: 60000, usedMs: 0, updatedMs: 0, refcnt: 0 },
    });
  });

  it('decodes a proxy entry (no lladdr, state none)', () => {
    expect(decodeFixture('v4-proxy')).toEqual({
      ...plain, flags: 0x08, proxy: true, family: AF_INET, index: 3, dst: '10.0.0.9', state: ['none'],
    });
  });

  it('skips bridge FDB entries (AF_BRIDGE)', () => {
    const b = Buffer.from(fixture('v4-permanent').subarray(16));
    b[0] = AF_BRIDGE;
    expect(decodeNeighPayload(b)).toBeUndefined();
  });

  it('rejects an entry without NDA_DST, or with a destination of the wrong size', () => {
    expect(() => decodeNeighPayload(Buffer.from('020000000300000080000001', 'hex'))).toThrow(/without NDA_DST/);
    const b = Buffer.from(fixture('v4-permanent').subarray(16));
    b[0] = AF_INET6;
    expect(() => decodeNeighPayload(b)).toThrow(/NDA_DST: 4-byte address/);
  });

  it('names state bits in bit order', () => {
    expect(neighStateNames(0)).toEqual(['none']);
    expect(neighStateNames(0x0c)).toEqual(['stale', 'delay']);
    expect(neighStateNames(0xff)).toEqual(['incomplete', 'reachable', 'stale', 'delay', 'probe', 'failed', 'noarp', 'permanent']);
  });
});

describe('encodeNeigh (exact request bytes)', () => {
  const hex = (w: NlWriter): string => w.bytes.toString('hex');
  const idx = ifIndex(3);

  it('RTM_NEWNEIGH IPv4 with lladdr, state permanent by default', () => {
    const w = encodeNeigh(new NlWriter(), RTM.RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, { index: idx, dst: '10.0.0.2', lladdr: '02:00:00:00:00:02' });
    expect(hex(w)).toBe([
      '30000000', '1c00', '0006', '00000000', '00000000',
      '02000000', '03000000', '8000', '00', '00',
      '08000100', '0a000002', '0a000200', '020000000002', '0000',
    ].join(''));
  });

  it('RTM_NEWNEIGH IPv6 router, states OR-ed, protocol, managed, extern_learn', () => {
    const w = encodeNeigh(new NlWriter(), RTM.RTM_NEWNEIGH, 0, {
      index: idx, dst: '2001:db8::2', lladdr: '02:00:00:00:00:03', state: ['stale', 'noarp'], router: true, protocol: 4,
      managed: true, externLearn: true,
    });
    expect(hex(w)).toBe([
      '4c000000', '1c00', '0000', '00000000', '00000000',
      '0a000000', '03000000', '4400', '90', '00',
      '14000100', '20010db8000000000000000000000002', '0a000200', '020000000003', '0000',
      '05000c00', '04000000', '08000f00', '01000000',
    ].join(''));
  });

  it('RTM_NEWNEIGH proxy entry', () => {
    expect(hex(encodeNeigh(new NlWriter(), RTM.RTM_NEWNEIGH, 0, { index: idx, dst: '10.0.0.9', proxy: true }))).toBe(
      '240000001c0000000000000000000000' + '02000000030000008000' + '0800' + '080001000a000009');
  });

  it('RTM_DELNEIGH sends the ifindex, the address and NTF_PROXY only', () => {
    expect(hex(encodeNeigh(new NlWriter(), RTM.RTM_DELNEIGH, 0,
      { index: idx, dst: '2001:db8::9', proxy: true, lladdr: 'zz', state: 'bogus' as NeighState }))).toBe(
      '300000001d0000000000000000000000' + '0a000000030000000000' + '0800' + '1400010020010db8000000000000000000000009');
  });

  it('RTM_GETNEIGH dump requests: all, one link, proxies of one family', () => {
    expect(hex(encodeNeighDump(new NlWriter()))).toBe('1c0000001e0000000000000000000000' + '000000000000000000000000');
    expect(hex(encodeNeighDump(new NlWriter(), { index: idx }))).toBe(
      '240000001e0000000000000000000000' + '000000000000000000000000' + '0800080003000000');
    expect(hex(encodeNeighDump(new NlWriter(), { family: AF_INET6, proxy: true }))).toBe(
      '1c0000001e0000000000000000000000' + '0a0000000000000000000800');
  });
});

describe('encodeNeigh validation (ConfigError naming the field, nothing written)', () => {
  const i = ifIndex(3);
  const bad: [NeighSpec, RegExp][] = [
    [{ index: ifIndex(0), dst: '10.0.0.1' }, /neighbour index:/],
    [{ index: ifIndex(-4), dst: '10.0.0.1' }, /neighbour index:/],
    [{ index: i, dst: '10.0.0.1/24' }, /neighbour dst:/],
    [{ index: i, dst: 'fe80::zz' }, /neighbour dst:/],
    [{ index: i, dst: '10.0.0.1', lladdr: '02:00:00:00:00' + ':0' }, /neighbour lladdr:/],
    [{ index: i, dst: '10.0.0.1', lladdr: '0200.0000.0001' }, /neighbour lladdr:/],
    [{ index: i, dst: '10.0.0.1', lladdr: Array(33).fill('aa').join(':') }, /neighbour lladdr:/],
    [{ index: i, dst: '10.0.0.1', state: 'gone' as NeighState }, /neighbour state: unknown state/],
    [{ index: i, dst: '10.0.0.1', state: [] }, /neighbour state:/],
    [{ index: i, dst: '10.0.0.1', protocol: 256 }, /neighbour protocol:/],
    [{ index: i, dst: '10.0.0.1', proxy: true, lladdr: '02:00:00:00:00:01' }, /neighbour lladdr: does not apply/],
  ];
  it.each(bad)('%j', (spec, msg) => {
    const w = new NlWriter();
    expect(() => encodeNeigh(w, RTM.RTM_NEWNEIGH, 0, spec)).toThrow(ConfigError);
    expect(() => encodeNeigh(w, RTM.RTM_NEWNEIGH, 0, spec)).toThrow(msg);
    expect(w.length).toBe(0);
  });
});

// ---- randomized round trips ----------------------------------------------

const stateNames = Object.keys(NEIGH_STATE_BITS) as NeighState[];
const specArb: fc.Arbitrary<NeighSpec> = fc.record({
  index: fc.integer({ min: 1, max: 0x7fff_ffff }).map(ifIndex),
  dst: fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map((b) => ipFromBytes(Buffer.from(b), 0, b.length)),
  lladdr: fc.uint8Array({ minLength: 1, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1:')),
  state: fc.subarray(stateNames, { minLength: 1 }),
  router: fc.boolean(),
  externLearn: fc.boolean(),
  managed: fc.boolean(),
  protocol: fc.nat({ max: 255 }),
}, { requiredKeys: ['index', 'dst'] });

describe('neighbour round trip (encode RTM_NEWNEIGH → decode)', () => {
  it('decodes every field it encodes', () => {
    fc.assert(fc.property(specArb, (spec) => {
      const w = encodeNeigh(new NlWriter(), RTM.RTM_NEWNEIGH, 0, spec);
      const n = decodeNeighPayload(w.bytes, 16)!;
      const states = spec.state === undefined ? [spec.managed ? 'none' : 'permanent'] : [...(spec.state as NeighState[])];
      const named = stateNames.filter((s) => states.includes(s));
      expect(n).toEqual({
        family: spec.dst.includes(':') ? AF_INET6 : AF_INET,
        index: spec.index,
        dst: spec.dst,
        ...(spec.lladdr !== undefined ? { lladdr: spec.lladdr } : {}),
        state: named.length ? named : ['none'],
        flags: (spec.router ? 0x80 : 0) | (spec.externLearn ? 0x10 : 0),
        ...(spec.managed ? { flagsExt: 1 } : {}),
        router: spec.router === true,
        proxy: false,
        externLearn: spec.externLearn === true,
        managed: spec.managed === true,
        type: 0,
        ...(spec.protocol !== undefined ? { protocol: spec.protocol } : {}),
      });
    }), { numRuns: 500 });
  });
});

describe('decodeNeigh is total', () => {
  it('only returns or throws ProtocolError on malformed input', () => {
    assertDecoderTotal((b) => decodeNeighPayload(b), FIXTURES.map((n) => fixture(n).subarray(16)));
    assertDecoderTotal((b) => forEachMessage(b, b.length, (m) => { decodeNeigh(b, m); }), FIXTURES.map(fixture));
  });
});
