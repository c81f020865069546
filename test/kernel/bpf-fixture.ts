/**
 * eBPF programs and attachments for kernel tests. Loads trivial programs
 * (`r0 = verdict; exit`) with BPF_PROG_LOAD and attaches them the ways
 * discovery must see: classic tc (clsact + cls_bpf, over our own netlink),
 * tcx (a bpf_link via BPF_LINK_CREATE, or BPF_PROG_ATTACH without a link) and
 * XDP (IFLA_XDP over netlink, or a bpf_link). Everything that names an
 * interface by ifindex runs inside the namespace's setns window.
 *
 * Two ownership styles:
 * - tracked (`bpfProgLoad`, `tcxLinkCreate`, `xdpLinkCreate`): the fd is
 *   closed after each test by `closeBpfFds` (registered with afterEach when
 *   running under vitest; scripts call it themselves). Link fds stay open
 *   until then on purpose: closing the last fd of an unpinned bpf_link
 *   detaches it.
 * - caller-owned (`loadProgram`, `attachTcx`): the caller closes the fd or
 *   calls the returned detach function. Never pass a tracked fd to close().
 * Attachments themselves go away with the test namespace. This module does
 * not import netns-fixture.ts, so capture scripts can use it outside vitest;
 * `l` defaults to the process-wide Libc (the backend NETCLAIM_FFI chooses,
 * as for `testLibc`).
 */
import { afterEach } from 'vitest';
import { encodeLinkCreateAttr, encodeProgAttachAttr } from '../../src/kernel/bpf/bpf-attr.ts';
import { BPF_ATTACH_TYPE, BPF_CMD, BPF_OBJ_NAME_LEN, BPF_PROG_TYPE, XDP_FLAGS } from '../../src/kernel/bpf/bpf-constants.ts';
import { bpfCall, bpfProgInfoByFd } from '../../src/kernel/bpf/bpf-syscall.ts';
import type { TcDirection } from '../../src/kernel/bpf/ebpf-types.ts';
import { KernelError } from '../../src/kernel/errors.ts';
import { libc as processLibc, type Libc } from '../../src/kernel/libc/index.ts';
import type { NetnsHandle } from '../../src/kernel/netns/handle.ts';
import { NLM_F_CREATE, NLM_F_EXCL } from '../../src/kernel/netlink/constants.ts';
import { encodeIfInfoMsg } from '../../src/kernel/netlink/route/ifinfomsg.ts';
import { IFLA, IFLA_XDP_ATTR } from '../../src/kernel/netlink/route/link-constants.ts';
import { RTM } from '../../src/kernel/netlink/route/rtnl-constants.ts';
import { encodeTcFilter, encodeTcMsg } from '../../src/kernel/netlink/route/tc-filter-codec.ts';
import {
  ETH_P_ALL, TCA, TC_CLSACT_HANDLE, TC_H, TC_PARENT_EGRESS, TC_PARENT_INGRESS,
} from '../../src/kernel/netlink/route/tc-filter-constants.ts';

const openFds: number[] = [];

function track(fd: number): number {
  openFds.push(fd);
  return fd;
}

/** Closes every tracked fd (programs and links). */
export function closeBpfFds(l: Libc = processLibc()): void {
  for (const fd of openFds.splice(0)) l.close(fd);
}

if (process.env['VITEST'] !== undefined) afterEach(() => closeBpfFds());

// ---- programs ---------------------------------------------------------------

export type ProgramType = 'xdp' | 'sched_cls';

/**
 * Loads `r0 = verdict; exit` (XDP_PASS = 2 for XDP, TC_ACT_OK = 0 for
 * SCHED_CLS) as a GPL program named `name`; the caller closes the fd.
 * BPF_PROG_LOAD attr: prog_type @0, insn_cnt @4, insns @8, license @16,
 * log_level @24, log_size @28, log_buf @32, kern_version @40, prog_flags @44,
 * prog_name[16] @48, prog_ifindex @64, expected_attach_type @68.
 */
export function loadProgram(l: Libc, type: ProgramType, name: string): number {
  if (Buffer.byteLength(name) >= BPF_OBJ_NAME_LEN) throw new Error(`program name ${name} is longer than 15 bytes`);
  const insns = Buffer.from(`b7000000${type === 'xdp' ? '02' : '00'}000000` + '9500000000000000', 'hex');
  const license = Buffer.from('GPL\0');
  const attr = Buffer.alloc(72);
  attr.writeUInt32LE(type === 'xdp' ? BPF_PROG_TYPE.BPF_PROG_TYPE_XDP : BPF_PROG_TYPE.BPF_PROG_TYPE_SCHED_CLS, 0);
  attr.writeUInt32LE(insns.length / 8, 4);
  attr.writeBigUInt64LE(l.addressOf(insns), 8);
  attr.writeBigUInt64LE(l.addressOf(license), 16);
  attr.write(name, 48);
  // The verifier gives up with EAGAIN when a signal is pending for the thread (seen under load);
  // libbpf retries the load up to 5 times for that reason, and so does this fixture.
  let fd = -1;
  for (let attempt = 1; fd < 0; attempt++) {
    try {
      fd = bpfCall(l, BPF_CMD.BPF_PROG_LOAD, attr);
    } catch (err) {
      if (attempt >= 5 || !(err instanceof KernelError) || err.errnoName !== 'EAGAIN') throw err;
    }
  }
  // insns and license must stay alive until the call returns: referencing them here keeps them so.
  if (insns.length === 0 || license.length === 0) throw new Error('unreachable');
  return fd;
}

/** `loadProgram`, tracked: the fd is closed after the test. */
export function bpfProgLoad(type: ProgramType, name: string, l: Libc = processLibc()): number {
  return track(loadProgram(l, type, name));
}

/** The id of the program behind `fd` (from BPF_OBJ_GET_INFO_BY_FD). */
export const progIdOf = (fd: number, l: Libc = processLibc()): number => bpfProgInfoByFd(l, fd).id;

// ---- classic tc ---------------------------------------------------------------

/** Adds the clsact qdisc. Equivalent to: `tc qdisc add dev X clsact` */
export function clsactAdd(h: NetnsHandle, ifindex: number): void {
  const w = h.route.writer.reset().beginMessage(RTM.RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL);
  encodeTcMsg(w, { ifindex, handle: TC_CLSACT_HANDLE, parent: TC_H.TC_H_CLSACT });
  w.attrString(TCA.TCA_KIND, 'clsact').endMessage();
  h.route.request(w, 'RTM_NEWQDISC');
}

export interface TcBpfFilterSpec {
  readonly direction: TcDirection;
  readonly progFd: number;
  readonly name: string;
  readonly prio: number;
  readonly handle?: number;
  readonly protocol?: number;
  readonly directAction?: boolean;
}

/**
 * Adds a cls_bpf filter running `progFd` (the clsact qdisc must exist).
 * Equivalent to: `tc filter add dev X ingress|egress prio P handle H protocol all bpf [da] fd F name N`
 */
export function tcBpfFilterAdd(h: NetnsHandle, ifindex: number, f: TcBpfFilterSpec): void {
  const w = encodeTcFilter(h.route.writer.reset(), RTM.RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, {
    ifindex, parent: f.direction === 'ingress' ? TC_PARENT_INGRESS : TC_PARENT_EGRESS, handle: f.handle ?? 0,
    prio: f.prio, protocol: f.protocol ?? ETH_P_ALL, kind: 'bpf',
    bpf: { fd: f.progFd, name: f.name, ...(f.directAction !== undefined ? { directAction: f.directAction } : {}) },
  });
  h.route.request(w, 'RTM_NEWTFILTER');
}

/** Adds clsact unless present, then a direct-action cls_bpf filter (prio 1, protocol all). */
export function attachTcFilter(h: NetnsHandle, ifindex: number, direction: TcDirection, progFd: number, name: string): void {
  try {
    clsactAdd(h, ifindex);
  } catch (err) {
    if (!(err instanceof KernelError && err.errnoName === 'EEXIST')) throw err;
  }
  tcBpfFilterAdd(h, ifindex, { direction, progFd, name, prio: 1 });
}

// ---- tcx ------------------------------------------------------------------------

const tcxType = (d: TcDirection): number => (d === 'ingress' ? BPF_ATTACH_TYPE.BPF_TCX_INGRESS : BPF_ATTACH_TYPE.BPF_TCX_EGRESS);

function tcxLink(h: NetnsHandle, ifindex: number, progFd: number, d: TcDirection, l: Libc): number {
  const attr = encodeLinkCreateAttr({ progFd, target: ifindex, attachType: tcxType(d) });
  return h.within(() => bpfCall(l, BPF_CMD.BPF_LINK_CREATE, attr));
}

/** tcx through a bpf_link (BPF_LINK_CREATE); returns the link fd, tracked (kept open until the test ends). */
export function tcxLinkCreate(h: NetnsHandle, ifindex: number, progFd: number, d: TcDirection, l: Libc = processLibc()): number {
  return track(tcxLink(h, ifindex, progFd, d, l));
}

/** tcx through a bpf_link; the returned function detaches it (closes the link fd) and may be called again. */
export function attachTcx(h: NetnsHandle, l: Libc, ifindex: number, direction: TcDirection, progFd: number): () => void {
  let fd = tcxLink(h, ifindex, progFd, direction, l);
  return () => {
    if (fd >= 0) l.close(fd);
    fd = -1;
  };
}

/** tcx without a link (BPF_PROG_ATTACH): the attachment holds the program until detached or the device goes. */
export function tcxProgAttach(h: NetnsHandle, ifindex: number, progFd: number, d: TcDirection, l: Libc = processLibc()): void {
  const attr = encodeProgAttachAttr({ target: ifindex, progFd, attachType: tcxType(d) });
  h.within(() => bpfCall(l, BPF_CMD.BPF_PROG_ATTACH, attr));
}

// ---- XDP ------------------------------------------------------------------------

export type XdpAttachMode = 'generic' | 'driver';
const xdpFlags = (m: XdpAttachMode): number => (m === 'generic' ? XDP_FLAGS.XDP_FLAGS_SKB_MODE : XDP_FLAGS.XDP_FLAGS_DRV_MODE);

/** XDP over netlink. Equivalent to: `ip link set dev X xdpgeneric|xdpdrv fd F` */
export function xdpAttachNetlink(h: NetnsHandle, ifindex: number, progFd: number, mode: XdpAttachMode): void {
  const w = h.route.writer.reset().beginMessage(RTM.RTM_SETLINK, 0);
  encodeIfInfoMsg(w, { index: ifindex });
  const nest = w.nestStart(IFLA.IFLA_XDP);
  w.attrS32(IFLA_XDP_ATTR.IFLA_XDP_FD, progFd).attrU32(IFLA_XDP_ATTR.IFLA_XDP_FLAGS, xdpFlags(mode));
  w.nestEnd(nest).endMessage();
  h.route.request(w, 'RTM_SETLINK');
}

/** XDP through a bpf_link (BPF_LINK_CREATE, BPF_XDP); returns the link fd, tracked. */
export function xdpLinkCreate(h: NetnsHandle, ifindex: number, progFd: number, mode: XdpAttachMode, l: Libc = processLibc()): number {
  const attr = encodeLinkCreateAttr({ progFd, target: ifindex, attachType: BPF_ATTACH_TYPE.BPF_XDP, flags: xdpFlags(mode) });
  return track(h.within(() => bpfCall(l, BPF_CMD.BPF_LINK_CREATE, attr)));
}
