import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_OPENSSL, makeCa, makeServingCert, type TestCa } from '../../test/fixtures/tls/make-certs.ts';
import { ConfigError, DriverError, StateError } from '../common/errors.ts';
import { ObserveServer, parseBindAddress, type ObserveServerOptions, type ScrapeAuthorizer } from './http-server.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

const servers: ObserveServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(o: ObserveServerOptions = {}): Promise<{ s: ObserveServer; url: (p: string) => string }> {
  const s = new ObserveServer({ bindAddress: '127.0.0.1:0', ...o });
  servers.push(s);
  await s.listen();
  const { port } = s.address();
  return { s, url: (p) => `http://127.0.0.1:${port}${p}` };
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; type: string | null; body: string }> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ObserveServer', () => {
  it('answers /healthz and /readyz 200 with the checks listed when all pass', async () => {
    const { url } = await start({ liveness: { kernel: () => undefined }, readiness: { 'kubelet-registered': async () => true } });
    const h = await get(url('/healthz'));
    expect(h.status).toBe(200);
    expect(h.type).toBe('application/json');
    const hb = JSON.parse(h.body) as { status: string; failed: string[]; checks: Array<{ name: string; ok: boolean; ms: number }> };
    expect(hb).toMatchObject({ status: 'ok', failed: [], checks: [{ name: 'kernel', ok: true }] });
    expect(hb.checks[0]!.ms).toBeGreaterThanOrEqual(0);
    const r = await get(url('/readyz?verbose'));
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { checks: Array<{ name: string }> }).checks.map((c) => c.name)).toEqual(['kernel', 'kubelet-registered']);
  });

  it('with no checks both probes pass', async () => {
    const { url } = await start();
    expect((await get(url('/healthz'))).status).toBe(200);
    expect((await get(url('/readyz'))).status).toBe(200);
  });

  it('a failing readiness check fails /readyz (500, named) but not /healthz', async () => {
    let published = false;
    const { s, url } = await start({ liveness: { kernel: () => true }, readiness: { 'slices-published': () => published, 'kubelet-registered': () => true } });
    const r = await get(url('/readyz'));
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'failed', failed: ['slices-published'], checks: [{ name: 'kernel', ok: true }, { name: 'slices-published', ok: false, error: 'check returned false' }, { name: 'kubelet-registered', ok: true }] });
    expect((await get(url('/healthz'))).status).toBe(200);
    published = true;
    expect((await get(url('/readyz'))).status).toBe(200);
    s.addCheck('readiness', 'late', () => Promise.reject(new Error('not yet')));
    expect(JSON.parse((await get(url('/readyz'))).body)).toMatchObject({ failed: ['late'] });
  });

  it('a failing liveness check fails both probes; thrown errors and DriverError codes appear in the body', async () => {
    const { url } = await start({
      liveness: { kernel: () => { throw new DriverError('KERNEL_CLOSED', 'netlink socket closed'); }, other: async () => { throw new Error('boom'); } },
    });
    const h = await get(url('/healthz'));
    expect(h.status).toBe(500);
    expect(JSON.parse(h.body)).toMatchObject({
      status: 'failed', failed: ['kernel', 'other'],
      checks: [{ name: 'kernel', ok: false, error: 'KERNEL_CLOSED: netlink socket closed' }, { name: 'other', ok: false, error: 'boom' }],
    });
    expect((await get(url('/readyz'))).status).toBe(500);
  });

  it('a hung check fails the probe after the timeout instead of hanging it, and is aborted', async () => {
    let aborted: unknown;
    let calls = 0;
    const hung = (signal: AbortSignal): Promise<never> => {
      calls++;
      signal.addEventListener('abort', () => (aborted = signal.reason));
      return new Promise<never>(() => {});
    };
    const { url } = await start({ checkTimeoutMs: 100, liveness: { kernel: hung, ok: () => true } });
    const t0 = Date.now();
    const [a, b] = await Promise.all([get(url('/healthz')), get(url('/healthz'))]);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(90);
    expect(took).toBeLessThan(2000);
    for (const r of [a, b]) {
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body)).toMatchObject({ failed: ['kernel'], checks: [{ name: 'kernel', ok: false, error: 'timed out after 100 ms' }, { name: 'ok', ok: true }] });
    }
    expect(calls).toBe(1); // concurrent probes shared one run
    expect(String(aborted)).toContain('timed out after 100 ms');
    await get(url('/healthz'));
    expect(calls).toBe(2); // the next probe runs it again
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const m = createMetrics();
    m.claimsPrepared.set(3);
    const { url } = await start({ metrics: m.registry });
    const r = await get(url('/metrics'));
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.body).toContain('# TYPE netclaim_claims_prepared gauge\nnetclaim_claims_prepared 3\n');
    expect(r.body).toContain('netclaim_process_resident_memory_bytes');
  });

  it('404 for other paths (and /metrics without a registry), 405 for other methods, HEAD has no body', async () => {
    const { url } = await start({ liveness: { x: () => true } });
    expect((await get(url('/'))).status).toBe(404);
    expect((await get(url('/healthzz'))).status).toBe(404);
    expect((await get(url('/metrics'))).status).toBe(404);
    expect((await get(url('/healthz'), { method: 'POST', body: '{}' })).status).toBe(405);
    const head = await get(url('/healthz'), { method: 'HEAD' });
    expect([head.status, head.body]).toEqual([200, '']);
  });

  it('logs when a check starts failing and when it passes again, once each', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'info', destination: new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString()) as Record<string, unknown>); cb(); } }) });
    let ok = false;
    const { url } = await start({ log, readiness: { slices: () => ok } });
    await get(url('/readyz'));
    await get(url('/readyz'));
    ok = true;
    await get(url('/readyz'));
    await get(url('/readyz'));
    expect(lines.map((l) => [l['level'], l['msg']])).toEqual([
      ['warn', 'readiness check slices fails: check returned false'],
      ['info', 'readiness check slices passes again'],
    ]);
  });

  it('listen/close lifecycle: close is idempotent, a second listen is refused, a busy port is a ConfigError', async () => {
    const { s } = await start();
    const { port } = s.address();
    await expect(s.listen()).rejects.toBeInstanceOf(StateError);
    const other = new ObserveServer({ bindAddress: `127.0.0.1:${port}` });
    servers.push(other);
    await expect(other.listen()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('EADDRINUSE') as unknown });
    await s.close();
    await s.close();
    expect(() => s.address()).toThrow(StateError);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    await new ObserveServer().close(); // never listened
  });

  it('close() drops a connection stuck in a hung check', async () => {
    const { s, url } = await start({ checkTimeoutMs: 10_000, liveness: { hung: () => sleep(60_000) } });
    const pending = get(url('/healthz')).then(() => 'answered', () => 'dropped');
    await sleep(50);
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await pending).toBe('dropped');
  });
});

describe('parseBindAddress', () => {
  it('parses :port, host:port and [v6]:port', () => {
    expect(parseBindAddress(':9177')).toEqual({ host: undefined, port: 9177 });
    expect(parseBindAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseBindAddress('localhost:8080')).toEqual({ host: 'localhost', port: 8080 });
    expect(parseBindAddress('[::1]:9177')).toEqual({ host: '::1', port: 9177 });
  });

  it('refuses anything else with a ConfigError', () => {
    for (const bad of ['9177', '::1:9177', 'host:', 'host:99999', ':-1', '[::1]', 'a:b']) expect(() => parseBindAddress(bad), bad).toThrow(ConfigError);
  });
});

describe.skipIf(!HAVE_OPENSSL)(HAVE_OPENSSL ? 'ObserveServer, secure scraping' : 'ObserveServer, secure scraping — SKIPPED: openssl is needed to make its certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nc-observe-tls-'));
  let ca: TestCa;
  let tls: { certFile: string; keyFile: string };
  beforeAll(() => {
    ca = makeCa(dir);
    const c = makeServingCert(ca, 'metrics');
    tls = { certFile: c.cert, keyFile: c.key };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function httpsGet(port: number, path: string, token?: string): Promise<{ status: number; body: string; auth: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, ca: ca.caPem, agent: false, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, auth: res.headers['www-authenticate'] as string | undefined }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('with tls, speaks HTTPS only: probes and /metrics answer over TLS, plain HTTP gets nothing', async () => {
    const s = new ObserveServer({ bindAddress: '127.0.0.1:0', tls, metrics: createMetrics().registry });
    servers.push(s);
    await s.listen();
    const { port } = s.address();
    expect((await httpsGet(port, '/healthz')).status).toBe(200);
    expect((await httpsGet(port, '/metrics')).body).toContain('netclaim_');
    expect(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 'refused')).not.toBe(200);
    expect(s.checkTls()).toBe(false); // files unchanged
  });

  it('with authorizeScrape, /metrics answers only the tokens it allows (401 none or invalid, 403 not allowed, 503 cannot tell); probes stay open', async () => {
    const seen: (string | undefined)[] = [];
    const authorizeScrape: ScrapeAuthorizer = async (token) => {
      seen.push(token);
      if (token === undefined) return { allowed: false, status: 401, reason: 'a bearer token is needed to read /metrics' };
      if (token === 'prometheus') return { allowed: true };
      if (token === 'down') return { allowed: false, status: 503, reason: 'cannot authenticate the token' };
      return { allowed: false, status: 403, reason: `${token} may not get /metrics` };
    };
    const s = new ObserveServer({ bindAddress: '127.0.0.1:0', tls, metrics: createMetrics().registry, authorizeScrape });
    servers.push(s);
    await s.listen();
    const { port } = s.address();
    expect(await httpsGet(port, '/metrics')).toEqual({ status: 401, body: 'a bearer token is needed to read /metrics\n', auth: 'Bearer' });
    expect(await httpsGet(port, '/metrics', 'alice')).toMatchObject({ status: 403, body: 'alice may not get /metrics\n' });
    expect((await httpsGet(port, '/metrics', 'down')).status).toBe(503);
    const ok = await httpsGet(port, '/metrics', 'prometheus');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('netclaim_');
    expect(seen).toEqual([undefined, 'alice', 'down', 'prometheus']);
    expect((await httpsGet(port, '/healthz')).status).toBe(200);
    expect((await httpsGet(port, '/readyz')).status).toBe(200);
    expect(seen).toHaveLength(4); // the probes never asked
  });

  it('refuses to start without a TLS pair that loads (ConfigError naming the file)', () => {
    expect(() => new ObserveServer({ tls: { certFile: join(dir, 'none.crt'), keyFile: tls.keyFile } })).toThrow(/none\.crt/);
  });
});
