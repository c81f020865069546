/**
 * Runs one command inside the minimal root of bundle-chroot.kernel.test.ts:
 * mounts a fresh read-only procfs and sysfs at ROOT/proc and ROOT/sys (the
 * inventory reads both), then `chroot ROOT COMMAND...`, passing on only the
 * NETCLAIM_* environment. Exits with the command's status.
 *
 * It runs under `unshare --mount --propagation private`, so the two mounts
 * exist only in that private mount namespace and vanish with it, even when
 * the test is killed: nothing is ever mounted on the machine itself. As a
 * guard it refuses to mount anything while still in the caller's namespace.
 *
 * Usage: node chroot-exec.ts CALLER_MNT_NS ROOT COMMAND [ARG...]
 *   CALLER_MNT_NS  the caller's `readlink /proc/self/ns/mnt` (e.g. mnt:[4026531841])
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const [callerNs, root, ...command] = process.argv.slice(2);
if (!callerNs || !root || command.length === 0) throw new Error('usage: chroot-exec.ts CALLER_MNT_NS ROOT COMMAND [ARG...]');
if (readlinkSync('/proc/self/ns/mnt') === callerNs) throw new Error('chroot-exec: not in a private mount namespace (run it under unshare --mount)');

execFileSync('mount', ['-t', 'proc', '-o', 'ro,nosuid,nodev,noexec', 'proc', join(root, 'proc')]);
execFileSync('mount', ['-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', join(root, 'sys')]);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('NETCLAIM_')));
// chroot(8) is looked up on this PATH; the command inside gets no PATH at all.
const chroot = (process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, 'chroot')).find((p) => existsSync(p)) ?? 'chroot';
const r = spawnSync(chroot, [root, ...command], { stdio: 'inherit', env });
if (r.error) throw r.error;
process.exitCode = r.status ?? 128 + 1;
