/**
 * ttrpc's framing (containerd/ttrpc PROTOCOL.md, channel.go; protocols.md §4.3):
 *
 *   message = [length u32 BE][streamID u32 BE][type u8][flags u8][payload]
 *
 * `length` counts payload bytes only and may not exceed 4 MiB. Request (0x01)
 * and Response (0x02) payloads are the ttrpc.Request / ttrpc.Response
 * protobufs; Data (0x03) belongs to streaming calls, which NRI does not use.
 */
import { FrameReader, type FrameHeader } from './frame-reader.ts';

export const TTRPC_HEADER_LENGTH = 10;
export const TTRPC_MAX_LENGTH = 4 << 20;

export const TTRPC_TYPE = {
  request: 0x01,
  response: 0x02,
  data: 0x03,
} as const;

export const TTRPC_FLAG = {
  remoteClosed: 0x01,
  remoteOpen: 0x02,
  noData: 0x04,
} as const;

export interface TtrpcHeader extends FrameHeader {
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
}

export function encodeTtrpcHeader(h: TtrpcHeader): Buffer {
  const b = Buffer.allocUnsafe(TTRPC_HEADER_LENGTH);
  b.writeUInt32BE(h.length, 0);
  b.writeUInt32BE(h.streamId, 4);
  b.writeUInt8(h.type, 8);
  b.writeUInt8(h.flags, 9);
  return b;
}

export function decodeTtrpcHeader(b: Buffer): TtrpcHeader {
  return { length: b.readUInt32BE(0), streamId: b.readUInt32BE(4), type: b.readUInt8(8), flags: b.readUInt8(9) };
}

/** One whole message: header and payload in one buffer. */
export function encodeTtrpcMessage(streamId: number, type: number, payload: Uint8Array, flags = 0): Buffer {
  return Buffer.concat([encodeTtrpcHeader({ length: payload.length, streamId, type, flags }), payload]);
}

/** A reader of ttrpc messages; one announcing more than 4 MiB is a ProtocolError whose context is its header. */
export function ttrpcMessageReader(): FrameReader<TtrpcHeader> {
  return new FrameReader({ what: 'ttrpc message', headerLength: TTRPC_HEADER_LENGTH, maxPayload: TTRPC_MAX_LENGTH, parseHeader: decodeTtrpcHeader });
}

/** Go's bufio.Writer default size, which ttrpc's channel writes through. */
export const GO_BUFIO_SIZE = 4096;

/**
 * The writes Go's ttrpc would make for one message, each becoming one mux
 * frame: the first GO_BUFIO_SIZE bytes, then the rest in one piece.
 *
 * This matters for interop: Go's mux hands a frame to a reader only whole,
 * and fails the read (ENOMEM) when the reader's buffer is smaller than the
 * frame. The runtime's ttrpc reads through a 4096-byte bufio.Reader, so a
 * frame of more than 4096 bytes that starts a message would break the
 * runtime's connection; a remainder of 4096 bytes or more is read directly
 * into the message buffer, which is large enough.
 */
export function goBufioWrites(message: Buffer): Buffer[] {
  if (message.length <= GO_BUFIO_SIZE) return [message];
  return [message.subarray(0, GO_BUFIO_SIZE), message.subarray(GO_BUFIO_SIZE)];
}
