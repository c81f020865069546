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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { runOptions } from '../../src/daemon/run-command.ts';
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
  evictUnreconciled: true,
  kubeletRootDir: '/data/kubelet',
  stateDir: '/data/netclaim',
  stateDirMountPropagation: 'Bidirectional',
  cdiDir: '/etc/cdi',
  netnsDir: '/run/netns',
  nri: { enabled: false, socket: '/var/run/nri/nri.sock', pluginIndex: '10' },
  rollingUpdate: { surge: false },
  metrics: { port: 9300 },
  serviceMonitor: { enabled: true, interval: '15s', scrapeTimeout: '5s', labels: { release: 'prometheus' } },
  validatingAdmissionPolicy: { enabled: false },
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
    name: 'NRI socket elsewhere, ServiceMonitor on', release: `nc-nri-${sfx}`,
    values: { nri: { enabled: true, socket: '/run/containerd/nri/nri.sock', pluginIndex: '05' }, serviceMonitor: { enabled: true }, deviceClasses: [] },
  },
];

function render(s: Scenario): KubeObject[] {
  const file = join(tmp, `${s.release}.yaml`);
  writeFileSync(file, stringify(s.values));
  return parseManifests(helmTemplate(helm, ['-f', file], ns, s.release));
}

const daemonSetOf = (objects: KubeObject[]): KubeObject => objects.find((o) => o.kind === 'DaemonSet')!;

interface Container {
  args: string[]; securityContext: Record<string, unknown>; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }>;
  livenessProbe: { httpGet: { port: number } }; startupProbe?: { exec: { command: string[] } };
}
interface PodSpec { containers: Container[]; volumes: Array<{ name: string; hostPath?: { path: string } }> }
const podSpecOf = (ds: KubeObject): PodSpec => (ds.spec!['template'] as { spec: PodSpec }).spec;

beforeAll(async () => {
  helm = helmBinary();
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
        const argv = c.args.slice(1).map((a) => a.replace('$(NODE_NAME)', 'node-x'));
        const o = runOptions(argv, { NODE_NAME: 'ignored', POD_UID: 'pod-uid' });
        expect(o.nodeName).toBe('node-x');
        const wanted = new Map<string, boolean>([ // mount path → read-only
          [`${o.kubeletRootDir}/plugins_registry`, false],
          [`${o.kubeletRootDir}/plugins/${o.driverName}`, false],
          [o.stateDir, false], [o.cdiDir, false],
          [String(s.values['netnsDir'] ?? '/var/run/netns'), true],
          ...(o.nriSocket === undefined ? [] : [[dirname(o.nriSocket), true] as [string, boolean]]),
        ]);
        const volumes = new Map(spec.volumes.map((v) => [v.name, v.hostPath?.path]));
        const mounted = new Map(c.volumeMounts.map((m) => [m.mountPath, { hostPath: volumes.get(m.name), readOnly: m.readOnly === true }]));
        expect(mounted).toEqual(new Map([...wanted].map(([p, readOnly]) => [p, { hostPath: p, readOnly }])));
        expect(spec.volumes.length).toBe(wanted.size);
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
      '--compat=dranet', '--no-nri', '--include-kind=macvlan,ipvlan', '--include-veth', '--taint-unhealthy', '--evict-unreconciled', '--exclude=eth0,ib*',
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
