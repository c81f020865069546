/**
 * `union bpf_attr` layouts for the commands netclaim sends, and decoders for
 * what the kernel writes back (include/uapi/linux/bpf.h). Pure functions:
 * pointers inside an attr are passed in as addresses (from Libc.addressOf),
 * so the exact bytes are testable without privileges. The kernel copies
 * min(size, sizeof(union bpf_attr)) bytes and zero-fills the rest, so each
 * attr is only as long as its command's struct (see each comment).
 */
import { ProtocolError } from '../../common/errors.ts';
import { BPF_LINK_TYPE, BPF_OBJ_NAME_LEN, BPF_TAG_SIZE } from './bpf-constants.ts';

/** BPF_*_GET_FD_BY_ID / BPF_*_GET_NEXT_ID: { start_id|prog_id|link_id u32 @0, next_id u32 @4, open_flags u32 @8 }. */
export const ID_ATTR_LEN = 12;
/** Offset of next_id, written by the kernel for BPF_*_GET_NEXT_ID. */
export const ID_ATTR_NEXT_ID = 4;

export function encodeIdAttr(id: number): Buffer {
  const a = Buffer.alloc(ID_ATTR_LEN);
  a.writeUInt32LE(id >>> 0, 0);
  return a;
}

/** BPF_OBJ_GET_INFO_BY_FD: { bpf_fd u32 @0, info_len u32 @4 (in/out), info u64 @8 }. */
export const INFO_ATTR_LEN = 16;
export const INFO_ATTR_INFO_LEN = 4;

export function encodeInfoAttr(fd: number, infoLen: number, info: bigint): Buffer {
  const a = Buffer.alloc(INFO_ATTR_LEN);
  a.writeUInt32LE(fd >>> 0, 0);
  a.writeUInt32LE(infoLen >>> 0, 4);
  a.writeBigUInt64LE(info, 8);
  return a;
}

/**
 * BPF_PROG_QUERY, Linux 6.6+ layout: target_ifindex u32 @0, attach_type @4,
 * query_flags @8, attach_flags @12 (out), prog_ids u64 @16, count u32 @24
 * (in/out), prog_attach_flags u64 @32, link_ids u64 @40, link_attach_flags
 * u64 @48, revision u64 @56 (out). 64 bytes: the kernel writes `revision`
 * whatever size is passed, so the attr must cover it. Linux 6.1 ends the
 * struct at prog_attach_flags and refuses non-zero bytes past it (EINVAL).
 */
export const QUERY_ATTR_LEN = 64;
export const QUERY_ATTR = { COUNT: 24, REVISION: 56 } as const;

export interface ProgQueryAttr {
  readonly ifindex: number;
  readonly attachType: number;
  readonly queryFlags?: number;
  /** Capacity of the id arrays (entries). */
  readonly count: number;
  /** Address of a u32[count] for program ids. */
  readonly progIds: bigint;
  /** Address of a u32[count] for link ids (0 for none). */
  readonly linkIds: bigint;
}

export function encodeProgQueryAttr(q: ProgQueryAttr): Buffer {
  const a = Buffer.alloc(QUERY_ATTR_LEN);
  a.writeUInt32LE(q.ifindex >>> 0, 0);
  a.writeUInt32LE(q.attachType >>> 0, 4);
  a.writeUInt32LE((q.queryFlags ?? 0) >>> 0, 8);
  a.writeBigUInt64LE(q.progIds, 16);
  a.writeUInt32LE(q.count >>> 0, QUERY_ATTR.COUNT);
  a.writeBigUInt64LE(q.linkIds, 40);
  return a;
}

/**
 * BPF_PROG_ATTACH / BPF_PROG_DETACH: target_fd|target_ifindex u32 @0,
 * attach_bpf_fd @4, attach_type @8, attach_flags @12, replace_bpf_fd @16,
 * relative_fd|relative_id @20, expected_revision u64 @24 (6.6+). 32 bytes.
 */
export const PROG_ATTACH_ATTR_LEN = 32;

export interface ProgAttachAttr {
  readonly target: number;
  readonly progFd: number;
  readonly attachType: number;
  readonly flags?: number;
}

export function encodeProgAttachAttr(p: ProgAttachAttr): Buffer {
  const a = Buffer.alloc(PROG_ATTACH_ATTR_LEN);
  a.writeUInt32LE(p.target >>> 0, 0);
  a.writeUInt32LE(p.progFd >>> 0, 4);
  a.writeUInt32LE(p.attachType >>> 0, 8);
  a.writeUInt32LE((p.flags ?? 0) >>> 0, 12);
  return a;
}

/**
 * BPF_LINK_CREATE: prog_fd u32 @0, target_fd|target_ifindex @4, attach_type
 * @8, flags @12, then a per-type union @16 (tcx: relative_fd @16,
 * expected_revision u64 @24). 32 bytes.
 */
export const LINK_CREATE_ATTR_LEN = 32;

export interface LinkCreateAttr {
  readonly progFd: number;
  readonly target: number;
  readonly attachType: number;
  readonly flags?: number;
}

export function encodeLinkCreateAttr(c: LinkCreateAttr): Buffer {
  const a = Buffer.alloc(LINK_CREATE_ATTR_LEN);
  a.writeUInt32LE(c.progFd >>> 0, 0);
  a.writeUInt32LE(c.target >>> 0, 4);
  a.writeUInt32LE(c.attachType >>> 0, 8);
  a.writeUInt32LE((c.flags ?? 0) >>> 0, 12);
  return a;
}

/** BPF_LINK_DETACH: { link_fd u32 @0 }. 4 bytes. */
export const LINK_DETACH_ATTR_LEN = 4;

export function encodeLinkDetachAttr(linkFd: number): Buffer {
  const a = Buffer.alloc(LINK_DETACH_ATTR_LEN);
  a.writeUInt32LE(linkFd >>> 0, 0);
  return a;
}

// ---- what the kernel writes back -------------------------------------------

/** The prefix of struct bpf_prog_info netclaim reads. */
export interface BpfProgInfo {
  readonly type: number;
  readonly id: number;
  /** The program tag (hash of its instructions) as 16 hex digits, as tc and bpftool print it. */
  readonly tag: string;
  /** The name given at load (up to 15 characters); empty when none was. */
  readonly name: string;
}

/**
 * Bytes of struct bpf_prog_info requested: type @0, id @4, tag[8] @8, ...,
 * name[16] @64, ifindex @80, gpl_compatible @84. Pointer fields stay zero, so
 * the kernel copies no arrays.
 */
export const PROG_INFO_LEN = 88;
const PROG_INFO_NAME = 64;

export function decodeProgInfo(buf: Buffer): BpfProgInfo {
  if (buf.length < PROG_INFO_NAME + BPF_OBJ_NAME_LEN) {
    throw new ProtocolError(`bpf_prog_info needs ${PROG_INFO_NAME + BPF_OBJ_NAME_LEN} bytes, has ${buf.length}`);
  }
  return {
    type: buf.readUInt32LE(0),
    id: buf.readUInt32LE(4),
    tag: buf.toString('hex', 8, 8 + BPF_TAG_SIZE),
    name: cString(buf, PROG_INFO_NAME, BPF_OBJ_NAME_LEN),
  };
}

/** The fields of struct bpf_link_info netclaim reads. */
export interface BpfLinkInfo {
  readonly type: number;
  readonly id: number;
  readonly progId: number;
  /** xdp.ifindex / tcx.ifindex / netkit.ifindex @16 for those link types (0 once the device is gone). */
  readonly ifindex?: number;
  /** tcx.attach_type / netkit.attach_type @20. */
  readonly attachType?: number;
}

/**
 * Bytes of struct bpf_link_info requested: type @0, id @4, prog_id @8, then
 * the 8-aligned per-type union @16. Pointer fields (raw_tracepoint.tp_name,
 * iter.target_name, ...) stay zero, so the kernel writes no strings.
 */
export const LINK_INFO_LEN = 64;
const LINK_INFO_HEADER = 12;
const LINK_INFO_UNION = 16;

/** Link types whose union starts with ifindex (and, for tcx/netkit, attach_type). */
const IFINDEX_AND_ATTACH_LINKS: ReadonlySet<number> = new Set([BPF_LINK_TYPE.BPF_LINK_TYPE_TCX, BPF_LINK_TYPE.BPF_LINK_TYPE_NETKIT]);

export function decodeLinkInfo(buf: Buffer): BpfLinkInfo {
  if (buf.length < LINK_INFO_HEADER) throw new ProtocolError(`bpf_link_info needs ${LINK_INFO_HEADER} bytes, has ${buf.length}`);
  const type = buf.readUInt32LE(0);
  const base = { type, id: buf.readUInt32LE(4), progId: buf.readUInt32LE(8) };
  const withAttach = IFINDEX_AND_ATTACH_LINKS.has(type);
  if (type !== BPF_LINK_TYPE.BPF_LINK_TYPE_XDP && !withAttach) return base;
  const need = LINK_INFO_UNION + (withAttach ? 8 : 4);
  if (buf.length < need) throw new ProtocolError(`bpf_link_info of type ${type} needs ${need} bytes, has ${buf.length}`);
  const ifindex = buf.readUInt32LE(LINK_INFO_UNION);
  return withAttach ? { ...base, ifindex, attachType: buf.readUInt32LE(LINK_INFO_UNION + 4) } : { ...base, ifindex };
}

/** A NUL-terminated string in a fixed-size field. */
function cString(buf: Buffer, off: number, size: number): string {
  let end = off;
  while (end < off + size && buf[end] !== 0) end++;
  return buf.toString('utf8', off, end);
}
