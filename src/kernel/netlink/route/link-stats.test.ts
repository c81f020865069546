import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { IFLA } from './link-constants.ts';
import { decodeLinkCounters, type LinkCounters } from './link-stats.ts';

/** An RTM_NEWLINK with IFLA_STATS64 of `n` u64 fields valued 100 + their index, and IFLA_CARRIER_CHANGES 7. */
function message(n: number): Buffer {
  const w = new NlWriter().beginMessage(16, 2);
  encodeIfInfoMsg(w, { type: 1, index: 3 });
  w.attrString(IFLA.IFLA_IFNAME, 'ncx0');
  const stats = Buffer.alloc(n * 8);
  for (let i = 0; i < n; i++) stats.writeBigUInt64LE(BigInt(100 + i), i * 8);
  w.attrBytes(IFLA.IFLA_STATS64, stats);
  w.attrU32(IFLA.IFLA_CARRIER_CHANGES, 7);
  w.endMessage();
  return Buffer.from(w.bytes);
}

function decode(buf: Buffer): LinkCounters {
  let out: LinkCounters | undefined;
  forEachMessage(buf, buf.length, (m) => { out = decodeLinkCounters(buf, m); });
  return out!;
}

describe('decodeLinkCounters', () => {
  it('reads the fields by their place in struct rtnl_link_stats64 (25 u64 since Linux 6.0)', () => {
    expect(decode(message(25))).toEqual({
      rx_packets: 100, tx_packets: 101, rx_errors: 104, tx_errors: 105, rx_dropped: 106, tx_dropped: 107,
      rx_crc_errors: 112, rx_frame_errors: 113, rx_fifo_errors: 114, rx_missed_errors: 115, tx_carrier_errors: 117, carrier_changes: 7,
    });
  });

  it('a shorter struct (an older kernel) leaves out the fields it lacks', () => {
    expect(decode(message(8))).toEqual({ rx_packets: 100, tx_packets: 101, rx_errors: 104, tx_errors: 105, rx_dropped: 106, tx_dropped: 107, carrier_changes: 7 });
  });

  it('malformed input only ever raises ProtocolError (fuzz)', () => {
    assertDecoderTotal((buf) => forEachMessage(buf, buf.length, (m) => { decodeLinkCounters(buf, m); }), [message(25), message(3)]);
  });
});
