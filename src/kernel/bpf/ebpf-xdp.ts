/**
 * XDP programs of an interface: which program runs in which mode comes from
 * the link's IFLA_XDP nest (rtnetlink, namespace-scoped); names come from
 * bpf(2) by program id. IFLA_XDP does not say whether a bpf_link owns the
 * attachment, so the machine's bpf_links are walked (BPF_LINK_GET_NEXT_ID)
 * for XDP links holding that program on that ifindex.
 *
 * Caveat: bpf_link_info reports an XDP link's ifindex but not its namespace,
 * and ifindexes repeat across namespaces (a pod's eth0 is often ifindex 2 or
 * 3 everywhere). A link found this way is a candidate, not a proof: when one
 * program is link-attached to same-numbered interfaces in several
 * namespaces, every such link matches (reported as `linkIdCandidates`), and a
 * netlink attachment here can match a link made elsewhere. Detach must
 * therefore try IFLA_XDP first: the kernel refuses it with EBUSY ("Can't
 * replace active BPF XDP link") exactly when a link owns this attachment.
 */
import type { Libc } from '../libc/index.ts';
import type { LinkXdp } from '../netlink/route/link-types.ts';
import { BPF_LINK_TYPE } from './bpf-constants.ts';
import { bpfLinkList, bpfProgInfoById } from './bpf-syscall.ts';
import type { XdpProgram } from './ebpf-types.ts';

type Mode = XdpProgram['mode'];

/** The (mode, program) pairs of an IFLA_XDP report; `multi` lists each mode's program. */
export function xdpAttachments(xdp: LinkXdp | undefined): { mode: Mode; progId: number }[] {
  if (xdp === undefined) return [];
  const out: { mode: Mode; progId: number }[] = [];
  const add = (mode: Mode, id: number | undefined): void => { if (id !== undefined && id !== 0) out.push({ mode, progId: id }); };
  if (xdp.mode === 'multi') {
    add('driver', xdp.driverProgId);
    add('generic', xdp.genericProgId);
    add('offload', xdp.offloadProgId);
    return out;
  }
  const perMode = { driver: xdp.driverProgId, generic: xdp.genericProgId, offload: xdp.offloadProgId }[xdp.mode];
  add(xdp.mode, perMode ?? xdp.progId);
  return out;
}

/**
 * The XDP programs `xdp` (a link's IFLA_XDP) reports for interface
 * `ifindex`, with names and candidate bpf_links. Walks the machine's links
 * only when a program is attached.
 * Equivalent to: `ip -d link show dev X` (the xdp line) plus `bpftool link show`
 */
export function xdpProgramList(ifindex: number, xdp: LinkXdp | undefined, l: Libc): XdpProgram[] {
  const attached = xdpAttachments(xdp);
  if (attached.length === 0) return [];
  const links = bpfLinkList(l).filter((k) => k.type === BPF_LINK_TYPE.BPF_LINK_TYPE_XDP && k.ifindex === ifindex);
  return attached.map(({ mode, progId }) => {
    const info = bpfProgInfoById(l, progId);
    const candidates = links.filter((k) => k.progId === progId).map((k) => k.id);
    return {
      mode,
      progId,
      ...(info !== undefined && info.name !== '' ? { name: info.name } : {}),
      ...(info !== undefined ? { tag: info.tag } : {}),
      ...(candidates.length === 1 ? { linkId: candidates[0]! } : {}),
      ...(candidates.length > 1 ? { linkIdCandidates: candidates } : {}),
    };
  });
}
