/**
 * Typed bpf(2) commands over `Libc.bpf`: object ids and fds, object info, and
 * BPF_PROG_QUERY. Each wrapper builds its `union bpf_attr` (bpf-attr.ts),
 * keeps every buffer the attr points to referenced until the call returns,
 * and turns a failure into a KernelError with op `bpf(BPF_...)`. Every fd a
 * wrapper opens is closed before it returns.
 *
 * bpf(2) is not namespaced: ids are global to the machine. Only commands that
 * name an interface by ifindex (BPF_PROG_QUERY and BPF_PROG_ATTACH/
 * BPF_LINK_CREATE for tcx and XDP) resolve it in the calling thread's network
 * namespace; run those inside `NetnsHandle.within()`.
 */
import { syscallError, KernelError, type KernelErrorFields } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import {
  ID_ATTR_NEXT_ID, INFO_ATTR_INFO_LEN, LINK_INFO_LEN, PROG_INFO_LEN, QUERY_ATTR, decodeLinkInfo, decodeProgInfo,
  encodeIdAttr, encodeInfoAttr, encodeLinkDetachAttr, encodeProgAttachAttr, encodeProgQueryAttr, type BpfLinkInfo, type BpfProgInfo,
} from './bpf-attr.ts';
import { BPF_CMD, BPF_MPROG_MAX, bpfCmdOp } from './bpf-constants.ts';

const ENOENT = 2;

/** Runs one bpf(2) command; a negative result throws KernelError `bpf(BPF_...)`. */
export function bpfCall(l: Libc, cmd: number, attr: Buffer, where: Partial<KernelErrorFields> = {}): number {
  const r = l.bpf(cmd, attr, attr.length);
  if (r < 0) throw syscallError(bpfCmdOp(cmd), l.errno(), where);
  return r;
}

/** True for the ENOENT a *_GET_FD_BY_ID or *_GET_NEXT_ID answers for a missing id. */
export const isNoEntry = (err: unknown): boolean => err instanceof KernelError && err.errno === ENOENT;

/** An fd for program `id` (needs CAP_SYS_ADMIN); the caller closes it. */
export function bpfProgGetFdById(l: Libc, id: number): number {
  return bpfCall(l, BPF_CMD.BPF_PROG_GET_FD_BY_ID, encodeIdAttr(id));
}

/** An fd for bpf_link `id` (needs CAP_SYS_ADMIN); the caller closes it. */
export function bpfLinkGetFdById(l: Libc, id: number): number {
  return bpfCall(l, BPF_CMD.BPF_LINK_GET_FD_BY_ID, encodeIdAttr(id));
}

/** The next program id after `startId`; `undefined` past the last one. */
export function bpfProgGetNextId(l: Libc, startId: number): number | undefined {
  return nextId(l, BPF_CMD.BPF_PROG_GET_NEXT_ID, startId);
}

/** The next bpf_link id after `startId`; `undefined` past the last one. */
export function bpfLinkGetNextId(l: Libc, startId: number): number | undefined {
  return nextId(l, BPF_CMD.BPF_LINK_GET_NEXT_ID, startId);
}

function nextId(l: Libc, cmd: number, startId: number): number | undefined {
  const attr = encodeIdAttr(startId);
  try {
    bpfCall(l, cmd, attr);
  } catch (err) {
    if (isNoEntry(err)) return undefined;
    throw err;
  }
  return attr.readUInt32LE(ID_ATTR_NEXT_ID);
}

/**
 * BPF_OBJ_GET_INFO_BY_FD into a zeroed buffer of `infoLen` bytes; returns the
 * part the kernel filled (it shrinks info_len to its own struct size).
 */
export function bpfObjGetInfoByFd(l: Libc, fd: number, infoLen: number): Buffer {
  const info = Buffer.alloc(infoLen);
  const attr = encodeInfoAttr(fd, infoLen, l.addressOf(info));
  bpfCall(l, BPF_CMD.BPF_OBJ_GET_INFO_BY_FD, attr);
  // `info` stays referenced until here, after the kernel has written it.
  return info.subarray(0, Math.min(infoLen, attr.readUInt32LE(INFO_ATTR_INFO_LEN)));
}

export const bpfProgInfoByFd = (l: Libc, fd: number): BpfProgInfo => decodeProgInfo(bpfObjGetInfoByFd(l, fd, PROG_INFO_LEN));
export const bpfLinkInfoByFd = (l: Libc, fd: number): BpfLinkInfo => decodeLinkInfo(bpfObjGetInfoByFd(l, fd, LINK_INFO_LEN));

/** Program `id`'s info; `undefined` when no program has that id (any more). */
export function bpfProgInfoById(l: Libc, id: number): BpfProgInfo | undefined {
  return withFd(l, () => bpfProgGetFdById(l, id), (fd) => bpfProgInfoByFd(l, fd));
}

/** bpf_link `id`'s info; `undefined` when no link has that id (any more). */
export function bpfLinkInfoById(l: Libc, id: number): BpfLinkInfo | undefined {
  return withFd(l, () => bpfLinkGetFdById(l, id), (fd) => bpfLinkInfoByFd(l, fd));
}

function withFd<T>(l: Libc, open: () => number, use: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    fd = open();
  } catch (err) {
    if (isNoEntry(err)) return undefined;
    throw err;
  }
  try {
    return use(fd);
  } finally {
    l.close(fd);
  }
}

/**
 * Every bpf_link on the machine (all namespaces), walking
 * BPF_LINK_GET_NEXT_ID; links that vanish during the walk are skipped.
 * Equivalent to: `bpftool link show`
 */
export function bpfLinkList(l: Libc): BpfLinkInfo[] {
  const out: BpfLinkInfo[] = [];
  for (let id = bpfLinkGetNextId(l, 0); id !== undefined; id = bpfLinkGetNextId(l, id)) {
    const info = bpfLinkInfoById(l, id);
    if (info !== undefined) out.push(info);
  }
  return out;
}

/** What BPF_PROG_QUERY reports for one hook, in execution order. */
export interface BpfProgQueryResult {
  readonly revision: bigint;
  readonly progIds: readonly number[];
  /** Per program: the owning bpf_link id, 0 when attached without a link. */
  readonly linkIds: readonly number[];
}

/**
 * BPF_PROG_QUERY on an interface hook (tcx: BPF_TCX_INGRESS/EGRESS), 6.6+
 * layout. `ifindex` resolves in the calling thread's namespace. Kernels
 * without the hook answer EINVAL (thrown here; callers decide).
 * Equivalent to: `bpftool net show dev X` (tcx part)
 */
export function bpfProgQuery(l: Libc, ifindex: number, attachType: number): BpfProgQueryResult {
  const progIds = Buffer.alloc(BPF_MPROG_MAX * 4);
  const linkIds = Buffer.alloc(BPF_MPROG_MAX * 4);
  const attr = encodeProgQueryAttr({
    ifindex, attachType, count: BPF_MPROG_MAX, progIds: l.addressOf(progIds), linkIds: l.addressOf(linkIds),
  });
  bpfCall(l, BPF_CMD.BPF_PROG_QUERY, attr, { ifindex });
  // progIds and linkIds stay referenced until here, after the kernel has written them.
  const count = Math.min(attr.readUInt32LE(QUERY_ATTR.COUNT), BPF_MPROG_MAX);
  const ids = (b: Buffer): number[] => Array.from({ length: count }, (_, i) => b.readUInt32LE(i * 4));
  return { revision: attr.readBigUInt64LE(QUERY_ATTR.REVISION), progIds: ids(progIds), linkIds: ids(linkIds) };
}

/**
 * Detaches bpf_link `linkFd` from its hook (the link object lives on,
 * defunct, until its last fd closes). Not namespaced: the link knows its
 * device. EINVAL for link types that cannot be detached.
 * Equivalent to: `bpftool link detach id N`
 */
export function bpfLinkDetach(l: Libc, linkFd: number): void {
  bpfCall(l, BPF_CMD.BPF_LINK_DETACH, encodeLinkDetachAttr(linkFd));
}

/**
 * Detaches program `progFd` from an interface hook attached without a link
 * (tcx: BPF_TCX_INGRESS/EGRESS); `ifindex` resolves in the calling thread's
 * namespace, so run it inside `NetnsHandle.within()`. A link-owned
 * attachment answers EBUSY (detach the link instead), a program not attached
 * there ENOENT.
 * Equivalent to: `bpftool net detach tcx_ingress|tcx_egress dev X` (bpftool ≥ 7.3)
 */
export function bpfProgDetach(l: Libc, ifindex: number, progFd: number, attachType: number): void {
  bpfCall(l, BPF_CMD.BPF_PROG_DETACH, encodeProgAttachAttr({ target: ifindex, progFd, attachType }), { ifindex });
}
