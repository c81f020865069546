/**
 * The gRPC client against a real gRPC server (@grpc/grpc-js on a temp Unix
 * socket): the outcomes containerd cannot be made to produce on demand (a
 * trailers-only error with a non-ASCII message, an oversized message, a
 * server gone mid-stream). test/e2e/containerd-watch.e2e.test.ts runs it
 * against containerd itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { GRPC_CODE, GrpcCallError, GrpcUnixSession, grpcStatusOf, percentDecode } from './grpc-unix.ts';

const raw = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const method = (path: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path, requestStream: false, responseStream,
  requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize,
});

const SERVICE = {
  Echo: method('/t.T/Echo', false),
  Fail: method('/t.T/Fail', false),
  Stream: method('/t.T/Stream', true),
};

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A grpc-js server on a fresh socket. `hang` streams keep the call open until the server is shut down. */
async function server(): Promise<{ socket: string; server: grpc.Server; metadata: grpc.Metadata[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-grpc-'));
  const socket = join(dir, 's.sock');
  const metadata: grpc.Metadata[] = [];
  const s = new grpc.Server();
  s.addService(SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => { metadata.push(call.metadata); cb(null, call.request); },
    Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.NOT_FOUND, details: 'container "é" not found' }),
    Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = call.request.length > 0 ? call.request[0]! : 0;
      for (let i = 0; i < n; i++) call.write(Buffer.alloc(i + 1, i));
      if (call.request[1] === 1) call.write(Buffer.alloc(10_000)); // over the client's limit
      if (call.request[2] !== 1) call.end(); // else: left open
    },
  });
  await new Promise<void>((resolve, reject) => s.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  cleanup.push(async () => { s.forceShutdown(); rmSync(dir, { recursive: true, force: true }); });
  return { socket, server: s, metadata };
}

function session(socket: string): GrpcUnixSession {
  const s = new GrpcUnixSession(socket);
  cleanup.push(async () => s.destroy());
  return s;
}

/** A server stream's messages and its end. */
function collect(s: GrpcUnixSession, request: number[], maxBytes = 1024): Promise<{ messages: Buffer[]; err: Error | undefined }> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    s.serverStream('/t.T/Stream', Buffer.from(request), {}, maxBytes, { message: (m) => messages.push(m), end: (err) => resolve({ messages, err }) });
  });
}

describe('GrpcUnixSession', () => {
  it('a unary call: the reply, and the metadata sent as headers', async () => {
    const { socket, metadata } = await server();
    const s = session(socket);
    await s.ready();
    expect(await s.unary('/t.T/Echo', Buffer.from('hi'), { 'containerd-namespace': 'k8s.io' }, 1024)).toEqual(Buffer.from('hi'));
    expect(metadata[0]!.get('containerd-namespace')).toEqual(['k8s.io']);
  });

  it('an error status (trailers-only) with its percent-encoded message decoded', async () => {
    const { socket } = await server();
    const err = await session(socket).unary('/t.T/Fail', Buffer.alloc(0), {}, 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcCallError);
    expect(err).toMatchObject({ code: GRPC_CODE.NOT_FOUND, message: 'container "é" not found' });
  });

  it('a server stream: every message in order, then OK', async () => {
    const { socket } = await server();
    const { messages, err } = await collect(session(socket), [5]);
    expect(err).toBeUndefined();
    expect(messages.map((m) => m.length)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a message over the limit ends the call RESOURCE_EXHAUSTED', async () => {
    const { socket } = await server();
    const { messages, err } = await collect(session(socket), [2, 1]);
    expect(messages).toHaveLength(2);
    expect(err).toMatchObject({ code: GRPC_CODE.RESOURCE_EXHAUSTED });
  });

  it('a server gone mid-stream ends the call UNAVAILABLE, and the session reports it gone', async () => {
    const { socket, server: srv } = await server();
    const s = session(socket);
    const gone = new Promise<string>((resolve) => s.onGone(resolve));
    const ended = collect(s, [1, 0, 1]);
    await s.ready();
    await s.ping();
    srv.forceShutdown();
    expect((await ended).err).toMatchObject({ code: GRPC_CODE.UNAVAILABLE });
    expect(await gone).toMatch(/closed|GOAWAY/);
  });

  it('no socket: ready() rejects and a call ends UNAVAILABLE', async () => {
    const s = session(join(tmpdir(), `nc-no-such-${process.pid}.sock`));
    const ended = collect(s, [1]);
    await expect(s.ready()).rejects.toThrow(/ENOENT/);
    expect((await ended).err).toMatchObject({ code: GRPC_CODE.UNAVAILABLE });
    // After the session is gone, a new call ends at once, never throws.
    expect((await collect(s, [1])).err).toMatchObject({ code: GRPC_CODE.UNAVAILABLE });
  });
});

describe('grpcStatusOf', () => {
  it('reads grpc-status and grpc-message; a garbled status is UNKNOWN', () => {
    expect(grpcStatusOf({ 'grpc-status': '0' })).toBe('ok');
    expect(grpcStatusOf({})).toBeUndefined();
    expect(grpcStatusOf({ 'grpc-status': '5', 'grpc-message': 'a%20b' })).toMatchObject({ code: 5, message: 'a b' });
    expect(grpcStatusOf({ 'grpc-status': 'x' })).toMatchObject({ code: GRPC_CODE.UNKNOWN, message: 'grpc-status x' });
    expect(percentDecode('100%')).toBe('100%');
  });
});
