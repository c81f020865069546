import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApi } from './kube-api.ts';
import type { DriverError } from '../../common/errors.ts';
import { EventCorrelator, eventKey } from './event-correlator.ts';
import { eventBody, eventName, KubeEventSink, MAX_MESSAGE_BYTES, truncateMessage } from './event-sink.ts';

describe('EventCorrelator', () => {
  it('creates first, patches repeats within the window, creates again after it', () => {
    const c = new EventCorrelator({ windowMs: 1000 });
    const k = eventKey('uid', 'R', 'm');
    expect(c.decide(k, 0)).toEqual({ action: 'create' });
    c.recorded(k, 'ev.1', 1, 0);
    expect(c.decide(k, 999)).toEqual({ action: 'patch', name: 'ev.1', count: 1 });
    c.recorded(k, 'ev.1', 2, 999);
    expect(c.decide(k, 1998)).toEqual({ action: 'patch', name: 'ev.1', count: 2 }); // window runs from the last occurrence
    expect(c.decide(k, 1999)).toEqual({ action: 'create' });
    c.forget(k);
    expect(c.decide(k, 1000)).toEqual({ action: 'create' });
  });

  it('keys on uid, reason and message; remembers at most maxKeys (least recently used dropped)', () => {
    expect(eventKey('u', 'a', 'b:c')).not.toBe(eventKey('u', 'a:b', 'c'));
    const c = new EventCorrelator({ maxKeys: 2 });
    c.recorded('a', 'ea', 1, 0);
    c.recorded('b', 'eb', 1, 0);
    c.recorded('a', 'ea', 2, 1); // touch a
    c.recorded('c', 'ec', 1, 2);
    expect(c.size).toBe(2);
    expect(c.decide('b', 3)).toEqual({ action: 'create' });
    expect(c.decide('a', 3)).toMatchObject({ action: 'patch', count: 2 });
  });
});

describe('event body helpers', () => {
  it('names events <claim>.<hex>, unique per sequence number, within 253 characters', () => {
    const a = eventName('my-claim', 1_700_000_000_123, 0);
    expect(a).toMatch(/^my-claim\.[0-9a-f]+$/);
    expect(BigInt(`0x${a.split('.')[1]}`)).toBe(1_700_000_000_123n * 1_000_000n);
    expect(eventName('my-claim', 1_700_000_000_123, 1)).not.toBe(a);
    const long = eventName(`${'a'.repeat(235)}-${'b'.repeat(20)}`, 1_700_000_000_000, 7);
    expect(long).toMatch(/^a{235}\.[0-9a-f]{16}$/); // cut at 236 characters, and no label ends in '-'
  });

  it('truncates messages to 1 KiB of UTF-8 on a character boundary', () => {
    expect(truncateMessage('short')).toBe('short');
    expect(truncateMessage('x'.repeat(MAX_MESSAGE_BYTES))).toBe('x'.repeat(MAX_MESSAGE_BYTES));
    for (const s of ['x'.repeat(2000), '€'.repeat(700), '😀'.repeat(400)]) {
      const t = truncateMessage(s);
      expect(Buffer.byteLength(t)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(Buffer.byteLength(t)).toBeGreaterThan(MAX_MESSAGE_BYTES - 8);
      expect(t.endsWith('…')).toBe(true);
      expect(t).not.toContain('\uFFFD');
    }
  });

  it('builds a client-go-shaped Warning Event on the ResourceClaim', () => {
    const b = eventBody({ name: 'c.1', claim: { namespace: 'ns', name: 'c', uid: 'u' }, reason: 'R', message: 'm', count: 3, firstMs: 1_700_000_000_999, lastMs: 1_700_000_005_500, nodeName: 'n1' });
    expect(b).toEqual({
      apiVersion: 'v1', kind: 'Event', metadata: { name: 'c.1', namespace: 'ns' },
      involvedObject: { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', namespace: 'ns', name: 'c', uid: 'u' },
      type: 'Warning', reason: 'R', message: 'm', count: 3,
      firstTimestamp: new Date('2023-11-14T22:13:20Z'), lastTimestamp: new Date('2023-11-14T22:13:25Z'),
      source: { component: 'netclaim', host: 'n1' }, reportingComponent: 'netclaim.dev', reportingInstance: 'n1',
    });
  });
});

describe('KubeEventSink over HTTP', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  interface Req { method: string; path: string; type: string; body: Record<string, unknown> }
  async function fakeApi(respond: (r: Req) => number | undefined): Promise<{ kubeConfig: KubeApi; reqs: Req[] }> {
    const reqs: Req[] = [];
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const r = { method: req.method ?? '', path: req.url ?? '', type: req.headers['content-type'] ?? '', body: JSON.parse(text || '{}') as Record<string, unknown> };
        reqs.push(r);
        const code = respond(r);
        if (code !== undefined) res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(code < 300 ? r.body : { kind: 'Status', code, reason: code === 404 ? 'NotFound' : 'InternalError', message: 'nope' }));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const kubeConfig = new KubeApi({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, source: 'test', token: { data: Buffer.from('t') } });
    return { kubeConfig, reqs };
  }

  const claim = { namespace: 'ns', name: 'c', uid: 'u1' };

  it('creates, then merge-patches count and lastTimestamp; never throws into the caller', async () => {
    const { kubeConfig, reqs } = await fakeApi((r) => (r.method === 'POST' ? 201 : 200));
    let now = 1_700_000_000_000;
    const sink = new KubeEventSink({ kubeConfig, nodeName: 'n1', now: () => now });
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'boom');
    await sink.flush();
    now += 2000;
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'boom');
    await sink.flush();
    expect(reqs.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/api/v1/namespaces/ns/events'],
      ['PATCH', `/api/v1/namespaces/ns/events/${String(reqs[0]!.body['metadata'] && (reqs[0]!.body['metadata'] as { name: string }).name)}`],
    ]);
    expect(reqs[0]!.body).toMatchObject({ count: 1, firstTimestamp: '2023-11-14T22:13:20.000Z', type: 'Warning', reason: 'ClaimPrepareFailed' });
    expect(reqs[1]!.type).toBe('application/merge-patch+json');
    expect(reqs[1]!.body).toEqual({ count: 2, lastTimestamp: '2023-11-14T22:13:22Z' });
    expect(sink.stats).toEqual({ created: 1, patched: 1, folded: 0, dropped: 0, failed: 0 });
    await sink.close();
  });

  it('folds repeats queued behind a slow write into one patch, bounds the queue, reports failures', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { kubeConfig, reqs } = await fakeApi((r) => (r.path.includes('/bad/') ? 500 : r.method === 'POST' ? 201 : 200));
    const errors: DriverError[] = [];
    const sink = new KubeEventSink({ kubeConfig, nodeName: 'n1', maxQueued: 2, onError: (e) => { errors.push(e); throw new Error('handler bug'); } });
    // Hold the writer on the first create until the queue is built up.
    const orig = server!.listeners('request')[0] as (...a: unknown[]) => void;
    server!.removeAllListeners('request');
    server!.on('request', (req, res) => void gate.then(() => orig(req, res)));
    sink.claimWarning(claim, 'A', 'm'); // in flight
    sink.claimWarning(claim, 'A', 'm'); // queued
    sink.claimWarning(claim, 'A', 'm'); // folded into the queued one
    sink.claimWarning({ ...claim, namespace: 'bad' }, 'B', 'm'); // queued (2 of 2)
    sink.claimWarning(claim, 'C', 'm'); // dropped: queue full
    release();
    await sink.flush();
    expect(reqs.map((r) => r.method)).toEqual(['POST', 'PATCH', 'POST']);
    expect(reqs[1]!.body['count']).toBe(3);
    expect(sink.stats).toEqual({ created: 1, patched: 1, folded: 1, dropped: 1, failed: 1 });
    expect(errors.map((e) => [e.code, e.context['status']])).toEqual([['KUBE_REQUEST_FAILED', 500]]);
    await sink.close();
  });

  it('a hung API server holds only the queue, for at most the timeout; close() gives up after its grace', async () => {
    const { kubeConfig } = await fakeApi(() => undefined);
    const errors: DriverError[] = [];
    const sink = new KubeEventSink({ kubeConfig, nodeName: 'n1', timeoutMs: 300, onError: (e) => errors.push(e) });
    const t0 = performance.now();
    sink.claimWarning(claim, 'A', 'm');
    sink.claimWarning(claim, 'B', 'm');
    expect(performance.now() - t0).toBeLessThan(100);
    await sink.close(100);
    expect(sink.stats.dropped).toBe(1); // B never started
    await sink.flush();
    expect(errors[0]!.message).toContain('timed out after 300 ms');
  });
});
