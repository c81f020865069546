import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { encodeBitset } from './ethtool-bitset.ts';
import { ETH_SS, ETHTOOL_A_PRIVFLAGS_FLAGS, ETHTOOL_MSG_REPLY } from './ethtool-constants.ts';
import { decodeEthtoolFeatures, decodeEthtoolPrivFlags, decodeEthtoolStrsets, encodeEthtoolStrsetGet } from './ethtool-features.ts';
import { encodeGenlRequest } from './genl-ctrl.ts';
import { firstMessage, goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`ethtool/${name}`);

const first = firstMessage;

const featureNames = (): string[] => first(fixture('strset-features'), decodeEthtoolStrsets)!.get(ETH_SS.ETH_SS_FEATURES)!;
const on = (rec: Readonly<Record<string, boolean>>): string[] => Object.keys(rec).filter((k) => rec[k]);

describe('ethtool string sets and features (fixtures captured from a veth on Linux 6.18)', () => {
  it('decodes the features string set: 64 bits, retired ones unnamed', () => {
    const names = featureNames();
    expect(names).toHaveLength(64);
    expect(names.slice(0, 5)).toEqual(['tx-scatter-gather', 'tx-checksum-ipv4', '', 'tx-checksum-ip-generic', 'tx-checksum-ipv6']);
    expect(names.indexOf('rx-gro')).toBe(14);
    expect(names.filter((n) => n === '')).toHaveLength(4);
  });

  it('encodes STRSET_GET for a set id', () => {
    const w = encodeEthtoolStrsetGet(new NlWriter(), 21, undefined, [ETH_SS.ETH_SS_FEATURES]);
    w.endMessage();
    expect(w.bytes.toString('hex')).toBe(
      '28000000' + '1500' + '0000' + '00000000' + '00000000' + '01010000'
      + '0400' + '0180' // empty ETHTOOL_A_STRSET_HEADER
      + '1000' + '0280' // ETHTOOL_A_STRSET_STRINGSETS
      + '0c00' + '0180' // ETHTOOL_A_STRINGSETS_STRINGSET
      + '0800' + '0100' + '04000000', // ETHTOOL_A_STRINGSET_ID ETH_SS_FEATURES
    );
  });

  it('decodes features into complete name → state maps', () => {
    const f = first(fixture('features-veth'), (b, m) => decodeEthtoolFeatures(b, m, featureNames()))!;
    for (const map of [f.hw, f.wanted, f.active, f.nochange]) expect(Object.keys(map)).toHaveLength(60);
    expect(on(f.nochange)).toEqual(['vlan-challenged']);
    expect(f.active).toMatchObject({ 'rx-checksum': true, 'tx-checksum-ip-generic': true, 'rx-gro': false, 'rx-lro': false, 'tx-nocache-copy': false });
    // rx-gro, tx-nocache-copy, rx-gro-list, rx-udp-gro-forwarding: changeable, off by default on veth.
    expect(on(f.hw).filter((n) => !f.active[n])).toEqual(['rx-gro', 'tx-nocache-copy', 'rx-gro-list', 'rx-udp-gro-forwarding']);
    expect(f.wanted).toEqual(f.active);
  });

  it('decodes the compact form to the same maps', () => {
    const names = featureNames();
    expect(first(fixture('features-compact-veth'), (b, m) => decodeEthtoolFeatures(b, m, names)))
      .toEqual(first(fixture('features-veth'), (b, m) => decodeEthtoolFeatures(b, m, names)));
  });

  it('without names, maps hold only the bits the kernel lists', () => {
    const f = first(fixture('features-veth'), (b, m) => decodeEthtoolFeatures(b, m))!;
    expect(f.nochange).toEqual({ 'vlan-challenged': true });
    expect(Object.values(f.active).every(Boolean)).toBe(true);
    expect(Object.keys(f.hw)).toHaveLength(60); // hw carries a mask of every bit
  });

  it('decodes a FEATURES_SET reply: only what changed', () => {
    expect(first(fixture('features-set-reply-veth'), (b, m) => decodeEthtoolFeatures(b, m))).toEqual({
      hw: {}, wanted: {}, nochange: {},
      active: {
        'tx-checksum-ip-generic': false, 'tx-tcp-segmentation': false, 'tx-tcp-ecn-segmentation': false,
        'tx-tcp-mangleid-segmentation': false, 'tx-tcp6-segmentation': false, 'tx-udp-segmentation': false,
      },
    });
  });

  it('decodes private flags (every flag, with a mask) from a reply built like the kernel builds it', () => {
    // No driver available to the tests has private flags (veth and 6.1 netdevsim answer EOPNOTSUPP);
    // the masked verbose form itself is covered by the captured FEATURES_SET reply.
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,24}$/), fc.boolean(), { maxKeys: 16 }), (flags) => {
      const w = encodeGenlRequest(new NlWriter(), 21, ETHTOOL_MSG_REPLY.ETHTOOL_MSG_PRIVFLAGS_GET_REPLY, 1);
      encodeBitset(w, ETHTOOL_A_PRIVFLAGS_FLAGS, flags);
      w.endMessage();
      expect(first(Buffer.from(w.bytes), decodeEthtoolPrivFlags)).toEqual(flags);
    }));
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    const names = featureNames();
    const seeds = ['strset-features', 'features-veth', 'features-compact-veth', 'features-set-reply-veth'].map(fixture);
    const asPriv = Buffer.from(fixture('features-set-reply-veth'));
    asPriv[16] = ETHTOOL_MSG_REPLY.ETHTOOL_MSG_PRIVFLAGS_GET_REPLY;
    asPriv.writeUInt16LE(0x8000 | ETHTOOL_A_PRIVFLAGS_FLAGS, 20 + 24 + 2); // the WANTED bitset becomes FLAGS
    assertDecoderTotal((buf) => {
      forEachMessage(buf, buf.length, (m) => {
        decodeEthtoolStrsets(buf, m);
        decodeEthtoolFeatures(buf, m, names);
        decodeEthtoolFeatures(buf, m);
        decodeEthtoolPrivFlags(buf, m);
      });
    }, [...seeds, asPriv], 4000);
  });
});
