/**
 * The watch reader against a local HTTP server that plays the API server's
 * watch stream (newline-delimited JSON events, as kube-apiserver sends them;
 * the real server's watches are in test/conformance/kube-api.conformance.test.ts).
 * Here the stream is cut at arbitrary byte positions, lines are broken, the
 * server goes quiet: what the real server cannot be made to do on demand.
 */
import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApi, KubeResponseError } from './kube-api.ts';
import { watchStream, type WatchEventType } from './kube-watch.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function serve(handler: (res: ServerResponse, url: string) => void): Promise<KubeApi> {
  server = createServer((req, res) => handler(res, req.url ?? ''));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return new KubeApi({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, source: 'test' });
}

interface Seen { events: Array<[WatchEventType, unknown]>; done: Promise<unknown> }

async function watch(api: KubeApi, o: { idleMs?: number } = {}): Promise<Seen & { ac: AbortController }> {
  const events: Seen['events'] = [];
  let finished!: (v: unknown) => void;
  const done = new Promise((r) => { finished = r; });
  const ac = await watchStream(api, '/api/v1/configmaps', { resourceVersion: '7' }, (t, obj) => events.push([t, obj]), finished, o);
  return { events, done, ac };
}

describe('watchStream', () => {
  it('delivers every event whatever the chunking (mid-line, mid-character), then done(null) when the server ends it', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ type: fc.constantFrom('ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK'), name: fc.string({ maxLength: 12 }), note: fc.constantFrom('', 'ü', '€', '𝄞') }), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (evs, cuts) => {
        const bytes = Buffer.from(evs.map((e) => `${JSON.stringify({ type: e.type, object: { metadata: { name: e.name + e.note } } })}\n`).join(''));
        const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
        let url = '';
        const api = await serve((res, u) => {
          url = u;
          res.writeHead(200, { 'content-type': 'application/json' });
          let from = 0;
          for (const c of [...at, bytes.length]) {
            res.write(bytes.subarray(from, c));
            from = c;
          }
          res.end();
        });
        const w = await watch(api);
        expect(await w.done).toBeNull();
        expect(url).toBe('/api/v1/configmaps?resourceVersion=7&watch=true');
        expect(w.events).toEqual(evs.map((e) => [e.type, { metadata: { name: e.name + e.note } }]));
        await api.close();
        server!.closeAllConnections();
        await new Promise((r) => server!.close(r));
        server = undefined;
      },
    ), { numRuns: 25 });
  });

  it('a line that is not JSON ends the watch with a ProtocolError after the events before it', async () => {
    const api = await serve((res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{"a":1}}\n{"type":"ADD');
      res.write('ED",}\n{"type":"ADDED","object":{"b":2}}\n');
    });
    const w = await watch(api);
    expect(await w.done).toMatchObject({ code: 'PROTOCOL_MALFORMED' });
    expect(w.events).toEqual([['ADDED', { a: 1 }]]);
  });

  it('a refused watch rejects with the HTTP status and the Status the server sent (410 Gone: the caller lists again)', async () => {
    const api = await serve((res) => {
      res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 7 (90)' }));
    });
    const err = await watch(api).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeResponseError);
    expect(err).toMatchObject({ statusCode: 410, body: { reason: 'Expired' } });
  });

  it('a server that goes quiet ends the watch with an error after idleMs; a connection cut mid-stream is an error too', async () => {
    const quiet = await serve((res) => {
      res.writeHead(200);
      res.write('{"type":"BOOKMARK","object":{}}\n');
    });
    const q = await watch(quiet, { idleMs: 200 });
    expect(String(await q.done)).toMatch(/no data for 200 ms/);
    expect(q.events).toHaveLength(1);
    await quiet.close();
    server!.closeAllConnections();
    const cut = await serve((res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{}}\n');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const c = await watch(cut);
    expect(await c.done).toMatchObject({ code: expect.stringMatching(/ECONNRESET|ERR_/) });
  });

  it('our own abort ends it without calling done', async () => {
    const api = await serve((res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{}}\n');
    });
    const w = await watch(api);
    let called = false;
    void w.done.then(() => { called = true; });
    w.ac.abort();
    await new Promise((r) => setTimeout(r, 100));
    expect(called).toBe(false);
  });
});
