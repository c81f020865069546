/**
 * tc filter messages: struct tcmsg, the RTM_GETTFILTER dump request, and the
 * RTM_NEWTFILTER decoder with its cls_bpf options (net/sched/cls_api.c
 * tcf_fill_node, net/sched/cls_bpf.c cls_bpf_dump). A dump sends, per
 * priority, one "prio head" message with handle 0 (the classifier instance,
 * no options) before that priority's filters; the decoder skips those.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { attrTable, readString, readU32, walkAttrs } from '../attrs.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { RTM } from './rtnl-constants.ts';
import { ETH_P_NAMES, TCA, TCA_BPF, TCA_BPF_FLAG_ACT_DIRECT, TCMSG_LEN } from './tc-filter-constants.ts';
import type { TcBpfOptions, TcFilter, TcFilterSpec } from './tc-filter-types.ts';

export interface TcMsg {
  readonly family?: number;
  readonly ifindex: number;
  readonly handle?: number;
  readonly parent?: number;
  readonly info?: number;
}

/** struct tcmsg: family u8, pad u8, pad u16, ifindex s32, handle u32, parent u32, info u32. */
export function encodeTcMsg(w: NlWriter, m: TcMsg): NlWriter {
  return w.u8(m.family ?? 0).u8(0).u16(0).s32(m.ifindex).u32(m.handle ?? 0).u32(m.parent ?? 0).u32(m.info ?? 0);
}

/** tcm_info of a filter: prio in the high 16 bits, the ethertype in network order in the low 16. */
export const tcFilterInfo = (prio: number, protocol: number): number =>
  (((prio & 0xffff) << 16) | ((protocol & 0xff) << 8) | ((protocol >> 8) & 0xff)) >>> 0;

/** The RTM_GETTFILTER dump of one parent of one interface. */
export function encodeTcFilterDump(w: NlWriter, ifindex: number, parent: number): NlWriter {
  w.beginMessage(RTM.RTM_GETTFILTER, 0);
  encodeTcMsg(w, { ifindex, parent });
  w.endMessage();
  return w;
}

/**
 * One RTM_NEWTFILTER or RTM_DELTFILTER for `spec` (TCA_KIND is required by
 * both; TCA_OPTIONS only when `spec.bpf` is given).
 */
export function encodeTcFilter(w: NlWriter, type: number, flags: number, spec: TcFilterSpec): NlWriter {
  w.beginMessage(type, flags);
  encodeTcMsg(w, { ifindex: spec.ifindex, handle: spec.handle ?? 0, parent: spec.parent, info: tcFilterInfo(spec.prio, spec.protocol) });
  w.attrString(TCA.TCA_KIND, spec.kind);
  if (spec.chain !== undefined) w.attrU32(TCA.TCA_CHAIN, spec.chain);
  if (spec.bpf !== undefined) {
    const opts = w.nestStart(TCA.TCA_OPTIONS);
    w.attrU32(TCA_BPF.TCA_BPF_FD, spec.bpf.fd);
    if (spec.bpf.name !== undefined) w.attrString(TCA_BPF.TCA_BPF_NAME, spec.bpf.name);
    w.attrU32(TCA_BPF.TCA_BPF_FLAGS, spec.bpf.directAction === false ? 0 : TCA_BPF_FLAG_ACT_DIRECT);
    w.nestEnd(opts);
  }
  w.endMessage();
  return w;
}

/** A host-order ethertype as tc prints it: `all`, `ip`, `802.1Q`..., else `[34997]` (decimal, in brackets). */
export function protocolName(protocol: number): string {
  return ETH_P_NAMES.get(protocol) ?? `[${protocol}]`;
}

interface BpfAcc { name?: string; progId?: number; tag?: string; flags?: number; genFlags?: number; classid?: number }

const BPF_ATTRS = attrTable<BpfAcc>({
  [TCA_BPF.TCA_BPF_NAME]: (b, o, l, a) => { a.name = readString(b, o, l); },
  [TCA_BPF.TCA_BPF_ID]: (b, o, l, a) => { a.progId = readU32(b, o, l); },
  [TCA_BPF.TCA_BPF_TAG]: (b, o, l, a) => { a.tag = b.toString('hex', o, o + l); },
  [TCA_BPF.TCA_BPF_FLAGS]: (b, o, l, a) => { a.flags = readU32(b, o, l); },
  [TCA_BPF.TCA_BPF_FLAGS_GEN]: (b, o, l, a) => { a.genFlags = readU32(b, o, l); },
  [TCA_BPF.TCA_BPF_CLASSID]: (b, o, l, a) => { a.classid = readU32(b, o, l); },
});

/** Decodes a cls_bpf TCA_OPTIONS nest at `buf[off, off+len)`. */
export function decodeTcBpfOptions(buf: Buffer, off: number, len: number): TcBpfOptions {
  const a: BpfAcc = {};
  walkAttrs(buf, off, off + len, BPF_ATTRS, a);
  return {
    ...(a.name !== undefined ? { name: a.name } : {}),
    ...(a.progId !== undefined ? { progId: a.progId } : {}),
    ...(a.tag !== undefined ? { tag: a.tag } : {}),
    directAction: ((a.flags ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
    ...(a.genFlags !== undefined ? { genFlags: a.genFlags } : {}),
    ...(a.classid !== undefined ? { classid: a.classid } : {}),
  };
}

interface FilterAcc { kind?: string; chain?: number; options?: [number, number] }

const FILTER_ATTRS = attrTable<FilterAcc>({
  [TCA.TCA_KIND]: (b, o, l, a) => { a.kind = readString(b, o, l); },
  [TCA.TCA_CHAIN]: (b, o, l, a) => { a.chain = readU32(b, o, l); },
  // Decoded once the kind is known (TCA_KIND comes first, but do not rely on it).
  [TCA.TCA_OPTIONS]: (_b, o, l, a) => { a.options = [o, l]; },
});

/**
 * Decodes one RTM_NEWTFILTER in place. Prio heads (handle 0) and other
 * message types decode to `undefined`.
 */
export function decodeTcFilter(buf: Buffer, m: NlMessage): TcFilter | undefined {
  if (m.type !== RTM.RTM_NEWTFILTER) return undefined;
  if (m.len < TCMSG_LEN) throw new ProtocolError(`tcmsg needs ${TCMSG_LEN} bytes, has ${m.len}`);
  if (m.off < 0 || m.off + m.len > buf.length) throw new ProtocolError('tc filter message outside the buffer');
  const o = m.off;
  const handle = buf.readUInt32LE(o + 8);
  if (handle === 0) return undefined;
  const acc: FilterAcc = {};
  walkAttrs(buf, o + TCMSG_LEN, o + m.len, FILTER_ATTRS, acc);
  if (acc.kind === undefined) throw new ProtocolError('tc filter without TCA_KIND');
  const info = buf.readUInt32LE(o + 16);
  const bpf = acc.kind === 'bpf' && acc.options !== undefined ? decodeTcBpfOptions(buf, acc.options[0], acc.options[1]) : undefined;
  return {
    ifindex: buf.readInt32LE(o + 4),
    parent: buf.readUInt32LE(o + 12),
    handle,
    prio: info >>> 16,
    protocol: ((info & 0xff) << 8) | ((info >> 8) & 0xff),
    kind: acc.kind,
    ...(acc.chain !== undefined ? { chain: acc.chain } : {}),
    ...(bpf !== undefined ? { bpf } : {}),
  };
}

/** `decodeTcFilter` on a bare payload (tcmsg + attributes), for tests and fuzzing. */
export function decodeTcFilterPayload(buf: Buffer, off = 0, len = buf.length - off): TcFilter | undefined {
  return decodeTcFilter(buf, { type: RTM.RTM_NEWTFILTER, flags: 0, seq: 0, pid: 0, off, len });
}
