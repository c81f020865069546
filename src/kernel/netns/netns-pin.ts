/**
 * Pinning a network namespace to a file, as `ip netns add` does: a bind
 * mount of a namespace file (`/proc/<pid>/ns/net`, `/run/netns/X`) onto an
 * empty regular file. The namespace then lives as long as that mount,
 * whatever happens to the processes and the other paths that held it: a
 * pod's namespace pinned this way outlives the pod's sandbox and the runtime's
 * own bind mount, and (when the mount propagates to the host's mount
 * namespace) the process that made it.
 *
 * Needs CAP_SYS_ADMIN, and an LSM profile that allows mount(2) (the
 * container runtimes' default AppArmor profile has `deny mount`).
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { syscallError } from '../errors.ts';
import type { Libc } from '../libc/libc.ts';

/** mount(2) and umount2(2) flags (<linux/mount.h>). */
export const MOUNT_FLAGS = { MS_BIND: 0x1000, MNT_DETACH: 0x2 } as const;

const { ENOENT, EINVAL } = osConstants.errno;

/** The nsfs device: every namespace file (and every pin) lives on it. */
function nsfsDevice(): number {
  return statSync('/proc/self/ns/net').dev;
}

/** Whether `path` is a network namespace file now (a pin, `/proc/<pid>/ns/net`, a runtime's bind mount), not a plain file left behind. */
export function isNetnsFile(path: string): boolean {
  try {
    return statSync(path).dev === nsfsDevice();
  } catch {
    return false;
  }
}

/** The namespace `path` names (nsfs inode), undefined when it names none. */
export function netnsInode(path: string): number | undefined {
  try {
    const st = statSync(path);
    return st.dev === nsfsDevice() ? st.ino : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pins the namespace at `source` to `target` (created empty if missing). A
 * target that already pins the same namespace is left as it is; one that
 * pins another namespace is refused (EEXIST).
 * Equivalent to: `touch TARGET; mount --bind SOURCE TARGET`
 */
export function netnsPin(libc: Libc, source: string, target: string): void {
  const want = netnsInode(source);
  if (want === undefined) throw syscallError(`netns pin: ${source} is not a network namespace`, ENOENT, { netns: source });
  const have = netnsInode(target);
  if (have === want) return;
  if (have !== undefined) throw syscallError(`netns pin: ${target} pins another namespace`, osConstants.errno.EEXIST, { netns: target });
  closeSync(openSync(target, fsConstants.O_WRONLY | fsConstants.O_CREAT, 0o400));
  if (libc.mount(source, target, MOUNT_FLAGS.MS_BIND) < 0) throw syscallError(`mount(${source} → ${target}, MS_BIND)`, libc.errno(), { netns: source });
}

/**
 * Releases a pin: lazy unmount (the namespace dies with its last user), then
 * the file goes. A target that is not mounted, or not there, is fine.
 * Equivalent to: `umount -l TARGET; rm -f TARGET`
 */
export function netnsUnpin(libc: Libc, target: string): void {
  // A file may carry stacked mounts (a pin made twice by racing writers): unmount until none is left.
  for (let i = 0; i < 8 && isNetnsFile(target); i++) {
    if (libc.umount2(target, MOUNT_FLAGS.MNT_DETACH) < 0) {
      const errno = libc.errno();
      if (errno === EINVAL || errno === ENOENT) break;
      throw syscallError(`umount2(${target}, MNT_DETACH)`, errno, { netns: target });
    }
  }
  try {
    unlinkSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * The propagation of the mount `path` lives on, from /proc/self/mountinfo:
 * `shared` (mounts made under it reach the peers, e.g. the host's mount
 * namespace with Kubernetes' `mountPropagation: Bidirectional`), `slave`,
 * `private` or `unbindable`; undefined when it cannot be told.
 */
export function mountPropagation(path: string): 'shared' | 'slave' | 'private' | 'unbindable' | undefined {
  let best: { point: string; fields: string[] } | undefined;
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of info.split('\n')) {
    const parts = line.split(' ');
    const point = (parts[4] ?? '').replace(/\\040/gu, ' ');
    if (point === '' || !(path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`))) continue;
    if (best === undefined || point.length >= best.point.length) best = { point, fields: parts.slice(6, parts.indexOf('-')) };
  }
  if (best === undefined) return undefined;
  if (best.fields.some((f) => f.startsWith('shared:'))) return 'shared';
  if (best.fields.some((f) => f.startsWith('master:'))) return 'slave';
  if (best.fields.includes('unbindable')) return 'unbindable';
  return 'private';
}
