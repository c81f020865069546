/**
 * SandboxWatch's fault paths against a gRPC server (@grpc/grpc-js) standing
 * in for containerd's Events and Containers services. A stand-in because
 * these faults cannot be had from a real containerd on demand: a container
 * gone between its event and the lookup, a lookup that fails otherwise, a
 * malformed event, an onSandbox that throws, the event stream ended by the
 * server. The real thing: test/e2e/containerd-watch.e2e.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTAINERD_TYPES, OCI_SPEC_TYPE_URL, decodeMessage, encodeMessage } from './protos.ts';
import { SandboxWatch, type SandboxSeen } from './sandbox-watch.ts';

const raw = (b: Buffer): Buffer => b;
const method = (path: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path, requestStream: false, responseStream, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw,
});
const SERVICE = {
  Subscribe: method('/containerd.services.events.v1.Events/Subscribe', true),
  Get: method('/containerd.services.containers.v1.Containers/Get', false),
};

const LABELS = { 'io.cri-containerd.kind': 'sandbox', 'io.kubernetes.pod.uid': 'u1', 'io.kubernetes.pod.name': 'p1', 'io.kubernetes.pod.namespace': 'ns1' };
const SPEC = { linux: { namespaces: [{ type: 'network', path: '/var/run/netns/cni-1' }] } };

function created(id: string, o: { namespace?: string } = {}): Buffer {
  const event = encodeMessage(CONTAINERD_TYPES.ContainerCreate, { id });
  return Buffer.from(encodeMessage(CONTAINERD_TYPES.Envelope, {
    namespace: o.namespace ?? 'k8s.io', topic: '/containers/create', event: { type_url: 'containerd.events.ContainerCreate', value: event },
  }));
}

interface FakeContainerd {
  readonly socket: string;
  /** The open Subscribe calls, newest last, with their filters. */
  readonly subscribers: { call: grpc.ServerWritableStream<Buffer, Buffer>; filters: string[] }[];
  readonly gets: { id: string; namespace: string[] }[];
  /** Get calls for `slow…` ids, not answered; `cancelled` once the client has gone. */
  readonly held: { id: string; cancelled: boolean }[];
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function fakeContainerd(): Promise<FakeContainerd> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-ctrd-fake-'));
  const f: FakeContainerd = { socket: join(dir, 'c.sock'), subscribers: [], gets: [], held: [] };
  const server = new grpc.Server();
  server.addService(SERVICE, {
    Subscribe: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      f.subscribers.push({ call, filters: decodeMessage<{ filters: string[] }>(CONTAINERD_TYPES.SubscribeRequest, call.request).filters });
    },
    Get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const { id } = decodeMessage<{ id: string }>(CONTAINERD_TYPES.GetContainerRequest, call.request);
      f.gets.push({ id, namespace: call.metadata.get('containerd-namespace').map(String) });
      if (id.startsWith('slow')) {
        const held = { id, cancelled: false };
        f.held.push(held);
        call.on('cancelled', () => { held.cancelled = true; });
        return undefined;
      }
      if (id.startsWith('gone')) return cb({ code: grpc.status.NOT_FOUND, details: `container "${id}": not found` });
      if (id.startsWith('broken')) return cb({ code: grpc.status.INTERNAL, details: 'bolt: database not open' });
      cb(null, Buffer.from(encodeMessage(CONTAINERD_TYPES.GetContainerResponse, {
        container: { id, labels: LABELS, runtime: { name: 'io.containerd.runc.v2' }, spec: { type_url: OCI_SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(SPEC)) } },
      })));
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${f.socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  cleanup.push(async () => { server.forceShutdown(); rmSync(dir, { recursive: true, force: true }); });
  return f;
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type Line = Record<string, unknown> & { msg: string; level: number };

function watchOn(socket: string, onSandbox: (s: SandboxSeen) => void): { w: SandboxWatch; lines: Line[]; states: string[] } {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, done) { lines.push(JSON.parse(c.toString()) as Line); done(); } }));
  const w = new SandboxWatch({ socketPath: socket, onSandbox, log, retryMs: 20 });
  const states: string[] = [];
  w.on('state', (s) => states.push(s));
  cleanup.push(() => w.close());
  return { w, lines, states };
}

describe('SandboxWatch (fault injection)', () => {
  it('subscribes with the filter, looks containers up in its namespace, and survives what goes wrong per container', async () => {
    const f = await fakeContainerd();
    const seen: SandboxSeen[] = [];
    const { w, lines } = watchOn(f.socket, (s) => {
      seen.push(s);
      if (s.id === 'throws') throw new Error('consumer bug');
    });
    w.start();
    await until('connected', () => w.connected);
    expect(f.subscribers[0]!.filters).toEqual(['topic=="/containers/create",namespace=="k8s.io"']);
    const sub = f.subscribers[0]!.call;
    sub.write(created('gone-1'));
    sub.write(created('broken-1'));
    sub.write(Buffer.from([0x0f])); // field 1 with wire type 7: not protobuf
    sub.write(created('other-ns', { namespace: 'moby' }));
    sub.write(created('throws'));
    sub.write(created('ok-1'));
    await until('ok-1', () => seen.some((s) => s.id === 'ok-1'));
    await until('the failed lookups logged', () => lines.filter((l) => l.msg.startsWith('container skipped:')).length === 2);
    expect(seen.map((s) => s.id).sort()).toEqual(['ok-1', 'throws']);
    expect(seen.find((s) => s.id === 'ok-1')).toEqual({ id: 'ok-1', uid: 'u1', name: 'p1', namespace: 'ns1', netns: '/var/run/netns/cni-1' });
    expect(f.gets.map((g) => g.id).sort()).toEqual(['broken-1', 'gone-1', 'ok-1', 'throws']);
    expect(f.gets.every((g) => g.namespace.join() === 'k8s.io')).toBe(true);
    expect(lines.find((l) => l.container === 'gone-1')).toMatchObject({ msg: 'container skipped: already gone', level: 20 });
    expect(lines.find((l) => l.container === 'broken-1')).toMatchObject({ msg: 'container skipped: lookup failed', level: 20 });
    expect(lines.filter((l) => l.msg === 'event skipped').map((l) => l.reason)).toEqual([expect.stringMatching(/^malformed event/), 'namespace "moby"']);
    expect(lines.find((l) => l.msg === 'onSandbox threw')).toMatchObject({ container: 'throws', level: 50 });
    expect(w.connected).toBe(true);
  });

  it('resubscribes when the server ends the stream, with an error or without, logging each transition once', async () => {
    const f = await fakeContainerd();
    const seen: string[] = [];
    const { w, lines, states } = watchOn(f.socket, (s) => seen.push(s.id));
    w.on('state', (s) => { if (s === 'disconnected') throw new Error('listener bug'); }); // logged, the retry still comes
    w.start();
    await until('connected', () => w.connected);
    f.subscribers[0]!.call.end();
    await until('resubscribed', () => f.subscribers.length === 2 && w.connected);
    f.subscribers[1]!.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'subscription error' });
    await until('resubscribed again', () => f.subscribers.length === 3 && w.connected);
    f.subscribers[2]!.call.write(created('ok-2'));
    await until('ok-2', () => seen.includes('ok-2'));
    expect(states).toEqual(['connected', 'disconnected', 'connected', 'disconnected', 'connected']);
    expect(lines.filter((l) => l.msg.startsWith('containerd event stream lost')).map((l) => l.reason)).toEqual([
      expect.stringMatching(/containerd ended the event stream|stream closed/),
      expect.stringMatching(/subscription error/),
    ]);
    expect(lines.filter((l) => l.msg === "a 'state' listener threw")).toHaveLength(2);
  });

  it('looks containers up 8 at a time, in event order, and reports none after close()', async () => {
    const f = await fakeContainerd();
    const seen: string[] = [];
    const { w } = watchOn(f.socket, (s) => seen.push(s.id));
    w.start();
    await until('connected', () => w.connected);
    for (let i = 0; i < 10; i++) f.subscribers[0]!.call.write(created(`slow-${i}`));
    await until('8 lookups held', () => f.held.length === 8);
    expect(f.held.map((h) => h.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `slow-${i}`));
    await w.close();
    await until('the held lookups cancelled by the client', () => f.held.every((h) => h.cancelled));
    expect(f.held).toHaveLength(8); // the two queued ones were never asked for
    expect(seen).toEqual([]);
  });

  it('a namespace that is not a containerd identifier is refused at construction', () => {
    const log = pino({ level: 'silent' });
    expect(() => new SandboxWatch({ socketPath: '/x', namespace: 'a",topic~="', onSandbox: () => {}, log }))
      .toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^namespace: /) as unknown }));
  });

  it('close() before start(), twice, and start() after close() do nothing', async () => {
    const { w } = watchOn('/nonexistent/c.sock', () => {});
    await w.close();
    await w.close();
    w.start();
    expect(w.connected).toBe(false);
  });
});
