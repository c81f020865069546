/**
 * A cheap summary of an interface's tcx and XDP attachments, for change
 * detection by polling: tcx and bpf_link attachments raise no netlink event.
 * Two BPF_PROG_QUERY calls (run inside the handle's namespace, where the
 * ifindex means this interface) and one RTM_GETLINK.
 */
import type { Libc } from '../libc/index.ts';
import { linkGet } from '../netlink/route/link-ops.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { BPF_ATTACH_TYPE } from './bpf-constants.ts';
import { bpfProgQuery } from './bpf-syscall.ts';

export function ebpfQuickState(h: NetnsHandle, ifindex: number, libc: Libc): string {
  const query = (attachType: number): string => {
    try {
      const r = bpfProgQuery(libc, ifindex, attachType);
      return `${r.revision}/${r.progIds.join(',')}`;
    } catch {
      return '-'; // no tcx on this kernel, or the interface went away
    }
  };
  const tcx = h.within(() => `${query(BPF_ATTACH_TYPE.BPF_TCX_INGRESS)}|${query(BPF_ATTACH_TYPE.BPF_TCX_EGRESS)}`);
  const x = linkGet(h, ifindex).xdp;
  const xdp = x ? `${x.mode}/${x.progId ?? ''}/${x.driverProgId ?? ''}/${x.genericProgId ?? ''}/${x.offloadProgId ?? ''}` : '';
  return `${tcx}|${xdp}`;
}
