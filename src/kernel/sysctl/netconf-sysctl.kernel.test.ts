import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createNetns, ip, uniqueName, type TestNetns } from '../../../test/kernel/netns-fixture.ts';
import { ConfigError, NotFoundError } from '../../common/errors.ts';
import { KernelError } from '../errors.ts';
import { netconfSysctlGet, netconfSysctlSet, netconfSysctlsGet } from './netconf-sysctl.ts';

/** The oracle: `sysctl -n` run inside the namespace. */
function sysctlN(ns: TestNetns, key: string): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();
}

/** What `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

function vethIn(ns: TestNetns): string {
  const a = uniqueName('sa');
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', uniqueName('sb'));
  return a;
}

describe('netconfSysctlGet', () => {
  it('reads the defaults the kernel shows through sysctl -n (IPv4 and IPv6)', () => {
    const ns = createNetns();
    const dev = vethIn(ns);
    for (const [family, name] of [
      ['ipv4', 'forwarding'], ['ipv4', 'arp_ignore'], ['ipv4', 'rp_filter'], ['ipv6', 'forwarding'], ['ipv6', 'accept_ra'],
      ['ipv6', 'mtu'],
    ] as const) {
      expect(netconfSysctlGet(ns.handle, family, dev, name), `${family}.${name}`).toBe(sysctlN(ns, `net.${family}.conf.${dev}.${name}`));
    }
    expect(netconfSysctlGet(ns.handle, 'ipv4', 'all', 'forwarding')).toBe(sysctlN(ns, 'net.ipv4.conf.all.forwarding'));
  });

  it('reads the namespace of the handle, not the caller\'s', () => {
    const a = createNetns();
    const b = createNetns();
    const dev = 'lo';
    execFileSync('ip', ['netns', 'exec', a.name, 'sysctl', '-qw', `net.ipv4.conf.${dev}.arp_ignore=2`]);
    expect(netconfSysctlGet(a.handle, 'ipv4', dev, 'arp_ignore')).toBe('2');
    expect(netconfSysctlGet(b.handle, 'ipv4', dev, 'arp_ignore')).toBe('0');
  });

  it('is undefined when the interface has no IPv6 state (MTU below 1280) or the sysctl does not exist', () => {
    const ns = createNetns();
    const dev = vethIn(ns);
    ip(ns, 'link', 'set', dev, 'mtu', '1200');
    expect(netconfSysctlGet(ns.handle, 'ipv6', dev, 'forwarding')).toBeUndefined();
    expect(netconfSysctlGet(ns.handle, 'ipv4', dev, 'forwarding')).toBe(sysctlN(ns, `net.ipv4.conf.${dev}.forwarding`));
    expect(netconfSysctlGet(ns.handle, 'ipv4', dev, 'no_such_sysctl')).toBeUndefined();
    // ipv6 stable_secret reads as EIO until set: no value.
    ip(ns, 'link', 'set', dev, 'mtu', '1500');
    expect(netconfSysctlGet(ns.handle, 'ipv6', dev, 'stable_secret')).toBeUndefined();
  });

  it('throws NotFoundError for an interface the namespace does not have', () => {
    const ns = createNetns();
    const err = thrown(() => netconfSysctlGet(ns.handle, 'ipv4', 'ncmissing0', 'forwarding'));
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('NOT_FOUND');
    expect(() => netconfSysctlsGet(ns.handle, 'ncmissing0', ['ipv4.forwarding'])).toThrow(NotFoundError);
  });

  it('refuses names that would leave the interface directory', () => {
    const ns = createNetns();
    for (const [ifName, name] of [
      ['..', 'forwarding'], ['.', 'forwarding'], ['a/b', 'forwarding'], ['lo', '../all/forwarding'], ['lo', '..'], ['lo', '.'],
      ['lo', ''], ['lo', 'a\0b'], ['', 'forwarding'], ['a'.repeat(16), 'forwarding'], ['lo\0', 'forwarding'],
    ] as const) {
      expect(() => netconfSysctlGet(ns.handle, 'ipv4', ifName, name), `${ifName} ${name}`).toThrow(ConfigError);
      expect(() => netconfSysctlSet(ns.handle, 'ipv4', ifName, name, '1'), `${ifName} ${name}`).toThrow(ConfigError);
    }
    expect(() => netconfSysctlGet(ns.handle, 'ipv5' as 'ipv4', 'lo', 'forwarding')).toThrow(ConfigError);
    expect(() => netconfSysctlsGet(ns.handle, 'lo', ['forwarding'])).toThrow(ConfigError);
    expect(() => netconfSysctlsGet(ns.handle, 'lo', ['ipv4.a/b'])).toThrow(ConfigError);
  });
});

describe('netconfSysctlSet', () => {
  it('writes a value that sysctl -n reads back, in the handle\'s namespace only', () => {
    const ns = createNetns();
    const other = createNetns();
    const dev = vethIn(ns);
    netconfSysctlSet(ns.handle, 'ipv4', dev, 'arp_ignore', '1');
    netconfSysctlSet(ns.handle, 'ipv4', dev, 'rp_filter', '2\n');
    netconfSysctlSet(ns.handle, 'ipv6', dev, 'accept_ra', '0');
    expect(sysctlN(ns, `net.ipv4.conf.${dev}.arp_ignore`)).toBe('1');
    expect(sysctlN(ns, `net.ipv4.conf.${dev}.rp_filter`)).toBe('2');
    expect(sysctlN(ns, `net.ipv6.conf.${dev}.accept_ra`)).toBe('0');
    expect(netconfSysctlGet(ns.handle, 'ipv4', dev, 'arp_ignore')).toBe('1');
    netconfSysctlSet(ns.handle, 'ipv4', 'lo', 'arp_ignore', '2');
    expect(sysctlN(other, 'net.ipv4.conf.lo.arp_ignore')).toBe('0');
  });

  it('fails with the kernel\'s errno: EINVAL for a value out of range, ENOENT for an unknown sysctl; NotFoundError for a missing interface', () => {
    const ns = createNetns();
    const dev = vethIn(ns);
    const einval = thrown(() => netconfSysctlSet(ns.handle, 'ipv6', dev, 'mtu', '100'));
    expect(einval).toBeInstanceOf(KernelError);
    expect((einval as KernelError).errnoName).toBe('EINVAL');
    expect((einval as KernelError).code).toBe('KERNEL_SYSCALL_FAILED');
    expect((einval as KernelError).netns).toBe(ns.path);
    const enoent = thrown(() => netconfSysctlSet(ns.handle, 'ipv4', dev, 'no_such_sysctl', '1'));
    expect((enoent as KernelError).errnoName).toBe('ENOENT');
    expect(() => netconfSysctlSet(ns.handle, 'ipv4', 'ncmissing0', 'forwarding', '1')).toThrow(NotFoundError);
    expect(() => netconfSysctlSet(ns.handle, 'ipv4', dev, 'forwarding', 'a\0')).toThrow(ConfigError);
  });
});

describe('netconfSysctlsGet', () => {
  it('reads several keys in one window, leaving out the ones that do not exist', () => {
    const ns = createNetns();
    const dev = vethIn(ns);
    execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', `net.ipv4.conf.${dev}.arp_announce=2`]);
    ip(ns, 'link', 'set', dev, 'mtu', '1200');
    expect(netconfSysctlsGet(ns.handle, dev, ['ipv4.forwarding', 'ipv4.arp_announce', 'ipv6.forwarding', 'ipv4.no_such'])).toEqual({
      'ipv4.forwarding': sysctlN(ns, `net.ipv4.conf.${dev}.forwarding`),
      'ipv4.arp_announce': '2',
    });
    expect(netconfSysctlsGet(ns.handle, dev, [])).toEqual({});
  });
});
