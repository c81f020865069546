import { Duplex, PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { nriCapture } from '../../../test/nri/golden.ts';
import { decodeMuxHeader, encodeMuxFrames, encodeMuxHeader, Mux, MUX_CONN, MUX_MAX_PAYLOAD, muxFrameReader } from './mux.ts';

/** Splits `buf` at the given cut points (sorted, deduplicated, inside the buffer). */
function chunked(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** A duplex whose writes are recorded and whose readable side the test feeds. */
function fakeTrunk(): { trunk: Duplex; written: Buffer[]; feed: (b: Buffer) => void } {
  const written: Buffer[] = [];
  const inbound = new PassThrough();
  const trunk = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) { written.push(chunk); cb(); },
  });
  inbound.on('data', (b: Buffer) => trunk.push(b));
  return { trunk, written, feed: (b) => inbound.write(b) };
}

describe('mux framing', () => {
  it('encodes [connID u32 BE][length u32 BE][payload]', () => {
    expect(encodeMuxFrames(MUX_CONN.runtime, Buffer.from('abc'))).toEqual([Buffer.from('00000002000000036162 63'.replace(/ /g, ''), 'hex')]);
    expect(encodeMuxHeader(1, 0x01020304).toString('hex')).toBe('0000000101020304');
    expect(decodeMuxHeader(Buffer.from('0000000101020304', 'hex'))).toEqual({ connId: 1, length: 0x01020304 });
    // An empty write is one empty frame, as Go's mux writes it.
    expect(encodeMuxFrames(1, Buffer.alloc(0))).toEqual([Buffer.from('0000000100000000', 'hex')]);
  });

  it('splits writes above the maximum payload (4 MiB + 10) into several frames', () => {
    const data = Buffer.alloc(MUX_MAX_PAYLOAD * 2 + 5, 7);
    const frames = encodeMuxFrames(2, data);
    expect(frames.map((f) => decodeMuxHeader(f).length)).toEqual([MUX_MAX_PAYLOAD, MUX_MAX_PAYLOAD, 5]);
    expect(Buffer.concat(frames.map((f) => f.subarray(8))).equals(data)).toBe(true);
    expect(encodeMuxFrames(1, Buffer.from('abcdefg'), 3).map((f) => f.subarray(8).toString())).toEqual(['abc', 'def', 'g']);
  });

  it('reads the frames of a captured runtime→plugin stream', () => {
    const frames: [number, number][] = [];
    muxFrameReader().push(nriCapture('current.runtime-to-plugin'), (h, p) => frames.push([h.connId, p.length]));
    expect(frames).toEqual([[2, 10], [1, 93], [1, 370], [1, 207], [1, 250], [1, 179], [1, 171], [1, 210]]);
  });

  it('reassembles the same frames from any chunking of the byte stream', () => {
    const payloads = fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 12 });
    fc.assert(fc.property(payloads, fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
      const stream = Buffer.concat(msgs.flatMap(([id, data]) => encodeMuxFrames(id, data, 64)));
      const reader = muxFrameReader();
      const perConn = new Map<number, Buffer[]>();
      for (const chunk of chunked(stream, cuts)) {
        reader.push(chunk, (h, p) => perConn.set(h.connId, [...(perConn.get(h.connId) ?? []), Buffer.from(p)]));
      }
      expect(reader.state).toBe('header');
      expect(reader.buffered).toBe(0);
      for (const id of [1, 2, 3, 4]) {
        const expected = Buffer.concat(msgs.filter(([i]) => i === id).map(([, d]) => Buffer.from(d)));
        expect(Buffer.concat(perConn.get(id) ?? [])).toEqual(expected);
      }
    }), { numRuns: 300 });
  });

  it('fails on a frame announcing more than the maximum, after emitting the frames before it', () => {
    const reader = muxFrameReader();
    const seen: number[] = [];
    const bad = Buffer.concat([...encodeMuxFrames(1, Buffer.from('ok')), encodeMuxHeader(1, MUX_MAX_PAYLOAD + 1)]);
    let err: unknown;
    try {
      reader.push(bad, (h) => seen.push(h.connId));
    } catch (e) {
      err = e;
    }
    expect(seen).toEqual([1]);
    expect(isDriverError(err) && err.code).toBe('PROTOCOL_MALFORMED');
    expect((err as { context: object }).context).toEqual({ connId: 1, length: MUX_MAX_PAYLOAD + 1 });
    expect(reader.state).toBe('failed');
    expect(() => reader.push(Buffer.alloc(1), () => {})).toThrow(/failed earlier/);
  });
});

describe('Mux', () => {
  it('routes payloads by connection id, drops unknown ids and the reserved 0, and writes framed', async () => {
    const { trunk, written, feed } = fakeTrunk();
    const mux = new Mux(trunk);
    const got: string[] = [];
    const c1 = mux.open(1, { data: (b) => got.push(`1:${b.toString()}`), close: () => {} });
    mux.open(2, { data: (b) => got.push(`2:${b.toString()}`), close: () => {} });
    feed(Buffer.concat([...encodeMuxFrames(2, Buffer.from('x')), ...encodeMuxFrames(7, Buffer.from('dropped')), ...encodeMuxFrames(0, Buffer.from('reserved')), ...encodeMuxFrames(1, Buffer.from('y'))]));
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['2:x', '1:y']);
    c1.write(Buffer.from('hi'));
    expect(Buffer.concat(written).toString('hex')).toBe('00000001000000026869');
    expect(() => mux.open(0, { data: () => {}, close: () => {} })).toThrow(/reserved/);
    mux.close();
  });

  it('closes every connection once when the trunk ends, and drops later writes', async () => {
    const { trunk, written } = fakeTrunk();
    const mux = new Mux(trunk);
    const closes: string[] = [];
    const c1 = mux.open(1, { data: () => {}, close: (e) => closes.push(`1:${e?.message ?? 'clean'}`) });
    mux.open(2, { data: () => {}, close: (e) => closes.push(`2:${e?.message ?? 'clean'}`) });
    trunk.push(null);
    expect(await mux.closed).toBeUndefined();
    mux.close(new Error('again'));
    expect(closes).toEqual(['1:clean', '2:clean']);
    c1.write(Buffer.from('late'));
    expect(written).toEqual([]);
    expect(() => mux.open(1, { data: () => {}, close: () => {} })).toThrow(/closed/);
  });

  it('closes with the ProtocolError when the trunk sends an oversized frame', async () => {
    const { trunk, feed } = fakeTrunk();
    const mux = new Mux(trunk);
    let closedWith: Error | undefined;
    mux.open(1, { data: () => {}, close: (e) => { closedWith = e; } });
    feed(encodeMuxHeader(1, 0xffffffff));
    const err = await mux.closed;
    expect(isDriverError(err) && err.code).toBe('PROTOCOL_MALFORMED');
    expect(closedWith).toBe(err);
    expect(trunk.destroyed).toBe(true);
  });
});
