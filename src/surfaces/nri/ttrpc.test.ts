import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { goldenRequest, goldenResponse } from '../../../test/nri/golden.ts';
import { decodeMessage, encodeMessage, NRI_SERVICE, NRI_TYPES, type WireConfigureRequest, type WireTtrpcResponse } from './protos.ts';
import { encodeTtrpcHeader, encodeTtrpcMessage, GO_BUFIO_SIZE, goBufioWrites, ttrpcMessageReader, TTRPC_MAX_LENGTH, TTRPC_TYPE, type TtrpcHeader } from './ttrpc-frame.ts';
import { RpcStatusError, RPC_CODE, TtrpcClient, TtrpcServer, type TtrpcCallContext, type TtrpcUnaryHandler } from './ttrpc.ts';

const PLUGIN = NRI_SERVICE.plugin;

/** What an endpoint wrote, split back into ttrpc messages. */
function sink(): { write: (b: Uint8Array) => void; writes: Buffer[]; messages: () => { header: TtrpcHeader; payload: Buffer }[]; fatal: Error[]; onFatal: (e: Error) => void } {
  const writes: Buffer[] = [];
  const fatal: Error[] = [];
  return {
    writes, fatal,
    write: (b) => writes.push(Buffer.from(b)),
    onFatal: (e) => fatal.push(e),
    messages: () => {
      const out: { header: TtrpcHeader; payload: Buffer }[] = [];
      ttrpcMessageReader().push(Buffer.concat(writes), (header, payload) => out.push({ header, payload: Buffer.from(payload) }));
      return out;
    },
  };
}

const request = (streamId: number, service: string, method: string, payload: Uint8Array = new Uint8Array(0), timeoutNano = 0): Buffer =>
  encodeTtrpcMessage(streamId, TTRPC_TYPE.request, encodeMessage(NRI_TYPES.TtrpcRequest, { service, method, payload, timeout_nano: timeoutNano }));

function statusOf(payload: Buffer): { code: number; message: string } {
  const { code, message } = decodeMessage<WireTtrpcResponse>(NRI_TYPES.TtrpcResponse, payload).status ?? { code: 0, message: '' };
  return { code, message };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function server(handlers: Record<string, TtrpcUnaryHandler>): { server: TtrpcServer; out: ReturnType<typeof sink> } {
  const out = sink();
  return { server: new TtrpcServer(new Map([[PLUGIN, new Map(Object.entries(handlers))]]), out), out };
}

describe('ttrpc framing', () => {
  it('encodes the 10-byte header: length, stream id, type, flags', () => {
    expect(encodeTtrpcHeader({ length: 3, streamId: 5, type: TTRPC_TYPE.response, flags: 0 }).toString('hex')).toBe('00000003000000050200');
    expect(encodeTtrpcMessage(1, TTRPC_TYPE.request, Buffer.from('abc')).toString('hex')).toBe('00000003000000010100616263');
  });

  it('writes a message the way Go\'s 4 KiB bufio writer does: first 4096 bytes, then the rest', () => {
    expect(goBufioWrites(Buffer.alloc(4096)).map((b) => b.length)).toEqual([4096]);
    expect(goBufioWrites(Buffer.alloc(5000)).map((b) => b.length)).toEqual([GO_BUFIO_SIZE, 904]);
    expect(goBufioWrites(Buffer.alloc(100_000)).map((b) => b.length)).toEqual([GO_BUFIO_SIZE, 100_000 - GO_BUFIO_SIZE]);
  });

  it('decodes the runtime\'s Configure request as containerd 2.4 (nri v0.12.3) and 2.1 (nri v0.8.0) send it', () => {
    const current = goldenRequest('current.runtime-to-plugin', 'Configure');
    expect(current.header).toEqual({ length: 83, streamId: 1, type: TTRPC_TYPE.request, flags: 0 });
    expect(current.request).toMatchObject({ service: PLUGIN, method: 'Configure', metadata: [] });
    expect(current.request.timeout_nano).toBeGreaterThan(1.9e9);
    expect(current.request.timeout_nano).toBeLessThanOrEqual(2e9);
    expect(decodeMessage<WireConfigureRequest>(NRI_TYPES.ConfigureRequest, current.request.payload)).toEqual({
      config: '', runtime_name: 'containerd', runtime_version: 'v2.4.2', registration_timeout: 5000, request_timeout: 2000, NRI_version: 'v0.12.3',
    });
    const legacy = goldenRequest('legacy.runtime-to-plugin', 'Configure');
    expect(decodeMessage<WireConfigureRequest>(NRI_TYPES.ConfigureRequest, legacy.request.payload)).toMatchObject({ runtime_version: 'v2.1.9', NRI_version: '' });
  });
});

describe('TtrpcServer', () => {
  it('answers with the very bytes nri\'s Go stub sends: Configure, an empty event answer, and a handler error', async () => {
    const errorText = 'test plugin refuses pod default/will-fail';
    const { server: s, out } = server({
      Configure: () => encodeMessage(NRI_TYPES.ConfigureResponse, { events: 0xf }),
      RunPodSandbox: (p) => {
        if (decodeMessage<{ pod: { name: string } }>(NRI_TYPES.RunPodSandboxRequest, p).pod.name === 'will-fail') throw new Error(errorText);
        return new Uint8Array(0);
      },
    });
    const configure = goldenRequest('current.runtime-to-plugin', 'Configure');
    const run = goldenRequest('current.runtime-to-plugin', 'RunPodSandbox', 0);
    const fail = goldenRequest('current.runtime-to-plugin', 'RunPodSandbox', 1);
    for (const m of [configure, run, fail]) {
      s.push(m.bytes);
      await flush();
    }
    expect(Buffer.concat(out.writes)).toEqual(Buffer.concat([
      goldenResponse('current.plugin-to-runtime', configure.header.streamId).bytes,
      goldenResponse('current.plugin-to-runtime', run.header.streamId).bytes,
      goldenResponse('current.plugin-to-runtime', fail.header.streamId).bytes,
    ]));
    expect(statusOf(out.messages()[2]!.payload)).toEqual({ code: RPC_CODE.UNKNOWN, message: errorText });
  });

  it('answers UNIMPLEMENTED for an unknown service or method', async () => {
    const { server: s, out } = server({ Configure: () => new Uint8Array(0) });
    s.push(Buffer.concat([request(1, 'nri.pkg.api.v1alpha1.HostFunctions', 'Log'), request(3, PLUGIN, 'NoSuchMethod')]));
    await flush();
    expect(out.messages().map((m) => [m.header.streamId, statusOf(m.payload)])).toEqual([
      [1, { code: RPC_CODE.UNIMPLEMENTED, message: 'service nri.pkg.api.v1alpha1.HostFunctions' }],
      [3, { code: RPC_CODE.UNIMPLEMENTED, message: 'method NoSuchMethod' }],
    ]);
  });

  it('refuses even, reused and data-frame stream ids, and garbage requests, with INVALID_ARGUMENT; ignores responses', async () => {
    const { server: s, out } = server({ Configure: () => new Uint8Array(0) });
    s.push(Buffer.concat([
      request(2, PLUGIN, 'Configure'),
      request(5, PLUGIN, 'Configure'),
      request(3, PLUGIN, 'Configure'),
      encodeTtrpcMessage(7, TTRPC_TYPE.data, Buffer.from('x')),
      encodeTtrpcMessage(9, TTRPC_TYPE.response, Buffer.alloc(0)),
      encodeTtrpcMessage(11, TTRPC_TYPE.request, Buffer.from([0x0a, 0xff])),
    ]));
    await flush();
    expect(out.messages().map((m) => [m.header.streamId, statusOf(m.payload).code, statusOf(m.payload).message])).toEqual([
      [2, RPC_CODE.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams'],
      [3, RPC_CODE.INVALID_ARGUMENT, 'StreamID cannot be re-used and must increment'],
      [7, RPC_CODE.INVALID_ARGUMENT, 'StreamID is no longer active'],
      [11, RPC_CODE.INVALID_ARGUMENT, expect.stringContaining('unmarshal request error')],
      [5, RPC_CODE.OK, ''],
    ]);
  });

  it('answers the status of an RpcStatusError thrown by a handler', async () => {
    const { server: s, out } = server({ Configure: () => { throw new RpcStatusError(RPC_CODE.FAILED_PRECONDITION, 'not now'); } });
    s.push(request(1, PLUGIN, 'Configure'));
    await flush();
    expect(statusOf(out.messages()[0]!.payload)).toEqual({ code: RPC_CODE.FAILED_PRECONDITION, message: 'not now' });
  });

  it('answers RESOURCE_EXHAUSTED for a request over 4 MiB, then closes', async () => {
    const { server: s, out } = server({ Configure: () => new Uint8Array(0) });
    s.push(encodeTtrpcHeader({ length: TTRPC_MAX_LENGTH + 1, streamId: 7, type: TTRPC_TYPE.request, flags: 0 }));
    expect(out.messages().map((m) => [m.header.streamId, statusOf(m.payload)])).toEqual([
      [7, { code: RPC_CODE.RESOURCE_EXHAUSTED, message: `message length ${TTRPC_MAX_LENGTH + 1} exceed maximum message size of ${TTRPC_MAX_LENGTH}` }],
    ]);
    expect(s.closed).toBe(true);
    expect(out.fatal.map((e) => isDriverError(e) && e.code)).toEqual(['PROTOCOL_MALFORMED']);
    s.push(request(9, PLUGIN, 'Configure'));
    await flush();
    expect(out.messages()).toHaveLength(1);
  });

  it('gives the handler the caller\'s deadline as an AbortSignal, and still answers after it', async () => {
    let ctx: TtrpcCallContext | undefined;
    const { server: s, out } = server({
      Configure: async (_p, c) => {
        ctx = c;
        await new Promise((r) => setTimeout(r, 60));
        return encodeMessage(NRI_TYPES.ConfigureResponse, { events: 1 });
      },
    });
    const before = Date.now();
    s.push(request(1, PLUGIN, 'Configure', new Uint8Array(0), 20e6));
    await s.idle();
    expect(ctx!.deadline! - before).toBeGreaterThanOrEqual(19);
    expect(ctx!.signal.aborted).toBe(true);
    expect(statusOf(out.messages()[0]!.payload).code).toBe(RPC_CODE.OK);
  });

  it('drops answers that come after close(), and aborts running handlers', async () => {
    let signal: AbortSignal | undefined;
    const { server: s, out } = server({ Configure: async (_p, c) => { signal = c.signal; await new Promise((r) => setTimeout(r, 20)); return new Uint8Array(0); } });
    s.push(request(1, PLUGIN, 'Configure'));
    s.close();
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as { code?: string }).code).toBe('NRI_CONNECTION_CLOSED');
    await s.idle();
    expect(out.writes).toEqual([]);
  });

  it('answers every request whatever the chunking of the incoming stream', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), async (payloads, cuts) => {
      const { server: s, out } = server({ Configure: (p) => Buffer.concat([Buffer.from('echo:'), p]) });
      const stream = Buffer.concat(payloads.map((p, i) => request(2 * i + 1, PLUGIN, 'Configure', p)));
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      let prev = 0;
      for (const p of [...points, stream.length]) { s.push(stream.subarray(prev, p)); prev = p; }
      await s.idle();
      const answers = out.messages().sort((a, b) => a.header.streamId - b.header.streamId);
      expect(answers.map((m) => Buffer.from(decodeMessage<WireTtrpcResponse>(NRI_TYPES.TtrpcResponse, m.payload).payload))).toEqual(payloads.map((p) => Buffer.concat([Buffer.from('echo:'), p])));
    }), { numRuns: 100 });
  });
});

describe('TtrpcClient', () => {
  it('sends RegisterPlugin like nri\'s Go stub (same request fields), on odd increasing stream ids', async () => {
    const out = sink();
    const client = new TtrpcClient(out);
    const golden = goldenRequest('current.plugin-to-runtime', 'RegisterPlugin');
    const payload = encodeMessage(NRI_TYPES.RegisterPluginRequest, { plugin_name: 'test-plugin', plugin_idx: '10', NRI_version: 'v0.12.3' });
    expect(Buffer.from(payload)).toEqual(Buffer.from(golden.request.payload));
    const calls = [1, 2, 3].map(() => client.call(NRI_SERVICE.runtime, 'RegisterPlugin', payload, 5000));
    const sent = out.messages();
    expect(sent.map((m) => m.header.streamId)).toEqual([1, 3, 5]);
    expect(sent[0]!.header).toEqual({ ...golden.header, length: sent[0]!.header.length });
    const ours = decodeMessage<{ service: string; method: string; timeout_nano: number }>(NRI_TYPES.TtrpcRequest, sent[0]!.payload);
    expect({ ...ours, timeout_nano: 0 }).toEqual({ ...golden.request, timeout_nano: 0 });
    expect(ours.timeout_nano).toBe(5e9);
    // The runtime's answer, as captured (an empty Response: OK, no payload).
    const answer = goldenResponse('current.runtime-to-plugin', 1);
    for (const id of [1, 3, 5]) client.push(Buffer.concat([encodeTtrpcHeader({ ...answer.header, streamId: id }), answer.payload]));
    expect((await Promise.all(calls)).map((b) => b.length)).toEqual([0, 0, 0]);
    expect(client.pending).toBe(0);
  });

  it('rejects with RpcStatusError for a non-OK status', async () => {
    const out = sink();
    const client = new TtrpcClient(out);
    const call = client.call(NRI_SERVICE.runtime, 'RegisterPlugin', new Uint8Array(0), 1000);
    client.push(encodeTtrpcMessage(1, TTRPC_TYPE.response, encodeMessage(NRI_TYPES.TtrpcResponse, { status: { code: 2, message: 'invalid plugin name' } })));
    await expect(call).rejects.toMatchObject({ code: 'NRI_RPC_STATUS', status: 2, message: 'invalid plugin name', context: { method: 'RegisterPlugin', status: 2 } });
  });

  it('times a call out with NRI_CALL_TIMEOUT and ignores its late answer', async () => {
    const out = sink();
    const client = new TtrpcClient(out);
    await expect(client.call(NRI_SERVICE.runtime, 'RegisterPlugin', new Uint8Array(0), 10)).rejects.toMatchObject({ code: 'NRI_CALL_TIMEOUT', context: { timeoutMs: 10 } });
    client.push(encodeTtrpcMessage(1, TTRPC_TYPE.response, new Uint8Array(0)));
    expect(client.pending).toBe(0);
    expect(out.fatal).toEqual([]);
  });

  it('rejects pending and later calls with NRI_CONNECTION_CLOSED once closed', async () => {
    const client = new TtrpcClient(sink());
    const pending = client.call(NRI_SERVICE.runtime, 'RegisterPlugin', new Uint8Array(0), 1000);
    const cause = new Error('trunk gone');
    client.close(cause);
    await expect(pending).rejects.toMatchObject({ code: 'NRI_CONNECTION_CLOSED', cause });
    await expect(client.call(NRI_SERVICE.runtime, 'X', new Uint8Array(0), 1000)).rejects.toMatchObject({ code: 'NRI_CONNECTION_CLOSED' });
  });

  it('closes on an oversized answer, and refuses a data frame as an answer', async () => {
    const out = sink();
    const client = new TtrpcClient(out);
    const a = client.call(NRI_SERVICE.runtime, 'A', new Uint8Array(0), 1000);
    client.push(encodeTtrpcMessage(1, TTRPC_TYPE.data, Buffer.from('x')));
    await expect(a).rejects.toMatchObject({ code: 'PROTOCOL_UNEXPECTED' });
    const b = client.call(NRI_SERVICE.runtime, 'B', new Uint8Array(0), 1000);
    client.push(encodeTtrpcHeader({ length: TTRPC_MAX_LENGTH + 1, streamId: 3, type: TTRPC_TYPE.response, flags: 0 }));
    await expect(b).rejects.toMatchObject({ code: 'NRI_CONNECTION_CLOSED', cause: { code: 'PROTOCOL_MALFORMED' } });
    expect(client.closed).toBe(true);
    expect(out.fatal).toHaveLength(1);
  });

  it('round-trips through a TtrpcServer, payloads above 4 KiB included', async () => {
    const toServer: Buffer[] = [];
    const toClient = (b: Uint8Array): void => client.push(Buffer.from(b));
    const s = new TtrpcServer(new Map([[PLUGIN, new Map([['Echo', (p: Buffer) => p]])]]), { write: toClient });
    const client = new TtrpcClient({ write: (b) => { toServer.push(Buffer.from(b)); s.push(Buffer.from(b)); } });
    const big = Buffer.alloc(100_000, 0x5a);
    expect((await client.call(PLUGIN, 'Echo', big, 1000)).equals(big)).toBe(true);
    expect(toServer[0]!.length).toBe(GO_BUFIO_SIZE);
    await expect(client.call(PLUGIN, 'Nope', big, 1000)).rejects.toMatchObject({ status: RPC_CODE.UNIMPLEMENTED });
  });
});
