/**
 * A cheap fingerprint of the eBPF programs attached to published interfaces.
 * tcx and bpf_link attachments raise no netlink event, so the watcher polls
 * this (two BPF_PROG_QUERY per interface plus the XDP program id) and
 * rebuilds only when it changes.
 */
import { ebpfQuickState } from '../kernel/bpf/ebpf-quick.ts';
import type { Libc } from '../kernel/libc/index.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import type { Device } from './model.ts';

export function ebpfFingerprint(h: NetnsHandle, devices: readonly Device[], libc: Libc): string {
  const parts: string[] = [];
  for (const d of devices) {
    if (!d.netdevPresent || d.ifIndex === undefined) continue;
    try {
      parts.push(`${d.ifIndex}:${ebpfQuickState(h, d.ifIndex, libc)}`);
    } catch {
      parts.push(`${d.ifIndex}:?`);
    }
  }
  return parts.join(';');
}
