/**
 * The daemon's API client (src/surfaces/kube/kube-api.ts, kube-config.ts,
 * kube-watch.ts) against the real kube-apiserver: kubeconfig files with a
 * client certificate (files and inline data) and with a token file that is
 * rotated, kept connections (counted by a TCP relay), the statuses callers
 * branch on (404, 409 AlreadyExists/Conflict) as kubeError gives them
 * (410 needs an etcd compaction, which would disturb the other files'
 * watches on the shared API server: kube-error.test.ts maps it), a watch that ends and resumes from its version, and a
 * deadline on a server that stops answering (CutProxy holds its bytes back:
 * a fault a real server cannot produce on demand).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isDriverError } from '../../src/common/errors.ts';
import { KubeApi, KubeResponseError } from '../../src/surfaces/kube/kube-api.ts';
import { kubeconfigFileTarget, loadKubeconfigParser } from '../../src/surfaces/kube/kube-config.ts';
import { pooledConnections } from '../../src/surfaces/kube/kube-connections.ts';
import { kubeError, kubeStatus } from '../../src/surfaces/kube/kube-error.ts';
import { watchStream } from '../../src/surfaces/kube/kube-watch.ts';
import { CutProxy } from './cut-proxy.ts';
import { KubeClient } from './kube-client.ts';
import { kubeConfigFor, suffix, waitFor } from './slice-fixtures.ts';

// Kubeconfig files are YAML; the parser is loaded on demand (kube-config.ts).
beforeAll(loadKubeconfigParser);

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const dir = mkdtempSync(join(tmpdir(), 'nc-kubeapi-'));
const ns = `kubeapi-${suffix()}`;
let relay: Server;
const sockets = new Set<Socket>();
let accepted = 0;
let relayUrl = '';

beforeAll(async () => {
  const target = new URL(cp.server);
  relay = createServer((client) => {
    accepted += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayUrl = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const r = await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  expect(r.status, r.text).toBe(201);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => relay.close(resolve));
  await kube.delete(`/api/v1/namespaces/${ns}`);
  rmSync(dir, { recursive: true, force: true });
});

/** A client certificate signed by the tier's CA (the API server's --client-ca-file): user `name` in group system:masters. */
function clientCert(name: string): { cert: string; key: string } {
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  writeFileSync(join(dir, `${name}.ext`), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=system:masters/CN=${name}`]);
  run(['x509', '-req', '-in', `${name}.csr`, '-CA', cp.caCertPath, '-CAkey', cp.caKeyPath, '-CAcreateserial', '-CAserial', join(dir, 'ca.srl'), '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

function kubeconfigFile(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'c', cluster: { server: cp.server, ...cluster } }], users: [{ name: 'u', user }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  }));
  return path;
}

const status = async (p: Promise<unknown>): Promise<{ status: number; reason: string }> => {
  const e = kubeError('op', await p.then(() => { throw new Error('expected a failure'); }, (err: unknown) => err));
  return { status: kubeStatus(e), reason: String(e.context['reason']) };
};

describe('authentication from kubeconfig files', () => {
  it('a client certificate and key as files (relative to the kubeconfig) and as inline data; the CA as a file', async () => {
    const { cert, key } = clientCert('nc-kubeapi-user');
    writeFileSync(join(dir, 'ca.pem'), cp.caPem);
    const files = new KubeApi(kubeconfigFileTarget(kubeconfigFile('files', { 'certificate-authority': 'ca.pem' }, { 'client-certificate': 'nc-kubeapi-user.crt', 'client-key': 'nc-kubeapi-user.key' })));
    const inline = new KubeApi(kubeconfigFileTarget(kubeconfigFile('inline', { 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') }, {
      'client-certificate-data': readFileSync(cert).toString('base64'), 'client-key-data': readFileSync(key).toString('base64'),
    })));
    for (const api of [files, inline]) {
      const review = await api.request<{ status: { userInfo: { username: string; groups: string[] } } }>({
        method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      expect(review.status.userInfo.username).toBe('nc-kubeapi-user');
      expect(review.status.userInfo.groups).toContain('system:masters');
      await api.close();
    }
  });

  it('a token file is read again once it is older than the refresh time (a rotated service-account token works)', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'not-a-token\n');
    const api = new KubeApi(kubeconfigFileTarget(kubeconfigFile('tokenfile', { 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') }, { tokenFile })), { credentialRefreshMs: 0 });
    expect(await status(api.request({ path: `/api/v1/namespaces/${ns}` }))).toEqual({ status: 401, reason: 'Unauthorized' });
    writeFileSync(tokenFile, `${cp.token}\n`);
    expect(await api.request<{ metadata: { name: string } }>({ path: `/api/v1/namespaces/${ns}` })).toMatchObject({ metadata: { name: ns } });
    await api.close();
  });

  it('a server certificate the CA did not sign is refused (no silent fallback to no verification)', async () => {
    const api = new KubeApi({ server: cp.server, source: 'test', token: { data: Buffer.from(cp.token) } });
    const e = kubeError('get', await api.request({ path: '/version' }).catch((err: unknown) => err));
    expect(kubeStatus(e)).toBe(0);
    const codes: string[] = [];
    for (let c = e.cause as { code?: unknown; cause?: unknown } | undefined, i = 0; c && i < 6; c = c.cause as typeof c, i++) codes.push(String(c.code));
    expect(codes.join(' ')).toMatch(/CERT|SELF_SIGNED|UNABLE_TO/);
  });
});

describe('kept connections', () => {
  async function connectionsFor(keepAlive: boolean, requests: number): Promise<number> {
    const api = new KubeApi(kubeConfigFor({ ...cp, server: relayUrl }, cp.token).target, { keepAlive });
    const before = accepted;
    for (let i = 0; i < requests; i++) await api.request({ path: '/api/v1/namespaces/default' });
    await pooledConnections(api).close();
    return accepted - before;
  }

  it('five requests share one connection; without keep-alive (client-node 2.0 behaviour) each opens its own', async () => {
    expect(await connectionsFor(true, 5)).toBe(1);
    expect(await connectionsFor(false, 5)).toBe(5);
  });
});

describe('statuses the callers branch on', () => {
  const cm = (name: string, extra: Record<string, unknown> = {}): unknown => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data: { a: '1' } });
  const path = `/api/v1/namespaces/${ns}/configmaps`;

  it('404 NotFound, 409 AlreadyExists on create, 409 Conflict on a stale update and on a failed delete precondition', async () => {
    const api = kubeConfigFor(cp, cp.token);
    expect(await status(api.request({ path: `${path}/none` }))).toEqual({ status: 404, reason: 'NotFound' });
    const made = await api.request<{ metadata: { uid: string; resourceVersion: string } }>({ method: 'POST', path, body: cm('one') });
    expect(await status(api.request({ method: 'POST', path, body: cm('one') }))).toEqual({ status: 409, reason: 'AlreadyExists' });
    await api.request({ method: 'PATCH', path: `${path}/one`, body: { data: { a: '2' } }, contentType: 'application/merge-patch+json' });
    expect(await status(api.request({ method: 'PUT', path: `${path}/one`, body: cm('one', { resourceVersion: made.metadata.resourceVersion }) }))).toEqual({ status: 409, reason: 'Conflict' });
    const precondition = { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: made.metadata.uid, resourceVersion: made.metadata.resourceVersion } };
    expect(await status(api.request({ method: 'DELETE', path: `${path}/one`, body: precondition }))).toEqual({ status: 409, reason: 'Conflict' });
    await api.request({ method: 'DELETE', path: `${path}/one`, body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: made.metadata.uid } } });
    expect(await status(api.request({ path: `${path}/one` }))).toEqual({ status: 404, reason: 'NotFound' });
    // The message is the API server's own, after the op (what the logs show).
    const e = kubeError('get configmap', await api.request({ path: `${path}/none` }).catch((err: unknown) => err));
    expect(e.message).toBe(`get configmap: 404 NotFound configmaps "none" not found`);
    await api.close();
  });
});

describe('watch', () => {
  it('delivers events, ends when the server\'s timeoutSeconds runs out, and resumes from the last version without repeats', async () => {
    const api = kubeConfigFor(cp, cp.token);
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const list = await api.request<{ metadata: { resourceVersion: string } }>({ path });
    const seen: string[] = [];
    let rv = list.metadata.resourceVersion;
    const watchOnce = (): Promise<unknown> => new Promise((resolve) => {
      void watchStream(api, path, { resourceVersion: rv, timeoutSeconds: 2, allowWatchBookmarks: true }, (type, obj) => {
        const md = (obj as { metadata: { name?: string; resourceVersion: string } }).metadata;
        rv = md.resourceVersion;
        if (type !== 'BOOKMARK') seen.push(`${type} ${md.name}`);
      }, resolve);
    });
    const first = watchOnce();
    await api.request({ method: 'POST', path, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1' } } });
    expect(await first).toBeNull(); // ended by the server, cleanly
    await api.request({ method: 'POST', path, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w2' } } }); // while no watch runs
    const second = watchOnce();
    await waitFor('w2 through the resumed watch', async () => seen.includes('ADDED w2'), 30_000);
    expect(await second).toBeNull();
    expect(seen.filter((s) => s.endsWith('w1') || s.endsWith('w2'))).toEqual(['ADDED w1', 'ADDED w2']);
    await api.close();
  });
});

describe('deadlines', () => {
  it('a server that stops answering fails the request after timeoutMs: "timed out", status 0, a TimeoutError below', async () => {
    const proxy = await CutProxy.start(cp.server);
    const api = kubeConfigFor({ ...cp, server: proxy.url }, cp.token);
    await api.request({ path: '/version' });
    proxy.hold();
    const t0 = Date.now();
    const err = await api.request({ path: '/version', timeoutMs: 300 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(err).not.toBeInstanceOf(KubeResponseError);
    const e = kubeError('get version', err);
    expect(isDriverError(e) && e.message).toBe('get version: timed out after 300 ms');
    expect(kubeStatus(e)).toBe(0);
    expect((e.cause as { cause?: { name?: string } }).cause?.name).toBe('TimeoutError');
    await api.close();
    await proxy.close();
  });
});
