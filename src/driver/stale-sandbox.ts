/**
 * A pod can have more than one sandbox over its life: the kubelet makes a
 * new one when the old one broke (containerd restarted under its
 * RunPodSandbox, say), the new sandbox's attach moves the devices over, and
 * the old sandbox's StopPodSandbox or RemovePodSandbox (the kubelet's garbage
 * collection) can come after that. These two guards keep the hooks of the
 * two sandboxes from undoing each other (docs/pods.md, "StopPodSandbox and
 * RemovePodSandbox").
 */
import type { Libc } from '../kernel/libc/libc.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { sameNetns } from './attach/netns-guard.ts';
import type { NetnsPins } from './netns-pins.ts';
import type { NriPod } from './pod-port.ts';
import type { ClaimRecord } from './record-model.ts';

/**
 * Whether the stop or removal of sandbox `pod` may give this record's
 * devices back: only the sandbox its journal names. Otherwise the devices
 * are in a newer sandbox of the pod, and giving them back would take them
 * out of the running sandbox, or, found in neither namespace, clear the
 * journal and leave the pod's CreateContainer failing for good. The newer
 * sandbox's own stop, Synchronize (a pod gone) and unprepare give them back.
 */
export function sandboxHolds(record: ClaimRecord, pod: NriPod): boolean {
  return record.attachment !== undefined && record.attachment.sandboxId === pod.id;
}

/**
 * Whether the record's journal says its devices are in another namespace
 * than `target` (an earlier sandbox of the same pod, alive in its pin, or
 * at the runtime's path): the attach must give them back from there first.
 * A namespace that cannot be opened any more counts as elsewhere (the
 * detach then finds the devices on the host).
 */
export function heldElsewhere(record: ClaimRecord, target: NetnsHandle, o: { readonly libc: Libc; readonly pins?: NetnsPins | undefined }): boolean {
  const a = record.attachment;
  if (a === undefined) return false;
  let from: NetnsHandle | undefined;
  try {
    from = NetnsHandle.open(a.pin !== undefined && o.pins?.held(a.pin) === true ? a.pin : a.netns, { libc: o.libc });
  } catch {
    return true;
  }
  try {
    return !sameNetns(from, target);
  } finally {
    from.close();
  }
}
