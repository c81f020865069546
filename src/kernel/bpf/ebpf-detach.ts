/**
 * Detaching every eBPF program from one interface, the three ways they
 * attach (see ebpf-attached.ts for the reading side):
 * - classic tc: each cls_bpf filter on the clsact hooks is deleted with
 *   RTM_DELTFILTER (the clsact qdisc and filters of other kinds stay);
 * - tcx: a link-owned program through its bpf_link (BPF_LINK_DETACH; the
 *   kernel refuses BPF_PROG_DETACH on it with EBUSY), any other with
 *   BPF_PROG_DETACH by program fd;
 * - XDP: RTM_SETLINK IFLA_XDP{FD = -1, FLAGS = the mode} per attached mode;
 *   the kernel refuses that with EBUSY ("Can't replace active BPF XDP link")
 *   exactly when a bpf_link owns the attachment, which is then found by
 *   walking the machine's XDP links and detached with BPF_LINK_DETACH.
 *
 * Namespaces: rtnetlink goes through the handle's socket; tcx
 * BPF_PROG_QUERY/BPF_PROG_DETACH name the interface by ifindex and run in
 * the handle's setns window. Program and link ids are global. A program or
 * filter that disappears meanwhile (ENOENT) is skipped, not reported.
 *
 * Failure is fail-fast: the first error is thrown, and whatever was
 * detached before it stays detached (ebpfAttachedList shows what remains).
 */
import { StateError } from '../../common/errors.ts';
import { KernelError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { linkGet } from '../netlink/route/link-ops.ts';
import type { LinkXdp } from '../netlink/route/link-types.ts';
import { TC_PARENT_EGRESS, TC_PARENT_INGRESS } from '../netlink/route/tc-filter-constants.ts';
import { tcFilterDelete, tcFilterList } from '../netlink/route/tc-filter-ops.ts';
import { BPF_ATTACH_TYPE, BPF_LINK_TYPE } from './bpf-constants.ts';
import {
  bpfLinkDetach, bpfLinkGetFdById, bpfLinkList, bpfProgDetach, bpfProgGetFdById, bpfProgQuery, isNoEntry, type BpfProgQueryResult,
} from './bpf-syscall.ts';
import type { TcDirection, XdpProgram } from './ebpf-types.ts';
import { xdpAttachments } from './ebpf-xdp.ts';
import { xdpDetachNetlink } from './xdp-detach.ts';

/** A cls_bpf filter that was deleted. */
export interface DetachedTcFilter {
  /** TC_PARENT_INGRESS (0xfffffff2) or TC_PARENT_EGRESS (0xfffffff3). */
  readonly parent: number;
  readonly prio: number;
  readonly handle: number;
  readonly name?: string;
  readonly progId?: number;
}

/** A tcx program that was detached; `linkId` when a bpf_link owned it. */
export interface DetachedTcx {
  readonly direction: TcDirection;
  readonly progId: number;
  readonly linkId?: number;
}

/** An XDP program that was detached; `linkId` when a bpf_link owned it. */
export interface DetachedXdp {
  readonly mode: XdpProgram['mode'];
  readonly progId: number;
  readonly linkId?: number;
}

export interface DetachedPrograms {
  readonly tc: readonly DetachedTcFilter[];
  readonly tcx: readonly DetachedTcx[];
  readonly xdp: readonly DetachedXdp[];
}

const EINVAL = 22;
const EBUSY = 16;
const isErrno = (err: unknown, errno: number): err is KernelError => err instanceof KernelError && err.errno === errno;

/** Runs `fn`: true when it ran, false when its object went away meanwhile (ENOENT). */
function ranUnlessGone(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (isNoEntry(err)) return false;
    throw err;
  }
}

/** Opens object `id` with `open`, runs `use` on the fd and closes it; false when the id is gone. */
function withFdById(l: Libc, open: (l: Libc, id: number) => number, id: number, use: (fd: number) => boolean): boolean {
  let fd: number;
  try {
    fd = open(l, id);
  } catch (err) {
    if (isNoEntry(err)) return false;
    throw err;
  }
  try {
    return use(fd);
  } finally {
    l.close(fd);
  }
}

/**
 * Deletes every cls_bpf filter on the clsact ingress and egress hooks.
 * Equivalent to: `tc filter del dev X ingress|egress prio P handle H protocol PROTO bpf` for each
 */
export function tcBpfFiltersDetach(h: NetnsHandle, ifindex: number): DetachedTcFilter[] {
  const out: DetachedTcFilter[] = [];
  for (const parent of [TC_PARENT_INGRESS, TC_PARENT_EGRESS]) {
    for (const f of tcFilterList(h, ifindex, parent)) {
      if (f.kind !== 'bpf' || !ranUnlessGone(() => tcFilterDelete(h, ifindex, f.parent, f))) continue;
      out.push({
        parent: f.parent, prio: f.prio, handle: f.handle,
        ...(f.bpf?.name !== undefined ? { name: f.bpf.name } : {}),
        ...(f.bpf?.progId !== undefined ? { progId: f.bpf.progId } : {}),
      });
    }
  }
  return out;
}

const TCX_HOOKS: readonly (readonly [TcDirection, number])[] = [
  ['ingress', BPF_ATTACH_TYPE.BPF_TCX_INGRESS],
  ['egress', BPF_ATTACH_TYPE.BPF_TCX_EGRESS],
];

/**
 * Detaches every tcx program, each hook in execution order, all inside the
 * handle's namespace. Kernels without tcx (BPF_PROG_QUERY answers EINVAL)
 * have none.
 * Equivalent to: `bpftool net detach tcx_ingress|tcx_egress dev X` / `bpftool link detach id N` for each
 */
export function tcxProgramsDetach(h: NetnsHandle, ifindex: number, l: Libc): DetachedTcx[] {
  return h.within(() => {
    const out: DetachedTcx[] = [];
    for (const [direction, attachType] of TCX_HOOKS) {
      let q: BpfProgQueryResult;
      try {
        q = bpfProgQuery(l, ifindex, attachType);
      } catch (err) {
        if (isErrno(err, EINVAL)) break; // no tcx on this kernel
        throw err;
      }
      q.progIds.forEach((progId, i) => {
        const linkId = q.linkIds[i] ?? 0;
        const done = linkId !== 0
          ? withFdById(l, bpfLinkGetFdById, linkId, (fd) => ranUnlessGone(() => bpfLinkDetach(l, fd)))
          : withFdById(l, bpfProgGetFdById, progId, (fd) => ranUnlessGone(() => bpfProgDetach(l, ifindex, fd, attachType)));
        if (done) out.push({ direction, progId, ...(linkId !== 0 ? { linkId } : {}) });
      });
    }
    return out;
  });
}

/**
 * The one XDP bpf_link holding `progId` on an interface numbered `ifindex`.
 * bpf_link_info carries no namespace, so when several namespaces have such a
 * link the owner cannot be told apart, and none is detached (StateError).
 */
function xdpOwningLink(l: Libc, ifindex: number, progId: number, busy: KernelError): number {
  const ids = bpfLinkList(l)
    .filter((k) => k.type === BPF_LINK_TYPE.BPF_LINK_TYPE_XDP && k.ifindex === ifindex && k.progId === progId)
    .map((k) => k.id);
  if (ids.length === 1) return ids[0]!;
  if (ids.length === 0) throw busy;
  throw new StateError(
    `XDP program ${progId} on ifindex ${ifindex} is owned by a bpf_link, but links ${ids.join(', ')} all match `
      + '(the same program on the same ifindex in several namespaces): not detaching any',
    { cause: busy, context: { ifindex, progId, linkIdCandidates: ids } },
  );
}

/**
 * Detaches every XDP program (each attached mode), through its bpf_link when
 * one owns it. `xdp` is the interface's IFLA_XDP report (read when omitted;
 * a missing interface is a NotFoundError).
 * Equivalent to: `ip link set dev X xdp|xdpgeneric|xdpdrv|xdpoffload off`, or `bpftool link detach id N`
 */
export function xdpProgramsDetach(h: NetnsHandle, ifindex: number, l: Libc, xdp: LinkXdp | undefined = linkGet(h, ifindex).xdp): DetachedXdp[] {
  const out: DetachedXdp[] = [];
  for (const { mode, progId } of xdpAttachments(xdp)) {
    try {
      xdpDetachNetlink(h, ifindex, mode);
      out.push({ mode, progId });
    } catch (err) {
      if (!isErrno(err, EBUSY)) throw err;
      const linkId = xdpOwningLink(l, ifindex, progId, err);
      if (withFdById(l, bpfLinkGetFdById, linkId, (fd) => ranUnlessGone(() => bpfLinkDetach(l, fd)))) out.push({ mode, progId, linkId });
    }
  }
  return out;
}

/**
 * Detaches every eBPF program from interface `ifindex` of `h`'s namespace
 * and says what it removed: cls_bpf filters on clsact, tcx programs, XDP
 * programs. The interface is read first: a missing one is a NotFoundError
 * before anything is changed.
 * Equivalent to: `tc filter del dev X ingress/egress ...; bpftool net detach ... dev X; ip link set dev X xdp off`
 */
export function ebpfDetachAll(h: NetnsHandle, ifindex: number, l: Libc): DetachedPrograms {
  const link = linkGet(h, ifindex);
  const tc = tcBpfFiltersDetach(h, ifindex);
  const tcx = tcxProgramsDetach(h, ifindex, l);
  const xdp = xdpProgramsDetach(h, ifindex, l, link.xdp);
  return { tc, tcx, xdp };
}
