import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { netconfSysctlGet, netconfSysctlSet, netconfSysctlsGet, parseNetconfKey } from './netconf-sysctl.ts';

/** A handle that fails the test if anything reaches the kernel: validation comes first. */
const unused = {
  path: 'unused',
  within: () => { throw new Error('reached the namespace'); },
} as unknown as NetnsHandle;

describe('parseNetconfKey', () => {
  it('splits ipv4.NAME / ipv6.NAME', () => {
    expect(parseNetconfKey('ipv4.rp_filter')).toEqual(['ipv4', 'rp_filter']);
    expect(parseNetconfKey('ipv6.accept_ra_defrtr')).toEqual(['ipv6', 'accept_ra_defrtr']);
  });

  it('refuses other families, missing names and path tricks', () => {
    for (const k of ['rp_filter', 'ipv5.x', 'ipv4.', 'ipv4..', 'ipv4./x', 'ipv4.a/b', 'ipv4.a\0', '.ipv4', 'IPV4.x', '']) {
      expect(() => parseNetconfKey(k), k).toThrow(ConfigError);
    }
  });

  it('property: a name without / or NUL, not . or .., round-trips', () => {
    fc.assert(fc.property(fc.constantFrom('ipv4', 'ipv6'), fc.stringMatching(/^[a-z_0-9.]{1,20}$/u), (f, n) => {
      fc.pre(n !== '.' && n !== '..');
      expect(parseNetconfKey(`${f}.${n}`)).toEqual([f, n]);
    }));
  });
});

describe('argument checks (before the namespace is entered)', () => {
  it('refuses bad interface names, sysctl names, families and values with ConfigError', () => {
    const bad: [string, string][] = [['..', 'x'], ['.', 'x'], ['a/b', 'x'], ['a:b', 'x'], ['a b', 'x'], ['', 'x'], ['x'.repeat(16), 'x'],
      ['lo', '..'], ['lo', '.'], ['lo', ''], ['lo', 'a/b'], ['lo', 'a\0']];
    for (const [ifName, name] of bad) {
      expect(() => netconfSysctlGet(unused, 'ipv4', ifName, name), `${ifName} ${name}`).toThrow(ConfigError);
      expect(() => netconfSysctlSet(unused, 'ipv6', ifName, name, '1'), `${ifName} ${name}`).toThrow(ConfigError);
    }
    expect(() => netconfSysctlGet(unused, 'inet' as 'ipv4', 'lo', 'x')).toThrow(ConfigError);
    expect(() => netconfSysctlSet(unused, 'ipv4', 'lo', 'x', '1\0')).toThrow(ConfigError);
    expect(() => netconfSysctlsGet(unused, 'lo', ['ipv4.ok', 'bad'])).toThrow(ConfigError);
    expect(() => netconfSysctlsGet(unused, 'a/b', ['ipv4.ok'])).toThrow(ConfigError);
  });

  it('names the field in the error context', () => {
    try {
      netconfSysctlGet(unused, 'ipv4', 'lo', '../x');
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).code).toBe('CONFIG_INVALID');
      expect((err as ConfigError).context).toMatchObject({ field: 'name', value: '../x' });
    }
  });
});
