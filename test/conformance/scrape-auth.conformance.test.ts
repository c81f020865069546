/**
 * Secure scraping's authorizer (src/surfaces/kube/scrape-auth.ts) against the
 * real kube-apiserver: a service account token is authenticated by a
 * TokenReview, and allowed to read /metrics only once RBAC grants `get` on
 * the non-resource URL /metrics (the ClusterRole the chart makes for
 * Prometheus, <release>-metrics-reader); a made-up token is 401. The
 * authorizer runs as the daemon's service account with the chart's
 * ClusterRole (metrics.secure.enabled), so the chart's RBAC is shown to be
 * enough.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { helmBinary, helmTemplate } from '../../scripts/gen-install-manifest.ts';
import { ObserveServer } from '../../src/observe/http-server.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { KubeApi } from '../../src/surfaces/kube/kube-api.ts';
import { kubeScrapeAuthorizer } from '../../src/surfaces/kube/scrape-auth.ts';
import { makeCa, makeServingCert } from '../fixtures/tls/make-certs.ts';
import { parseManifests, type KubeObject } from '../deploy/deploy-kube.ts';
import { KubeClient } from './kube-client.ts';
import { kubeConfigFor, suffix } from './slice-fixtures.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const sfx = suffix();
const ns = `nc-scrape-${sfx}`;
const release = `nc-scrape-${sfx}`;
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const cleanup: Array<() => Promise<unknown>> = [];
let objects: KubeObject[] = [];

async function must(what: string, p: Promise<{ status: number; text: string }>): Promise<void> {
  const r = await p;
  if (r.status !== 201 && r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
}

async function saToken(name: string): Promise<string> {
  const r = await kube.post<{ status: { token: string } }>(`/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } });
  expect(r.status, r.text).toBe(201);
  return r.body.status.token;
}

function kubeConfigWith(token: string): KubeApi {
  return kubeConfigFor(cp, token);
}

beforeAll(async () => {
  objects = parseManifests(helmTemplate(helmBinary(), ['--set', 'metrics.secure.enabled=true', '--set', 'metrics.secure.tlsSecretName=metrics-tls', '--set-json', 'deviceClasses=[]'], ns, release));
  await must('namespace', kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }));
  cleanup.push(() => kube.delete(`/api/v1/namespaces/${ns}`));
  for (const sa of [release, 'prometheus', 'stranger']) {
    await must(`sa ${sa}`, kube.post(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } }));
  }
  // The chart's ClusterRoles and the daemon's binding, as rendered.
  for (const o of objects.filter((x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding')) {
    const plural = o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings';
    await must(`${o.kind} ${o.metadata.name}`, kube.post(`${RBAC}/${plural}`, o));
    cleanup.push(() => kube.delete(`${RBAC}/${plural}/${o.metadata.name}`));
  }
}, 120_000);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe('scrape authorization through TokenReview and SubjectAccessReview', () => {
  it('the chart makes a metrics-reader ClusterRole: get on /metrics, nothing else', () => {
    const reader = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === `${release}-metrics-reader`) as unknown as { rules: unknown[] };
    expect(reader.rules).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
  });

  it('as the daemon\'s service account with the chart\'s RBAC: 401 for a made-up token, 403 for a token without the role, allowed once it is bound', async () => {
    const authorize = kubeScrapeAuthorizer({ kubeConfig: kubeConfigWith(await saToken(release)), ttlMs: 0 });
    expect(await authorize(undefined)).toMatchObject({ allowed: false, status: 401 });
    expect(await authorize('not-a-token')).toMatchObject({ allowed: false, status: 401 });
    const prometheus = await saToken('prometheus');
    expect(await authorize(prometheus)).toEqual({ allowed: false, status: 403, reason: expect.stringContaining(`system:serviceaccount:${ns}:prometheus may not get /metrics`) });
    await must('binding', kube.post(`${RBAC}/clusterrolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${release}-prometheus` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${release}-metrics-reader` },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: ns }],
    }));
    cleanup.push(() => kube.delete(`${RBAC}/clusterrolebindings/${release}-prometheus`));
    expect(await authorize(prometheus)).toEqual({ allowed: true });
    expect(await authorize(await saToken('stranger'))).toMatchObject({ allowed: false, status: 403 });
  });

  it('without the chart\'s RBAC the daemon cannot ask: 503, not an answer', async () => {
    const authorize = kubeScrapeAuthorizer({ kubeConfig: kubeConfigWith(await saToken('stranger')), ttlMs: 0 });
    expect(await authorize(await saToken('prometheus'))).toMatchObject({ allowed: false, status: 503, reason: expect.stringContaining('TokenReview failed') });
  });

  it('end to end: the daemon\'s metrics server over TLS answers Prometheus\'s token once bound, and the probes without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-scrape-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const ca = makeCa(dir);
    const cert = makeServingCert(ca, 'metrics');
    const server = new ObserveServer({
      bindAddress: '127.0.0.1:0', tls: { certFile: cert.cert, keyFile: cert.key }, metrics: createMetrics().registry,
      authorizeScrape: kubeScrapeAuthorizer({ kubeConfig: kubeConfigWith(await saToken(release)) }),
    });
    await server.listen();
    cleanup.push(() => server.close());
    const scrape = (path: string, token?: string): Promise<number> => new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: server.address().port, path, ca: ca.caPem, agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    expect(await scrape('/metrics')).toBe(401);
    expect(await scrape('/metrics', await saToken('stranger'))).toBe(403);
    expect(await scrape('/metrics', await saToken('prometheus'))).toBe(200); // bound in the test above
    expect(await scrape('/healthz')).toBe(200);
  });

  it('remembers an answer for ttlMs by the token\'s hash: a second scrape makes no API call', async () => {
    let calls = 0;
    const counting = kubeConfigWith(await saToken(release));
    const request = counting.request.bind(counting);
    counting.request = ((r: Parameters<typeof request>[0]) => {
      if (r.method === 'POST') calls++;
      return request(r);
    }) as typeof counting.request;
    const authorize = kubeScrapeAuthorizer({ kubeConfig: counting });
    const token = await saToken('stranger');
    const first = await authorize(token);
    expect(calls).toBe(2);
    expect(await authorize(token)).toEqual(first);
    expect(calls).toBe(2);
  });
});
