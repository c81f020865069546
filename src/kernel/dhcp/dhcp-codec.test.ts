import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../common/errors.ts';
import { BOOTP_FIXED_LEN, DHCP_MESSAGE_TYPES, DHO, type DhcpMessageType } from './dhcp-constants.ts';
import { decodeDhcp, encodeDhcp, maskToPrefix } from './dhcp-codec.ts';
import type { DhcpMessage, DhcpOptions } from './dhcp-types.ts';
import { decodeFrame } from './frame-codec.ts';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(new URL(`../../../test/fixtures/dhcp/${name}`, import.meta.url), 'utf8').trim(), 'hex');

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const u32 = fc.nat(0xffffffff);
const text = fc.string({ minLength: 1, maxLength: 300 }).filter((s) => !s.includes('\0'));
const hex = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b).toString('hex'));
const KNOWN = new Set<number>(Object.values(DHO));
const other = fc.dictionary(fc.integer({ min: 1, max: 254 }).filter((c) => !KNOWN.has(c)).map(String), hex, { maxKeys: 3 })
  .map((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [Number(k), v])) as Record<number, string>);

const options: fc.Arbitrary<DhcpOptions> = fc.record({
  subnetMask: ipv4, routers: fc.array(ipv4, { minLength: 1, maxLength: 70 }), dnsServers: fc.array(ipv4, { minLength: 1, maxLength: 4 }),
  hostName: text, requestedAddress: ipv4, leaseTime: u32, renewalTime: u32, rebindingTime: u32, serverId: ipv4,
  parameterRequestList: fc.array(fc.nat(255), { minLength: 0, maxLength: 20 }), message: text, maxMessageSize: fc.integer({ min: 576, max: 0xffff }),
  clientId: hex, other,
}, { requiredKeys: [] }).map((o) => {
  // An empty `other` decodes as absent; keep the generator to what decode can give back.
  const { other: x, ...rest } = o as DhcpOptions & { other?: Record<number, string> };
  return x === undefined || Object.keys(x).length === 0 ? rest : { ...rest, other: x };
});

const message: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom('request' as const, 'reply' as const),
  type: fc.constantFrom(...(Object.keys(DHCP_MESSAGE_TYPES) as DhcpMessageType[])),
  xid: u32, secs: fc.nat(0xffff), broadcast: fc.boolean(),
  ciaddr: ipv4, yiaddr: ipv4, siaddr: ipv4, giaddr: ipv4, chaddr: mac, options,
});

describe('DHCP codec', () => {
  it('decodes a DHCPACK captured from dnsmasq 2.90 (test/fixtures/dhcp)', () => {
    const frame = decodeFrame(fixture('dnsmasq-2.90-ack.frame.hex'), 68)!;
    expect(frame).toMatchObject({ srcIp: '192.0.2.1', dstIp: '255.255.255.255', srcPort: 67, dstPort: 68, dstMac: 'ff:ff:ff:ff:ff:ff' });
    expect(decodeDhcp(frame.payload)).toEqual({
      op: 'reply', type: 'ack', xid: 0x1234abcd, secs: 0, broadcast: true,
      ciaddr: '0.0.0.0', yiaddr: '192.0.2.54', siaddr: '192.0.2.1', giaddr: '0.0.0.0', chaddr: '02:00:5e:00:53:01',
      options: {
        subnetMask: '255.255.255.0', routers: ['192.0.2.1'], dnsServers: ['192.0.2.53'], leaseTime: 120, renewalTime: 60, rebindingTime: 105,
        serverId: '192.0.2.1', other: { 28: 'c00002ff' }, // option 28: the broadcast address
      },
    });
    const offer = decodeDhcp(decodeFrame(fixture('dnsmasq-2.90-offer.frame.hex'), 68)!.payload);
    expect(offer).toMatchObject({ type: 'offer', yiaddr: '192.0.2.54', options: { serverId: '192.0.2.1', leaseTime: 120 } });
  });

  it('round-trips: decode(encode(m)) is m, for any message (long options split and joined, RFC 3396)', () => {
    fc.assert(fc.property(message, (m) => {
      expect(decodeDhcp(encodeDhcp(m))).toEqual(m);
    }), { numRuns: 300 });
  });

  it('pads to the 300 octets BOOTP relays expect', () => {
    const m: DhcpMessage = { op: 'request', type: 'discover', xid: 1, secs: 0, broadcast: true, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: '02:00:00:00:00:01', options: {} };
    expect(encodeDhcp(m).length).toBe(300);
  });

  const ack = (): Buffer => Buffer.from(decodeFrame(fixture('dnsmasq-2.90-ack.frame.hex'), 68)!.payload);
  const optionsStart = BOOTP_FIXED_LEN + 4;

  it.each([
    ['truncated header', (b: Buffer) => b.subarray(0, 200), /200 octets, shorter than the 240/],
    ['bad op', (b: Buffer) => { b[0] = 3; return b; }, /op 3 is neither/],
    ['not Ethernet', (b: Buffer) => { b[1] = 6; return b; }, /only Ethernet/],
    ['BOOTP, not DHCP', (b: Buffer) => { b.writeUInt32BE(0, BOOTP_FIXED_LEN); return b; }, /magic cookie 0x0 is not 0x63825363/],
    ['no END option', (b: Buffer) => b.subarray(0, optionsStart + 3), /without the END option|runs past the end/],
    ['option running past the end', (b: Buffer) => { b[optionsStart + 1] = 250; return b; }, /length 250 runs past the end/],
    ['no message type', (b: Buffer) => { b[optionsStart] = 200; return b; }, /no message type option \(53\)/],
    ['unknown message type', (b: Buffer) => { b[optionsStart + 2] = 99; return b; }, /message type 99 is unknown/],
    ['a 3-byte lease time', (b: Buffer) => Buffer.concat([b.subarray(0, optionsStart + 3), Buffer.from([DHO.LEASE_TIME, 3, 0, 0, 1, DHO.END])]), /option 51 \(lease time\): length 3, expected 4/],
    ['a router list of 5 bytes', (b: Buffer) => Buffer.concat([b.subarray(0, optionsStart + 3), Buffer.from([DHO.ROUTERS, 5, 1, 2, 3, 4, 5, DHO.END])]), /option 3 \(routers\): length 5/],
    ['option overload', (b: Buffer) => Buffer.concat([b.subarray(0, optionsStart + 3), Buffer.from([DHO.OPTION_OVERLOAD, 1, 3, DHO.END])]), /option 52 \(option overload\) is not supported/],
  ])('refuses a malformed message with a clear error: %s', (_name, mutate, msg) => {
    expect(() => decodeDhcp(mutate(ack()))).toThrow(msg);
    expect(() => decodeDhcp(mutate(ack()))).toThrow(ProtocolError);
  });

  it('only ever throws ProtocolError on arbitrary or corrupted input (fuzz)', () => {
    const base = ack();
    const corrupted = fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }).map((edits) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i] = v;
      return b;
    });
    const truncated = fc.nat(base.length).map((n) => base.subarray(0, n));
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)), corrupted, truncated), (b) => {
      try {
        decodeDhcp(b);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
      }
    }), { numRuns: 2000 });
  });

  it('maskToPrefix: contiguous masks only', () => {
    expect(maskToPrefix('255.255.255.0')).toBe(24);
    expect(maskToPrefix('255.255.255.255')).toBe(32);
    expect(maskToPrefix('0.0.0.0')).toBe(0);
    expect(maskToPrefix('255.255.240.0')).toBe(20);
    expect(() => maskToPrefix('255.0.255.0')).toThrow(/not contiguous/);
  });
});
