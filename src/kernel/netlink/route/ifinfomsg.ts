/**
 * struct ifinfomsg, the fixed header of every link message:
 * family u8, pad u8, type u16, index s32, flags u32, change u32.
 */
import { ProtocolError } from '../../../common/errors.ts';
import type { NlWriter } from '../writer.ts';
import { IFINFOMSG_LEN } from './link-constants.ts';

export interface IfInfoMsg {
  readonly family: number;
  readonly type: number;
  readonly index: number;
  readonly flags: number;
  readonly change: number;
}

export function encodeIfInfoMsg(w: NlWriter, m: Partial<IfInfoMsg> = {}): NlWriter {
  return w.u8(m.family ?? 0).u8(0).u16(m.type ?? 0).s32(m.index ?? 0).u32(m.flags ?? 0).u32(m.change ?? 0);
}

export function decodeIfInfoMsg(buf: Buffer, off: number, len: number): IfInfoMsg {
  if (len < IFINFOMSG_LEN) throw new ProtocolError(`ifinfomsg needs ${IFINFOMSG_LEN} bytes, has ${len}`);
  return {
    family: buf[off]!,
    type: buf.readUInt16LE(off + 2),
    index: buf.readInt32LE(off + 4),
    flags: buf.readUInt32LE(off + 8),
    change: buf.readUInt32LE(off + 12),
  };
}
