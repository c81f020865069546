/**
 * Generic netlink framing (genlmsghdr) and the controller: resolving a family
 * name ("ethtool", "devlink"...) to the id the kernel assigned it at boot or
 * module load, with its version, attribute count, commands and multicast
 * groups. Resolutions are cached per generic netlink socket, so per
 * NetnsHandle (ids are global to the kernel, but a handle's socket is the one
 * that will use them, and the cache goes with it).
 */
import { NotFoundError, ProtocolError } from '../../../common/errors.ts';
import { KernelError } from '../../errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { attrTable, forEachAttr, readString, readU16, readU32, walkAttrs } from '../attrs.ts';
import type { NlMessage } from '../message.ts';
import type { NetlinkSocket } from '../socket.ts';
import type { NlWriter } from '../writer.ts';
import {
  CTRL_ATTR as A, CTRL_ATTR_MCAST_GRP as G, CTRL_ATTR_OP as O, CTRL_CMD, GENL_CTRL_VERSION, GENL_HDRLEN, GENL_ID_CTRL,
} from './genl-constants.ts';

/** struct genlmsghdr. */
export interface GenlHeader {
  readonly cmd: number;
  readonly version: number;
}

/** A command the family implements, with its GENL_OP_FLAG bits (CTRL_ATTR_OPS). */
export interface GenlOp {
  readonly cmd: number;
  readonly flags: number;
}

/** A resolved generic netlink family. */
export interface GenlFamily {
  readonly id: number;
  readonly name: string;
  readonly version: number;
  /** Size of the family's own fixed header after genlmsghdr (0 for ethtool, devlink). */
  readonly hdrSize: number;
  readonly maxAttr: number;
  readonly ops: readonly GenlOp[];
  /** Multicast group name → group id (for NETLINK_ADD_MEMBERSHIP). */
  readonly mcastGroups: ReadonlyMap<string, number>;
}

/** Writes genlmsghdr (the reserved u16 is zero). */
export function encodeGenlHeader(w: NlWriter, cmd: number, version: number): NlWriter {
  return w.u8(cmd).u8(version).u16(0);
}

/** Reads genlmsghdr at the start of a message's payload. */
export function decodeGenlHeader(buf: Buffer, m: NlMessage): GenlHeader {
  if (m.len < GENL_HDRLEN || m.off + GENL_HDRLEN > buf.length) {
    throw new ProtocolError(`generic netlink message of ${m.len} bytes has no genlmsghdr`);
  }
  return { cmd: buf[m.off]!, version: buf[m.off + 1]! };
}

/**
 * Starts a request to `familyId`: resets `w`, writes nlmsghdr and genlmsghdr.
 * Attributes follow; the caller ends the message.
 */
export function encodeGenlRequest(w: NlWriter, familyId: number, cmd: number, version: number): NlWriter {
  return encodeGenlHeader(w.reset().beginMessage(familyId, 0), cmd, version);
}

/** CTRL_CMD_GETFAMILY for one family by name. */
export function encodeCtrlGetFamily(w: NlWriter, name: string): NlWriter {
  return encodeGenlRequest(w, GENL_ID_CTRL, CTRL_CMD.CTRL_CMD_GETFAMILY, GENL_CTRL_VERSION)
    .attrString(A.CTRL_ATTR_FAMILY_NAME, name);
}

interface FamilyOut {
  id?: number; name?: string; version: number; hdrSize: number; maxAttr: number;
  ops: GenlOp[]; mcastGroups: Map<string, number>;
}

const OP = attrTable<{ cmd?: number; flags: number }>({
  [O.CTRL_ATTR_OP_ID]: (b, o, l, op) => { op.cmd = readU32(b, o, l); },
  [O.CTRL_ATTR_OP_FLAGS]: (b, o, l, op) => { op.flags = readU32(b, o, l); },
});

const GRP = attrTable<{ name?: string; id?: number }>({
  [G.CTRL_ATTR_MCAST_GRP_NAME]: (b, o, l, g) => { g.name = readString(b, o, l); },
  [G.CTRL_ATTR_MCAST_GRP_ID]: (b, o, l, g) => { g.id = readU32(b, o, l); },
});

const FAMILY = attrTable<FamilyOut>({
  [A.CTRL_ATTR_FAMILY_ID]: (b, o, l, f) => { f.id = readU16(b, o, l); },
  [A.CTRL_ATTR_FAMILY_NAME]: (b, o, l, f) => { f.name = readString(b, o, l); },
  [A.CTRL_ATTR_VERSION]: (b, o, l, f) => { f.version = readU32(b, o, l); },
  [A.CTRL_ATTR_HDRSIZE]: (b, o, l, f) => { f.hdrSize = readU32(b, o, l); },
  [A.CTRL_ATTR_MAXATTR]: (b, o, l, f) => { f.maxAttr = readU32(b, o, l); },
  // Arrays: each element is a nest whose type is its position (1, 2, ...).
  [A.CTRL_ATTR_OPS]: (b, o, l, f) => forEachAttr(b, o, o + l, (_t, eo, el) => {
    const op: { cmd?: number; flags: number } = { flags: 0 };
    walkAttrs(b, eo, eo + el, OP, op);
    if (op.cmd !== undefined) f.ops.push({ cmd: op.cmd, flags: op.flags });
  }),
  [A.CTRL_ATTR_MCAST_GROUPS]: (b, o, l, f) => forEachAttr(b, o, o + l, (_t, eo, el) => {
    const g: { name?: string; id?: number } = {};
    walkAttrs(b, eo, eo + el, GRP, g);
    if (g.name !== undefined && g.id !== undefined) f.mcastGroups.set(g.name, g.id);
  }),
});

/** Decodes a CTRL_CMD_NEWFAMILY message (the answer to GETFAMILY); `undefined` for other commands. */
export function decodeCtrlFamily(buf: Buffer, m: NlMessage): GenlFamily | undefined {
  if (decodeGenlHeader(buf, m).cmd !== CTRL_CMD.CTRL_CMD_NEWFAMILY) return undefined;
  const f: FamilyOut = { version: 0, hdrSize: 0, maxAttr: 0, ops: [], mcastGroups: new Map() };
  walkAttrs(buf, m.off + GENL_HDRLEN, m.off + m.len, FAMILY, f);
  if (f.id === undefined || f.name === undefined) throw new ProtocolError('CTRL_CMD_NEWFAMILY without family id or name');
  return {
    id: f.id, name: f.name, version: f.version, hdrSize: f.hdrSize, maxAttr: f.maxAttr,
    ops: f.ops, mcastGroups: f.mcastGroups,
  };
}

const ENOENT = 2;
const cache = new WeakMap<NetlinkSocket, Map<string, GenlFamily>>();

/**
 * Resolves a generic netlink family by name through `h`'s generic netlink
 * socket; cached for the life of that socket. A family that does not exist
 * (its module is not loaded, or the kernel lacks it) raises NotFoundError.
 * Equivalent to: `genl ctrl get name NAME`
 */
export function genlFamilyResolve(h: NetnsHandle, name: string): GenlFamily {
  const sock = h.genl;
  let byName = cache.get(sock);
  const hit = byName?.get(name);
  if (hit) return hit;
  let family: GenlFamily | undefined;
  const w = encodeCtrlGetFamily(sock.writer, name);
  w.endMessage();
  try {
    sock.request(w, 'CTRL_CMD_GETFAMILY', (buf, m) => { family ??= decodeCtrlFamily(buf, m); });
  } catch (err) {
    if (err instanceof KernelError && err.errno === ENOENT) {
      throw new NotFoundError(`generic netlink family "${name}" not found`, { cause: err, context: { family: name } });
    }
    throw err;
  }
  if (!family) throw new ProtocolError(`CTRL_CMD_GETFAMILY "${name}": no family in the reply`);
  if (family.name !== name) throw new ProtocolError(`CTRL_CMD_GETFAMILY "${name}": kernel answered "${family.name}"`);
  if (!byName) cache.set(sock, (byName = new Map()));
  byName.set(name, family);
  return family;
}

/** Forgets `h`'s cached resolution of `name` (after a module reload gave the family a new id). */
export function genlFamilyForget(h: NetnsHandle, name: string): void {
  cache.get(h.genl)?.delete(name);
}
