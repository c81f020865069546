/**
 * Input checks for link requests, run before anything is sent: an invalid
 * field throws a ConfigError that names it. The rules mirror the kernel's
 * (net/core/dev.c dev_valid_name, IFNAMSIZ/ALTIFNAMSIZ/IFALIASZ,
 * MAX_ADDR_LEN), so a request that passes fails in the kernel only for
 * reasons that depend on the device (its max MTU, its address length...).
 */
import { ConfigError } from '../../../common/errors.ts';
import type { LinkChange } from './link-types.ts';

/** IFNAMSIZ - 1: the longest interface name, in bytes. */
export const IFNAME_MAX = 15;
/** ALTIFNAMSIZ - 1: the longest alternative name, in bytes. */
export const ALTIFNAME_MAX = 127;
/** IFALIASZ - 1. */
export const IFALIAS_MAX = 255;
/** MAX_ADDR_LEN: the longest hardware address, in bytes. */
export const HWADDR_MAX = 32;

const U32_MAX = 0xffff_ffff;

/** Why `name` is not a valid interface name of at most `max` bytes, or undefined. */
export function linkNameProblem(name: string, max = IFNAME_MAX): string | undefined {
  const n = Buffer.byteLength(name, 'utf8');
  if (n === 0) return 'is empty';
  if (n > max) return `is ${n} bytes, longer than ${max}`;
  if (name === '.' || name === '..') return `cannot be "${name}"`;
  // dev_valid_name: no '/', ':' or whitespace; a NUL would truncate it.
  if (/[/:\s\0]/u.test(name)) return "contains '/', ':', a NUL or whitespace";
  return undefined;
}

/** Throws a ConfigError unless `name` is a valid interface name. */
export function checkLinkName(name: string, field = 'name', max = IFNAME_MAX): void {
  if (typeof name !== 'string') throw new ConfigError(`link ${field} must be a string`, { context: { field } });
  const problem = linkNameProblem(name, max);
  if (problem !== undefined) {
    throw new ConfigError(`link ${field} ${JSON.stringify(name)} ${problem}`, { context: { field, value: name } });
  }
}

/** Throws a ConfigError unless `v` is an integer in `[min, max]`. */
export function checkUint(v: number, field: string, min = 0, max = U32_MAX): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`link ${field} must be an integer in [${min}, ${max}], got ${String(v)}`, {
      context: { field, value: v },
    });
  }
}

/** Parses `aa:bb:cc:dd:ee:ff` (hex pairs, 1..32 bytes) into bytes. */
export function parseHwAddr(s: string, field = 'mac'): Buffer {
  if (typeof s !== 'string' || !/^[0-9a-f]{2}(?::[0-9a-f]{2}){0,31}$/iu.test(s)) {
    throw new ConfigError(`link ${field} ${JSON.stringify(s)} is not a hardware address of hex pairs like aa:bb:cc:dd:ee:ff`, {
      context: { field, value: s },
    });
  }
  return Buffer.from(s.replaceAll(':', ''), 'hex');
}

/** Checks every field of a change to link `index`; throws a ConfigError naming the first bad one. */
export function validateLinkChange(index: number, c: LinkChange): void {
  checkUint(index, 'index', 1, 0x7fff_ffff);
  if (c.name !== undefined) checkLinkName(c.name);
  if (c.mtu !== undefined) checkUint(c.mtu, 'mtu', 1, 0x7fff_ffff);
  if (c.mac !== undefined) parseHwAddr(c.mac, 'mac');
  if (c.alias !== undefined) {
    const n = typeof c.alias === 'string' ? Buffer.byteLength(c.alias, 'utf8') : -1;
    if (n < 0 || n > IFALIAS_MAX || c.alias.includes('\0')) {
      throw new ConfigError(`link alias must be a string of at most ${IFALIAS_MAX} bytes without NUL`, {
        context: { field: 'alias', value: c.alias },
      });
    }
  }
  if (c.up !== undefined && typeof c.up !== 'boolean') {
    throw new ConfigError('link up must be a boolean', { context: { field: 'up', value: c.up } });
  }
  if (c.txQueueLen !== undefined) checkUint(c.txQueueLen, 'txQueueLen');
  if (c.gsoMaxSize !== undefined) checkUint(c.gsoMaxSize, 'gsoMaxSize');
  if (c.gsoMaxSegs !== undefined) checkUint(c.gsoMaxSegs, 'gsoMaxSegs');
  if (c.groMaxSize !== undefined) checkUint(c.groMaxSize, 'groMaxSize');
  if (c.gsoIpv4MaxSize !== undefined) checkUint(c.gsoIpv4MaxSize, 'gsoIpv4MaxSize');
  if (c.groIpv4MaxSize !== undefined) checkUint(c.groIpv4MaxSize, 'groIpv4MaxSize');
  if (c.master !== undefined) checkUint(c.master, 'master', 0, 0x7fff_ffff);
  if (c.netnsFd !== undefined) checkUint(c.netnsFd, 'netnsFd', 0, 0x7fff_ffff);
  if (c.newIfIndex !== undefined) checkUint(c.newIfIndex, 'newIfIndex', 1, 0x7fff_ffff);
}
