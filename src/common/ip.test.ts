import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from './errors.ts';
import { cidrContains, ipFromBytes, ipToBytes, parseCidr } from './ip.ts';

describe('IP text and bytes', () => {
  it.each([
    ['10.1.2.3', '0a010203'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
    ['2001:db8::', '20010db8000000000000000000000000'],
    ['2001:db8:0:1:0:0:0:1', '20010db8000000010000000000000001'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001'],
  ])('%s', (text, hex) => {
    const b = ipToBytes(text);
    expect(b.toString('hex')).toBe(hex);
  });

  it('formats like RFC 5952 (longest zero run, first on ties, no single-group ::)', () => {
    expect(ipFromBytes(ipToBytes('2001:db8:0:1:0:0:0:1'), 0, 16)).toBe('2001:db8:0:1::1');
    expect(ipFromBytes(ipToBytes('2001:0:0:1:0:0:1:1'), 0, 16)).toBe('2001::1:0:0:1:1');
    expect(ipFromBytes(ipToBytes('2001:db8:1:1:1:1:0:1'), 0, 16)).toBe('2001:db8:1:1:1:1:0:1');
    expect(ipFromBytes(ipToBytes('::ffff:1.2.3.4'), 0, 16)).toBe('::ffff:1.2.3.4');
  });

  it('round-trips random addresses', () => {
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (a) => {
      const b = ipToBytes(a);
      expect(ipToBytes(ipFromBytes(b, 0, b.length))).toEqual(b);
    }), { numRuns: 2000 });
  });

  it('rejects lengths other than 4 and 16 with a ProtocolError', () => {
    expect(() => ipFromBytes(Buffer.alloc(8), 0, 5)).toThrow(ProtocolError);
  });

  it('parses CIDR text and rejects bad prefixes', () => {
    expect(parseCidr('10.0.0.1/24')).toEqual({ address: '10.0.0.1', prefixLen: 24, family: 2 });
    expect(parseCidr('fe80::1')).toEqual({ address: 'fe80::1', prefixLen: 128, family: 10 });
    expect(() => parseCidr('10.0.0.1/33')).toThrow(/prefix/);
    expect(() => parseCidr('10.0.0.1/2x')).toThrow(/prefix/);
    expect(() => parseCidr('nope/1')).toThrow(/not an IP/);
  });
});

describe('cidrContains', () => {
  it('compares the prefix bits of the same family only', () => {
    expect(cidrContains('10.1.0.0/24', '10.1.0.200')).toBe(true);
    expect(cidrContains('10.1.0.5/24', '10.1.1.1')).toBe(false);
    expect(cidrContains('10.0.0.0/9', '10.127.255.255')).toBe(true);
    expect(cidrContains('10.0.0.0/9', '10.128.0.0')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '192.0.2.1')).toBe(true);
    expect(cidrContains('2001:db8::/64', '2001:db8::1')).toBe(true);
    expect(cidrContains('2001:db8::/64', '10.0.0.1')).toBe(false);
  });
});
