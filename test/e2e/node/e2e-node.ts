/**
 * The whole node of the e2e tier (T4), assembled from upstream parts built from Go
 * modules, with netclaim deployed on it as the Helm chart (deploy/install.yaml) deploys it:
 *
 *   host netns, loopback     etcd + kube-apiserver (the conformance tier's fixture),
 *                            kube-scheduler, kube-controller-manager
 *   node (node-sandbox.ts)   containerd 2.x (CRI, NRI and CDI on, runc, CNI bridge),
 *                            the kubelet (cgroupfs, cgroup v1), netclaim (the DaemonSet's
 *                            pod, from its image; or, with NETCLAIM_E2E_DAEMON=process, a
 *                            process with the DaemonSet's args, env and service account),
 *                            and the pods
 *
 * The node reaches the API server at https://127.0.0.1:6443 of its own namespace, and
 * in-cluster clients at the `kubernetes` Service's https://10.96.0.1:443 (api-bridge.ts).
 * The local OCI images (pause, tools, netclaim) are imported into containerd before the
 * kubelet starts, so nothing is pulled.
 *
 *   const node = await startE2eNode({ log });   ...   await node.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { helmBinary } from '../../../scripts/gen-install-manifest.ts';
import { listedFeatureGates, startControlPlane, type ControlPlane } from '../../conformance/control-plane.ts';
import { KubeClient } from '../../conformance/kube-client.ts';
import { unixToTcp } from './api-bridge.ts';
import { cniBinDir, GATE_PLUGIN } from './cni-gate.ts';
import { applyChart, applyObject, daemonSetOf, renderChart } from './netclaim-chart.ts';
import { NODE_IP, SERVICE_IP, startNodeSandbox, sweepStaleSandboxes, type NodeSandbox } from './node-sandbox.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');
const nodeBin = join(repo, 'node_modules', '.bin', 'node');
export const NODE_NAME = 'nc-e2e-node';
/** Run dirs of e2e nodes (on disk: containerd's overlay snapshots live there). */
export const RUN_ROOT = '/var/tmp/netclaim-e2e';
export const API_PORT_IN_NODE = 6443;
export const TOOLS_IMAGE = 'netclaim.test/e2e-tools:1';

/**
 * How netclaim runs on the node: `pod` (default), the chart's DaemonSet, whose pod the
 * kubelet starts from the image; `process` (NETCLAIM_E2E_DAEMON=process, for debugging
 * the daemon with the node's tools at hand), a process inside the node with the
 * DaemonSet's args, env and service account token.
 */
export type DaemonMode = 'pod' | 'process';
/** The kubelet's klog level: 2 by default (the e2e timeline reads its v=2 lines); a bench run that traces the kubelet's own path sets more (NETCLAIM_E2E_KUBELET_V=6). */
const KUBELET_VERBOSITY = /^\d$/.test(process.env['NETCLAIM_E2E_KUBELET_V'] ?? '') ? process.env['NETCLAIM_E2E_KUBELET_V']! : '2';
export const DAEMON_MODE: DaemonMode = process.env['NETCLAIM_E2E_DAEMON'] === 'process' ? 'process' : 'pod';

export interface E2eBins {
  /** kube-apiserver, etcd */
  controlPlane: string;
  /** kubelet, kube-scheduler, kube-controller-manager */
  k8s: string;
  /** containerd, containerd-shim-runc-v2, ctr, crictl, CNI plugins (bridge, host-local, loopback) */
  runtime: string;
  /** pause.oci.tar, tools.oci.tar */
  images: string;
  /** helm (test/deploy/build-helm.sh) */
  helm: string;
}

/** Runs a build script that prints its output folder last (they reuse a matching build). */
export function buildOutput(script: string): string {
  const r = spawnSync('bash', [join(repo, script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status ?? r.signal})`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

export function resolveBins(): E2eBins {
  return {
    controlPlane: buildOutput('test/conformance/build.sh'),
    k8s: buildOutput('test/e2e/node-k8s/build.sh'),
    runtime: buildOutput('test/e2e/runtime/build-runtime.sh'),
    images: buildOutput('test/e2e/images/build-images.sh'),
    helm: helmBinary(),
  };
}

export interface DaemonDeployment {
  /** The DaemonSet container's args. */
  args: string[];
  namespace: string;
  serviceAccount: string;
  /** Every object of the rendering (install.yaml's form: Namespace first, DaemonSet among them). */
  objects: Array<Record<string, unknown>>;
}

type DsShape = { metadata: { namespace: string }; spec: { template: { spec: { serviceAccountName: string; containers: Array<{ name: string; args: string[] }> } } } };

/** What the chart, with the e2e value and `values`, says about running netclaim. */
export function readDeployment(helm: string, values: Record<string, unknown> = {}): DaemonDeployment {
  const objects = renderChart(helm, values);
  const ds = daemonSetOf(objects) as unknown as DsShape;
  return { args: ds.spec.template.spec.containers[0]!.args, namespace: ds.metadata.namespace, serviceAccount: ds.spec.template.spec.serviceAccountName, objects };
}

/** What test files (other processes) need to use a running node. */
export interface E2eNodeState {
  /** The API server on the host's loopback, for the tests. */
  server: string;
  token: string;
  caPem: string;
  /** The API server as the node's processes reach it. */
  nodeServer: string;
  dir: string;
  logs: string;
  netns: string;
  holderPid: number;
  cgroupRoot: string;
  nodeName: string;
  driverName: string;
  bins: E2eBins;
  /** How netclaim runs: the DaemonSet's pod, or a process (NETCLAIM_E2E_DAEMON=process). */
  daemonMode: DaemonMode;
  /** kubeconfig with a token of netclaim's service account bound to the Node (process mode). */
  netclaimKubeconfig: string;
  /** The DaemonSet container's args from the chart with the e2e value. */
  daemonArgs: string[];
  /** The netclaim image in the node's containerd (the chart's default name), and its OCI archive. */
  netclaimImage: string;
  netclaimImageArchive: string;
  version: string;
  /** Milliseconds per start step. */
  timings: Record<string, number>;
}

export interface E2eNode {
  state: E2eNodeState;
  cp: ControlPlane;
  sandbox: NodeSandbox;
  api: KubeClient;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, diag?: () => string, pollMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}${diag ? `\n${diag()}` : ''}`);
    await sleep(pollMs);
  }
}

export function tail(path: string, lines = 30): string {
  try {
    return `--- ${path}\n${readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
  } catch {
    return `--- ${path}: (no log)`;
  }
}

function gatesFor(bin: string, wanted: Record<string, boolean>): string {
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8', maxBuffer: 16 << 20 }).stdout;
  const listed = listedFeatureGates(help);
  return Object.entries(wanted).filter(([g]) => listed.has(g)).map(([g, v]) => `${g}=${v}`).join(',');
}

function kubeconfigFor(server: string, caPem: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}
users:
- name: u
  user:
    token: ${token}
contexts:
- name: e2e
  context: {cluster: e2e, user: u}
current-context: e2e
`;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (m, k: string) => {
    if (!(k in values)) throw new Error(`containerd config template: no value for ${m}`);
    return values[k]!;
  });
}

/** The sandbox image build-images.sh made (images.txt lists "archive name" lines). */
function pauseImage(imagesDir: string): string {
  const line = readFileSync(join(imagesDir, 'images.txt'), 'utf8').split('\n').find((l) => l.includes('pause'));
  const name = line?.split(/\s+/).find((w) => w.includes('pause:'));
  if (!name) throw new Error(`no pause image in ${imagesDir}/images.txt`);
  return name;
}

function kubeletConfig(cgroupRoot: string, gates: string): string {
  const featureGates = gates ? gates.split(',').map((g) => `  ${g.replace('=', ': ')}`).join('\n') : '';
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine mounts cgroup v1 controllers (plus an empty v2 hierarchy); the kubelet
# still runs on v1 when told so (deprecated, not removed, in 1.37).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: ${cgroupRoot}
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
address: ${NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
failSwapOn: false
# The node's disk is the development machine's: never evict or collect images for space here.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
# Pod status reaches the API server without the default 10 s batching delay.
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
# The chaos test (test/e2e/chaos) SIGKILLs netclaim's container hundreds of times: with the
# default cap (5 min) the kubelet's crash-loop back-off would leave the node without netclaim
# for minutes. KubeletCrashLoopBackOffMax (beta, on by default since 1.35) lowers the cap.
crashLoopBackOff: {maxContainerRestartPeriod: 2s}
${featureGates ? `featureGates:\n${featureGates}\n` : ''}`;
}

function cniConfig(): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'nc-e2e',
    plugins: [
      // First: holds a sandbox a test names, else nothing (./cni-gate.ts).
      { type: GATE_PLUGIN },
      { type: 'bridge', bridge: 'nce2ebr0', isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] } },
    ],
  }, null, 2);
}

export async function startE2eNode(opts: { log?: (l: string) => void; bins?: E2eBins } = {}): Promise<E2eNode> {
  const log = opts.log ?? ((): void => {});
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const t = Date.now();
    const v = await f();
    timings[name] = Date.now() - t;
    log(`${name}: ${timings[name]} ms`);
    return v;
  };
  const bins = opts.bins ?? (await step('builds', () => resolveBins()));
  await step('bundle', () => {
    const r = spawnSync(nodeBin, [join(repo, 'scripts', 'bundle.ts')], { cwd: repo, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run bundle failed: ${r.stderr}`);
  });
  // The image the DaemonSet runs: this bundle on a distroless-like base (reused while both match).
  const netclaimImageDir = await step('netclaim image', () => buildOutput('test/e2e/images/build-netclaim-image.sh'));
  mkdirSync(RUN_ROOT, { recursive: true });
  sweepStaleSandboxes(RUN_ROOT, log);
  const dir = mkdtempSync(join(RUN_ROOT, 'run-'));
  const id = randomBytes(3).toString('hex');
  const deployment = readDeployment(bins.helm);
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
  };

  try {
    // Privileged containers allowed (kubeadm's and managed clusters' setting): the chart's
    // `privileged: true` is one of the things the tier deploys.
    const cp = await step('control plane', () => startControlPlane({ nodeNames: [NODE_NAME], log, extraArgs: ['--allow-privileged=true'] }));
    cleanups.push(() => cp.stop());
    const api = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
    const sandbox = await step('node sandbox', () => startNodeSandbox({ id, dir, log }));
    cleanups.push(() => sandbox.stop());
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });

    // The API server, as the node sees it.
    const bridgeSock = join(dir, 'apiserver.sock');
    const port = Number(new URL(cp.server).port);
    const hostBridge = await unixToTcp(bridgeSock, '127.0.0.1', port);
    cleanups.push(() => hostBridge.close());
    sandbox.spawn(nodeBin, [join(here, 'api-bridge.ts'), 'tcp-to-unix', String(API_PORT_IN_NODE), bridgeSock, `${SERVICE_IP}:443`], join(logs, 'api-bridge.log'));
    const nodeServer = `https://127.0.0.1:${API_PORT_IN_NODE}`;
    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfig, kubeconfigFor(nodeServer, cp.caPem, cp.token), { mode: 0o600 });
    const hostAdminKubeconfig = cp.kubeconfigPath;

    // Control-plane controllers, on the host side next to the API server.
    const gates = cp.featureGates;
    await step('scheduler + controller-manager', async () => {
      const launch = (bin: string, args: string[], name: string): ChildProcess => {
        const fd = openSync(join(logs, `${name}.log`), 'a');
        const c = spawn(bin, args, { stdio: ['ignore', fd, fd] });
        closeSync(fd);
        cleanups.push(async () => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          const exited = new Promise<void>((r) => c.once('exit', () => r()));
          c.kill('SIGTERM');
          const t = setTimeout(() => c.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
        });
        return c;
      };
      const schedBin = join(bins.k8s, 'kube-scheduler');
      launch(schedBin, ['--kubeconfig', hostAdminKubeconfig, '--authentication-kubeconfig', hostAdminKubeconfig, '--authorization-kubeconfig', hostAdminKubeconfig,
        '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0', `--feature-gates=${gatesFor(schedBin, gates)}`, '--v=2'], 'kube-scheduler');
      const cmBin = join(bins.k8s, 'kube-controller-manager');
      launch(cmBin, ['--kubeconfig', hostAdminKubeconfig, '--authentication-kubeconfig', hostAdminKubeconfig, '--authorization-kubeconfig', hostAdminKubeconfig,
        '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0', '--use-service-account-credentials=false',
        '--service-account-private-key-file', join(cp.dir, 'sa.key'), '--root-ca-file', cp.caCertPath,
        '--controllers=*', `--feature-gates=${gatesFor(cmBin, gates)}`, '--v=2'], 'kube-controller-manager');
    });

    // containerd, and the local images.
    const runtimeConfig = join(dir, 'containerd.toml');
    mkdirSync(join(dir, 'cni-conf'), { recursive: true });
    writeFileSync(join(dir, 'cni-conf', '10-nc-e2e.conflist'), cniConfig());
    writeFileSync(runtimeConfig, fill(readFileSync(join(repo, 'test/e2e/runtime/containerd-config.toml.tmpl'), 'utf8'), {
      ROOT: '/var/lib/containerd', STATE: '/run/containerd', SOCKET: '/run/containerd/containerd.sock',
      NRI_SOCKET: '/var/run/nri/nri.sock', CDI_DIR: '/var/run/cdi', CNI_BIN: cniBinDir(dir, bins.runtime), CNI_CONF: join(dir, 'cni-conf'),
      SHIM_SOCKET_DIR: '/run/containerd/s', RUNC: '/usr/sbin/runc', PAUSE_IMAGE: pauseImage(bins.images),
      // The node's /run is its own: pod netns under /var/run/netns, the chart's netnsDir.
      NETNS_MOUNTS_UNDER_STATE_DIR: 'false',
      // Every container needs netclaim's NRI plugin, but those of pods that tolerate its absence (netclaim's own).
      NRI_REQUIRED_PLUGINS: "['netclaim.dev']",
    }));
    const pathEnv = { PATH: `${bins.runtime}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
    await step('containerd', async () => {
      const c = sandbox.spawn(join(bins.runtime, 'containerd'), ['--config', runtimeConfig], join(logs, 'containerd.log'), pathEnv);
      await until('containerd', 60_000, () => {
        if (c.exitCode !== null) throw new Error(`containerd exited ${c.exitCode}`);
        return sandbox.exec(join(bins.runtime, 'ctr'), ['--address', '/run/containerd/containerd.sock', 'version']).status === 0 || undefined;
      }, () => tail(join(logs, 'containerd.log')));
    });
    await step('image import', () => {
      for (const img of [join(bins.images, 'pause.oci.tar'), join(bins.images, 'tools.oci.tar'), join(netclaimImageDir, 'netclaim.oci.tar')]) {
        const r = sandbox.exec(join(bins.runtime, 'ctr'), ['--address', '/run/containerd/containerd.sock', '-n', 'k8s.io', 'images', 'import', '--local', img], { timeoutMs: 120_000 });
        if (r.status !== 0) throw new Error(`ctr images import ${img}: ${r.stderr}`);
      }
    });

    // The kubelet, as system:node:<name> (Node authorizer + NodeRestriction apply).
    await step('kubelet', async () => {
      const kubeletBin = join(bins.k8s, 'kubelet');
      const cfg = join(dir, 'kubelet.yaml');
      writeFileSync(cfg, kubeletConfig(sandbox.cgroupRoot, gatesFor(kubeletBin, gates)));
      const kc = join(dir, 'kubelet.kubeconfig');
      writeFileSync(kc, kubeconfigFor(nodeServer, cp.caPem, cp.nodeTokens[NODE_NAME]!), { mode: 0o600 });
      sandbox.spawn(kubeletBin, ['--config', cfg, '--kubeconfig', kc, '--hostname-override', NODE_NAME, '--node-ip', NODE_IP, `--v=${KUBELET_VERBOSITY}`], join(logs, 'kubelet.log'), pathEnv);
      await until('node Ready', 120_000, async () => {
        const r = await api.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(`/api/v1/nodes/${NODE_NAME}`);
        return r.status === 200 && r.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
      }, () => tail(join(logs, 'kubelet.log')) + '\n' + tail(join(logs, 'containerd.log')));
    });

    // netclaim: the chart's objects (namespace, service account, RBAC, device classes,
    // admission policy; and, in pod mode, the DaemonSet, whose pod test files wait for
    // with useNetclaim()). In process mode test files run the daemon with the DaemonSet's
    // args and env and a token of its service account bound to this Node (as a pod's
    // token is, through its pod).
    const driverName = 'netclaim.dev';
    await step('deploy objects', async () => {
      if (DAEMON_MODE === 'pod') await applyChart(api, deployment.objects);
      else for (const o of deployment.objects.filter((x) => x['kind'] !== 'DaemonSet')) await applyObject(api, o);
    });
    const saToken = await tokenFor(api, deployment.namespace, deployment.serviceAccount, NODE_NAME);
    const netclaimKubeconfig = join(dir, 'netclaim.kubeconfig');
    writeFileSync(netclaimKubeconfig, kubeconfigFor(nodeServer, cp.caPem, saToken), { mode: 0o600 });

    const netclaimImage = readFileSync(join(netclaimImageDir, 'images.txt'), 'utf8').split(/\s+/)[0]!;
    const state: E2eNodeState = {
      server: cp.server, token: cp.token, caPem: cp.caPem, nodeServer, dir, logs, netns: sandbox.netns, holderPid: sandbox.holderPid,
      cgroupRoot: sandbox.cgroupRoot, nodeName: NODE_NAME, driverName, bins, daemonMode: DAEMON_MODE, netclaimKubeconfig,
      daemonArgs: deployment.args, netclaimImage, netclaimImageArchive: join(netclaimImageDir, 'netclaim.oci.tar'), version: cp.version, timings,
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
    return { state, cp, sandbox, api, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function tokenFor(api: KubeClient, ns: string, sa: string, nodeName: string): Promise<string> {
  const node = await api.get<{ metadata: { uid: string } }>(`/api/v1/nodes/${nodeName}`);
  const r = await api.post<{ status: { token: string } }>(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
    spec: { expirationSeconds: 86400, boundObjectRef: { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.body.metadata.uid } },
  });
  if (r.status !== 201) throw new Error(`token for ${ns}/${sa}: ${r.status} ${r.text}`);
  return r.body.status.token;
}

