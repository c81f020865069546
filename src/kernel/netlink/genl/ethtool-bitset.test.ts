import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { forEachAttr } from '../attrs.ts';
import { NlWriter } from '../writer.ts';
import { bitsetEntries, bitsetSetNames, bitsetToRecord, decodeBitset, encodeBitset, type EthtoolBitset } from './ethtool-bitset.ts';
import { ETHTOOL_A_BITSET, ETHTOOL_A_FEATURES } from './ethtool-constants.ts';
import { GENL_HDRLEN } from './genl-constants.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`ethtool/${name}`);

/** The payload of top-level attribute `type` of the (single) genl message in `buf`, as its own buffer. */
function attrOf(buf: Buffer, type: number): Buffer {
  let got: Buffer | undefined;
  forEachAttr(buf, 16 + GENL_HDRLEN, buf.readUInt32LE(0), (t, o, l) => { if (t === type) got ??= Buffer.from(buf.subarray(o, o + l)); });
  if (!got) throw new Error(`no attribute ${type}`);
  return got;
}

const decode = (payload: Buffer): EthtoolBitset => decodeBitset(payload, 0, payload.length);

/** A bitset attribute's payload as encodeBitset writes it. */
function encoded(bits: Record<string, boolean>, nomask = false): Buffer {
  const w = new NlWriter();
  encodeBitset(w, 1, bits, nomask);
  return Buffer.from(w.bytes.subarray(4));
}

describe('ethtool bitsets (fixtures captured from Linux 6.18)', () => {
  const F = ETHTOOL_A_FEATURES;

  it('decodes a verbose list (FEATURES_GET active): only the set bits, by index and name', () => {
    const bs = decode(attrOf(fixture('features-veth'), F.ETHTOOL_A_FEATURES_NOCHANGE));
    expect(bs).toEqual({ size: 64, nomask: true, bits: [{ index: 10, name: 'vlan-challenged', value: true }] });
    expect(bitsetToRecord(bs)).toEqual({ 'vlan-challenged': true });
  });

  it('decodes a verbose mask (FEATURES_GET hw: the mask is every feature bit)', () => {
    const bs = decode(attrOf(fixture('features-veth'), F.ETHTOOL_A_FEATURES_HW));
    expect(bs.nomask).toBe(false);
    expect(bs.bits).toHaveLength(64);
    expect(bs.bits![0]).toEqual({ index: 0, name: 'tx-scatter-gather', value: true });
    expect(bs.bits![1]).toEqual({ index: 1, name: 'tx-checksum-ipv4', value: false });
    // Retired feature bits carry an empty name and are skipped, as ethtool does.
    expect(bs.bits![2]).toEqual({ index: 2, name: '', value: false });
    const rec = bitsetToRecord(bs);
    expect(Object.keys(rec)).toHaveLength(60);
    expect(rec).toMatchObject({ 'tx-scatter-gather': true, 'tx-checksum-ipv4': false, 'rx-gro': true, 'rx-lro': false });
  });

  it('decodes a masked diff (FEATURES_SET_REPLY: what changed, VALUE = now on)', () => {
    const buf = fixture('features-set-reply-veth');
    expect(decode(attrOf(buf, F.ETHTOOL_A_FEATURES_WANTED))).toEqual({ size: 64, nomask: false, bits: [] });
    const active = decode(attrOf(buf, F.ETHTOOL_A_FEATURES_ACTIVE));
    expect(bitsetEntries(active)).toEqual([
      ['tx-checksum-ip-generic', false], ['tx-tcp-segmentation', false], ['tx-tcp-ecn-segmentation', false],
      ['tx-tcp-mangleid-segmentation', false], ['tx-tcp6-segmentation', false], ['tx-udp-segmentation', false],
    ]);
    expect(bitsetSetNames(active)).toEqual([]);
  });

  it('decodes the compact form (u32 words) and names it from a string set', () => {
    const buf = fixture('features-compact-veth');
    const nochange = decode(attrOf(buf, F.ETHTOOL_A_FEATURES_NOCHANGE));
    expect(nochange).toMatchObject({ size: 64, nomask: true });
    expect([...nochange.value!]).toEqual([1 << 10, 0]);
    expect(bitsetToRecord(nochange)).toEqual({ 10: true });
    const names = Array.from({ length: 64 }, (_, i) => (i === 10 ? 'vlan-challenged' : i === 2 ? '' : `f${i}`));
    const rec = bitsetToRecord(nochange, names);
    expect(Object.keys(rec)).toHaveLength(63);
    expect(rec['vlan-challenged']).toBe(true);
    expect(rec['f0']).toBe(false);
    const hw = decode(attrOf(buf, F.ETHTOOL_A_FEATURES_HW));
    expect([...hw.mask!]).toEqual([0xffffffff, 0xffffffff]);
  });

  it('encodes by name, with a mask or as a list, and decodes back', () => {
    const names = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    fc.assert(fc.property(fc.dictionary(names, fc.boolean(), { maxKeys: 20 }), fc.boolean(), (bits, nomask) => {
      const bs = decode(encoded(bits, nomask));
      expect(bs.nomask).toBe(nomask);
      const want = nomask ? Object.fromEntries(Object.entries(bits).filter(([, v]) => v)) : bits;
      expect(bitsetToRecord(bs)).toEqual(want);
    }));
  });

  it('writes the exact request form the kernel takes', () => {
    const w = new NlWriter();
    encodeBitset(w, ETHTOOL_A_FEATURES.ETHTOOL_A_FEATURES_WANTED, { 'rx-gro': true });
    expect(w.bytes.toString('hex')).toBe(
      '1c00' + '0380' // WANTED (nested)
      + '1800' + '0380' // BITS (nested)
      + '1400' + '0180' // BIT (nested)
      + '0b00' + '0200' + Buffer.from('rx-gro\0').toString('hex') + '00' // NAME
      + '0400' + '0300', // VALUE flag
    );
  });

  it('rejects malformed sets', () => {
    const w = new NlWriter();
    w.attrU32(ETHTOOL_A_BITSET.ETHTOOL_A_BITSET_SIZE, 64).attrBytes(ETHTOOL_A_BITSET.ETHTOOL_A_BITSET_VALUE, Buffer.alloc(6));
    expect(() => decode(Buffer.from(w.bytes))).toThrow(/whole number of u32 words/);
    const short = new NlWriter().attrU32(ETHTOOL_A_BITSET.ETHTOOL_A_BITSET_SIZE, 65).attrBytes(ETHTOOL_A_BITSET.ETHTOOL_A_BITSET_VALUE, Buffer.alloc(8));
    expect(() => decode(Buffer.from(short.bytes))).toThrow(/65 bits has 2 value words/);
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    const seeds = [
      attrOf(fixture('features-veth'), F.ETHTOOL_A_FEATURES_HW),
      attrOf(fixture('features-veth'), F.ETHTOOL_A_FEATURES_ACTIVE),
      attrOf(fixture('features-compact-veth'), F.ETHTOOL_A_FEATURES_HW),
      attrOf(fixture('features-set-reply-veth'), F.ETHTOOL_A_FEATURES_ACTIVE),
    ];
    const names = ['a', '', 'c'];
    assertDecoderTotal((buf) => {
      const bs = decode(buf);
      bitsetEntries(bs);
      bitsetEntries(bs, names);
    }, seeds, 3000);
  });
});
