/**
 * RTM_*RULE codec: struct fib_rule_hdr plus FRA_* attributes. `encodeRule`
 * validates a RuleSpec (ConfigError naming the field) and writes one request;
 * `decodeRule` reads a kernel record in place through a table built once.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { attrTable, readString, readU32, readU32be, readU8, walkAttrs } from '../attrs.ts';
import { AF_INET, AF_INET6, ipFromBytes, ipToBytes, type IpFamily } from '../../../common/ip.ts';
import type { NlMessage } from '../message.ts';
import type { NlWriter } from '../writer.ts';
import { RT_TABLE } from './route-constants.ts';
import { RTM } from './rtnl-constants.ts';
import {
  FIB_RULE, FIB_RULE_HDR_LEN, FR_ACT, FRA, RULE_ACTION_CODES, RULE_ACTION_NAMES, SUPPRESS_UNSET,
} from './rule-constants.ts';
import type { NumRange, Rule, RuleSpec } from './rule-types.ts';
import { checkRuleSpec } from './rule-spec.ts';

// ---- encode -------------------------------------------------------------

/**
 * Writes one RTM_NEWRULE or RTM_DELRULE request for `spec` (validated first).
 * NEWRULE fills the defaults `ip rule add` uses (action `table`, table main);
 * DELRULE sends only what the spec gives, so the kernel matches on those fields.
 */
export function encodeRule(w: NlWriter, type: typeof RTM.RTM_NEWRULE | typeof RTM.RTM_DELRULE, flags: number, spec: RuleSpec): NlWriter {
  const c = checkRuleSpec(spec);
  const adding = type === RTM.RTM_NEWRULE;
  const actionName = spec.action ?? (spec.goto !== undefined ? 'goto' : adding ? 'table' : undefined);
  const action = actionName === undefined ? FR_ACT.FR_ACT_UNSPEC : RULE_ACTION_CODES[actionName];
  const table = spec.table ?? (adding && action === FR_ACT.FR_ACT_TO_TBL && !spec.l3mdev ? RT_TABLE.RT_TABLE_MAIN : undefined);

  w.beginMessage(type, flags);
  w.u8(c.family).u8(c.dst?.prefixLen ?? 0).u8(c.src?.prefixLen ?? 0).u8(spec.tos ?? 0);
  w.u8(table !== undefined && table < 256 ? table : RT_TABLE.RT_TABLE_UNSPEC).u8(0).u8(0).u8(action);
  w.u32(spec.invert ? FIB_RULE.FIB_RULE_INVERT : 0);
  if (spec.priority !== undefined) w.attrU32(FRA.FRA_PRIORITY, spec.priority);
  if (c.src) w.attrBytes(FRA.FRA_SRC, ipToBytes(c.src.address));
  if (c.dst) w.attrBytes(FRA.FRA_DST, ipToBytes(c.dst.address));
  if (spec.iif !== undefined) w.attrString(FRA.FRA_IIFNAME, spec.iif);
  if (spec.oif !== undefined) w.attrString(FRA.FRA_OIFNAME, spec.oif);
  if (spec.fwmark !== undefined) w.attrU32(FRA.FRA_FWMARK, spec.fwmark);
  if (spec.fwmask !== undefined) w.attrU32(FRA.FRA_FWMASK, spec.fwmask);
  if (table !== undefined) w.attrU32(FRA.FRA_TABLE, table);
  if (spec.goto !== undefined) w.attrU32(FRA.FRA_GOTO, spec.goto);
  if (spec.l3mdev) w.attrU8(FRA.FRA_L3MDEV, 1);
  if (spec.suppressPrefixLen !== undefined) w.attrU32(FRA.FRA_SUPPRESS_PREFIXLEN, spec.suppressPrefixLen);
  if (spec.suppressIfGroup !== undefined) w.attrU32(FRA.FRA_SUPPRESS_IFGROUP, spec.suppressIfGroup);
  if (spec.uidRange) w.attrBytes(FRA.FRA_UID_RANGE, range32(spec.uidRange));
  if (spec.protocol !== undefined) w.attrU8(FRA.FRA_PROTOCOL, spec.protocol);
  if (spec.ipProto !== undefined) w.attrU8(FRA.FRA_IP_PROTO, spec.ipProto);
  if (spec.sport) w.attrBytes(FRA.FRA_SPORT_RANGE, range16(spec.sport));
  if (spec.dport) w.attrBytes(FRA.FRA_DPORT_RANGE, range16(spec.dport));
  w.endMessage();
  return w;
}

function range16(r: NumRange): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(r.start, 0);
  b.writeUInt16LE(r.end, 2);
  return b;
}

function range32(r: NumRange): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(r.start, 0);
  b.writeUInt32LE(r.end, 4);
  return b;
}

/** A header-only RTM_GETRULE dump request for one family (strict checking wants the rest zero). */
export function encodeRuleDump(w: NlWriter, family: IpFamily): NlWriter {
  w.beginMessage(RTM.RTM_GETRULE, 0).u8(family).zeros(FIB_RULE_HDR_LEN - 1);
  w.endMessage();
  return w;
}

// ---- decode -------------------------------------------------------------

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type RuleAcc = Mutable<Rule> & { srcLen: number; dstLen: number };

function prefix(buf: Buffer, off: number, len: number, family: IpFamily, plen: number, what: string): string {
  const size = family === AF_INET ? 4 : 16;
  if (len !== size) throw new ProtocolError(`${what}: ${len}-byte address in a family ${family} rule`);
  if (plen > size * 8) throw new ProtocolError(`${what}: prefix length ${plen} out of range`);
  return `${ipFromBytes(buf, off, len)}/${plen}`;
}

function readRange16(buf: Buffer, off: number, len: number): NumRange {
  if (len < 4) throw new ProtocolError(`port range attribute needs 4 bytes, has ${len}`);
  return { start: buf.readUInt16LE(off), end: buf.readUInt16LE(off + 2) };
}

function readRange32(buf: Buffer, off: number, len: number): NumRange {
  if (len < 8) throw new ProtocolError(`uid range attribute needs 8 bytes, has ${len}`);
  return { start: buf.readUInt32LE(off), end: buf.readUInt32LE(off + 4) };
}

const RULE_ATTRS = attrTable<RuleAcc>({
  [FRA.FRA_DST]: (b, o, l, r) => { r.dst = prefix(b, o, l, r.family, r.dstLen, 'FRA_DST'); },
  [FRA.FRA_SRC]: (b, o, l, r) => { r.src = prefix(b, o, l, r.family, r.srcLen, 'FRA_SRC'); },
  [FRA.FRA_IIFNAME]: (b, o, l, r) => { r.iif = readString(b, o, l); },
  [FRA.FRA_OIFNAME]: (b, o, l, r) => { r.oif = readString(b, o, l); },
  [FRA.FRA_GOTO]: (b, o, l, r) => { r.goto = readU32(b, o, l); },
  [FRA.FRA_PRIORITY]: (b, o, l, r) => { r.priority = readU32(b, o, l); },
  [FRA.FRA_FWMARK]: (b, o, l, r) => { r.fwmark = readU32(b, o, l); },
  [FRA.FRA_FWMASK]: (b, o, l, r) => { r.fwmask = readU32(b, o, l); },
  [FRA.FRA_FLOW]: (b, o, l, r) => { r.flow = readU32(b, o, l); },
  [FRA.FRA_TUN_ID]: (b, o, l, r) => {
    if (l < 8) throw new ProtocolError(`FRA_TUN_ID needs 8 bytes, has ${l}`);
    r.tunId = b.readBigUInt64BE(o);
  },
  [FRA.FRA_SUPPRESS_IFGROUP]: (b, o, l, r) => {
    const v = readU32(b, o, l);
    if (v !== SUPPRESS_UNSET) r.suppressIfGroup = v;
  },
  [FRA.FRA_SUPPRESS_PREFIXLEN]: (b, o, l, r) => {
    const v = readU32(b, o, l);
    if (v !== SUPPRESS_UNSET) r.suppressPrefixLen = v;
  },
  [FRA.FRA_TABLE]: (b, o, l, r) => { r.table = readU32(b, o, l); },
  [FRA.FRA_L3MDEV]: (b, o, l, r) => { r.l3mdev = readU8(b, o, l) !== 0; },
  [FRA.FRA_UID_RANGE]: (b, o, l, r) => { r.uidRange = readRange32(b, o, l); },
  [FRA.FRA_PROTOCOL]: (b, o, l, r) => { r.protocol = readU8(b, o, l); },
  [FRA.FRA_IP_PROTO]: (b, o, l, r) => { r.ipProto = readU8(b, o, l); },
  [FRA.FRA_SPORT_RANGE]: (b, o, l, r) => { r.sport = readRange16(b, o, l); },
  [FRA.FRA_DPORT_RANGE]: (b, o, l, r) => { r.dport = readRange16(b, o, l); },
  [FRA.FRA_DSCP]: (b, o, l, r) => { r.dscp = readU8(b, o, l); },
  [FRA.FRA_FLOWLABEL]: (b, o, l, r) => { r.flowlabel = readU32be(b, o, l); },
  [FRA.FRA_FLOWLABEL_MASK]: (b, o, l, r) => { r.flowlabelMask = readU32be(b, o, l); },
});

const ACTION_BY_CODE: ReadonlyMap<number, Rule['action']> = new Map(
  Object.entries(RULE_ACTION_NAMES).map(([k, v]) => [Number(k), v] as const),
);

/**
 * Decodes one RTM_NEWRULE message. Rules of families other than IPv4/IPv6
 * (the multicast-routing tables' RTNL_FAMILY_IPMR/IP6MR) give `undefined`.
 */
export function decodeRule(buf: Buffer, m: NlMessage): Rule | undefined {
  if (m.len < FIB_RULE_HDR_LEN) throw new ProtocolError(`fib_rule_hdr needs ${FIB_RULE_HDR_LEN} bytes, has ${m.len}`);
  if (m.off < 0 || m.off + m.len > buf.length) throw new ProtocolError('rule message outside the buffer');
  const o = m.off;
  const family = buf[o]!;
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const flags = buf.readUInt32LE(o + 8);
  const code = buf[o + 7]!;
  const tos = buf[o + 3]!;
  const acc: RuleAcc = {
    family,
    priority: 0,
    table: buf[o + 4]!,
    action: ACTION_BY_CODE.get(code) ?? code,
    invert: (flags & FIB_RULE.FIB_RULE_INVERT) !== 0,
    flags,
    protocol: 0,
    dstLen: buf[o + 1]!,
    srcLen: buf[o + 2]!,
  };
  if (tos !== 0) acc.tos = tos;
  if (flags & FIB_RULE.FIB_RULE_IIF_DETACHED) acc.iifDetached = true;
  if (flags & FIB_RULE.FIB_RULE_OIF_DETACHED) acc.oifDetached = true;
  if (flags & FIB_RULE.FIB_RULE_UNRESOLVED) acc.unresolved = true;
  walkAttrs(buf, o + FIB_RULE_HDR_LEN, o + m.len, RULE_ATTRS, acc);
  const { srcLen: _s, dstLen: _d, ...rule } = acc;
  return rule;
}

/** Decodes a bare RTM_NEWRULE payload (fib_rule_hdr + attributes) at `buf[off, off+len)`. */
export function decodeRulePayload(buf: Buffer, off = 0, len = buf.length - off): Rule | undefined {
  return decodeRule(buf, { type: RTM.RTM_NEWRULE, flags: 0, seq: 0, pid: 0, off, len });
}
