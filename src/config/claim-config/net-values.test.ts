import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp, canonicalMac, canonicalPrefix, ifNameProblem, interfaceMacProblem, ipProblem, macProblem, networkPrefix, parseMac,
  parsePrefix, prefixProblem,
} from './net-values.ts';

describe('interface names', () => {
  it('accepts what the kernel accepts, up to 15 bytes', () => {
    for (const n of ['eth0', 'net-1', 'a.b_c', 'é', 'x'.repeat(15), 'eth0@', 'mlx5_6']) expect(ifNameProblem(n), n).toBeUndefined();
  });
  it('refuses empty, long, dot, slash, colon, percent, whitespace and control characters', () => {
    for (const n of ['', 'x'.repeat(16), 'ééééééééé', '.', '..', 'a/b', 'a:b', 'eth%d', 'a b', 'a\tb', 'a\u0001b', 'a\u007fb']) {
      expect(ifNameProblem(n), JSON.stringify(n)).toBeDefined();
    }
    expect(ifNameProblem('ééééééééé')).toBe('"ééééééééé" is 18 bytes, the kernel allows at most 15 (IFNAMSIZ)');
  });
});

describe('addresses and prefixes', () => {
  it('refuses zones, missing lengths and bad lengths', () => {
    expect(ipProblem('fe80::1%eth0')).toBe('"fe80::1%eth0" has a zone; zones are not allowed');
    expect(ipProblem('01.2.3.4')).toBeDefined();
    expect(prefixProblem('10.0.0.1')).toMatch(/has no prefix length/);
    for (const p of ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', 'x/8', 'fe80::1%eth0/64']) expect(prefixProblem(p), p).toBeDefined();
    expect(parsePrefix('2001:db8::/0')).toMatchObject({ length: 0 });
  });

  it('writes addresses in RFC 5952 form and clears host bits of networks', () => {
    expect(canonicalIp('2001:DB8:0:0:0::1')).toBe('2001:db8::1');
    expect(canonicalPrefix('2001:DB8::1/64')).toBe('2001:db8::1/64');
    expect(networkPrefix('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(networkPrefix('192.0.2.77/26')).toBe('192.0.2.64/26');
    expect(networkPrefix('2001:db8:1:2::5/33')).toBe('2001:db8::/33');
    expect(networkPrefix('10.1.2.3/32')).toBe('10.1.2.3/32');
    expect(networkPrefix('10.1.2.3/0')).toBe('0.0.0.0/0');
  });

  it('normalises any prefix to a fixed point that contains the original address', () => {
    const prefix = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })),
    ).map(([a, l]) => `${a}/${l}`);
    fc.assert(fc.property(prefix, (p) => {
      expect(prefixProblem(p)).toBeUndefined();
      const net = networkPrefix(p);
      expect(networkPrefix(net)).toBe(net);
      expect(canonicalPrefix(canonicalPrefix(p))).toBe(canonicalPrefix(p));
      expect(parsePrefix(net)?.length).toBe(parsePrefix(p)?.length);
    }), { numRuns: 500 });
  });
});

describe('hardware addresses', () => {
  it('accepts the forms Go\'s ParseMAC accepts', () => {
    for (const m of ['00:11:22:33:44:55', '00-11-22-33-44-55', '0011.2233.4455', '00:11:22:33:44:55:66:77',
      '00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01', '0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001']) {
      expect(macProblem(m), m).toBeUndefined();
    }
    expect(canonicalMac('0011.2233.44AA')).toBe('00:11:22:33:44:aa');
    expect(canonicalMac('00-11-22-33-44-AA')).toBe('00:11:22:33:44:aa');
  });
  it('refuses other lengths, mixed separators and non-hex', () => {
    for (const m of ['00:11:22:33:44', '00:11:22:33:44:55:66', '00:11-22:33:44:55', 'zz:11:22:33:44:55', '001122334455', '']) {
      expect(macProblem(m), m).toBeDefined();
    }
  });
  it('wants an interface\'s own Ethernet address unicast and not zero', () => {
    expect(interfaceMacProblem('01:00:5e:00:00:01')).toMatch(/multicast/);
    expect(interfaceMacProblem('00:00:00:00:00:00')).toMatch(/all zeros/);
    expect(interfaceMacProblem('02:00:00:00:00:01')).toBeUndefined();
  });
  it('round-trips any 6-byte address through every form', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (b) => {
      const hex = [...b].map((x) => x.toString(16).padStart(2, '0'));
      const colon = hex.join(':');
      expect(canonicalMac(hex.join('-').toUpperCase())).toBe(colon);
      expect(canonicalMac(`${hex[0]}${hex[1]}.${hex[2]}${hex[3]}.${hex[4]}${hex[5]}`)).toBe(colon);
      expect(parseMac(colon)).toEqual(Buffer.from(b));
    }));
  });
});
