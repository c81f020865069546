/**
 * The Helm chart (deploy/helm/netclaim), with the Helm CLI built from Go
 * modules (test/deploy/build-helm.sh): `helm lint` passes, values.schema.json
 * refuses bad values, and the chart renders — with its defaults and with every
 * knob turned — to objects that pass a server-side dry-run against the real
 * kube-apiserver, whose DaemonSet arguments the daemon's own flag parser
 * accepts, and whose host paths are exactly the ones those flags name.
 * (install.conformance.test.ts checks that deploy/install.yaml is the
 * default rendering.)
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { runOptions } from '../../src/daemon/run-command.ts';
import { compileDeviceFilter } from '../../src/inventory/filter-cel.ts';
import { webhookArgs } from '../../src/surfaces/webhook/webhook-command.ts';
import { makeCa, makeServingCert } from '../fixtures/tls/make-certs.ts';
import { CHART_DIR, helmBinary, helmTemplate } from '../../scripts/gen-install-manifest.ts';
import { KubeClient } from '../conformance/kube-client.ts';
import { suffix } from '../conformance/slice-fixtures.ts';
import { ApiPaths, dryRunCreate, ensureOperatorCrds, objectName, parseManifests, type KubeObject } from './deploy-kube.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const paths = new ApiPaths(kube);
const sfx = suffix();
const ns = `nc-chart-${sfx}`;
const tmp = mkdtempSync(join(tmpdir(), 'nc-chart-'));
let helm = '';

/** Every knob away from its default. */
const EVERYTHING = {
  image: { repository: 'registry.example.com/netclaim', tag: 'dev', pullPolicy: 'Always' },
  imagePullSecrets: [{ name: 'regcred' }],
  logLevel: 'debug',
  filter: 'device.attributes["dra.net"].rdma == true || device.attributes["dra.net"].virtual == false',
  exclude: ['eth0', 'ib*'],
  includeKinds: ['macvlan', 'ipvlan'],
  includeVeth: true,
  compat: 'dranet',
  taintUnhealthy: true,
  taintUnhealthyNoExecute: true,
  listAttributes: true,
  evictUnreconciled: true,
  kubeletRootDir: '/data/kubelet',
  stateDir: '/data/netclaim',
  stateDirMountPropagation: 'Bidirectional',
  cdiDir: '/etc/cdi',
  netnsDir: '/run/netns',
  nri: { enabled: false, socket: '/var/run/nri/nri.sock', pluginIndex: '10' },
  rollingUpdate: { surge: false },
  metrics: {
    port: 9300, podAnnotations: true, service: { enabled: true, annotations: { 'example.com/scrape': 'on-demand' } },
    secure: { enabled: true, tlsSecretName: '', certManager: { enabled: true, issuerRef: { name: 'ca-issuer', kind: 'ClusterIssuer', group: 'cert-manager.io' } } },
  },
  serviceMonitor: { enabled: true, interval: '15s', scrapeTimeout: '5s', labels: { release: 'prometheus' } },
  validatingAdmissionPolicy: { enabled: false },
  webhook: {
    enabled: true, replicas: 2, failurePolicy: 'Fail', timeoutSeconds: 3, port: 10250, classPolicy: false,
    certManager: { enabled: true, issuerRef: {}, duration: '720h', renewBefore: '240h' }, generatedCertDays: 30,
    resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '96Mi' } },
    nodeSelector: { 'node-role.kubernetes.io/control-plane': '' }, tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
    affinity: {}, podAnnotations: { 'example.com/team': 'net' }, podLabels: { team: 'net' },
  },
  deviceClasses: [
    { name: `nc-${sfx}-rdma`, expression: 'device.attributes["dra.net"].rdma == true', config: { interface: { mtu: 9000 }, rdma: { workloadEnv: true } }, extendedResourceName: 'rdma/rdma_shared_device_a' },
    { name: `nc-${sfx}-any` },
  ],
  privileged: true,
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: 1, memory: '512Mi' } },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' }],
  nodeSelector: { 'feature.node.kubernetes.io/network-sriov.capable': 'true' },
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] }] }] } } },
  priorityClassName: '',
  terminationGracePeriodSeconds: 60,
  podAnnotations: { 'example.com/team': 'net' },
  podLabels: { team: 'net' },
  serviceAccount: { annotations: { 'example.com/owner': 'net' } },
};

interface Scenario { name: string; release: string; values: Record<string, unknown> }
const SCENARIOS: Scenario[] = [
  // The defaults, except the names that are cluster-wide (install.conformance.test.ts has the real ones).
  { name: 'default values', release: `nc-def-${sfx}`, values: { deviceClasses: [{ name: `nc-def-${sfx}` }] } },
  { name: 'every knob turned', release: `nc-all-${sfx}`, values: EVERYTHING },
  {
    name: 'NRI socket elsewhere, the early attach on, ServiceMonitor on', release: `nc-nri-${sfx}`,
    values: {
      nri: { enabled: true, socket: '/run/containerd/nri/nri.sock', pluginIndex: '05', earlyAttach: { enabled: true, containerdSocket: '/run/k3s/containerd/containerd.sock' } },
      serviceMonitor: { enabled: true }, deviceClasses: [],
    },
  },
  {
    name: 'webhook with the certificate the chart generates, secure metrics from a given Secret', release: `nc-wh-${sfx}`,
    values: { webhook: { enabled: true }, metrics: { port: 9177, secure: { enabled: true, tlsSecretName: 'my-metrics-tls' } }, deviceClasses: [] },
  },
];

/** Test certificate files standing in for the ones the pods mount from Secrets (the flag parsers read them). */
let certFiles: { cert: string; key: string } | undefined;
const inTmp = (args: string[]): string[] => args.map((a) => a
  .replace(/=\/(tls|etc\/netclaim\/metrics-tls)\/tls\.crt$/, `=${certFiles!.cert}`)
  .replace(/=\/(tls|etc\/netclaim\/metrics-tls)\/tls\.key$/, `=${certFiles!.key}`));

function render(s: Scenario): KubeObject[] {
  const file = join(tmp, `${s.release}.yaml`);
  writeFileSync(file, stringify(s.values));
  return parseManifests(helmTemplate(helm, ['-f', file], ns, s.release));
}

const daemonSetOf = (objects: KubeObject[]): KubeObject => objects.find((o) => o.kind === 'DaemonSet')!;
const webhookContainer = (dep: KubeObject): Container => (dep.spec!['template'] as { spec: PodSpec }).spec.containers[0]!;

interface Container {
  args: string[]; securityContext: Record<string, unknown>; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }>;
  livenessProbe: { httpGet: { port: number | string; scheme?: string; path?: string } }; startupProbe?: { exec: { command: string[] } };
}
interface PodSpec { containers: Container[]; volumes: Array<{ name: string; hostPath?: { path: string } }> }
const podSpecOf = (ds: KubeObject): PodSpec => (ds.spec!['template'] as { spec: PodSpec }).spec;

beforeAll(async () => {
  helm = helmBinary();
  const ca = makeCa(tmp);
  certFiles = makeServingCert(ca, 'pod');
  const r = await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  expect(r.status, r.text).toBe(201);
  await ensureOperatorCrds(kube, paths);
}, 900_000); // a cold Helm build (go build from modules) takes minutes

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await kube.delete(`/api/v1/namespaces/${ns}`);
});

describe('the Helm chart', () => {
  it('passes helm lint --strict, with its defaults and with every knob turned', () => {
    execFileSync(helm, ['lint', '--strict', CHART_DIR], { stdio: 'pipe' });
    const file = join(tmp, 'everything.yaml');
    writeFileSync(file, stringify(EVERYTHING));
    execFileSync(helm, ['lint', '--strict', CHART_DIR, '-f', file], { stdio: 'pipe' });
  });

  for (const s of SCENARIOS) {
    describe(s.name, () => {
      let objects: KubeObject[] = [];
      beforeAll(() => {
        objects = render(s);
      });

      it('renders objects that pass a server-side dry-run', async () => {
        expect(objects.length).toBeGreaterThan(4);
        for (const o of objects) {
          const r = await dryRunCreate(kube, paths, o, ns);
          if (s.values['privileged'] === true && o.kind === 'DaemonSet') {
            // This API server runs with --allow-privileged=false (its default; kubeadm and managed
            // clusters set true): that refusal, and nothing else, is what must come back.
            const causes = (r.body as { details?: { causes?: Array<{ field?: string; message?: string }> } }).details?.causes ?? [];
            expect(causes, `${objectName(o)}: ${r.text}`).toEqual([{ reason: 'FieldValueForbidden', field: 'spec.template.spec.containers[0].securityContext.privileged', message: 'Forbidden: disallowed by cluster policy' }]);
            continue;
          }
          expect(r.status, `${objectName(o)}: ${r.text}`).toBe(201);
        }
      });

      it('whose DaemonSet arguments the daemon\'s flag parser accepts, with the host paths they name mounted, and no others', () => {
        const spec = podSpecOf(daemonSetOf(objects));
        const c = spec.containers[0]!;
        expect(c.args[0]).toBe('run');
        const argv = inTmp(c.args.slice(1).map((a) => a.replace('$(NODE_NAME)', 'node-x')));
        // KUBERNETES_SERVICE_HOST/PORT: what the kubelet sets in every pod; the chart passes no --kubeconfig, so the daemon uses its service account.
        const o = runOptions(argv, { NODE_NAME: 'ignored', POD_UID: 'pod-uid', KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, compileDeviceFilter);
        expect(o.nodeName).toBe('node-x');
        expect(o.kubeConfig.target.source).toBe('in-cluster');
        const wanted = new Map<string, boolean>([ // mount path → read-only
          [`${o.kubeletRootDir}/plugins_registry`, false],
          [`${o.kubeletRootDir}/plugins/${o.driverName}`, false],
          [o.stateDir, false], [o.cdiDir, false],
          [String(s.values['netnsDir'] ?? '/var/run/netns'), true],
          ...(o.nriSocket === undefined ? [] : [[dirname(o.nriSocket), true] as [string, boolean]]),
          ...(o.containerdSocket === undefined ? [] : [[dirname(o.containerdSocket), true] as [string, boolean]]),
        ]);
        expect(o.containerdSocket).toBe(s.name.includes('early attach') ? '/run/k3s/containerd/containerd.sock' : undefined);
        // containerd's directory holds containers' mounts: the host's unmounts must reach this pod's copy.
        if (o.containerdSocket !== undefined) expect(c.volumeMounts.find((m) => m.mountPath === dirname(o.containerdSocket!))?.mountPropagation).toBe('HostToContainer');
        const hostPaths = spec.volumes.filter((v) => v.hostPath !== undefined);
        const volumes = new Map(hostPaths.map((v) => [v.name, v.hostPath?.path]));
        const mounted = new Map(c.volumeMounts.filter((m) => volumes.has(m.name)).map((m) => [m.mountPath, { hostPath: volumes.get(m.name), readOnly: m.readOnly === true }]));
        expect(mounted).toEqual(new Map([...wanted].map(([p, readOnly]) => [p, { hostPath: p, readOnly }])));
        expect(hostPaths.length).toBe(wanted.size);
        // Besides the host paths, only the metrics certificate's Secret, and only with secure metrics.
        const others = spec.volumes.filter((v) => v.hostPath === undefined).map((v) => v.name);
        expect(others).toEqual(o.metricsTls ? ['metrics-tls'] : []);
        expect(o.metricsAuth === true).toBe(o.metricsTls !== undefined);
      });
    });
  }

  it('every knob reaches the objects', () => {
    const objects = render(SCENARIOS[1]!);
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Service', 'ServiceMonitor']));
    expect(kinds).not.toContain('ValidatingAdmissionPolicy');
    const ds = daemonSetOf(objects);
    const spec = podSpecOf(ds);
    const c = spec.containers[0]!;
    expect(c.args).toEqual(expect.arrayContaining([
      '--compat=dranet', '--no-nri', '--include-kind=macvlan,ipvlan', '--include-veth', '--taint-unhealthy', '--taint-unhealthy-noexecute', '--list-attributes', '--evict-unreconciled', '--exclude=eth0,ib*',
      `--filter=${EVERYTHING.filter}`, '--metrics-address=:9300', '--log-level=debug', '--kubelet-root-dir=/data/kubelet',
    ]));
    expect(c.args).not.toContain('--rolling-update'); // surge off: the old pod stops first
    expect(ds.spec!['updateStrategy']).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
    expect(c.securityContext['privileged']).toBe(true);
    expect(c.volumeMounts.find((m) => m.mountPath === '/data/netclaim')?.mountPropagation).toBe('Bidirectional');
    expect(c.livenessProbe.httpGet.port).toBe(9300);
    expect(c.startupProbe).toBeUndefined(); // surge off: no old pod answers its probes
    const role = objects.find((o) => o.kind === 'ClusterRole') as unknown as { rules: Array<{ resources: string[] }> };
    expect(role.rules.flatMap((r) => r.resources)).toContain('pods/eviction');
    const rdma = objects.find((o) => o.kind === 'DeviceClass' && o.metadata.name.endsWith('-rdma'))!;
    expect(rdma.spec).toEqual({
      selectors: [{ cel: { expression: 'device.driver == "netclaim.dev" && (device.attributes["dra.net"].rdma == true)' } }],
      extendedResourceName: 'rdma/rdma_shared_device_a',
      config: [{ opaque: { driver: 'netclaim.dev', parameters: { interface: { mtu: 9000 }, rdma: { workloadEnv: true } } } }],
    });
    const sm = objects.find((o) => o.kind === 'ServiceMonitor')!;
    expect(sm.metadata.labels).toMatchObject({ release: 'prometheus' });
    // Secure metrics: HTTPS probes, TLS + token checks in the daemon, RBAC for them, a reader role for Prometheus.
    expect(c.args).toEqual(expect.arrayContaining(['--metrics-tls-cert-file=/etc/netclaim/metrics-tls/tls.crt', '--metrics-tls-private-key-file=/etc/netclaim/metrics-tls/tls.key', '--metrics-auth']));
    expect((c.livenessProbe.httpGet as { scheme?: string }).scheme).toBe('HTTPS');
    expect((ds.spec!['template'] as { metadata: { annotations: Record<string, string> } }).metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true', 'prometheus.io/port': '9300', 'prometheus.io/scheme': 'https', 'example.com/team': 'net',
    });
    expect(role.rules.flatMap((r) => r.resources)).toEqual(expect.arrayContaining(['tokenreviews', 'subjectaccessreviews']));
    const reader = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-metrics-reader')) as unknown as { rules: unknown[] };
    expect(reader.rules).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    expect((sm.spec!['endpoints'] as Array<Record<string, unknown>>)[0]).toMatchObject({ scheme: 'https', tlsConfig: { serverName: `${SCENARIOS[1]!.release}-metrics.${ns}.svc` } });
    const certs = objects.filter((o) => o.kind === 'Certificate');
    expect(certs.map((o) => (o.spec!['issuerRef'] as { name: string }).name).sort()).toEqual(['ca-issuer', `${SCENARIOS[1]!.release}-webhook`]);
    // The webhook: its own Deployment (2 replicas, a PDB), cert-manager's certificate injected, Fail.
    const dep = objects.find((o) => o.kind === 'Deployment')!;
    expect(dep.spec!['replicas']).toBe(2);
    expect(kinds).toEqual(expect.arrayContaining(['PodDisruptionBudget', 'ValidatingWebhookConfiguration', 'Issuer']));
    expect(kinds).not.toContain('Secret');
    const wc = webhookContainer(dep);
    expect(wc.args).toEqual(expect.arrayContaining(['--listen-address=:10250', '--no-class-policy']));
    const a = webhookArgs(inTmp(wc.args.slice(1)));
    expect(a.kubeConfig).toBeUndefined();
    expect(a.server.bindAddress).toBe(':10250');
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
    expect(vwc.metadata['annotations']).toEqual({ 'cert-manager.io/inject-ca-from': `${ns}/${SCENARIOS[1]!.release}-webhook` });
    for (const w of vwc['webhooks'] as Array<Record<string, unknown>>) {
      expect(w).toMatchObject({ failurePolicy: 'Fail', timeoutSeconds: 3, clientConfig: { service: { name: `${SCENARIOS[1]!.release}-webhook`, namespace: ns, port: 443, path: '/validate' } } });
      expect((w['clientConfig'] as Record<string, unknown>)['caBundle']).toBeUndefined();
    }
    expect(objects.some((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-webhook'))).toBe(false); // classPolicy off: no API access
  });

  it('the webhook with the certificate the chart generates: a CA in the caBundle that signed the serving certificate for the Service', () => {
    const objects = render(SCENARIOS[3]!);
    const release = SCENARIOS[3]!.release;
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === `${release}-webhook-tls`) as unknown as { type: string; data: Record<string, string> };
    expect(secret.type).toBe('kubernetes.io/tls');
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
    const webhooks = vwc['webhooks'] as Array<{ name: string; failurePolicy: string; clientConfig: { caBundle: string } }>;
    expect(webhooks.map((w) => w.name)).toEqual(['resourceclaims.netclaim.dev', 'resourceclaimtemplates.netclaim.dev', 'deviceclasses.netclaim.dev']);
    for (const w of webhooks) expect(w).toMatchObject({ failurePolicy: 'Ignore', clientConfig: { caBundle: secret.data['ca.crt'] } });
    const ca = new X509Certificate(Buffer.from(secret.data['ca.crt']!, 'base64'));
    const cert = new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64'));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost(`${release}-webhook.${ns}.svc`)).toBe(`${release}-webhook.${ns}.svc`);
    expect(cert.checkPrivateKey(createPrivateKey(Buffer.from(secret.data['tls.key']!, 'base64')))).toBe(true);
    // The pod: not root, nothing added, the Secret mounted where its flags say; HTTPS probes.
    const dep = objects.find((o) => o.kind === 'Deployment')!;
    const wc = webhookContainer(dep);
    expect(wc.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect((dep.spec!['template'] as { spec: { securityContext: Record<string, unknown> } }).spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(wc.livenessProbe.httpGet).toMatchObject({ scheme: 'HTTPS', path: '/healthz' });
    const a = webhookArgs(inTmp(wc.args.slice(1)));
    expect(a.server.tls).toEqual({ certFile: certFiles!.cert, keyFile: certFiles!.key });
    expect(wc.args.slice(1, 3)).toEqual(['--tls-cert-file=/tls/tls.crt', '--tls-private-key-file=/tls/tls.key']);
    expect(objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === `${release}-webhook`)).toMatchObject({ rules: [{ apiGroups: ['resource.k8s.io'], resources: ['deviceclasses'], verbs: ['get'] }] });
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('the defaults run unprivileged with NET_ADMIN and SYS_ADMIN only, and update by surge (the new pod registers before the old leaves)', () => {
    const ds = daemonSetOf(render(SCENARIOS[0]!));
    const c = podSpecOf(ds).containers[0]!;
    expect(c.securityContext).toEqual({
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN'] },
      readOnlyRootFilesystem: true, runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.args).toContain('--rolling-update');
    expect(ds.spec!['updateStrategy']).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    // The surge pod's own registration socket gates its HTTP probes (the old pod shares their port).
    expect(c.startupProbe!.exec.command.slice(0, 2)).toEqual(['/nodejs/bin/node', '-e']);
    expect(c.startupProbe!.exec.command[2]).toContain("'/var/lib/kubelet/plugins_registry/netclaim.dev-' + process.env.POD_UID + '-reg.sock'");
    // ... and its start marker: the socket comes before the runtime's NRI Synchronize, the marker after it.
    expect(c.startupProbe!.exec.command[2]).toContain("'/var/lib/kubelet/plugins/netclaim.dev/instance-' + process.env.POD_UID + '.started'");
    expect(c.volumeMounts.find((m) => m.mountPath === '/var/lib/netclaim')?.mountPropagation).toBeUndefined();
    expect((ds.spec!['template'] as { spec: { hostNetwork: boolean } }).spec.hostNetwork).toBe(true);
  });

  it.each([
    ['an unknown key', ['--set', 'nri.enable=true'], 'enable'],
    ['a log level that does not exist', ['--set', 'logLevel=loud'], 'logLevel'],
    ['a compat mode other than dranet', ['--set', 'compat=calico'], 'compat'],
    ['a one-digit NRI plugin index', ['--set-string', 'nri.pluginIndex=1'], 'pluginIndex'],
    ['a port given as a string', ['--set-string', 'metrics.port=9177'], 'port'],
    ['a DeviceClass name that is not a DNS subdomain', ['--set', 'deviceClasses[0].name=Bad_Name'], 'name'],
    ['an extended resource name in the kubernetes.io domain', ['--set', 'deviceClasses[0].extendedResourceName=kubernetes.io/nic'], 'extendedResourceName'],
    ['an extended resource name without a domain', ['--set', 'deviceClasses[0].extendedResourceName=nic'], 'extendedResourceName'],
    ['a relative state directory', ['--set', 'stateDir=var/lib/netclaim'], 'stateDir'],
    ['an exclude glob with a comma', ['--set-json', 'exclude=["eth0,eth1"]'], 'exclude'],
    ['a state directory propagation other than None and Bidirectional', ['--set', 'stateDirMountPropagation=HostToContainer'], 'stateDirMountPropagation'],
    ['a webhook failurePolicy other than Ignore and Fail', ['--set', 'webhook.failurePolicy=Retry'], 'failurePolicy'],
    ['a webhook timeout over the API server\'s 30 s', ['--set', 'webhook.timeoutSeconds=60'], 'timeoutSeconds'],
    ['an unknown metrics.secure key', ['--set', 'metrics.secure.token=x'], 'token'],
  ])('values.schema.json refuses %s: helm template fails', (_what, args, key) => {
    let message = '';
    try {
      helmTemplate(helm, args, ns);
    } catch (err) {
      message = String((err as { stderr?: string }).stderr ?? err);
    }
    expect(message).toMatch(/schema/i);
    expect(message).toContain(key);
  });

  it('refuses secure metrics without a certificate (neither a Secret nor cert-manager)', () => {
    let message = '';
    try {
      helmTemplate(helm, ['--set', 'metrics.secure.enabled=true'], ns);
    } catch (err) {
      message = String((err as { stderr?: string }).stderr ?? err);
    }
    expect(message).toContain('metrics.secure.enabled needs a certificate');
  });

  it('refuses stateDirMountPropagation: Bidirectional without privileged: true (Kubernetes would)', () => {
    let message = '';
    try {
      helmTemplate(helm, ['--set', 'stateDirMountPropagation=Bidirectional'], ns);
    } catch (err) {
      message = String((err as { stderr?: string }).stderr ?? err);
    }
    expect(message).toContain('stateDirMountPropagation: Bidirectional needs privileged: true');
  });
});
