/**
 * Namespace-wide network sysctls: `/proc/sys/net/<key with dots as slashes>`,
 * e.g. `ipv4.tcp_l3mdev_accept` → /proc/sys/net/ipv4/tcp_l3mdev_accept
 * (per-interface ones under conf/ have netconf-sysctl.ts).
 *
 * As there, /proc/sys/net shows the network namespace of the calling thread,
 * so every open, read and write runs synchronously inside the handle's setns
 * window. Sysctls the kernel keeps for the initial namespace only (many of
 * net.core) do not exist in other namespaces: they read as `undefined` and
 * writing one is a KernelError ENOENT.
 *
 * No allowlist: any key of dot-separated segments of [a-z0-9_-] is taken,
 * which keeps it under /proc/sys/net (no `..`, no `/`, no empty segment).
 */
import { closeSync, openSync, readFileSync, writeSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { ConfigError } from '../../common/errors.ts';
import { syscallError } from '../errors.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { fsErrno } from './netconf-sysctl.ts';

const ENOENT = osConstants.errno.ENOENT;
const EIO = osConstants.errno.EIO;
const SEGMENT = /^[a-z0-9_-]+$/u;
/** Longer than any sysctl path under /proc/sys/net (the kernel's are well under 100 bytes). */
const KEY_MAX = 200;

/** `ipv4.tcp_l3mdev_accept` → `/proc/sys/net/ipv4/tcp_l3mdev_accept`; anything else is a ConfigError. */
export function netSysctlPath(key: string): string {
  const segments = typeof key === 'string' && key.length <= KEY_MAX ? key.split('.') : [];
  if (segments.length === 0 || !segments.every((s) => SEGMENT.test(s))) {
    throw new ConfigError(
      `net sysctl key ${JSON.stringify(key)} must be dot-separated segments of a-z, 0-9, _ and - (e.g. ipv4.tcp_l3mdev_accept)`,
      { context: { field: 'key', value: key } },
    );
  }
  return `/proc/sys/net/${segments.join('/')}`;
}

/**
 * One namespace-wide network sysctl as the kernel prints it (trailing
 * newline removed; multi-value sysctls keep their tabs); `undefined` when the
 * namespace has no such sysctl or the kernel has no value to show (EIO).
 * Equivalent to: `ip netns exec NS sysctl -n net.KEY`
 */
export function netSysctlGet(h: NetnsHandle, key: string): string | undefined {
  const path = netSysctlPath(key);
  return h.within(() => {
    try {
      return readFileSync(path, 'utf8').replace(/\n$/u, '');
    } catch (err) {
      const errno = fsErrno(err);
      if (errno === ENOENT || errno === EIO) return undefined;
      throw syscallError(`read(${path})`, errno, { netns: h.path });
    }
  });
}

/**
 * Writes one namespace-wide network sysctl. The file must exist (no
 * O_CREAT): an unknown sysctl is a KernelError ENOENT, a value the kernel
 * refuses a KernelError EINVAL. A number is written in decimal.
 * Equivalent to: `ip netns exec NS sysctl -w net.KEY=VALUE`
 */
export function netSysctlSet(h: NetnsHandle, key: string, value: string | number): void {
  const path = netSysctlPath(key);
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || text.includes('\0')) {
    throw new ConfigError(`net sysctl value for ${key} must be a string without NUL or a finite number`, { context: { field: 'value', value } });
  }
  const buf = Buffer.from(text, 'utf8');
  h.within(() => {
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_WRONLY);
    } catch (err) {
      throw syscallError(`open(${path})`, fsErrno(err), { netns: h.path });
    }
    let written: number;
    try {
      written = writeSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      throw syscallError(`write(${path})`, fsErrno(err), { netns: h.path });
    } finally {
      closeSync(fd);
    }
    if (written !== buf.length) throw syscallError(`write(${path})`, EIO, { netns: h.path });
  });
}
