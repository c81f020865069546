/**
 * Message framing: walking the messages of one datagram and decoding the
 * kernel's acks (NLMSG_ERROR) with their extended-ack TLVs.
 */
import { ProtocolError } from '../../common/errors.ts';
import { attrTable, readString, readU32, walkAttrs } from './attrs.ts';
import {
  NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_HDRLEN, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, nlAlign,
} from './constants.ts';

/** A message header plus where its payload lies in the receive buffer. */
export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** Offset of the payload (after the 16-byte header). */
  readonly off: number;
  /** Payload length. */
  readonly len: number;
}

/** Calls `fn` for each message in `buf[0, n)`; stops early if `fn` returns false. */
export function forEachMessage(buf: Buffer, n: number, fn: (m: NlMessage) => boolean | void): void {
  if (n > buf.length) throw new ProtocolError(`datagram length ${n} exceeds buffer ${buf.length}`);
  let pos = 0;
  while (n - pos >= NLMSG_HDRLEN) {
    const len = buf.readUInt32LE(pos);
    if (len < NLMSG_HDRLEN || len > n - pos) {
      throw new ProtocolError(`message length ${len} at offset ${pos} outside datagram of ${n} bytes`);
    }
    const m: NlMessage = {
      type: buf.readUInt16LE(pos + 4),
      flags: buf.readUInt16LE(pos + 6),
      seq: buf.readUInt32LE(pos + 8),
      pid: buf.readUInt32LE(pos + 12),
      off: pos + NLMSG_HDRLEN,
      len: len - NLMSG_HDRLEN,
    };
    if (fn(m) === false) return;
    pos += nlAlign(len);
  }
  if (pos < n && n - pos >= NLMSG_HDRLEN) throw new ProtocolError(`trailing bytes in datagram at ${pos}`);
}

/** A decoded NLMSG_ERROR: `errno` 0 is a plain ack. */
export interface NlAck {
  readonly errno: number;
  readonly extack?: string;
  readonly extackOffset?: number;
}

interface ExtackOut { msg?: string; offs?: number }
const EXTACK = attrTable<ExtackOut>({
  [NLMSGERR_ATTR_MSG]: (b, o, l, out) => { out.msg = readString(b, o, l); },
  [NLMSGERR_ATTR_OFFS]: (b, o, l, out) => { out.offs = readU32(b, o, l); },
});

/** Decodes the payload of an NLMSG_ERROR message. */
export function decodeAck(buf: Buffer, m: NlMessage): NlAck {
  if (m.len < 4) throw new ProtocolError(`NLMSG_ERROR payload of ${m.len} bytes`);
  const errno = -buf.readInt32LE(m.off) | 0;
  if (!(m.flags & NLM_F_ACK_TLVS)) return { errno };
  // The echoed request: its header only when capped, else the whole message.
  if (m.len < 4 + NLMSG_HDRLEN) throw new ProtocolError('NLMSG_ERROR without the echoed header');
  const echoedLen = m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : buf.readUInt32LE(m.off + 4);
  const tlvStart = m.off + 4 + nlAlign(echoedLen);
  const end = m.off + m.len;
  if (tlvStart > end) throw new ProtocolError('NLMSG_ERROR echoed message overruns the ack');
  return decodeExtack(buf, tlvStart, end, errno);
}

/** Decodes the payload of an NLMSG_DONE that ends a dump (an int, then extack TLVs). */
export function decodeDone(buf: Buffer, m: NlMessage): NlAck {
  if (m.len < 4) return { errno: 0 };
  const errno = -buf.readInt32LE(m.off) | 0;
  if (!(m.flags & NLM_F_ACK_TLVS)) return { errno };
  return decodeExtack(buf, m.off + 4, m.off + m.len, errno);
}

function decodeExtack(buf: Buffer, start: number, end: number, errno: number): NlAck {
  const out: ExtackOut = {};
  walkAttrs(buf, start, end, EXTACK, out);
  return {
    errno,
    ...(out.msg !== undefined && out.msg !== '' ? { extack: out.msg } : {}),
    ...(out.offs !== undefined ? { extackOffset: out.offs } : {}),
  };
}
