/**
 * Fuzz: everything that reads bytes from the runtime (mux frames, ttrpc
 * messages, NRI protobufs, and the whole inbound path of a connection) only
 * ever returns or raises ProtocolError, on random bytes and on mutations of
 * the captured traffic.
 */
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { assertDecoderTotal, mutatedBytes } from '../../../test/fuzz/decoder-fuzz.ts';
import { goldenMessages, nriCapture } from '../../../test/nri/golden.ts';
import type { PodPort } from '../../driver/pod-port.ts';
import { muxFrameReader } from './mux.ts';
import { NriConnection } from './nri-connection.ts';
import { decodeMessage, NRI_TYPES } from './protos.ts';
import { ttrpcMessageReader } from './ttrpc-frame.ts';

const streams = [nriCapture('current.runtime-to-plugin'), nriCapture('legacy.runtime-to-plugin'), nriCapture('current.plugin-to-runtime')];
const messages = [...goldenMessages('current.runtime-to-plugin'), ...goldenMessages('legacy.runtime-to-plugin'), ...goldenMessages('current.plugin-to-runtime')];
const ttrpcSeeds = messages.map((m) => m.bytes);
const protobufSeeds = messages.map((m) => m.payload);
const innerSeeds = messages.map((m) => Buffer.from(decodeMessage<{ payload: Uint8Array }>(m.header.type === 1 ? NRI_TYPES.TtrpcRequest : NRI_TYPES.TtrpcResponse, m.payload).payload));

/** Feeds `buf` to a frame reader in two pieces and drains it. */
const readAll = (reader: () => { push(b: Buffer, emit: () => void): void }) => (buf: Buffer): void => {
  const r = reader();
  const cut = buf.length >> 1;
  r.push(buf.subarray(0, cut), () => {});
  r.push(buf.subarray(cut), () => {});
};

describe('NRI wire decoders are total', () => {
  it('mux frame reader', () => assertDecoderTotal(readAll(muxFrameReader), streams));
  it('ttrpc message reader', () => assertDecoderTotal(readAll(ttrpcMessageReader), ttrpcSeeds));
  it('ttrpc Request / Response envelopes', () => {
    assertDecoderTotal((b) => decodeMessage(NRI_TYPES.TtrpcRequest, b), protobufSeeds);
    assertDecoderTotal((b) => decodeMessage(NRI_TYPES.TtrpcResponse, b), protobufSeeds);
  });
  for (const type of ['ConfigureRequest', 'SynchronizeRequest', 'RunPodSandboxRequest', 'CreateContainerRequest', 'StateChangeEvent'] as const) {
    it(`NRI ${type}`, () => assertDecoderTotal((b) => decodeMessage(NRI_TYPES[type], b), innerSeeds, 1000));
  }
});

describe('a connection fed garbage', () => {
  const port: PodPort = {
    runPodSandbox: async () => {}, stopPodSandbox: async () => {}, removePodSandbox: async () => {},
    createContainer: async () => ({}), startContainer: async () => {}, synchronize: async () => {},
  };

  it('never throws: it answers, or closes with a ProtocolError', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(mutatedBytes(streams), fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a))), async (input) => {
      const trunk = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      const conn = new NriConnection(trunk, {
        startGate: false, pluginName: 'fuzz', pluginIdx: '00', events: 0xf, port, registrationTimeoutMs: 50,
        log: { info() {}, warn() {}, error() {} }, observe() {},
      });
      conn.handshake().catch(() => undefined);
      trunk.push(input);
      await new Promise((r) => setImmediate(r));
      conn.close();
      const err = await conn.closed;
      if (err !== undefined) expect(isDriverError(err) && err.code, String(err)).toBe('PROTOCOL_MALFORMED');
    }), { numRuns: 300 });
  });
});
