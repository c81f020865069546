/**
 * `netclaim webhook` through the real kube-apiserver: an AdmissionReview
 * round trip. The webhook server runs in this process on 127.0.0.1 with a
 * certificate from a CA made here (openssl); the ValidatingWebhookConfiguration
 * is the chart's own (deploy/helm/netclaim, webhook.enabled), rendered by
 * Helm, with its clientConfig pointed at that address (`url` + caBundle: this
 * API server has no Service network) and an objectSelector so that the other
 * conformance files, which share the API server, are never judged by it.
 *
 * Shown: invalid claims, templates and classes are refused at creation with
 * the field paths and messages `netclaim validate` prints; valid ones are
 * stored; a claim is held to the policy of the DeviceClass it names (read by
 * the webhook from the API server); a request through resource.k8s.io/v1beta2
 * is judged the same (matchPolicy Equivalent); and with the webhook down,
 * failurePolicy Fail refuses a claim carrying a netclaim config while a claim
 * without one is admitted (matchConditions), and Ignore admits both.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { helmBinary, helmTemplate } from '../../scripts/gen-install-manifest.ts';
import { runValidate } from '../../src/surfaces/cli/validate.ts';
import { KubeApi } from '../../src/surfaces/kube/kube-api.ts';
import { kubeconfigFileTarget, loadKubeconfigParser } from '../../src/surfaces/kube/kube-config.ts';
import { deviceClassReader } from '../../src/surfaces/webhook/device-classes.ts';
import { WebhookServer } from '../../src/surfaces/webhook/webhook-server.ts';
import { parseManifests, type KubeObject } from '../deploy/deploy-kube.ts';
import { makeCa, makeServingCert } from '../fixtures/tls/make-certs.ts';
import { KubeClient } from './kube-client.ts';
import { suffix } from './slice-fixtures.ts';

// Kubeconfig files are YAML; the parser is loaded on demand (kube-config.ts).
beforeAll(loadKubeconfigParser);

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const sfx = suffix();
const ns = `nc-webhook-${sfx}`;
const LABEL = 'netclaim.dev/webhook-test';
const VWC_PATH = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
const dir = mkdtempSync(join(tmpdir(), 'nc-webhook-conf-'));
const cleanup: Array<() => Promise<unknown>> = [];
let server: WebhookServer;
let vwc: KubeObject & { webhooks: Array<Record<string, unknown>> };

type Obj = Record<string, unknown>;
const meta = (name: string, namespaced = true): Obj => ({ name, ...(namespaced ? { namespace: ns } : {}), labels: { [LABEL]: sfx } });

function claim(name: string, parameters: unknown, o: { className?: string; driver?: string; version?: string } = {}): Obj {
  // v1beta2 has the same shape as v1 here (requests[].exactly).
  return {
    apiVersion: `resource.k8s.io/${o.version ?? 'v1'}`, kind: 'ResourceClaim', metadata: meta(name),
    spec: { devices: {
      requests: [{ name: 'nic', exactly: { deviceClassName: o.className ?? `nc-wh-${sfx}` } }],
      config: [{ requests: ['nic'], opaque: { driver: o.driver ?? 'netclaim.dev', parameters } }],
    } },
  };
}

const template = (name: string, parameters: unknown): Obj => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: meta(name),
  spec: { spec: claim(name, parameters)['spec'] },
});

const deviceClass = (name: string, parameters: unknown): Obj => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: meta(name, false),
  spec: { selectors: [{ cel: { expression: 'device.driver == "netclaim.dev"' } }], config: [{ opaque: { driver: 'netclaim.dev', parameters } }] },
});

const collection = (o: Obj): string => {
  const [group, version] = String(o['apiVersion']).split('/');
  const plural = { ResourceClaim: 'resourceclaims', ResourceClaimTemplate: 'resourceclaimtemplates', DeviceClass: 'deviceclasses' }[String(o['kind'])]!;
  return o['kind'] === 'DeviceClass' ? `/apis/${group}/${version}/${plural}` : `/apis/${group}/${version}/namespaces/${ns}/${plural}`;
};

async function create(o: Obj): Promise<{ status: number; message: string; causes: Array<{ field?: string; message?: string }> }> {
  const r = await kube.post<{ message?: string; details?: { causes?: Array<{ field?: string; message?: string }> } }>(collection(o), o);
  if (r.status === 201) {
    const path = `${collection(o)}/${(o['metadata'] as { name: string }).name}`;
    cleanup.push(() => kube.delete(path));
  }
  return { status: r.status, message: r.body?.message ?? r.text, causes: r.body?.details?.causes ?? [] };
}

/** What `netclaim validate` prints for the objects (each problem line without its `FILE: ` label). */
async function validateLines(...objects: Obj[]): Promise<string[]> {
  const files = objects.map((o, i) => {
    const f = join(dir, `${sfx}-${Math.random().toString(36).slice(2)}-${i}.json`);
    writeFileSync(f, JSON.stringify(o));
    return f;
  });
  const out: string[] = [];
  await runValidate(files, (l) => out.push(l), () => {});
  return out.filter((l) => !/: (ok|skipped) \(/.test(l)).map((l) => l.slice(l.indexOf(': ') + 2));
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Puts the configuration (a changed failurePolicy), and waits until the API server acts on it. */
async function putVwc(change: (w: Record<string, unknown>) => void): Promise<void> {
  const cur = await kube.get<typeof vwc>(`${VWC_PATH}/${vwc.metadata.name}`);
  expect(cur.status).toBe(200);
  cur.body.webhooks.forEach(change);
  const r = await kube.put(`${VWC_PATH}/${vwc.metadata.name}`, cur.body);
  expect(r.status, r.text).toBe(200);
}

beforeAll(async () => {
  const ca = makeCa(dir);
  const cert = makeServingCert(ca, 'webhook');
  // The tier's kubeconfig file (bearer token, CA data), read as `netclaim webhook --kubeconfig` reads it.
  const kubeConfig = new KubeApi(kubeconfigFileTarget(cp.kubeconfigPath));
  server = new WebhookServer({
    bindAddress: '127.0.0.1:0', tls: { certFile: cert.cert, keyFile: cert.key },
    drivers: new Set(['netclaim.dev']), deviceClass: deviceClassReader({ kubeConfig }),
  });
  await server.listen();
  const url = `https://127.0.0.1:${server.address().port}/validate`;

  // The chart's configuration, as Helm renders it, pointed here.
  const rendered = parseManifests(helmTemplate(helmBinary(), ['--set', 'webhook.enabled=true'], ns, `nc-wh-${sfx}`));
  vwc = rendered.find((o) => o.kind === 'ValidatingWebhookConfiguration') as typeof vwc;
  expect(vwc.webhooks.map((w) => w['name'])).toEqual(['resourceclaims.netclaim.dev', 'resourceclaimtemplates.netclaim.dev', 'deviceclasses.netclaim.dev']);
  vwc.metadata = { name: `nc-webhook-${sfx}` };
  for (const w of vwc.webhooks) {
    w['clientConfig'] = { url, caBundle: Buffer.from(ca.caPem).toString('base64') };
    w['objectSelector'] = { matchLabels: { [LABEL]: sfx } };
    w['failurePolicy'] = 'Fail';
  }
  const r = await kube.post(VWC_PATH, vwc);
  expect(r.status, r.text).toBe(201);
  cleanup.push(() => kube.delete(`${VWC_PATH}/${vwc.metadata.name}`));
  expect((await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })).status).toBe(201);
  cleanup.push(() => kube.delete(`/api/v1/namespaces/${ns}`));
  // The API server loads webhook configurations from an informer: wait until ours is in force.
  await until('the webhook configuration in force', 60_000, async () => {
    const probe = claim(`probe-${sfx}`, { interface: { mtu: 'x' } });
    const res = await kube.post(`${collection(probe)}?dryRun=All`, probe);
    return res.status === 422 ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('netclaim webhook, called by kube-apiserver', () => {
  it('refuses an invalid ResourceClaim at creation with validate\'s field paths and messages, and stores a valid one', async () => {
    const bad = claim('bad', { interface: { mtu: 'jumbo', name: 'a/b' } });
    const r = await create(bad);
    expect(r.status).toBe(422);
    const lines = await validateLines(bad);
    expect(lines).toHaveLength(2);
    expect(r.message).toBe(`admission webhook "resourceclaims.netclaim.dev" denied the request: invalid netclaim config: ${lines.join('; ')}`);
    expect(r.causes.map((c) => `${c.field}: ${c.message}`)).toEqual(lines);
    expect((await kube.get(`${collection(bad)}/bad`)).status).toBe(404);
    expect((await create(claim('good', { interface: { name: 'net1', mtu: 9000 } }))).status).toBe(201);
  });

  it('refuses an invalid ResourceClaimTemplate, stores a valid one', async () => {
    const bad = template('bad-t', { routes: [{ destination: '10.0.0.0/8', gateway: 'not-an-ip' }] });
    const r = await create(bad);
    expect(r.status).toBe(422);
    const lines = await validateLines(bad);
    expect(lines.length).toBeGreaterThan(0);
    expect(r.message).toBe(`admission webhook "resourceclaimtemplates.netclaim.dev" denied the request: invalid netclaim config: ${lines.join('; ')}`);
    expect(lines[0]).toMatch(/^spec\.spec\.devices\.config\[0\]\.opaque\.parameters\.routes\[0\]\.gateway: /);
    expect((await create(template('good-t', { interface: { mtu: 1500 } }))).status).toBe(201);
  });

  it('refuses an invalid DeviceClass (on create and on update), stores a valid one', async () => {
    const bad = deviceClass(`nc-wh-bad-${sfx}`, { interface: { mtu: -5 } });
    const r = await create(bad);
    expect(r.status).toBe(422);
    expect(r.message).toBe(`admission webhook "deviceclasses.netclaim.dev" denied the request: invalid netclaim config: ${(await validateLines(bad)).join('; ')}`);
    expect((await create(deviceClass(`nc-wh-${sfx}`, { interface: { mtu: 9000 } }))).status).toBe(201);
    const cur = await kube.get<Obj & { spec: { config: Array<{ opaque: { parameters: unknown } }> } }>(`/apis/resource.k8s.io/v1/deviceclasses/nc-wh-${sfx}`);
    cur.body.spec.config[0]!.opaque.parameters = { interface: { mtu: 'big' } };
    const u = await kube.put<{ message: string }>(`/apis/resource.k8s.io/v1/deviceclasses/nc-wh-${sfx}`, cur.body);
    expect(u.status).toBe(422);
    expect(u.body.message).toContain('spec.config[0].opaque.parameters.interface.mtu: must be an integer');
  });

  it('holds a claim to the policy of the DeviceClass it names, read from the API server (the message names class and field)', async () => {
    // nc-wh-<sfx> exists (previous test): its policy is the default one, which keeps disableEbpfPrograms for the admin.
    const c = claim('ebpf', { interface: { disableEbpfPrograms: true } });
    const r = await create(c);
    expect(r.status).toBe(422);
    const cls = (await kube.get<Obj>(`/apis/resource.k8s.io/v1/deviceclasses/nc-wh-${sfx}`)).body;
    const lines = await validateLines(cls, c);
    expect(lines).toEqual([expect.stringContaining(`DeviceClass "nc-wh-${sfx}"`)]);
    expect(lines[0]).toMatch(/^spec\.devices\.config\[0\]\.opaque\.parameters\.interface\.disableEbpfPrograms: /);
    expect(r.message).toBe(`admission webhook "resourceclaims.netclaim.dev" denied the request: invalid netclaim config: ${lines[0]}`);
  });

  it('judges a claim sent through resource.k8s.io/v1beta2 the same (converted to v1: matchPolicy Equivalent)', async (ctx) => {
    if (!cp.resourceVersions.includes('v1beta2')) ctx.skip(`resource.k8s.io/v1beta2 is not served by ${cp.version}`);
    const r = await create(claim('bad-v1beta2', { interface: { mtu: 'x' } }, { version: 'v1beta2' }));
    expect(r.status).toBe(422);
    expect(r.message).toContain('spec.devices.config[0].opaque.parameters.interface.mtu: must be an integer, got string "x"');
  });

  it('a claim of another driver is never sent to it', async () => {
    const before = (await server.registry.getSingleMetric('netclaim_webhook_reviews_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    expect((await create(claim('other', { anything: 'goes' }, { driver: 'gpu.example.com' }))).status).toBe(201);
    const after = (await server.registry.getSingleMetric('netclaim_webhook_reviews_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    expect(after).toBe(before);
  });

  it('while it is down: failurePolicy Fail refuses claims carrying a netclaim config (only those), Ignore admits them', async () => {
    await server.close();
    const down = await create(claim('down-fail', { interface: { mtu: 1500 } }));
    expect(down.status).toBe(500);
    // "connection refused", or "EOF" when the API server held a kept-alive connection the close cut.
    expect(down.message).toMatch(/^Internal error occurred: failed calling webhook "resourceclaims\.netclaim\.dev": /);
    // matchConditions: a claim without a netclaim config does not wait on the webhook.
    expect((await create(claim('down-other', {}, { driver: 'gpu.example.com' }))).status).toBe(201);
    await putVwc((w) => { w['failurePolicy'] = 'Ignore'; });
    let n = 0;
    await until('failurePolicy Ignore in force', 60_000, async () => {
      const r = await create(claim(`down-ignore-${n++}`, { interface: { mtu: 1500 } }));
      return r.status === 201 ? true : undefined;
    });
    // Unchecked while down: an invalid claim is admitted, and refused later at Prepare.
    expect((await create(claim('down-invalid', { interface: { mtu: 'x' } }))).status).toBe(201);
  });
});
