/**
 * Our gRPC server (grpc-server.ts, grpc-frames.ts) against two clients: grpc-js
 * (an independent implementation, the oracle for what a conforming client
 * accepts) and a raw node:http2 client that sends the bytes grpc-js never
 * would (bad prefixes, cut messages, compression, split DATA frames).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAllClients, kubeletClient, unary } from '../../../test/kubelet/kubelet-client.ts';
import { encodeFrame, GrpcStatus, GrpcStatusError, MessageReader, parseTimeout, percentEncode } from './grpc-frames.ts';
import { GrpcServer, type ServiceImplementation } from './grpc-server.ts';
import { encodeWire, kubeletProtos, SERVICE, type WirePluginInfo } from './protos.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  closeAllClients();
  for (const c of cleanups.splice(0).reverse()) c();
});

async function serve(impl: ServiceImplementation, service = SERVICE.registration): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ncg-'));
  const path = join(dir, 'g.sock');
  const server = new GrpcServer();
  server.addService(service, impl);
  await server.listen(path);
  cleanups.push(() => { server.forceShutdown(); rmSync(dir, { recursive: true, force: true }); });
  return path;
}

const info: WirePluginInfo = { type: 'DRAPlugin', name: 'netclaim.dev', endpoint: '/x/dra.sock', supported_versions: ['v1.DRAPlugin'] };
const registration = (over: Partial<ServiceImplementation> = {}): ServiceImplementation => ({
  GetInfo: () => Promise.resolve(info),
  NotifyRegistrationStatus: () => Promise.resolve({}),
  ...over,
} as ServiceImplementation);

interface RawAnswer { headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; body: Buffer }

/** One call with a raw HTTP/2 client: `chunks` are written one by one (each its own DATA frame, at least one write each). */
function rawCall(socket: string, path: string, chunks: readonly Uint8Array[], extra: Record<string, string> = {}): Promise<RawAnswer> {
  const session: ClientHttp2Session = connect('http://localhost', { createConnection: () => netConnect(socket) });
  cleanups.push(() => session.destroy());
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extra });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const body: Buffer[] = [];
    req.on('response', (h) => { headers = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (d: Buffer) => body.push(d));
    req.on('error', reject);
    req.on('close', () => { resolve({ headers, trailers, body: Buffer.concat(body) }); });
    const write = (i: number): void => {
      if (i === chunks.length) { req.end(); return; }
      req.write(chunks[i], () => { write(i + 1); });
    };
    write(0);
  });
}

/** grpc-status / grpc-message of a raw answer, trailers-only or not. */
const statusOf = (a: RawAnswer): { code: number; message: string | undefined } => {
  const h = a.headers['grpc-status'] !== undefined ? a.headers : a.trailers;
  return { code: Number(h['grpc-status']), message: h['grpc-message'] as string | undefined };
};

const registrationStatus = kubeletProtos().lookupType('pluginregistration.RegistrationStatus');
const GET_INFO = `/${SERVICE.registration}/GetInfo`;
const NOTIFY = `/${SERVICE.registration}/NotifyRegistrationStatus`;

describe('MessageReader', () => {
  it('yields the same messages however the byte stream is cut (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => encodeFrame(m)));
        const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const reader = new MessageReader();
        const got: Buffer[] = [];
        let from = 0;
        for (const to of [...at, stream.length]) {
          got.push(...reader.push(stream.subarray(from, to)));
          from = to;
        }
        expect(reader.idle).toBe(true);
        expect(got.map((b) => [...b])).toEqual(messages.map((m) => [...m]));
      },
    ), { numRuns: 200 });
  });

  it('refuses a bad compressed flag (INTERNAL), compression (UNIMPLEMENTED), an oversize length (RESOURCE_EXHAUSTED)', () => {
    expect(() => new MessageReader().push(Uint8Array.of(2, 0, 0, 0, 0))).toThrow(expect.objectContaining({ code: GrpcStatus.INTERNAL }));
    expect(() => new MessageReader().push(Uint8Array.of(1, 0, 0, 0, 1, 7))).toThrow(expect.objectContaining({ code: GrpcStatus.UNIMPLEMENTED }));
    expect(() => new MessageReader(10).push(Uint8Array.of(0, 0, 0, 0, 11))).toThrow(expect.objectContaining({ code: GrpcStatus.RESOURCE_EXHAUSTED }));
    const cut = new MessageReader();
    expect(cut.push(Uint8Array.of(0, 0, 0, 0, 3, 1))).toEqual([]);
    expect(cut.idle).toBe(false);
  });

  it('percent-encodes grpc-message (PROTOCOL-HTTP2.md: printable ASCII but %, the rest as UTF-8 %XX) and reads grpc-timeout', () => {
    expect(percentEncode('plain text: ok')).toBe('plain text: ok');
    expect(percentEncode('100% ü\n')).toBe('100%25 %C3%BC%0A');
    expect(parseTimeout('45S')).toBe(45_000);
    expect(parseTimeout('200m')).toBe(200);
    expect(parseTimeout('1H')).toBe(3_600_000);
    expect(parseTimeout('123456789S')).toBeUndefined(); // at most 8 digits
    expect(parseTimeout('5x')).toBeUndefined();
  });
});

describe('GrpcServer', () => {
  it('decodes a request whose bytes come in many DATA frames cut at random places (property)', async () => {
    let seen: unknown;
    const socket = await serve(registration({ NotifyRegistrationStatus: (req: unknown) => { seen = req; return Promise.resolve({}); } }));
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), async (error, cuts) => {
      const bytes = encodeFrame(encodeWire(registrationStatus, { plugin_registered: true, error }));
      const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks = [...at, bytes.length].map((to, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1], to)).filter((c) => c.length > 0);
      const answer = await rawCall(socket, NOTIFY, chunks);
      expect(statusOf(answer).code).toBe(0);
      expect(seen).toEqual({ plugin_registered: true, error });
    }), { numRuns: 25 });
  });

  it('carries request and response messages larger than an HTTP/2 frame (16 KiB) both ways', async () => {
    let seen: { error?: string } = {};
    const big = 'x'.repeat(200_000);
    const socket = await serve(registration({
      GetInfo: () => Promise.resolve({ ...info, name: big }),
      NotifyRegistrationStatus: (req: { error: string }) => { seen = req; return Promise.resolve({}); },
    }));
    const c = kubeletClient(socket, SERVICE.registration);
    expect((await unary<WirePluginInfo>(c, 'GetInfo', {})).name).toBe(big);
    await unary(c, 'NotifyRegistrationStatus', { plugin_registered: false, error: big });
    expect(seen.error).toBe(big);
  });

  it('answers INTERNAL to a bad prefix, a cut message and two messages on a unary call; UNIMPLEMENTED to compression', async () => {
    const socket = await serve(registration());
    const one = encodeFrame(encodeWire(registrationStatus, { plugin_registered: true }));
    expect(statusOf(await rawCall(socket, NOTIFY, [Uint8Array.of(7, 0, 0, 0, 0)]))).toMatchObject({ code: GrpcStatus.INTERNAL, message: 'bad message prefix: compressed flag 7' });
    expect(statusOf(await rawCall(socket, NOTIFY, [one.subarray(0, one.length - 1)])).code).toBe(GrpcStatus.INTERNAL);
    expect(statusOf(await rawCall(socket, NOTIFY, [one, one]))).toMatchObject({ code: GrpcStatus.INTERNAL, message: 'expected one request message, got 2' });
    expect(statusOf(await rawCall(socket, NOTIFY, [Uint8Array.of(1, 0, 0, 0, 1, 0)])).code).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(statusOf(await rawCall(socket, NOTIFY, [one], { 'grpc-encoding': 'gzip' })).code).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(statusOf(await rawCall(socket, NOTIFY, [Uint8Array.of(0, 0, 0, 0, 2, 0xff, 0xff)])).code).toBe(GrpcStatus.INTERNAL); // not protobuf
    // Still serving after all that.
    expect(statusOf(await rawCall(socket, NOTIFY, [one])).code).toBe(0);
  });

  it('answers UNIMPLEMENTED for an unknown method or service, 415 for a non-gRPC content type', async () => {
    const socket = await serve(registration());
    expect(statusOf(await rawCall(socket, `/${SERVICE.registration}/Nope`, [encodeFrame(new Uint8Array())]))).toEqual({ code: GrpcStatus.UNIMPLEMENTED, message: `unknown method /${SERVICE.registration}/Nope` });
    await expect(unary(kubeletClient(socket, SERVICE.draV1), 'NodePrepareResources', { claims: [] })).rejects.toMatchObject({ code: status.UNIMPLEMENTED });
    const plain = await rawCall(socket, GET_INFO, [encodeFrame(new Uint8Array())], { 'content-type': 'application/json' });
    expect(plain.headers[constants.HTTP2_HEADER_STATUS]).toBe(415);
  });

  it('answers a handler\'s GrpcStatusError with its code and message (percent-encoded on the wire), a plain error as UNKNOWN', async () => {
    const message = 'claims[0]: 100% wrong — ü\nsecond line';
    const socket = await serve(registration({
      GetInfo: () => Promise.reject(new GrpcStatusError(GrpcStatus.INVALID_ARGUMENT, message)),
      NotifyRegistrationStatus: () => Promise.reject(new Error('boom')),
    }));
    const c = kubeletClient(socket, SERVICE.registration);
    await expect(unary(c, 'GetInfo', {})).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: message });
    await expect(unary(c, 'NotifyRegistrationStatus', {})).rejects.toMatchObject({ code: status.UNKNOWN, details: 'boom' });
    const raw = statusOf(await rawCall(socket, GET_INFO, [encodeFrame(new Uint8Array())]));
    expect(raw).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, message: percentEncode(message) });
    expect(raw.message).toMatch(/^[\x20-\x7e]*$/);
  });

  it('honours grpc-timeout: DEADLINE_EXCEEDED to the client, and the handler\'s signal aborts', async () => {
    let aborted: unknown;
    const socket = await serve(registration({
      GetInfo: (_req: unknown, { signal }: { signal: AbortSignal }) => new Promise((_, reject) => {
        signal.addEventListener('abort', () => { aborted = signal.reason; reject(signal.reason as Error); });
      }),
    }));
    const answer = await rawCall(socket, GET_INFO, [encodeFrame(new Uint8Array())], { 'grpc-timeout': '100m' });
    expect(statusOf(answer)).toEqual({ code: GrpcStatus.DEADLINE_EXCEEDED, message: 'deadline exceeded' });
    expect(aborted).toMatchObject({ code: GrpcStatus.DEADLINE_EXCEEDED });
  });

  it('aborts the handler\'s signal when the client cancels', async () => {
    let aborted = false;
    const socket = await serve(registration({
      GetInfo: (_req: unknown, { signal }: { signal: AbortSignal }) => new Promise(() => { signal.addEventListener('abort', () => { aborted = true; }); }),
    }));
    const c = kubeletClient(socket, SERVICE.registration);
    await expect(unary(c, 'GetInfo', {}, 150)).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
    await expect.poll(() => aborted).toBe(true);
  });
});
