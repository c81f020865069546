/**
 * Which namespace a handle really is, whatever its path: a namespace file is
 * identified by its nsfs device and inode (what `stat -L` shows), the same
 * for every path (bind mount, /proc/PID/ns/net) that names it.
 *
 * Two guards use this: an attach refuses a "pod" namespace that is the
 * host's own (the device would be renamed and configured in place, and
 * detach would then "return" it from the host to the host), and a detach
 * treats a netns path that is no longer a namespace (the runtime unmounted
 * it but left the file) like one that is gone.
 */
import { fstatSync } from 'node:fs';
import { DriverError } from '../../common/errors.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';

/** The namespace's identity: nsfs device and inode. */
function idOf(h: NetnsHandle): { dev: bigint; ino: bigint } {
  const st = fstatSync(h.fd, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

/** Whether two handles name the same namespace. */
export function sameNetns(a: NetnsHandle, b: NetnsHandle): boolean {
  const x = idOf(a);
  const y = idOf(b);
  return x.dev === y.dev && x.ino === y.ino;
}

/** Whether `h` is a namespace file at all (on nsfs, as the host's handle is), not a plain file left behind. */
export function isNamespace(h: NetnsHandle, host: NetnsHandle): boolean {
  return idOf(h).dev === idOf(host).dev;
}

/** Throws ATTACH_HOST_NETNS when the pod's namespace is the host's own. */
export function assertNotHostNetns(host: NetnsHandle, pod: NetnsHandle, what: string): void {
  if (!sameNetns(host, pod)) return;
  throw new DriverError('ATTACH_HOST_NETNS',
    `${what}: the network namespace ${pod.path} is the host's own (inode ${pod.inode}); a device is never attached to the host namespace (a hostNetwork pod, or a runtime that reported the host's namespace)`,
    { context: { netns: pod.path, inode: String(pod.inode) } });
}
