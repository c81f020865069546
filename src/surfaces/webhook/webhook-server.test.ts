/**
 * The webhook's HTTPS server, with real TLS (certificates made by openssl,
 * test/fixtures/tls/make-certs.ts) and real clients (node:https): reviews,
 * probes, the body limit, bad bodies, and a certificate rotated under it.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_OPENSSL, makeCa, makeServingCert, type TestCa } from '../../../test/fixtures/tls/make-certs.ts';
import { WebhookServer, type WebhookServerOptions } from './webhook-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'nc-webhook-'));
let ca: TestCa;
let ca2: TestCa;
let tls: { certFile: string; keyFile: string };
const servers: WebhookServer[] = [];

beforeAll(() => {
  if (!HAVE_OPENSSL) return;
  ca = makeCa(dir, 'ca');
  ca2 = makeCa(dir, 'ca2');
  const s = makeServingCert(ca, 'serving');
  tls = { certFile: s.cert, keyFile: s.key };
});
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(o: Partial<WebhookServerOptions> = {}): Promise<{ s: WebhookServer; port: number }> {
  const s = new WebhookServer({ bindAddress: '127.0.0.1:0', tls, drivers: new Set(['netclaim.dev']), ...o });
  servers.push(s);
  await s.listen();
  return { s, port: s.address().port };
}

interface Reply { status: number; type: string | undefined; body: string }

function call(port: number, method: string, path: string, body?: string | Buffer, caPem = ca.caPem): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca: caPem, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const REVIEW = (parameters: unknown): string => JSON.stringify({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: {
    uid: 'r-1', operation: 'CREATE', kind: { group: 'resource.k8s.io', version: 'v1', kind: 'DeviceClass' },
    object: { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'c' }, spec: { config: [{ opaque: { driver: 'netclaim.dev', parameters } }] } },
  },
});

describe.skipIf(!HAVE_OPENSSL)(HAVE_OPENSSL ? 'WebhookServer' : 'WebhookServer — SKIPPED: openssl is needed to make its certificates', () => {
  it('answers POST /validate with the decision, as JSON, over TLS the CA vouches for', async () => {
    const { port } = await start();
    const ok = await call(port, 'POST', '/validate', REVIEW({ interface: { mtu: 9000 } }));
    expect(ok.status).toBe(200);
    expect(ok.type).toBe('application/json');
    expect(JSON.parse(ok.body)).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'r-1', allowed: true } });
    const bad = JSON.parse((await call(port, 'POST', '/validate', REVIEW({ interface: { mtu: 'x' } }))).body) as { response: { allowed: boolean; status: { message: string } } };
    expect(bad.response.allowed).toBe(false);
    expect(bad.response.status.message).toBe('invalid netclaim config: spec.config[0].opaque.parameters.interface.mtu: must be an integer, got string "x"');
  });

  it('serves /healthz, /readyz and /metrics (reviews counted by kind and decision)', async () => {
    const { port } = await start();
    await call(port, 'POST', '/validate', REVIEW({ interface: { mtu: 'x' } }));
    expect(await call(port, 'GET', '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await call(port, 'GET', '/readyz')).status).toBe(200);
    const m = await call(port, 'GET', '/metrics');
    expect(m.body).toContain('netclaim_webhook_reviews_total{kind="DeviceClass",allowed="false"} 1');
    expect(m.body).toContain('netclaim_webhook_review_duration_seconds_count{kind="DeviceClass"} 1');
  });

  it('refuses what is not a review: 404, 405, 400 with the reason — and keeps serving', async () => {
    const { port } = await start();
    expect((await call(port, 'GET', '/nope')).status).toBe(404);
    expect((await call(port, 'GET', '/validate')).status).toBe(405);
    expect((await call(port, 'POST', '/healthz', '{}')).status).toBe(405);
    const notJson = await call(port, 'POST', '/validate', '{"apiVersion":');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatch(/^not JSON: /);
    const notReview = await call(port, 'POST', '/validate', '{"kind":"Pod"}');
    expect(notReview).toMatchObject({ status: 400, body: 'malformed AdmissionReview: kind is "Pod", expected "AdmissionReview"\n' });
    expect((await call(port, 'POST', '/validate', REVIEW({}))).status).toBe(200);
  });

  it('refuses a body over the limit with 413, whatever Content-Length says, and keeps serving', async () => {
    const { port } = await start({ maxBodyBytes: 64 * 1024 });
    const big = Buffer.alloc(200 * 1024, 0x20);
    const declared = await call(port, 'POST', '/validate', big).catch((err: unknown) => ({ status: -1, body: String(err) }));
    // The server answers 413 as soon as it sees Content-Length; a client still writing may see the connection close instead.
    expect([413, -1]).toContain(declared.status);
    const chunked = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/validate', ca: ca.caPem, headers: { 'transfer-encoding': 'chunked' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', () => resolve(-1));
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(8 * 1024, 0x20));
      req.end();
    });
    expect([413, -1]).toContain(chunked);
    expect((await call(port, 'POST', '/validate', REVIEW({}))).status).toBe(200);
  });

  it('presents a rotated certificate once the files change, without a restart; a broken pair is not taken', async () => {
    const live = { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
    copyFileSync(tls.certFile, live.certFile);
    copyFileSync(tls.keyFile, live.keyFile);
    const { s, port } = await start({ tls: live, tlsPollMs: 3_600_000 });
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
    // Half a rotation: a new certificate with the old key does not load; the old pair keeps serving.
    const next = makeServingCert(ca2, 'serving2');
    copyFileSync(next.cert, live.certFile);
    expect(s.checkTls()).toBe(false);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
    copyFileSync(next.key, live.keyFile);
    expect(s.checkTls()).toBe(true);
    expect(s.tlsReloads).toBe(1);
    // A new connection now needs the new CA; the old one no longer vouches for the server.
    expect((await call(port, 'GET', '/healthz', undefined, ca2.caPem)).status).toBe(200);
    await expect(call(port, 'GET', '/healthz', undefined, ca.caPem)).rejects.toThrow(/self-signed|unable to verify|certificate/i);
  });

  it('refuses to start without a pair that loads, naming the file', () => {
    writeFileSync(join(dir, 'empty.crt'), '');
    expect(() => new WebhookServer({ tls: { certFile: join(dir, 'empty.crt'), keyFile: tls.keyFile }, drivers: new Set() })).toThrow(/empty\.crt/);
    expect(() => new WebhookServer({ tls: { certFile: join(dir, 'none.crt'), keyFile: tls.keyFile }, drivers: new Set() })).toThrow(/none\.crt/);
  });

  it('a client that is not TLS, or hangs up mid-handshake, does not stop it', async () => {
    const { port } = await start();
    const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise((r) => sock.once('secureConnect', r));
    sock.destroy();
    const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => -1);
    expect(plain).not.toBe(200);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
  });
});
