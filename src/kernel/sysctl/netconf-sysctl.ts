/**
 * Per-interface sysctls: `/proc/sys/net/{ipv4,ipv6}/conf/<ifname>/<name>`.
 *
 * /proc/sys/net shows the network namespace of the task that opens the file
 * (the calling thread: proc_sysctl looks the table set up through
 * `current->nsproxy->net_ns`), so every open, read and write runs
 * synchronously inside the handle's setns window. Node's synchronous fs
 * calls run on the calling (main) thread, which is the thread `within`
 * moved.
 *
 * A file that does not exist reads as `undefined`: the interface has no
 * IPv6 state (IPv6 off at boot, MTU below 1280), or the kernel lacks that
 * sysctl. An interface that does not exist at all is a NotFoundError.
 *
 * Container runtimes mount /proc/sys read-only in containers that are not
 * privileged: reads work, writes fail with EROFS. `netconfSysctlWrite` then
 * writes an IPv4 one over rtnetlink (netlink/route/link-inet-conf.ts);
 * IPv6 ones have no other way in.
 */
import { accessSync, closeSync, existsSync, openSync, readFileSync, writeSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { ConfigError, NotFoundError } from '../../common/errors.ts';
import { KernelError, syscallError } from '../errors.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { isIpv4Devconf, linkSetInetConf } from '../netlink/route/link-inet-conf.ts';
import { linkGetByName } from '../netlink/route/link-ops.ts';
import { linkNameProblem } from '../netlink/route/link-validate.ts';

export type NetconfFamily = 'ipv4' | 'ipv6';

const FAMILIES: readonly NetconfFamily[] = ['ipv4', 'ipv6'];
const ENOENT = osConstants.errno.ENOENT;
const EIO = osConstants.errno.EIO;

/** The directory `ifName`'s sysctls of `family` live in. */
const confDir = (family: NetconfFamily, ifName: string): string => `/proc/sys/net/${family}/conf/${ifName}`;

function checkFamily(family: string): asserts family is NetconfFamily {
  if (!FAMILIES.includes(family as NetconfFamily)) {
    throw new ConfigError(`sysctl family must be ipv4 or ipv6, got ${JSON.stringify(family)}`, { context: { field: 'family', value: family } });
  }
}

/** `all` and `default` are directories next to the interfaces and valid targets. */
function checkIfName(ifName: string): void {
  const problem = typeof ifName === 'string' ? linkNameProblem(ifName) : 'is not a string';
  if (problem !== undefined) {
    throw new ConfigError(`sysctl interface name ${JSON.stringify(ifName)} ${problem}`, { context: { field: 'ifName', value: ifName } });
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\0]/u.test(name)) {
    throw new ConfigError(`sysctl name ${JSON.stringify(name)} must be a single non-empty path component`, {
      context: { field: 'name', value: name },
    });
  }
}

/** The positive errno of a Node fs error (Node reports it negated), EIO when it has none. */
export function fsErrno(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  const n = typeof code === 'string' ? (osConstants.errno as Record<string, number>)[code] : undefined;
  return n ?? EIO;
}

type ReadResult = { readonly value: string } | { readonly missing: 'file' | 'device' };

/** Runs inside the setns window: reads one file, telling a missing file from a missing interface. */
function readIn(family: NetconfFamily, ifName: string, name: string, netns: string): ReadResult {
  const path = `${confDir(family, ifName)}/${name}`;
  try {
    return { value: readFileSync(path, 'utf8').replace(/\n$/u, '') };
  } catch (err) {
    const errno = fsErrno(err);
    // EIO: the kernel has no value to show (ipv6 stable_secret before it is set).
    if (errno === EIO) return { missing: 'file' };
    if (errno !== ENOENT) throw syscallError(`read(${path})`, errno, { netns });
    return { missing: FAMILIES.some((f) => existsSync(confDir(f, ifName))) ? 'file' : 'device' };
  }
}

function noDevice(h: NetnsHandle, ifName: string): NotFoundError {
  return new NotFoundError(`interface ${JSON.stringify(ifName)} has no per-interface sysctls in netns ${h.path} (no such interface)`, {
    context: { netns: h.path, ifName },
  });
}

/**
 * One per-interface sysctl, as the kernel prints it (trailing newline
 * removed); `undefined` when the interface has no such file (no IPv6 on it,
 * or an older kernel) or the kernel has no value to show.
 * Equivalent to: `ip netns exec NS sysctl -n net.FAMILY.conf.IFNAME.NAME`
 */
export function netconfSysctlGet(h: NetnsHandle, family: NetconfFamily, ifName: string, name: string): string | undefined {
  checkFamily(family);
  checkIfName(ifName);
  checkName(name);
  const r = h.within(() => readIn(family, ifName, name, h.path));
  if ('value' in r) return r.value;
  if (r.missing === 'device') throw noDevice(h, ifName);
  return undefined;
}

/**
 * Several per-interface sysctls in one setns window, keyed `ipv4.NAME` /
 * `ipv6.NAME`; keys whose file does not exist are left out.
 * Equivalent to: `ip netns exec NS sysctl net.ipv4.conf.IFNAME.N1 net.ipv6.conf.IFNAME.N2 ...`
 */
export function netconfSysctlsGet(h: NetnsHandle, ifName: string, keys: readonly string[]): Record<string, string> {
  checkIfName(ifName);
  const parsed = keys.map((key) => parseNetconfKey(key));
  const results = h.within(() => parsed.map(([family, name]) => readIn(family, ifName, name, h.path)));
  const out: Record<string, string> = {};
  let device = false;
  results.forEach((r, i) => {
    if ('value' in r) out[keys[i]!] = r.value;
    else if (r.missing === 'device') device = true;
  });
  if (device) throw noDevice(h, ifName);
  return out;
}

/** `ipv4.rp_filter` → [`ipv4`, `rp_filter`]; anything else is a ConfigError. */
export function parseNetconfKey(key: string): readonly [NetconfFamily, string] {
  const dot = typeof key === 'string' ? key.indexOf('.') : -1;
  const family = dot < 0 ? '' : key.slice(0, dot);
  if (family !== 'ipv4' && family !== 'ipv6') {
    throw new ConfigError(`sysctl key ${JSON.stringify(key)} must be ipv4.NAME or ipv6.NAME`, { context: { field: 'key', value: key } });
  }
  const name = key.slice(dot + 1);
  checkName(name);
  return [family, name];
}

/**
 * Writes one per-interface sysctl. The file must exist (no O_CREAT):
 * a missing interface is a NotFoundError, a missing sysctl a KernelError
 * ENOENT, a value the kernel refuses a KernelError EINVAL.
 * Equivalent to: `ip netns exec NS sysctl -w net.FAMILY.conf.IFNAME.NAME=VALUE`
 */
export function netconfSysctlSet(h: NetnsHandle, family: NetconfFamily, ifName: string, name: string, value: string): void {
  checkFamily(family);
  checkIfName(ifName);
  checkName(name);
  if (typeof value !== 'string' || value.includes('\0')) {
    throw new ConfigError(`sysctl value for ${family}.${name} must be a string without NUL`, { context: { field: 'value', value } });
  }
  const path = `${confDir(family, ifName)}/${name}`;
  const missingDevice = h.within(() => {
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_WRONLY);
    } catch (err) {
      const errno = fsErrno(err);
      if (errno === ENOENT && !FAMILIES.some((f) => existsSync(confDir(f, ifName)))) return true;
      throw syscallError(`open(${path})`, errno, { netns: h.path });
    }
    const buf = Buffer.from(value, 'utf8');
    let written: number;
    try {
      written = writeSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      throw syscallError(`write(${path})`, fsErrno(err), { netns: h.path });
    } finally {
      closeSync(fd);
    }
    if (written !== buf.length) throw syscallError(`write(${path})`, EIO, { netns: h.path });
    return false;
  });
  if (missingDevice) throw noDevice(h, ifName);
}

const { EROFS, EACCES, EPERM } = osConstants.errno;
const DENIED = new Set([EROFS, EACCES, EPERM]);

/**
 * Whether this process can write /proc/sys/net (false: mounted read-only,
 * as the runtimes do for containers that are not privileged; or denied).
 * Equivalent to: `test -w /proc/sys/net/ipv4/conf/default/forwarding`
 */
export function procSysNetWritable(): boolean {
  try {
    accessSync('/proc/sys/net/ipv4/conf/default/forwarding', fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether a per-interface sysctl key (`ipv4.NAME` / `ipv6.NAME`) can be written without /proc/sys (over rtnetlink). */
export function netconfKeyHasNetlink(key: string): boolean {
  const [family, name] = parseNetconfKey(key);
  return family === 'ipv4' && isIpv4Devconf(name);
}

/**
 * Writes one per-interface sysctl through /proc/sys, or, when that is
 * refused (read-only mount, EACCES, EPERM) and it is an IPv4 one, over
 * rtnetlink; says which way it went. Anything else fails as
 * netconfSysctlSet does.
 * Equivalent to: `ip netns exec NS sysctl -w net.FAMILY.conf.IFNAME.NAME=VALUE`
 */
export function netconfSysctlWrite(h: NetnsHandle, family: NetconfFamily, ifName: string, name: string, value: string): 'proc' | 'netlink' {
  try {
    netconfSysctlSet(h, family, ifName, name, value);
    return 'proc';
  } catch (err) {
    if (!(err instanceof KernelError) || !DENIED.has(err.errno) || family !== 'ipv4' || !isIpv4Devconf(name) || !/^-?\d+$/u.test(value.trim())) throw err;
    linkSetInetConf(h, linkGetByName(h, ifName).index, { [name]: Number(value.trim()) });
    return 'netlink';
  }
}
