/**
 * The captured NRI traffic in test/fixtures/nri (see capture.ts there): the
 * trunk bytes one way, split into mux frames and reassembled into ttrpc
 * messages per connection with the surface's own readers.
 */
import { goldenFixture } from '../fixtures/golden.ts';
import { muxFrameReader } from '../../src/surfaces/nri/mux.ts';
import { decodeMessage, NRI_TYPES, type WireTtrpcRequest, type WireTtrpcResponse } from '../../src/surfaces/nri/protos.ts';
import { ttrpcMessageReader, type TtrpcHeader } from '../../src/surfaces/nri/ttrpc-frame.ts';

export type Capture = 'current.runtime-to-plugin' | 'current.plugin-to-runtime' | 'legacy.runtime-to-plugin' | 'legacy.plugin-to-runtime';

export interface GoldenMessage {
  readonly connId: number;
  readonly header: TtrpcHeader;
  readonly payload: Buffer;
  /** The whole message as Go wrote it (header + payload). */
  readonly bytes: Buffer;
}

export const nriCapture = (name: Capture): Buffer => goldenFixture(`nri/${name}`);

/** Every ttrpc message in a capture, in order of completion. */
export function goldenMessages(name: Capture): GoldenMessage[] {
  const out: GoldenMessage[] = [];
  const readers = new Map<number, ReturnType<typeof ttrpcMessageReader>>();
  muxFrameReader().push(nriCapture(name), (h, payload) => {
    let r = readers.get(h.connId);
    if (!r) readers.set(h.connId, (r = ttrpcMessageReader()));
    r.push(payload, (header, p) => out.push({ connId: h.connId, header, payload: p, bytes: Buffer.concat([header10(header), p]) }));
  });
  return out;
}

function header10(h: TtrpcHeader): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt32BE(h.length, 0);
  b.writeUInt32BE(h.streamId, 4);
  b[8] = h.type;
  b[9] = h.flags;
  return b;
}

/** The n-th request for `method` in a capture, decoded to its ttrpc.Request. */
export function goldenRequest(name: Capture, method: string, n = 0): GoldenMessage & { request: WireTtrpcRequest } {
  const found = goldenMessages(name)
    .filter((m) => m.header.type === 1)
    .map((m) => ({ ...m, request: decodeMessage<WireTtrpcRequest>(NRI_TYPES.TtrpcRequest, m.payload) }))
    .filter((m) => m.request.method === method);
  if (!found[n]) throw new Error(`${name}: no request #${n} for ${method}`);
  return found[n];
}

/** The response on stream `streamId` in a capture. */
export function goldenResponse(name: Capture, streamId: number): GoldenMessage & { response: WireTtrpcResponse } {
  const m = goldenMessages(name).find((x) => x.header.type === 2 && x.header.streamId === streamId);
  if (!m) throw new Error(`${name}: no response on stream ${streamId}`);
  return { ...m, response: decodeMessage<WireTtrpcResponse>(NRI_TYPES.TtrpcResponse, m.payload) };
}
