/**
 * RTM_*NEIGH codec: struct ndmsg plus NDA_* attributes. `encodeNeigh`
 * validates a NeighSpec (ConfigError naming the field) and writes one
 * request; `decodeNeigh` reads a kernel record in place through a table
 * built once.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { ifIndex } from '../../../common/ids.ts';
import { attrTable, readHwAddr, readU32, readU8, walkAttrs } from '../attrs.ts';
import { AF_INET, AF_INET6, AF_UNSPEC, ipFromBytes } from '../../../common/ip.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { NDA, NDMSG_LEN, NEIGH_STATE_BITS, NTF, NTF_EXT, USER_HZ } from './neigh-constants.ts';
import { checkNeighSpec } from './neigh-spec.ts';
import type { Neigh, NeighFilter, NeighSpec, NeighState } from './neigh-types.ts';
import { RTM } from './rtnl-constants.ts';

// ---- encode -------------------------------------------------------------

function writeNdmsg(w: NlWriter, family: number, index: number, state: number, flags: number): NlWriter {
  return w.u8(family).u8(0).u16(0).s32(index).u16(state).u8(flags).u8(0);
}

/**
 * Writes one RTM_NEWNEIGH or RTM_DELNEIGH request for `spec` (validated
 * first). A delete sends only the ifindex, the address and NTF_PROXY.
 */
export function encodeNeigh(w: NlWriter, type: typeof RTM.RTM_NEWNEIGH | typeof RTM.RTM_DELNEIGH, flags: number, spec: NeighSpec): NlWriter {
  const deleting = type === RTM.RTM_DELNEIGH;
  const c = checkNeighSpec(spec, deleting);
  let ndmFlags = spec.proxy ? NTF.NTF_PROXY : 0;
  if (!deleting) {
    if (spec.router) ndmFlags |= NTF.NTF_ROUTER;
    if (spec.externLearn) ndmFlags |= NTF.NTF_EXT_LEARNED;
  }
  w.beginMessage(type, flags);
  writeNdmsg(w, c.family, spec.index, c.state, ndmFlags);
  w.attrBytes(NDA.NDA_DST, c.dst);
  if (!deleting) {
    if (c.lladdr) w.attrBytes(NDA.NDA_LLADDR, c.lladdr);
    if (spec.protocol !== undefined) w.attrU8(NDA.NDA_PROTOCOL, spec.protocol);
    if (spec.managed) w.attrU32(NDA.NDA_FLAGS_EXT, NTF_EXT.NTF_EXT_MANAGED);
  }
  w.endMessage();
  return w;
}

/**
 * A RTM_GETNEIGH dump request. With strict checking the kernel filters by
 * NDA_IFINDEX itself; `ndm_flags = NTF_PROXY` dumps the proxy table instead.
 */
export function encodeNeighDump(w: NlWriter, filter: NeighFilter = {}): NlWriter {
  w.beginMessage(RTM.RTM_GETNEIGH, 0);
  writeNdmsg(w, filter.family ?? AF_UNSPEC, 0, 0, filter.proxy ? NTF.NTF_PROXY : 0);
  if (filter.index !== undefined) w.attrU32(NDA.NDA_IFINDEX, filter.index);
  w.endMessage();
  return w;
}

// ---- decode -------------------------------------------------------------

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type NeighAcc = Partial<Mutable<Neigh>> & { family: Neigh['family'] };

const STATE_NAMES = Object.entries(NEIGH_STATE_BITS) as [NeighState, number][];

/** The names of the NUD_* bits set in `state` (`['none']` for 0). */
export function neighStateNames(state: number): NeighState[] {
  const out: NeighState[] = [];
  for (const [name, bit] of STATE_NAMES) if (state & bit) out.push(name);
  return out.length ? out : ['none'];
}

const NEIGH_ATTRS = attrTable<NeighAcc>({
  [NDA.NDA_DST]: (b, o, l, n) => {
    const size = n.family === AF_INET ? 4 : 16;
    if (l !== size) throw new ProtocolError(`NDA_DST: ${l}-byte address in a family ${n.family} entry`);
    n.dst = ipFromBytes(b, o, l);
  },
  [NDA.NDA_LLADDR]: (b, o, l, n) => { if (l > 0) n.lladdr = readHwAddr(b, o, l); },
  [NDA.NDA_CACHEINFO]: (b, o, l, n) => {
    if (l < 16) throw new ProtocolError(`NDA_CACHEINFO needs 16 bytes, has ${l}`);
    const ms = (v: number): number => (v * 1000) / USER_HZ;
    n.cacheInfo = {
      confirmedMs: ms(b.readUInt32LE(o)),
      usedMs: ms(b.readUInt32LE(o + 4)),
      updatedMs: ms(b.readUInt32LE(o + 8)),
      refcnt: b.readUInt32LE(o + 12),
    };
  },
  [NDA.NDA_PROBES]: (b, o, l, n) => { n.probes = readU32(b, o, l); },
  [NDA.NDA_PROTOCOL]: (b, o, l, n) => { n.protocol = readU8(b, o, l); },
  [NDA.NDA_FLAGS_EXT]: (b, o, l, n) => { n.flagsExt = readU32(b, o, l); },
});

/**
 * Decodes one RTM_NEWNEIGH message. Entries of families other than IPv4 and
 * IPv6 (bridge FDB entries, AF_BRIDGE) give `undefined`.
 */
export function decodeNeigh(buf: Buffer, m: NlMessage): Neigh | undefined {
  if (m.len < NDMSG_LEN) throw new ProtocolError(`ndmsg needs ${NDMSG_LEN} bytes, has ${m.len}`);
  if (m.off < 0 || m.off + m.len > buf.length) throw new ProtocolError('neighbour message outside the buffer');
  const o = m.off;
  const family = buf[o]!;
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const acc: NeighAcc = { family };
  walkAttrs(buf, o + NDMSG_LEN, o + m.len, NEIGH_ATTRS, acc);
  if (acc.dst === undefined) throw new ProtocolError('neighbour entry without NDA_DST');
  const flags = buf[o + 10]!;
  const ext = acc.flagsExt ?? 0;
  return {
    family,
    index: ifIndex(buf.readInt32LE(o + 4)),
    dst: acc.dst,
    ...(acc.lladdr !== undefined ? { lladdr: acc.lladdr } : {}),
    state: neighStateNames(buf.readUInt16LE(o + 8)),
    flags,
    ...(acc.flagsExt !== undefined ? { flagsExt: acc.flagsExt } : {}),
    router: (flags & NTF.NTF_ROUTER) !== 0,
    proxy: (flags & NTF.NTF_PROXY) !== 0,
    externLearn: (flags & NTF.NTF_EXT_LEARNED) !== 0,
    managed: (ext & NTF_EXT.NTF_EXT_MANAGED) !== 0,
    type: buf[o + 11]!,
    ...(acc.protocol !== undefined ? { protocol: acc.protocol } : {}),
    ...(acc.probes !== undefined ? { probes: acc.probes } : {}),
    ...(acc.cacheInfo !== undefined ? { cacheInfo: acc.cacheInfo } : {}),
  };
}

/** Decodes a bare RTM_NEWNEIGH payload (ndmsg + attributes) at `buf[off, off+len)`. */
export function decodeNeighPayload(buf: Buffer, off = 0, len = buf.length - off): Neigh | undefined {
  return decodeNeigh(buf, { type: RTM.RTM_NEWNEIGH, flags: 0, seq: 0, pid: 0, off, len });
}
