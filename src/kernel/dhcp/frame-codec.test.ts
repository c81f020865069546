import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../common/errors.ts';
import { decodeFrame, encodeFrame, inetChecksum, type UdpFrame } from './frame-codec.ts';

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const frame: fc.Arbitrary<UdpFrame> = fc.record({
  srcMac: mac, dstMac: mac, srcIp: ipv4, dstIp: ipv4, srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff),
  payload: fc.uint8Array({ maxLength: 1400 }).map((u) => Buffer.from(u)),
});

describe('UDP/IPv4 framing', () => {
  it('round-trips any frame, with a valid IPv4 header checksum and UDP checksum (RFC 768/1071)', () => {
    fc.assert(fc.property(frame, (f) => {
      const b = encodeFrame(f);
      expect(decodeFrame(b)).toEqual(f);
      expect(inetChecksum(b.subarray(14, 34))).toBe(0);
      expect(decodeFrame(b, f.dstPort === 0 ? 1 : f.dstPort - 1)).toBeUndefined(); // another port: not ours
    }), { numRuns: 300 });
  });

  it('the UDP checksum matches the pseudo-header sum (verified by summing it back to 0xffff)', () => {
    const b = encodeFrame({ srcMac: '02:00:00:00:00:01', dstMac: 'ff:ff:ff:ff:ff:ff', srcIp: '0.0.0.0', dstIp: '255.255.255.255', srcPort: 68, dstPort: 67, payload: Buffer.from('hello') });
    const udp = b.subarray(34);
    const pseudo = Buffer.concat([b.subarray(26, 34), Buffer.from([0, 17]), Buffer.from([0, udp.length])]);
    expect(inetChecksum(Buffer.concat([pseudo, udp]))).toBe(0);
  });

  it('ignores what is not UDP/IPv4 (ARP, IPv6, TCP, fragments) and refuses broken IPv4/UDP headers', () => {
    const good = Buffer.from(readFileSync(new URL('../../../test/fixtures/dhcp/dnsmasq-2.90-ack.frame.hex', import.meta.url), 'utf8').trim(), 'hex');
    const arp = Buffer.from(good); arp.writeUInt16BE(0x0806, 12);
    expect(decodeFrame(arp)).toBeUndefined();
    const tcp = Buffer.from(good); tcp[14 + 9] = 6;
    expect(decodeFrame(tcp)).toBeUndefined();
    const frag = Buffer.from(good); frag.writeUInt16BE(0x2000, 14 + 6);
    expect(decodeFrame(frag)).toBeUndefined();
    const badSum = Buffer.from(good); badSum[14 + 8] ^= 0xff;
    expect(() => decodeFrame(badSum)).toThrow(/IPv4 header checksum is wrong/);
    const longer = Buffer.from(good); longer.writeUInt16BE(0xfff0, 14 + 2);
    expect(() => decodeFrame(longer)).toThrow(/total length 65520 does not fit/);
    expect(decodeFrame(good.subarray(0, 20))).toBeUndefined();
  });

  it('only ever returns a frame, undefined, or throws ProtocolError (fuzz)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u)), fc.boolean(), (b, ipish) => {
      if (ipish && b.length > 24) { b.writeUInt16BE(0x0800, 12); b[14] = 0x45; b[23] = 17; }
      try {
        decodeFrame(b);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
      }
    }), { numRuns: 2000 });
  });
});
