import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createNetns, type TestNetns } from '../../../test/kernel/netns-fixture.ts';
import { ConfigError } from '../../common/errors.ts';
import { KernelError } from '../errors.ts';
import { netSysctlGet, netSysctlSet } from './net-sysctl.ts';

/** The oracle: `sysctl -n` run inside the namespace. */
const sysctlN = (ns: TestNetns, key: string): string =>
  execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-n', key], { encoding: 'utf8' }).replace(/\n$/u, '');

/** What `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

const L3MDEV = ['ipv4.tcp_l3mdev_accept', 'ipv4.udp_l3mdev_accept', 'ipv4.raw_l3mdev_accept'] as const;

describe('netSysctlGet / netSysctlSet', () => {
  it('reads what sysctl -n shows, multi-value sysctls with their tabs', () => {
    const ns = createNetns();
    for (const key of [...L3MDEV, 'ipv4.ip_forward', 'ipv6.conf.all.forwarding', 'ipv4.tcp_rmem', 'ipv4.ping_group_range', 'core.somaxconn']) {
      expect(netSysctlGet(ns.handle, key), key).toBe(sysctlN(ns, `net.${key}`));
    }
    expect(netSysctlGet(ns.handle, 'ipv4.tcp_rmem')).toMatch(/^\d+\t\d+\t\d+$/u);
  });

  it('writes the l3mdev_accept sysctls in the handle\'s namespace only, as sysctl -n reads back', () => {
    const ns = createNetns();
    const other = createNetns();
    for (const key of L3MDEV) {
      // Defaults: tcp and udp 0, raw 1.
      const before = sysctlN(other, `net.${key}`);
      const flipped = before === '1' ? '0' : '1';
      netSysctlSet(ns.handle, key, flipped);
      expect(sysctlN(ns, `net.${key}`), key).toBe(flipped);
      expect(netSysctlGet(ns.handle, key)).toBe(flipped);
      expect(sysctlN(other, `net.${key}`), key).toBe(before);
    }
    netSysctlSet(ns.handle, 'ipv4.tcp_l3mdev_accept', 0);
    expect(sysctlN(ns, 'net.ipv4.tcp_l3mdev_accept')).toBe('0');
    netSysctlSet(ns.handle, 'ipv4.raw_l3mdev_accept', 1);
    expect(sysctlN(ns, 'net.ipv4.raw_l3mdev_accept')).toBe('1');
    netSysctlSet(ns.handle, 'ipv4.ping_group_range', '100\t200\n');
    expect(sysctlN(ns, 'net.ipv4.ping_group_range')).toBe('100\t200');
  });

  it('a sysctl the namespace lacks reads as undefined; writing it is ENOENT; a bad value is EINVAL', () => {
    const ns = createNetns();
    expect(netSysctlGet(ns.handle, 'ipv4.nc_no_such_sysctl')).toBeUndefined();
    expect(netSysctlGet(ns.handle, 'nc_no_such_dir.x')).toBeUndefined();
    const enoent = thrown(() => netSysctlSet(ns.handle, 'ipv4.nc_no_such_sysctl', '1'));
    expect(enoent).toBeInstanceOf(KernelError);
    expect(enoent).toMatchObject({ errnoName: 'ENOENT', code: 'KERNEL_SYSCALL_FAILED', netns: ns.path });
    const einval = thrown(() => netSysctlSet(ns.handle, 'ipv4.tcp_l3mdev_accept', '7'));
    expect(einval).toMatchObject({ errnoName: 'EINVAL', op: 'write(/proc/sys/net/ipv4/tcp_l3mdev_accept)' });
    expect(thrown(() => netSysctlSet(ns.handle, 'ipv4.tcp_l3mdev_accept', 'abc'))).toMatchObject({ errnoName: 'EINVAL' });
    expect(sysctlN(ns, 'net.ipv4.tcp_l3mdev_accept')).toBe('0');
    // A directory is not a sysctl.
    expect(thrown(() => netSysctlGet(ns.handle, 'ipv4'))).toMatchObject({ errnoName: 'EISDIR' });
    expect(() => netSysctlSet(ns.handle, '..', '1')).toThrow(ConfigError);
  });
});
