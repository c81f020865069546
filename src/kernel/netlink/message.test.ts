import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../common/errors.ts';
import { assertDecoderTotal, hexFixture } from '../../../test/fuzz/decoder-fuzz.ts';
import { decodeAck, decodeDone, forEachMessage, type NlMessage } from './message.ts';

// Captured from Linux 6.18 (kernel 6.18.44, this repo's test host): RTM_NEWLINK
// setting IFLA_MTU=70000 on a veth in a test netns, with NETLINK_EXT_ACK and
// NETLINK_CAP_ACK set. An NLMSG_ERROR carrying -EINVAL, the echoed (capped)
// request header and an NLMSGERR_ATTR_MSG.
const EINVAL_ACK = hexFixture(`
  48000000 0200 0003 2a000000 7c190000   # nlmsghdr: len 72, NLMSG_ERROR, CAPPED|ACK_TLVS, seq 42
  eaffffff                               # error -22 (EINVAL)
  28000000 1000 0500 2a000000 7c190000   # echoed request header (capped; its len says 40)
  2400 0100 6d74752067726561746572207468616e20646576696365206d6178696d756d00  # "mtu greater than device maximum"
`);
// Captured the same way: RTM_NEWLINK for a missing ifindex. No TLVs.
const ENODEV_ACK = hexFixture('24000000 0200 0001 2a000000 63190000 edffffff 20000000 1000 0500 2a000000 63190000');

const messages = (buf: Buffer): NlMessage[] => {
  const out: NlMessage[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(m); });
  return out;
};

describe('message framing and acks', () => {
  it('decodes an error ack with its extended-ack message', () => {
    const [m] = messages(EINVAL_ACK);
    expect(m).toMatchObject({ type: 2, seq: 42, pid: 0x197c });
    expect(decodeAck(EINVAL_ACK, m!)).toEqual({ errno: 22, extack: 'mtu greater than device maximum' });
    expect(decodeAck(ENODEV_ACK, messages(ENODEV_ACK)[0]!)).toEqual({ errno: 19 });
  });

  it('decodes a plain ack and a DONE with and without an error', () => {
    const ack = hexFixture('24000000 0200 0001 01000000 02000000 00000000 10000000 1000 0500 01000000 02000000');
    expect(decodeAck(ack, messages(ack)[0]!)).toEqual({ errno: 0 });
    const done = hexFixture('14000000 0300 0200 01000000 02000000 00000000');
    expect(decodeDone(done, messages(done)[0]!)).toEqual({ errno: 0 });
    const doneErr = hexFixture('14000000 0300 0200 01000000 02000000 f3ffffff');
    expect(decodeDone(doneErr, messages(doneErr)[0]!).errno).toBe(13);
  });

  it('walks several messages and rejects a length that overruns the datagram', () => {
    const two = Buffer.concat([EINVAL_ACK, ENODEV_ACK]);
    expect(messages(two)).toHaveLength(2);
    const bad = Buffer.from(EINVAL_ACK);
    bad.writeUInt32LE(73, 0);
    expect(() => messages(bad)).toThrow(ProtocolError);
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    const decodeAll = (buf: Buffer): void => {
      forEachMessage(buf, buf.length, (m) => {
        if (m.type === 2) decodeAck(buf, m);
        if (m.type === 3) decodeDone(buf, m);
      });
    };
    assertDecoderTotal(decodeAll, [EINVAL_ACK, ENODEV_ACK], 5000);
  });
});
