import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/errors.ts';
import { firstMessage } from '../../../../test/fixtures/golden.ts';
import { NlWriter } from '../writer.ts';
import { decodeEthtoolChannels, decodeEthtoolCoalesce, decodeEthtoolRings } from './ethtool-codec.ts';
import { decodeEthtoolFeatures, decodeEthtoolPrivFlags } from './ethtool-features.ts';
import {
  encodeEthtoolChannelsSet, encodeEthtoolCoalesceSet, encodeEthtoolFeaturesSet, encodeEthtoolPrivFlagsSet, encodeEthtoolRingsSet,
  ethtoolSetIsEmpty, type EthtoolRingsSettable,
} from './ethtool-set-codec.ts';
import type { EthtoolCoalesce } from './ethtool-types.ts';

const FAMILY = 21;
const bytes = (w: NlWriter): Buffer => { w.endMessage(); return Buffer.from(w.bytes); };
const hex = (s: string): string => Buffer.from(s).toString('hex');
/** nlmsghdr with the socket's seq/pid/flags left 0 (the socket stamps them), family 21. */
const nlhdr = (len: number): string => Buffer.from([len, 0, 0, 0]).toString('hex') + '1500' + '0000' + '00000000' + '00000000';
/** genlmsghdr for `cmd`, version 1. */
const genl = (cmd: number): string => Buffer.from([cmd, 1, 0, 0]).toString('hex');
/** The header nest every SET starts with: DEV_INDEX 3, FLAGS = OMIT_REPLY. */
const HEADER_IDX3 = '1400' + '0180' + '0800' + '0100' + '03000000' + '0800' + '0300' + '02000000';

describe('ethtool SET requests: exact bytes', () => {
  it('FEATURES_SET: WANTED as a masked bitset of names, VALUE flag on the ones to turn on', () => {
    const buf = bytes(encodeEthtoolFeaturesSet(new NlWriter(), FAMILY, 3, { 'rx-gro': true, 'tx-checksum-ip-generic': false }));
    expect(buf.toString('hex')).toBe(
      nlhdr(100) + genl(12) + HEADER_IDX3
      + '3c00' + '0380' // ETHTOOL_A_FEATURES_WANTED (nested), 60 bytes; no NOMASK: only the named bits change
      + '3800' + '0380' // ETHTOOL_A_BITSET_BITS
      + '1400' + '0180' // ETHTOOL_A_BITSET_BITS_BIT
      + '0b00' + '0200' + hex('rx-gro\0') + '00' // ETHTOOL_A_BITSET_BIT_NAME, padded
      + '0400' + '0300' // ETHTOOL_A_BITSET_BIT_VALUE: on
      + '2000' + '0180'
      + '1b00' + '0200' + hex('tx-checksum-ip-generic\0') + '00', // no VALUE: off
    );
  });

  it('PRIVFLAGS_SET: ETHTOOL_A_PRIVFLAGS_FLAGS as a masked bitset', () => {
    const buf = bytes(encodeEthtoolPrivFlagsSet(new NlWriter(), FAMILY, 3, { 'legacy-rx': true }));
    expect(buf.toString('hex')).toBe(
      nlhdr(72) + genl(14) + HEADER_IDX3
      + '2000' + '0280' // ETHTOOL_A_PRIVFLAGS_FLAGS (nested)
      + '1c00' + '0380' + '1800' + '0180' + '0e00' + '0200' + hex('legacy-rx\0') + '0000' + '0400' + '0300',
    );
  });

  it('RINGS_SET: u32 sizes, u8 switches, in attribute order whatever the key order', () => {
    const buf = bytes(encodeEthtoolRingsSet(new NlWriter(), FAMILY, 3, { txPush: true, tx: 256, rx: 512, tcpDataSplit: 2 }));
    expect(buf.toString('hex')).toBe(
      nlhdr(72) + genl(16) + HEADER_IDX3
      + '0800' + '0600' + '00020000' // ETHTOOL_A_RINGS_RX 512
      + '0800' + '0900' + '00010000' // ETHTOOL_A_RINGS_TX 256
      + '0500' + '0b00' + '02000000' // ETHTOOL_A_RINGS_TCP_DATA_SPLIT 2 (u8, padded)
      + '0500' + '0d00' + '01000000', // ETHTOOL_A_RINGS_TX_PUSH 1
    );
  });

  it('CHANNELS_SET: the *_COUNT attributes only', () => {
    const buf = bytes(encodeEthtoolChannelsSet(new NlWriter(), FAMILY, 3, { combined: 4, rx: 0 }));
    expect(buf.toString('hex')).toBe(
      nlhdr(56) + genl(18) + HEADER_IDX3
      + '0800' + '0600' + '00000000' // ETHTOOL_A_CHANNELS_RX_COUNT 0
      + '0800' + '0900' + '04000000', // ETHTOOL_A_CHANNELS_COMBINED_COUNT 4
    );
  });

  it('COALESCE_SET: u32 parameters and u8 booleans', () => {
    const buf = bytes(encodeEthtoolCoalesceSet(new NlWriter(), FAMILY, 3, {
      rxUsecs: 50, useAdaptiveRx: true, useAdaptiveTx: false, txAggrTimeUsecs: 7, useCqeModeRx: true,
    }));
    expect(buf.toString('hex')).toBe(
      nlhdr(80) + genl(20) + HEADER_IDX3
      + '0800' + '0200' + '32000000' // RX_USECS 50
      + '0500' + '0b00' + '01000000' // USE_ADAPTIVE_RX 1
      + '0500' + '0c00' + '00000000' // USE_ADAPTIVE_TX 0
      + '0500' + '1900' + '01000000' // USE_CQE_MODE_RX 1
      + '0800' + '1c00' + '07000000', // TX_AGGR_TIME_USECS 7
    );
  });

  it('leaves undefined fields out', () => {
    const buf = bytes(encodeEthtoolChannelsSet(new NlWriter(), FAMILY, 3, { rx: undefined, tx: 1 }));
    expect(buf.toString('hex')).toBe(nlhdr(48) + genl(18) + HEADER_IDX3 + '0800' + '0700' + '01000000');
  });
});

describe('ethtool SET requests: checks before encoding', () => {
  const w = (): NlWriter => new NlWriter();
  it('refuses values out of range, of the wrong type, and unknown fields, with ConfigError', () => {
    const bad: (() => unknown)[] = [
      () => encodeEthtoolRingsSet(w(), FAMILY, 3, { rx: -1 }),
      () => encodeEthtoolRingsSet(w(), FAMILY, 3, { rx: 1.5 }),
      () => encodeEthtoolRingsSet(w(), FAMILY, 3, { rx: 2 ** 32 }),
      () => encodeEthtoolRingsSet(w(), FAMILY, 3, { tcpDataSplit: 3 }),
      () => encodeEthtoolRingsSet(w(), FAMILY, 3, { txPush: 1 as unknown as boolean }),
      () => encodeEthtoolRingsSet(w(), FAMILY, 3, { rxMax: 4 } as unknown as Partial<EthtoolRingsSettable>),
      () => encodeEthtoolChannelsSet(w(), FAMILY, 3, { combined: '2' as unknown as number }),
      () => encodeEthtoolChannelsSet(w(), FAMILY, 3, null as unknown as object),
      () => encodeEthtoolCoalesceSet(w(), FAMILY, 3, { useAdaptiveRx: 'on' as unknown as boolean }),
      () => encodeEthtoolCoalesceSet(w(), FAMILY, 3, { rxUsecs: Number.NaN }),
      () => encodeEthtoolFeaturesSet(w(), FAMILY, 3, { '': true }),
      () => encodeEthtoolFeaturesSet(w(), FAMILY, 3, { ['x'.repeat(32)]: true }),
      () => encodeEthtoolFeaturesSet(w(), FAMILY, 3, { 'a\0b': true }),
      () => encodeEthtoolFeaturesSet(w(), FAMILY, 3, { 'rx-gro': 'on' as unknown as boolean }),
      () => encodeEthtoolPrivFlagsSet(w(), FAMILY, 3, Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`f${i}`, true]))),
      () => encodeEthtoolFeaturesSet(w(), FAMILY, 0, { 'rx-gro': true }),
    ];
    bad.forEach((fn, i) => expect(fn, `case ${i}`).toThrow(ConfigError));
  });

  it('a request whose fields are all undefined is empty; non-objects are not (the encoder refuses them)', () => {
    expect(ethtoolSetIsEmpty({})).toBe(true);
    expect(ethtoolSetIsEmpty({ rx: undefined })).toBe(true);
    expect(ethtoolSetIsEmpty({ rx: 0 })).toBe(false);
    expect(ethtoolSetIsEmpty(null)).toBe(false);
    expect(ethtoolSetIsEmpty(3)).toBe(false);
  });
});

// ETHTOOL_MSG_{FEATURES,PRIVFLAGS,RINGS,CHANNELS,COALESCE}_SET have the same
// numbers as the kernel's replies that carry the same attributes (FEATURES_SET_REPLY,
// PRIVFLAGS/RINGS/CHANNELS/COALESCE_GET_REPLY), so the reply decoders read our
// requests back: a round trip through independent code.
describe('ethtool SET requests: round trips through the reply decoders', () => {
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
  const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

  it('rings', () => {
    const rings = fc.record({
      rx: opt(u32), rxMini: opt(u32), rxJumbo: opt(u32), tx: opt(u32), rxBufLen: opt(u32), cqeSize: opt(u32),
      txPush: opt(fc.boolean()), rxPush: opt(fc.boolean()), tcpDataSplit: opt(fc.integer({ min: 0, max: 2 })),
      txPushBufLen: opt(u32), hdsThresh: opt(u32),
    }).map((r) => defined(r) as Partial<EthtoolRingsSettable>);
    fc.assert(fc.property(rings, (r) => {
      expect(firstMessage(bytes(encodeEthtoolRingsSet(new NlWriter(), FAMILY, 7, r)), decodeEthtoolRings)).toEqual(r);
    }));
  });

  it('channels', () => {
    const ch = fc.record({ rx: opt(u32), tx: opt(u32), other: opt(u32), combined: opt(u32) }).map(defined);
    fc.assert(fc.property(ch, (c) => {
      const got = firstMessage(bytes(encodeEthtoolChannelsSet(new NlWriter(), FAMILY, 7, c)), decodeEthtoolChannels)!;
      expect({ rx: got.rxCount, tx: got.txCount, other: got.otherCount, combined: got.combinedCount }).toEqual({
        rx: c.rx, tx: c.tx, other: c.other, combined: c.combined,
      });
    }));
  });

  it('coalesce: every field', () => {
    const bools = ['useAdaptiveRx', 'useAdaptiveTx', 'useCqeModeTx', 'useCqeModeRx'];
    const nums = [
      'rxUsecs', 'rxMaxFrames', 'rxUsecsIrq', 'rxMaxFramesIrq', 'txUsecs', 'txMaxFrames', 'txUsecsIrq', 'txMaxFramesIrq',
      'statsBlockUsecs', 'pktRateLow', 'rxUsecsLow', 'rxMaxFramesLow', 'txUsecsLow', 'txMaxFramesLow', 'pktRateHigh',
      'rxUsecsHigh', 'rxMaxFramesHigh', 'txUsecsHigh', 'txMaxFramesHigh', 'rateSampleInterval', 'txAggrMaxBytes',
      'txAggrMaxFrames', 'txAggrTimeUsecs',
    ];
    const arb = fc.record(Object.fromEntries([
      ...bools.map((k) => [k, opt(fc.boolean())] as const), ...nums.map((k) => [k, opt(u32)] as const),
    ])).map(defined) as fc.Arbitrary<Partial<EthtoolCoalesce>>;
    fc.assert(fc.property(arb, (c) => {
      expect(firstMessage(bytes(encodeEthtoolCoalesceSet(new NlWriter(), FAMILY, 7, c)), decodeEthtoolCoalesce)).toEqual(c);
    }));
  });

  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/u);

  it('features (read as a FEATURES_SET_REPLY: WANTED with a mask)', () => {
    fc.assert(fc.property(fc.dictionary(name, fc.boolean(), { minKeys: 1, maxKeys: 40 }), (f) => {
      expect(firstMessage(bytes(encodeEthtoolFeaturesSet(new NlWriter(), FAMILY, 7, f)), decodeEthtoolFeatures)?.wanted).toEqual(f);
    }));
  });

  it('private flags', () => {
    fc.assert(fc.property(fc.dictionary(name, fc.boolean(), { maxKeys: 40 }), (f) => {
      expect(firstMessage(bytes(encodeEthtoolPrivFlagsSet(new NlWriter(), FAMILY, 7, f)), decodeEthtoolPrivFlags)).toEqual(f);
    }));
  });
});
