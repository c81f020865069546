import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { ProtocolError } from '../../../common/errors.ts';
import { ifIndex, type IfIndex } from '../../../common/ids.ts';
import { forEachAttr } from '../attrs.ts';
import { ipFromBytes, ipToBytes } from '../../../common/ip.ts';
import { NlWriter } from '../writer.ts';
import { BOND_MODES, IPVLAN_MODES, MACVLAN_MODES } from './link-add-validate.ts';
import { IFLA_INFO } from './link-constants.ts';
import { DECODED_KINDS, decodeKindData, encodeKindSpec } from './link-kinds.ts';
import type { LinkKindData, LinkKindSpec } from './link-types.ts';
import { decodeVethPeer } from './kinds/veth.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`link-kinds/${name}`);
const decodeAll = (kind: string, b: Buffer): LinkKindData => decodeKindData(kind, b, 0, b.length);

describe('decodeKindData: golden IFLA_INFO_DATA captured from Linux 6.18', () => {
  it('macvlan mode bridge, macvtap mode passthru', () => {
    expect(decodeAll('macvlan', fixture('macvlan-bridge'))).toEqual({ kind: 'macvlan', mode: 'bridge' });
    expect(decodeAll('macvtap', fixture('macvtap-passthru'))).toEqual({ kind: 'macvtap', mode: 'passthru' });
  });

  it('vxlan over IPv4 with a lower device', () => {
    expect(decodeAll('vxlan', fixture('vxlan-v4'))).toEqual({
      kind: 'vxlan', id: 4242, group: '239.1.1.1', local: '10.1.2.3', link: 3, learning: true, port: 4789,
    });
  });

  it('vxlan over IPv6, nolearning', () => {
    expect(decodeAll('vxlan', fixture('vxlan-v6'))).toEqual({
      kind: 'vxlan', id: 16777215, group: 'fd00::1', local: 'fd00::2', learning: false, port: 8472,
    });
  });

  it('bridge with STP on', () => {
    expect(decodeAll('bridge', fixture('bridge-stp'))).toEqual({ kind: 'bridge', vlanFiltering: false, stpState: 1 });
  });

  it('tun and tap', () => {
    expect(decodeAll('tun', fixture('tun-tap'))).toEqual({ kind: 'tun', type: 'tap' });
    expect(decodeAll('tun', fixture('tun-tun'))).toEqual({ kind: 'tun', type: 'tun' });
  });

  it('veth (no INFO_DATA in dumps), dummy, and kinds it does not know', () => {
    const none = Buffer.alloc(0);
    expect(decodeKindData('veth', none, 0, 0)).toEqual({ kind: 'veth' });
    expect(decodeKindData('dummy', none, 0, 0)).toEqual({ kind: 'dummy' });
    expect(decodeKindData('wireguard', none, 0, 0)).toEqual({ kind: 'other', name: 'wireguard' });
  });

  it('applies the kernel defaults when an optional attribute is absent, and refuses missing ids', () => {
    const none = Buffer.alloc(0);
    expect(decodeKindData('macvlan', none, 0, 0)).toEqual({ kind: 'macvlan', mode: 'vepa' });
    expect(decodeKindData('ipvtap', none, 0, 0)).toEqual({ kind: 'ipvtap', mode: 'l3' });
    expect(decodeKindData('bond', none, 0, 0)).toEqual({ kind: 'bond', mode: 'balance-rr' });
    for (const k of ['vlan', 'vxlan', 'vrf']) expect(() => decodeKindData(k, none, 0, 0)).toThrow(ProtocolError);
  });

  it('rejects unknown enum values and wrong address sizes with ProtocolError', () => {
    expect(() => decodeAll('macvlan', Buffer.from('0800010020000000', 'hex'))).toThrow(/unknown IFLA_MACVLAN_MODE 32/);
    expect(() => decodeAll('bond', Buffer.from('0500010007000000', 'hex'))).toThrow(/unknown IFLA_BOND_MODE 7/);
    expect(() => decodeAll('vxlan', Buffer.from('0800010001000000 0600020001020000'.replace(' ', ''), 'hex'))).toThrow(ProtocolError);
  });
});

// ---- random round trips: encode a spec, decode what the kernel would echo ----

const parent = fc.integer({ min: 1, max: 0x7fffffff }).map(ifIndex);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
/** Drops undefined fields, and `| undefined` from their types (exactOptionalPropertyTypes). */
type Clean<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};
const clean = <T extends object>(o: T): Clean<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Clean<T>;
const ipPair = fc.oneof(
  fc.tuple(opt(fc.ipV4()), opt(fc.ipV4())),
  fc.tuple(opt(fc.ipV6()), opt(fc.ipV6())),
);
const canonicalIp = (a: string): string => { const b = ipToBytes(a); return ipFromBytes(b, 0, b.length); };

const peerName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'), minLength: 1, maxLength: 15 });
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => {
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
});

const specArb: fc.Arbitrary<LinkKindSpec> = fc.oneof(
  fc.record({ name: peerName, netnsFd: opt(fc.nat()), mac: opt(mac), numTxQueues: opt(fc.integer({ min: 1, max: 4096 })), numRxQueues: opt(fc.integer({ min: 1, max: 4096 })) })
    .map((p) => ({ kind: 'veth' as const, peer: clean(p) })),
  fc.record({ parent, id: fc.integer({ min: 1, max: 4094 }), protocol: opt(fc.constantFrom('802.1Q' as const, '802.1ad' as const)) })
    .map((s) => clean({ kind: 'vlan' as const, ...s })),
  fc.record({ kind: fc.constantFrom('macvlan' as const, 'macvtap' as const), parent, mode: opt(fc.constantFrom(...MACVLAN_MODES)) }).map(clean),
  fc.record({ parent, mode: opt(fc.constantFrom(...IPVLAN_MODES)) }).map((s) => clean({ kind: 'ipvlan' as const, ...s })),
  fc.record({ id: fc.integer({ min: 0, max: 0xffffff }), port: opt(fc.integer({ min: 1, max: 0xffff })), ips: ipPair, parent: opt(parent), learning: opt(fc.boolean()) })
    .map(({ ips: [group, local], ...s }) => clean({ kind: 'vxlan' as const, ...s, group, local })),
  fc.record({ vlanFiltering: opt(fc.boolean()) }).map((s) => clean({ kind: 'bridge' as const, ...s })),
  fc.record({ table: fc.integer({ min: 1, max: 0xffffffff }) }).map((s) => ({ kind: 'vrf' as const, ...s })),
  fc.record({ mode: opt(fc.constantFrom(...BOND_MODES)), miimon: opt(fc.integer({ min: 0, max: 0x7fffffff })) })
    .map((s) => clean({ kind: 'bond' as const, ...s })),
  fc.constant({ kind: 'dummy' as const }),
);

/** What the kernel reports back for a created spec (the fields it echoes, with its defaults). */
function expectedData(s: LinkKindSpec): LinkKindData {
  switch (s.kind) {
    case 'veth': return { kind: 'veth' };
    case 'vlan': return { kind: 'vlan', id: s.id, protocol: s.protocol ?? '802.1Q' };
    case 'macvlan': case 'macvtap': return { kind: s.kind, mode: s.mode ?? 'vepa' };
    case 'ipvlan': return { kind: 'ipvlan', mode: s.mode ?? 'l3' };
    case 'vxlan': return clean({
      kind: 'vxlan' as const, id: s.id, port: s.port, learning: s.learning, link: s.parent as IfIndex | undefined,
      group: s.group === undefined ? undefined : canonicalIp(s.group), local: s.local === undefined ? undefined : canonicalIp(s.local),
    });
    case 'bridge': return clean({ kind: 'bridge' as const, vlanFiltering: s.vlanFiltering });
    case 'vrf': return { kind: 'vrf', table: s.table };
    case 'bond': return clean({ kind: 'bond' as const, mode: s.mode ?? 'balance-rr', miimon: s.miimon });
    case 'dummy': return { kind: 'dummy' };
  }
}

/** Encodes IFLA_LINKINFO for `s` and returns the kind and INFO_DATA region found in it. */
function encodeLinkInfo(s: LinkKindSpec): { buf: Buffer; kind: string; off: number; len: number } {
  const w = new NlWriter();
  const nest = w.nestStart(18);
  encodeKindSpec(w, s);
  w.nestEnd(nest);
  const buf = Buffer.from(w.bytes);
  let kind = '';
  let off = 0;
  let len = 0;
  forEachAttr(buf, 4, buf.length, (t, o, l) => {
    if (t === IFLA_INFO.IFLA_INFO_KIND) kind = buf.toString('utf8', o, o + l - 1);
    if (t === IFLA_INFO.IFLA_INFO_DATA) { off = o; len = l; }
  });
  return { buf, kind, off, len };
}

describe('encodeKindSpec → decodeKindData round trips (fast-check)', () => {
  it('decodes every kind back to what was asked for', () => {
    fc.assert(fc.property(specArb, (s) => {
      const { buf, kind, off, len } = encodeLinkInfo(s);
      expect(kind).toBe(s.kind);
      expect(decodeKindData(kind, buf, off, len)).toEqual(expectedData(s));
    }), { numRuns: 1000 });
  });

  it('veth: VETH_INFO_PEER decodes back to the peer', () => {
    fc.assert(fc.property(specArb.filter((s) => s.kind === 'veth'), (s) => {
      const { buf, off, len } = encodeLinkInfo(s);
      expect(decodeVethPeer(buf, off, len)).toEqual(s.kind === 'veth' ? s.peer : undefined);
    }), { numRuns: 300 });
  });
});

describe('decoders are total (fuzz): only values or ProtocolError', () => {
  const samples = fc.sample(specArb, { numRuns: 60, seed: 42 }).map(encodeLinkInfo);
  const golden = ['macvlan-bridge', 'macvtap-passthru', 'vxlan-v4', 'vxlan-v6', 'bridge-stp', 'tun-tap', 'tun-tun'].map(fixture);

  it.each([...DECODED_KINDS, 'other-kind'])('decodeKindData(%s)', (kind) => {
    const seeds = [
      ...golden,
      ...samples.filter((x) => x.kind === kind).map((x) => Buffer.from(x.buf.subarray(x.off, x.off + x.len))),
    ];
    assertDecoderTotal((b) => decodeAll(kind, b), seeds, 1000);
    // Off/len outside the buffer is a ProtocolError too (veth/dummy ignore their data).
    if (!['veth', 'dummy', 'other-kind'].includes(kind)) {
      expect(() => decodeKindData(kind, Buffer.alloc(4), 2, 8)).toThrow(ProtocolError);
    }
  });

  it('decodeVethPeer', () => {
    const seeds = samples.filter((x) => x.kind === 'veth').map((x) => Buffer.from(x.buf.subarray(x.off, x.off + x.len)));
    assertDecoderTotal((b) => decodeVethPeer(b, 0, b.length), seeds, 1000);
  });
});
