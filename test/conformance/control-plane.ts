/**
 * Control-plane fixture for the conformance tier (T3): the upstream etcd and
 * kube-apiserver (built from Go modules by build.sh) on loopback ports, with
 * real TLS, token authentication, RBAC + Node authorization and the DRA API
 * groups and feature gates this driver uses.
 *
 *   const cp = await startControlPlane();
 *   ... cp.kubeconfigPath, cp.server, cp.token, cp.caPem ...
 *   await cp.stop();
 *
 * Everything lives in one temp dir (certs, keys, token file, etcd data, logs,
 * kubeconfig) that stop() removes. The processes it started are ended by PID:
 * by stop(), and, should the test process exit without it, by an exit hook.
 *
 * Certificates come from `openssl` (a CA, a serving cert for 127.0.0.1,
 * localhost and the `kubernetes` Service's 10.96.0.1); the service-account key
 * pair from node:crypto.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The DRA gates the driver uses; set where the binary lists them (GA ones are on and not listed). */
export const DRA_FEATURE_GATES = [
  'DRAResourceClaimDeviceStatus',
  'DRADeviceTaints',
  'DRAPartitionableDevices',
  'DRAConsumableCapacity',
  'DRAAdminAccess',
  'DRAPrioritizedList',
  'DRADeviceBindingConditions',
  'DRAExtendedResource',
  'DRAResourceClaimGranularStatusAuthorization',
] as const;

/** resource.k8s.io versions to serve; ones the binary does not know are dropped at start. */
export const RESOURCE_API_VERSIONS = ['v1', 'v1beta2', 'v1beta1', 'v1alpha3'] as const;

export interface ControlPlaneOptions {
  /** Folder with `kube-apiserver` and `etcd`. Default: $NETCLAIM_CONFORMANCE_BIN, else build.sh's output. */
  binDir?: string;
  /** Gates to set on top of (or instead of) the DRA defaults; these are passed as given. */
  featureGates?: Record<string, boolean>;
  /** Node identities to issue tokens for (user system:node:<name>, group system:nodes). Default ['node-1']. */
  nodeNames?: string[];
  /** Extra kube-apiserver flags, e.g. ['--v=4']. */
  extraArgs?: string[];
  /** How long to wait for etcd + /readyz + resource.k8s.io/v1. Default 120 s. */
  readyTimeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Keep the temp dir after stop() (for debugging). Also NETCLAIM_KEEP_CONTROL_PLANE=1. */
  keepDir?: boolean;
}

export interface ControlPlane {
  /** kubeconfig with the admin token and the CA (context `netclaim-conformance`). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of user `admin` in group system:masters. */
  token: string;
  /** PEM of the CA that signed the serving certificate (and may sign client certs). */
  caPem: string;
  caCertPath: string;
  caKeyPath: string;
  /** Bearer tokens of node identities, by node name. */
  nodeTokens: Record<string, string>;
  etcdUrl: string;
  dir: string;
  /** `kube-apiserver --version`, e.g. "Kubernetes v1.37.2". */
  version: string;
  /** The gates that were set, and the requested DRA gates the binary does not list (GA or unknown). */
  featureGates: Record<string, boolean>;
  gatesNotSet: string[];
  /** resource.k8s.io versions enabled. */
  resourceVersions: string[];
  /** Milliseconds from spawning etcd to kube-apiserver ready with resource.k8s.io/v1 served. */
  startToReadyMs: number;
  stop(): Promise<void>;
}

/** Bin dir: explicit, env, or build.sh (which reuses a matching build and prints the dir last). */
export function resolveBinDir(binDir?: string): string {
  const dir = binDir ?? process.env['NETCLAIM_CONFORMANCE_BIN'];
  if (dir) return dir;
  const r = spawnSync('bash', [join(here, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`test/conformance/build.sh failed (exit ${r.status ?? r.signal})`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (!existsSync(join(last, 'kube-apiserver'))) throw new Error(`build.sh printed no bin dir (got '${last}')`);
  return last;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl is needed for the control-plane fixture: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** CA + serving cert for 127.0.0.1/localhost, signed by the CA. */
function makeCerts(dir: string): { caCert: string; caKey: string; cert: string; key: string } {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-subj', '/CN=netclaim-conformance-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  writeFileSync(join(dir, 'serving.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    // 10.96.0.1: the `kubernetes` Service's ClusterIP (first of --service-cluster-ip-range), which
    // in-cluster clients dial (KUBERNETES_SERVICE_HOST): the e2e tier's netclaim pod. kubeadm's has it too.
    'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    '',
  ].join('\n'));
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'serving.key', '-out', 'serving.csr', '-subj', '/CN=kube-apiserver'], dir);
  openssl(['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'serving.crt', '-days', '2', '-extfile', 'serving.ext'], dir);
  return { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'serving.crt'), key: join(dir, 'serving.key') };
}

/** Gates as the binary lists them in --help: "kube:Name=true|false (BETA - default=true)". */
export function listedFeatureGates(help: string): Map<string, string> {
  const gates = new Map<string, string>();
  for (const m of help.matchAll(/\bkube:([A-Za-z0-9]+)=true\|false \(([A-Z]+)/g)) gates.set(m[1]!, m[2]!);
  return gates;
}

const started = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the test process ends without stop(): kill what we started, by PID,
  // and remove the temp dirs (unless asked to keep them).
  process.on('exit', () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
}

function launch(bin: string, args: string[], logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  started.add(child);
  child.once('exit', () => started.delete(child));
  installExitHook();
  return child;
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function tail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function httpGet(url: string, opts: { ca?: string; token?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: opts.ca, headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function plainGet(url: string): Promise<number> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await r.arrayBuffer();
  return r.status;
}

/** Polls until check() is true, or the process dies, or the deadline passes. */
async function waitFor(what: string, check: () => Promise<boolean>, child: ChildProcess, deadline: number, logPath: string): Promise<void> {
  while (true) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ExitedEarly(what, child.exitCode ?? -1, tail(logPath));
    }
    try {
      if (await check()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- ${logPath}\n${tail(logPath)}`);
    await sleep(100);
  }
}

class ExitedEarly extends Error {
  readonly code: number;
  readonly log: string;
  constructor(what: string, code: number, log: string) {
    super(`process exited (code ${code}) while waiting for ${what}\n${log}`);
    this.code = code;
    this.log = log;
  }
}

function kubeconfig(server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: netclaim-conformance
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: netclaim-conformance
  context:
    cluster: netclaim-conformance
    user: admin
current-context: netclaim-conformance
`;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((): void => {});
  const binDir = resolveBinDir(opts.binDir);
  const apiserverBin = join(binDir, 'kube-apiserver');
  const etcdBin = join(binDir, 'etcd');
  const dir = mkdtempSync(join(tmpdir(), 'netclaim-cp-'));
  const keep = opts.keepDir ?? process.env['NETCLAIM_KEEP_CONTROL_PLANE'] === '1';
  if (!keep) tempDirs.add(dir);
  installExitHook();
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    if (apiserver) await terminate(apiserver, 3000);
    if (etcd) await terminate(etcd, 3000);
    if (!keep) {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    } else log(`control plane files kept in ${dir}`);
  };

  try {
    const version = spawnSync(apiserverBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const help = spawnSync(apiserverBin, ['--help'], { encoding: 'utf8', maxBuffer: 16 << 20 }).stdout;
    const listed = listedFeatureGates(help);
    const featureGates: Record<string, boolean> = {};
    const gatesNotSet: string[] = [];
    for (const g of DRA_FEATURE_GATES) {
      if (listed.has(g)) featureGates[g] = true;
      else gatesNotSet.push(g);
    }
    Object.assign(featureGates, opts.featureGates ?? {});

    const certs = makeCerts(dir);
    const caPem = readFileSync(certs.caCert, 'utf8');
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const token = randomBytes(24).toString('hex');
    const nodeTokens: Record<string, string> = {};
    const tokenLines = [`${token},admin,admin-uid,"system:masters"`];
    for (const n of opts.nodeNames ?? ['node-1']) {
      nodeTokens[n] = randomBytes(24).toString('hex');
      tokenLines.push(`${nodeTokens[n]},system:node:${n},node-${n}-uid,"system:nodes"`);
    }
    writeFileSync(join(dir, 'tokens.csv'), tokenLines.join('\n') + '\n', { mode: 0o600 });

    // etcd
    const t0 = Date.now();
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcdLog = join(dir, 'etcd.log');
    etcd = launch(etcdBin, [
      '--name', 'default', '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `default=${peerUrl}`,
      '--unsafe-no-fsync', '--log-level', 'warn',
    ], etcdLog);
    const etcdProc = etcd;
    await waitFor('etcd /health', async () => (await plainGet(`${etcdUrl}/health`)) === 200, etcdProc, deadline, etcdLog);
    log(`etcd ready at ${etcdUrl} after ${Date.now() - t0} ms`);

    // kube-apiserver: drop resource.k8s.io versions the binary has not registered and retry.
    let resourceVersions: string[] = [...RESOURCE_API_VERSIONS];
    const apiLog = join(dir, 'kube-apiserver.log');
    let server = '';
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      server = `https://127.0.0.1:${port}`;
      const gates = Object.entries(featureGates).map(([k, v]) => `${k}=${v}`).join(',');
      const args = [
        '--etcd-servers', etcdUrl,
        '--bind-address', '127.0.0.1', '--secure-port', String(port),
        // The endpoint reconciler refuses a loopback advertise address; nothing here needs the
        // `kubernetes` Service's endpoints, so don't reconcile them.
        '--advertise-address', '127.0.0.1', '--endpoint-reconciler-type', 'none',
        '--cert-dir', join(dir, 'cert-dir'),
        '--tls-cert-file', certs.cert, '--tls-private-key-file', certs.key,
        '--client-ca-file', certs.caCert,
        '--token-auth-file', join(dir, 'tokens.csv'),
        '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
        '--service-account-key-file', join(dir, 'sa.pub'),
        '--service-account-signing-key-file', join(dir, 'sa.key'),
        '--api-audiences', 'https://kubernetes.default.svc.cluster.local',
        '--authorization-mode', 'Node,RBAC',
        '--enable-admission-plugins', 'NodeRestriction',
        '--service-cluster-ip-range', '10.96.0.0/16',
        '--runtime-config', resourceVersions.map((v) => `resource.k8s.io/${v}=true`).join(','),
        ...(gates ? ['--feature-gates', gates] : []),
        ...(opts.extraArgs ?? []),
      ];
      writeFileSync(apiLog, `# kube-apiserver ${args.join(' ')}\n`, { flag: 'a' });
      apiserver = launch(apiserverBin, args, apiLog);
      const apiProc = apiserver;
      try {
        await waitFor('kube-apiserver /readyz', async () => {
          const r = await httpGet(`${server}/readyz`, { ca: caPem, token });
          return r.status === 200;
        }, apiProc, deadline, apiLog);
        break;
      } catch (e) {
        const unknown = e instanceof ExitedEarly ? /group version resource\.k8s\.io\/(\w+) that has not been registered/.exec(e.log) : null;
        if (!unknown || !resourceVersions.includes(unknown[1]!) || unknown[1] === 'v1' || attempt > RESOURCE_API_VERSIONS.length) throw e;
        log(`resource.k8s.io/${unknown[1]} is not served by ${version}; dropping it`);
        resourceVersions = resourceVersions.filter((v) => v !== unknown[1]);
      }
    }
    const apiProc = apiserver;
    await waitFor('resource.k8s.io/v1 resourceslices', async () => {
      const r = await httpGet(`${server}/apis/resource.k8s.io/v1`, { ca: caPem, token });
      return r.status === 200 && r.body.includes('"resourceslices"');
    }, apiProc, deadline, apiLog);
    const startToReadyMs = Date.now() - t0;
    log(`${version} ready at ${server} after ${startToReadyMs} ms (resource.k8s.io: ${resourceVersions.join(', ')})`);

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(server, caPem, token), { mode: 0o600 });
    return {
      kubeconfigPath, server, token, caPem, caCertPath: certs.caCert, caKeyPath: certs.caKey, nodeTokens, etcdUrl, dir,
      version, featureGates, gatesNotSet, resourceVersions, startToReadyMs, stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What `control-plane.sh start` records for `env`, `stop` and the vitest globalSetup. */
export type ControlPlaneState = Omit<ControlPlane, 'stop'> & { pid: number };

export function stateOf(cp: ControlPlane, pid = process.pid): ControlPlaneState {
  const { stop: _stop, ...rest } = cp;
  return { pid, ...rest };
}

/**
 * `node control-plane.ts hold STATE_FILE`: start a control plane, write its state
 * (atomically, mode 0600) and hold it until SIGTERM/SIGINT; then stop it and
 * remove the state file. control-plane.sh runs this in the background.
 */
async function hold(stateFile: string): Promise<void> {
  const cp = await startControlPlane({ log: (l) => console.error(`control-plane: ${l}`) });
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void cp.stop().finally(() => {
      rmSync(stateFile, { force: true });
      process.exit(0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', shutdown);
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(stateOf(cp), null, 2), { mode: 0o600 });
  renameSync(`${stateFile}.tmp`, stateFile);
  setInterval(() => {}, 1 << 30); // keep the event loop alive until a signal
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [cmd, stateFile] = process.argv.slice(2);
  if (cmd !== 'hold' || !stateFile) {
    console.error('usage: node test/conformance/control-plane.ts hold STATE_FILE   (use control-plane.sh)');
    process.exit(2);
  }
  hold(stateFile).catch((e: unknown) => {
    console.error(`control-plane: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
