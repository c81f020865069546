/**
 * The IPAM CRDs (IPPool, IPAllocation) as the chart ships them, installed into
 * a test API server: read from deploy/install.yaml, so the tests exercise the
 * very schema users get. Already installed: fine (test files may race).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifests } from '../deploy/deploy-kube.ts';
import type { KubeClient } from './kube-client.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function ensureIpamCrds(kube: KubeClient, deadlineMs = 30_000): Promise<void> {
  const crds = readManifests(join(ROOT, 'deploy/install.yaml')).filter((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name.endsWith('.netclaim.dev'));
  if (crds.length !== 2) throw new Error(`expected the two netclaim.dev CRDs in deploy/install.yaml, found ${crds.length}`);
  for (const c of crds) {
    const r = await kube.post('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', c);
    if (r.status !== 201 && r.status !== 409) throw new Error(`CRD ${c.metadata.name}: ${r.status} ${r.text.slice(0, 300)}`);
  }
  const until = Date.now() + deadlineMs;
  for (;;) {
    const r = await kube.get<{ resources?: { name: string }[] }>('/apis/netclaim.dev/v1alpha1');
    const names = new Set((r.status === 200 ? r.body.resources ?? [] : []).map((x) => x.name));
    if (names.has('ippools') && names.has('ipallocations')) return;
    if (Date.now() > until) throw new Error(`netclaim.dev CRDs not served after ${deadlineMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
