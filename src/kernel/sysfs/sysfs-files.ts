/**
 * Small synchronous readers for sysfs attribute files. sysfs reads are cheap
 * and never block on I/O, so the sync node:fs calls are fine here. Every
 * reader returns `undefined` (or an empty list) when the file is missing or
 * unreadable — optional attributes come and go with drivers, kernel versions
 * and hot-unplug — and leaves it to the caller to decide what is required.
 */
import { readFileSync, readdirSync, readlinkSync, realpathSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';

/** The sysfs mount the readers use unless told otherwise. */
export const DEFAULT_SYSFS_ROOT = '/sys';

/** An attribute's text without the trailing newline; undefined when absent or unreadable (EINVAL, EISDIR...). */
export function readAttr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A hex id as sysfs prints it (`0x15b3`) without the `0x`, lower case. */
export function readHexAttr(path: string): string | undefined {
  const v = readAttr(path);
  if (v === undefined || v === '') return undefined;
  return v.replace(/^0x/i, '').toLowerCase();
}

/** A decimal integer attribute; undefined when absent or not a number. */
export function readIntAttr(path: string): number | undefined {
  const v = readAttr(path);
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}

/** Directory entries, sorted; empty when the directory does not exist. */
export function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

/** The last component of a symlink's target (`driver` → `mlx5_core`); undefined when not a link. */
export function readLinkBase(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch {
    return undefined;
  }
}

/** The fully resolved path; undefined when a component is missing. */
export function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

export const pathExists = (path: string): boolean => existsSync(path);

/**
 * True for a name that is safe to join under a sysfs directory: kernel
 * device names never contain `/` and are never `.` or `..`.
 */
export const isPlainName = (name: string): boolean =>
  name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');

/** Sorts names with trailing numbers numerically (`uverbs2` before `uverbs10`). */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** How many NUMA nodes the host has (`/sys/devices/system/node/nodeN`); undefined when sysfs does not say. */
export function numaNodeCount(root: string): number | undefined {
  const n = listDir(join(root, 'devices', 'system', 'node')).filter((d) => /^node\d+$/.test(d)).length;
  return n === 0 ? undefined : n;
}
