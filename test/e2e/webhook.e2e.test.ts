/**
 * The admission webhook on the e2e node: `netclaim webhook` runs as a real
 * process (bin/netclaim.js, as users start it) in the host network namespace,
 * where this tier's kube-apiserver runs, and the chart's
 * ValidatingWebhookConfiguration (webhook.enabled) is registered with its
 * clientConfig pointed there (`url` + caBundle). Why not the chart's
 * Deployment: the API server here has no route to the node's pod network or
 * to Service IPs (no kube-proxy on the host side; the api bridge only carries
 * the node's calls *to* the API server), so a Service-backed webhook could
 * not be called (docs/e2e.md, docs/webhook.md).
 *
 * Shown on a real node with its scheduler and controllers: an invalid claim
 * and an invalid template are refused at creation, with validate's message;
 * a claim setting a field the chart's DeviceClass keeps for the admin is
 * refused, naming class and field; and a pod whose valid template passes the
 * webhook (the controller's claim creation is judged too) gets its device.
 * The chart's own webhook Deployment is also run on the node and called from
 * inside it: its pod starts from the image as a non-root user with the
 * chart-generated certificate and passes its HTTPS probes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { helmTemplate } from '../../scripts/gen-install-manifest.ts';
import { freePort } from '../conformance/control-plane.ts';
import { parseManifests } from '../deploy/deploy-kube.ts';
import { makeCa, makeServingCert } from '../fixtures/tls/make-certs.ts';
import { until } from './node/e2e-node.ts';
import { applyObject, collectionPath, renderChart } from './node/netclaim-chart.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, containerLinks, deleteAndWait, deleteDevice, ensureNamespace, onNode, podObject,
  publishedDevice, request, waitPodReady, type Obj,
} from './node/workloads.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-webhook';
const VWC = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/netclaim-e2e-webhook';
const repo = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nc-e2e-webhook-'));
const cleanups: Array<() => unknown> = [];
let webhook: ChildProcess | undefined;
let port = 0;
let caPem = '';
let webhookLog = '';

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: caPem, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

async function post(path: string, o: Obj): Promise<{ status: number; message: string }> {
  const r = await api.post<{ message?: string }>(path, o);
  return { status: r.status, message: r.body?.message ?? r.text };
}

const claims = `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`;
const templates = `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaimtemplates`;

beforeAll(async () => {
  await ensureNamespace(api, ns);
  const ca = makeCa(dir);
  const cert = makeServingCert(ca, 'webhook');
  caPem = ca.caPem;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'e2e',
    clusters: [{ name: 'e2e', cluster: { server: node.server, 'certificate-authority-data': Buffer.from(node.caPem).toString('base64') } }],
    users: [{ name: 'admin', user: { token: node.token } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin' } }],
  }), { mode: 0o600 });
  port = await freePort();
  webhook = spawn(join(repo, 'node_modules/.bin/node'), [join(repo, 'bin/netclaim.js'), 'webhook',
    `--tls-cert-file=${cert.cert}`, `--tls-private-key-file=${cert.key}`, `--listen-address=127.0.0.1:${port}`, `--kubeconfig=${kubeconfig}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  webhook.stdout!.on('data', (c: Buffer) => { webhookLog += c.toString(); });
  webhook.stderr!.on('data', (c: Buffer) => { webhookLog += c.toString(); });
  await until('netclaim webhook serving /healthz', 60_000, async () => ((await get('/healthz')).status === 200 ? true : undefined), () => webhookLog);

  // The chart's configuration, pointed at the process and limited to this file's namespace.
  const rendered = parseManifests(helmTemplate(node.bins.helm, ['--set', 'webhook.enabled=true', '--set', 'webhook.failurePolicy=Fail']));
  const vwc = rendered.find((o) => o.kind === 'ValidatingWebhookConfiguration')! as unknown as Obj & { webhooks: Obj[] };
  vwc['metadata'] = { name: 'netclaim-e2e-webhook' };
  for (const w of vwc.webhooks) {
    w['clientConfig'] = { url: `https://127.0.0.1:${port}/validate`, caBundle: Buffer.from(caPem).toString('base64') };
    if (w['name'] !== 'deviceclasses.netclaim.dev') w['namespaceSelector'] = { matchLabels: { 'kubernetes.io/metadata.name': ns } };
  }
  await api.delete(VWC);
  const r = await api.post('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', vwc);
  expect(r.status, r.text).toBe(201);
  cleanups.push(() => api.delete(VWC));
  await until('the webhook configuration in force', 60_000, async () => {
    const probe = claimObject(ns, 'probe', claimSpec([request('nic', 'true')], { interface: { mtu: 'x' } }));
    return (await api.post(`${claims}?dryRun=All`, probe)).status === 422 ? true : undefined;
  });
}, 300_000);

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  if (webhook && webhook.exitCode === null) {
    webhook.kill('SIGTERM');
    await new Promise((r) => webhook!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('netclaim webhook on the e2e node', () => {
  it('refuses an invalid ResourceClaim and an invalid ResourceClaimTemplate at creation, naming the field', async () => {
    const c = await post(claims, claimObject(ns, 'bad', claimSpec([request('nic', 'true')], { interface: { mtu: 'jumbo' } })));
    expect(c).toEqual({ status: 422, message: 'admission webhook "resourceclaims.netclaim.dev" denied the request: invalid netclaim config: spec.devices.config[0].opaque.parameters.interface.mtu: must be an integer, got string "jumbo"' });
    const t = await post(templates, { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'bad-t', namespace: ns }, spec: { spec: claimSpec([request('nic', 'true')], { routes: [{ destination: 'nowhere' }] }) } });
    expect(t.status).toBe(422);
    expect(t.message).toMatch(/^admission webhook "resourceclaimtemplates\.netclaim\.dev" denied the request: invalid netclaim config: spec\.spec\.devices\.config\[0\]\.opaque\.parameters\.routes\[0\]\.destination: /);
  });

  it('refuses a claim that sets a field the chart\'s DeviceClass keeps for the admin, naming class and field', async () => {
    const c = await post(claims, claimObject(ns, 'ebpf', claimSpec([request('nic', 'true')], { interface: { disableEbpfPrograms: true } })));
    expect(c.status).toBe(422);
    expect(c.message).toContain('spec.devices.config[0].opaque.parameters.interface.disableEbpfPrograms: ');
    expect(c.message).toContain('DeviceClass "netclaim"');
  });

  it('a pod whose template is valid: the template and the claim the controller makes from it pass, and the pod gets its device', async () => {
    cleanups.push(addLower(node, 'ncwhlow'));
    addMacvlan(node, { name: 'ncwha', lower: 'ncwhlow', addresses: ['192.168.73.5/24'] });
    cleanups.push(() => deleteDevice(node, 'ncwha'));
    await publishedDevice(node, 'ncwha');
    const t = await post(templates, { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic', namespace: ns }, spec: { spec: claimSpec([request('nic', byIfName('ncwha'))], { interface: { name: 'net1', mtu: 1400 } }) } });
    expect(t.status, t.message).toBe(201);
    expect((await post(`/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimTemplateName: 'nic' }]))).status).toBe(201);
    const pod = await waitPodReady(node, ns, 'p1');
    expect(containerLinks(node, pod).find((l) => l.ifname === 'net1')?.mtu).toBe(1400);
    const m = (await get('/metrics')).body;
    expect(m).toMatch(/netclaim_webhook_reviews_total\{kind="ResourceClaimTemplate",allowed="true"\} [1-9]/);
    // The controller's CREATE of the pod's claim went through the webhook and was admitted (the other claims here were refused).
    expect(m).toMatch(/netclaim_webhook_reviews_total\{kind="ResourceClaim",allowed="true"\} [1-9]/);
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
  });

  it('the chart\'s webhook Deployment runs on the node (the image as uid 65532, the generated certificate, HTTPS probes) and answers a review', async () => {
    // Everything of the webhook but its configuration: the API server could not call the Service (above).
    const objects = renderChart(node.bins.helm, { webhook: { enabled: true } })
      .filter((o) => (o['metadata'] as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/name'] === 'netclaim-webhook' && o['kind'] !== 'ValidatingWebhookConfiguration');
    expect(objects.map((o) => o['kind']).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Secret', 'Service', 'ServiceAccount']);
    for (const o of objects) {
      await applyObject(api, o);
      cleanups.push(() => api.delete(`${collectionPath(o)}/${(o['metadata'] as { name: string }).name}`));
    }
    const sel = encodeURIComponent('app.kubernetes.io/name=netclaim-webhook');
    type P = { status?: { podIP?: string; conditions?: Array<{ type: string; status: string }> } };
    const pod = await until('the webhook Deployment\'s pod Ready (its HTTPS probes pass)', 120_000, async () => {
      const r = await api.get<{ items: P[] }>(`/api/v1/namespaces/netclaim/pods?labelSelector=${sel}`);
      const p = r.body.items.find((x) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return p?.status?.podIP ? p : undefined;
    });
    const secret = objects.find((o) => o['kind'] === 'Secret')! as { data: Record<string, string> };
    writeFileSync(join(dir, 'chart-ca.crt'), Buffer.from(secret.data['ca.crt']!, 'base64'));
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: { uid: 'e2e-1', operation: 'CREATE', kind: { group: 'resource.k8s.io', version: 'v1', kind: 'ResourceClaim' }, object: claimObject(ns, 'x', claimSpec([request('nic', 'true')], { interface: { mtu: 'x' } })) },
    });
    // From inside the node (the pod network is there), verifying the chart's CA for the Service's name.
    const out = onNode(node, 'curl', ['-sS', '--max-time', '10', '--cacert', join(dir, 'chart-ca.crt'), '--resolve', `netclaim-webhook.netclaim.svc:9443:${pod.status!.podIP!}`,
      '-H', 'content-type: application/json', '--data', review, 'https://netclaim-webhook.netclaim.svc:9443/validate']);
    expect(JSON.parse(out)).toMatchObject({ response: { uid: 'e2e-1', allowed: false, status: { message: 'invalid netclaim config: spec.devices.config[0].opaque.parameters.interface.mtu: must be an integer, got string "x"' } } });
  });
});
