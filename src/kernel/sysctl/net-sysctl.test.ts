import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { netSysctlGet, netSysctlPath, netSysctlSet } from './net-sysctl.ts';

/** A handle that fails the test if anything reaches the kernel: validation comes first. */
const unused = {
  path: 'unused',
  within: () => { throw new Error('reached the namespace'); },
} as unknown as NetnsHandle;

describe('netSysctlPath', () => {
  it('maps dotted keys under /proc/sys/net', () => {
    expect(netSysctlPath('ipv4.tcp_l3mdev_accept')).toBe('/proc/sys/net/ipv4/tcp_l3mdev_accept');
    expect(netSysctlPath('ipv4.udp_l3mdev_accept')).toBe('/proc/sys/net/ipv4/udp_l3mdev_accept');
    expect(netSysctlPath('ipv6.route.max_size')).toBe('/proc/sys/net/ipv6/route/max_size');
    expect(netSysctlPath('core.somaxconn')).toBe('/proc/sys/net/core/somaxconn');
    expect(netSysctlPath('unix')).toBe('/proc/sys/net/unix');
  });

  it('refuses empty segments, path tricks, other characters and overlong keys', () => {
    for (const k of [
      '', '.', '..', 'ipv4.', '.ipv4', 'ipv4..x', 'ipv4/x', '../x', 'ipv4.../x', 'ipv4.a b', 'ipv4.a\0', 'IPV4.x', 'ipv4.x*',
      'ipv4.conf.eth0:1.x', 'a'.repeat(201), 3 as unknown as string, undefined as unknown as string,
    ]) {
      expect(() => netSysctlPath(k), String(k)).toThrow(ConfigError);
    }
  });

  it('property: segments of [a-z0-9_-] always stay under /proc/sys/net, one path component each', () => {
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z0-9_-]{1,12}$/u), { minLength: 1, maxLength: 5 }), (segs) => {
      const p = netSysctlPath(segs.join('.'));
      expect(p).toBe(`/proc/sys/net/${segs.join('/')}`);
      expect(p.split('/').slice(4)).toEqual(segs);
    }));
  });
});

describe('argument checks (before the namespace is entered)', () => {
  it('refuses bad keys and values with ConfigError naming the field', () => {
    expect(() => netSysctlGet(unused, 'ipv4/../x')).toThrow(ConfigError);
    expect(() => netSysctlSet(unused, 'ipv4..x', '1')).toThrow(ConfigError);
    for (const v of ['1\0', Number.NaN, Number.POSITIVE_INFINITY, null as unknown as string, {} as unknown as string]) {
      try {
        netSysctlSet(unused, 'ipv4.tcp_l3mdev_accept', v);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).context).toMatchObject({ field: 'value' });
      }
    }
  });
});
