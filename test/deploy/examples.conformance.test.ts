/**
 * Every object in deploy/examples/ passes a server-side dry-run against the
 * real kube-apiserver (strict field validation: an unknown or misspelt field
 * fails). The job kinds (JobSet, MPIJob, PyTorchJob, LeaderWorkerSet) are not
 * served by a bare API server: minimal CRDs make it check their envelope, and
 * their pod templates are dry-run as Pods (and JobSet's job templates as
 * Jobs), so the part that carries the resource claims is validated in full.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../conformance/kube-client.ts';
import { suffix } from '../conformance/slice-fixtures.ts';
import { ApiPaths, dryRunCreate, ensureOperatorCrds, objectName, podTemplates, readManifests, type KubeObject } from './deploy-kube.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const paths = new ApiPaths(kube);
const EXAMPLES = fileURLToPath(new URL('../../deploy/examples/', import.meta.url));
const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
const ns = `examples-${suffix()}`;

const JOB_KINDS = new Set(['JobSet', 'MPIJob', 'PyTorchJob', 'LeaderWorkerSet']);

beforeAll(async () => {
  const r = await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  expect(r.status, r.text).toBe(201);
  // Pods are admitted only with their service account; no controller makes `default` here.
  const sa = await kube.post(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  expect(sa.status, sa.text).toBe(201);
  await ensureOperatorCrds(kube, paths);
});

afterAll(async () => {
  await kube.delete(`/api/v1/namespaces/${ns}`);
});

describe('deploy/examples', () => {
  it('has the examples the docs name', () => {
    expect(files).toEqual(expect.arrayContaining([
      'deviceclasses.yaml', 'resourceclaim-full.yaml', 'resourceclaimtemplate.yaml', 'gpu-nic-alignment.yaml',
      'jobset.yaml', 'mpijob.yaml', 'pytorchjob.yaml', 'leaderworkerset.yaml',
    ]));
  });

  for (const file of files) {
    const objects = readManifests(join(EXAMPLES, file));

    it(`${file}: every object passes a server-side dry-run`, async () => {
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) {
        const r = await dryRunCreate(kube, paths, o, ns);
        expect(r.status, `${file}: ${objectName(o)}: ${r.text}`).toBe(201);
      }
    });

    const jobs = objects.filter((o: KubeObject) => JOB_KINDS.has(o.kind));
    if (jobs.length) {
      it(`${file}: the pod templates of ${jobs.map(objectName).join(', ')} pass a dry-run as Pods/Jobs, each with its resource claim`, async () => {
        for (const job of jobs) {
          const templates = podTemplates(job);
          expect(templates.length, `${objectName(job)}: no pod template found`).toBeGreaterThan(0);
          for (const t of templates) {
            const r = await dryRunCreate(kube, paths, t.object, ns);
            expect(r.status, `${file}: ${objectName(job)} ${t.where}: ${r.text}`).toBe(201);
          }
          // Every pod that runs the workload names a claim from the file's template (the MPI launcher needs none).
          const claimed = templates.filter((t) => t.object.kind === 'Pod' && JSON.stringify(t.object.spec?.['resourceClaims'] ?? []).includes('rdma-nics'));
          expect(claimed.length, `${objectName(job)}: pods with the rdma-nics claim`).toBeGreaterThanOrEqual(job.kind === 'MPIJob' ? 1 : templates.filter((t) => t.object.kind === 'Pod').length);
        }
      });
    }
  }

  it('a misspelt field fails the dry-run (the check is not a rubber stamp)', async () => {
    const [claim] = readManifests(join(EXAMPLES, 'resourceclaimtemplate.yaml'));
    const bad = structuredClone(claim!);
    (bad.spec!['spec'] as { devices: Record<string, unknown> }).devices['requestz'] = [];
    const r = await dryRunCreate(kube, paths, bad, ns);
    expect(r.status).toBe(400);
    expect(r.text).toContain('requestz');
  });

  it('a CEL selector that does not compile fails the dry-run', async () => {
    const r = await dryRunCreate(kube, paths, {
      apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: `bad-${suffix()}` },
      spec: { selectors: [{ cel: { expression: 'device.attributes["netclaim.dev"].speed >=' } }] },
    });
    expect(r.status).toBe(422);
  });
});
