/**
 * deploy/examples/ and the chart without a cluster: every example passes
 * `netclaim validate` as a user runs it; every netclaim attribute a CEL
 * selector names is one the driver publishes (with its published type); the
 * job examples share one claim template; the chart follows package.json.
 * (The API server's checks are in *.conformance.test.ts beside this file.)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ATTRIBUTES, CLOUD_ATTRIBUTES } from '../../src/inventory/attributes/names.ts';
import { readManifests } from './deploy-kube.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'deploy/examples');
const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
const JOB_FILES = ['jobset.yaml', 'mpijob.yaml', 'pytorchjob.yaml', 'leaderworkerset.yaml'];

/** Every CEL expression in an object (selectors of classes, claims and templates; any depth). */
function celExpressions(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(celExpressions);
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => (k === 'expression' && typeof x === 'string' ? [x] : celExpressions(x)));
}

describe('deploy/examples', () => {
  it('every file passes `netclaim validate` (exit 0), and each claim file has netclaim configs', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/netclaim.js'), 'validate', ...files.map((f) => join(EXAMPLES, f))], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status, r.stdout).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.every((l) => / ok \(| skipped \(/.test(l)), r.stdout).toBe(true);
    for (const f of files.filter((x) => x !== 'deviceclasses.yaml')) {
      expect(lines.some((l) => l.startsWith(join(EXAMPLES, f)) && /\d+ netclaim\.dev configs?\)/.test(l)), `${f}: no netclaim config validated`).toBe(true);
    }
  });

  it('CEL selectors name only attributes netclaim publishes (the cloud ones included)', () => {
    const known = new Set<string>([...ATTRIBUTES, ...CLOUD_ATTRIBUTES]);
    const used = files.flatMap((f) => readManifests(join(EXAMPLES, f)).flatMap(celExpressions))
      .flatMap((e) => [...e.matchAll(/device\.attributes\["netclaim\.dev"\]\.\??([A-Za-z_]\w*)/g)].map((m) => m[1]!));
    expect(used.length).toBeGreaterThan(4);
    expect(used.filter((a) => !known.has(a))).toEqual([]);
  });

  it('the job examples request RDMA NICs through the same ResourceClaimTemplate', () => {
    const templates = JOB_FILES.map((f) => readManifests(join(EXAMPLES, f)).find((o) => o.kind === 'ResourceClaimTemplate'));
    expect(templates.every((t) => t?.metadata.name === 'rdma-nics')).toBe(true);
    for (const t of templates.slice(1)) expect(t).toEqual(templates[0]);
    // And each shows the hints netclaim injects.
    for (const f of JOB_FILES) expect(readFileSync(join(EXAMPLES, f), 'utf8')).toMatch(/NCCL_SOCKET_IFNAME==net1,net2[\s\S]*NCCL_IB_HCA==[\s\S]*UCX_NET_DEVICES=/);
  });

  it('the GCE block example packs one job per block by node label (JobSet exclusive placement) and pairs GPUs and NICs by matchAttribute', () => {
    const objects = readManifests(join(EXAMPLES, 'jobset-gce-block.yaml'));
    const jobset = objects.find((o) => o.kind === 'JobSet')!;
    expect((jobset.metadata as { annotations?: Record<string, string> }).annotations?.['alpha.jobset.sigs.k8s.io/exclusive-topology']).toBe('cloud.google.com/gce-topology-block');
    const t = objects.find((o) => o.kind === 'ResourceClaimTemplate')!;
    expect((t.spec!['spec'] as { devices: { constraints: unknown[] } }).devices.constraints)
      .toContainEqual({ requests: ['gpu', 'nic'], matchAttribute: 'resource.kubernetes.io/pcieRoot' });
  });

  it('the GPU+NIC example aligns them on resource.kubernetes.io/pcieRoot', () => {
    const t = readManifests(join(EXAMPLES, 'gpu-nic-alignment.yaml')).find((o) => o.kind === 'ResourceClaimTemplate')!;
    expect((t.spec!['spec'] as { devices: { constraints: unknown } }).devices.constraints).toEqual([{ requests: ['gpu', 'nic'], matchAttribute: 'resource.kubernetes.io/pcieRoot' }]);
  });
});

describe('deploy/helm/netclaim', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const chart = parse(readFileSync(join(ROOT, 'deploy/helm/netclaim/Chart.yaml'), 'utf8')) as { version: string; appVersion: string };

  it('has the version of package.json, so the default image tag is this release', () => {
    expect([chart.version, chart.appVersion]).toEqual([pkg.version, pkg.version]);
  });

  it('deploy/install.yaml names the image ghcr.io/netclaim/netclaim:<version>', () => {
    expect(readFileSync(join(ROOT, 'deploy/install.yaml'), 'utf8')).toContain(`image: ghcr.io/netclaim/netclaim:${pkg.version}\n`);
  });

  it('values.schema.json lists every key of values.yaml (and values.yaml sets every top-level key)', () => {
    const values = parse(readFileSync(join(ROOT, 'deploy/helm/netclaim/values.yaml'), 'utf8')) as Record<string, unknown>;
    const schema = JSON.parse(readFileSync(join(ROOT, 'deploy/helm/netclaim/values.schema.json'), 'utf8')) as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(values).sort()).toEqual(Object.keys(schema.properties).sort());
  });
});
