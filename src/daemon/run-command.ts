/**
 * `netclaim run`: flags → DaemonOptions, then run until SIGTERM/SIGINT.
 * Every flag has an environment fallback where a DaemonSet sets it from the
 * downward API (NODE_NAME, POD_UID, NODE_IPS: the node's InternalIPs, so the
 * interface holding one is never published).
 */
import { parseArgs } from 'node:util';
import { DRIVER_NAME } from '../common/driver.ts';
import { ConfigError } from '../common/errors.ts';
import { Daemon, type DaemonOptions } from './daemon.ts';
import { DRANET_DOMAIN } from '../inventory/attributes/names.ts';
import { libc } from '../kernel/libc/index.ts';
import { DEFAULT_BIND_ADDRESS, parseBindAddress } from '../observe/http-server.ts';
import { DEFAULT_NRI_SOCKET } from '../surfaces/nri/nri-plugin.ts';
import { DEFAULT_WRITE_BUDGET, type WriteBudgetOptions } from '../surfaces/kube/write-budget.ts';
import { CLOUD_PROVIDER_VALUES } from '../inventory/cloud/select.ts';
import type { Command } from '../surfaces/cli/command.ts';
import { filterCompilerFor, INVENTORY_FLAGS, inventoryOptionsFromFlags, sysfsRootFromFlag, type FilterCompiler } from '../surfaces/cli/inventory-flags.ts';
import { createLogger, logLevelFrom } from '../observe/logger.ts';
import { ignoreStderrErrors, stdoutLogSink, type LogSink } from '../observe/log-sink.ts';
import { registerLogMetrics } from '../observe/log-metrics.ts';
import { readTlsPair, type TlsFilePaths } from '../observe/tls-files.ts';
import { KubeApi } from '../surfaces/kube/kube-api.ts';
import { kubeconfigFileFor, loadKubeconfigParser, loadKubeTarget } from '../surfaces/kube/kube-config.ts';

export { RUN_USAGE } from '../surfaces/cli/usage.ts';

export type RunOptions = Omit<DaemonOptions, 'libc' | 'log'> & { logLevel?: string };

export const RUN_DEFAULTS = {
  driverName: DRIVER_NAME,
  kubeletRootDir: '/var/lib/kubelet',
  stateDir: '/var/lib/netclaim',
  cdiDir: '/var/run/cdi',
  sysfsRoot: '/sys',
} as const;

/**
 * What `netclaim run` parses: the flags, then the CEL library only when a
 * filter flag needs it (it is the largest library the daemon would load
 * otherwise: docs/benchmarks.md, "daemon"). runOptions alone reads a
 * kubeconfig file only once loadKubeconfigParser() has run.
 */
export async function parseRunOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RunOptions> {
  const values = runFlags(argv);
  // Likewise the YAML parser, only when a kubeconfig file is read (in-cluster: never).
  if (kubeconfigFileFor(values.kubeconfig, env) !== undefined) await loadKubeconfigParser();
  return runOptions(argv, env, await filterCompilerFor(values));
}

/**
 * Flags (and their environment fallbacks) → DaemonOptions; what it throws is a
 * usage error (docs/cli.md). `compileFilter` compiles --filter and
 * --shareable-filter: parseRunOptions passes the CEL compiler when one is
 * given; the default refuses them.
 */
export function runOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, compileFilter: FilterCompiler = noFilterCompiler): RunOptions {
  const values = runFlags(argv);
  return optionsFromFlags(values, env, compileFilter);
}

const noFilterCompiler: FilterCompiler = () => {
  throw new Error('runOptions: a filter flag needs the CEL compiler (parseRunOptions loads it)');
};

function runFlags(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      'node-name': { type: 'string' },
      kubeconfig: { type: 'string' },
      'driver-name': { type: 'string', default: RUN_DEFAULTS.driverName },
      'kubelet-root-dir': { type: 'string', default: RUN_DEFAULTS.kubeletRootDir },
      'state-dir': { type: 'string', default: RUN_DEFAULTS.stateDir },
      'cdi-dir': { type: 'string', default: RUN_DEFAULTS.cdiDir },
      'sysfs-root': { type: 'string', default: RUN_DEFAULTS.sysfsRoot },
      ...INVENTORY_FLAGS,
      compat: { type: 'string' },
      'taint-unhealthy': { type: 'boolean', default: false },
      'taint-unhealthy-noexecute': { type: 'boolean', default: false },
      'rolling-update': { type: 'boolean', default: false },
      'metrics-address': { type: 'string', default: DEFAULT_BIND_ADDRESS },
      'metrics-tls-cert-file': { type: 'string' },
      'metrics-tls-private-key-file': { type: 'string' },
      'metrics-auth': { type: 'boolean', default: false },
      'log-level': { type: 'string' },
      'nri-socket': { type: 'string', default: DEFAULT_NRI_SOCKET },
      'nri-plugin-index': { type: 'string', default: '00' },
      'no-nri': { type: 'boolean', default: false },
      'container-gate': { type: 'string', default: 'create' },
      'containerd-socket': { type: 'string' },
      'no-cloud-config': { type: 'boolean', default: false },
      'evict-unreconciled': { type: 'boolean', default: false },
      'no-device-metadata': { type: 'boolean', default: false },
      'device-return-timeout': { type: 'string' },
      'host-netns': { type: 'string' },
      'slice-write-rate': { type: 'string', default: String(DEFAULT_WRITE_BUDGET.ratePerSec) },
      'slice-write-burst': { type: 'string', default: String(DEFAULT_WRITE_BUDGET.burst) },
    },
  });
  return values;
}

function optionsFromFlags(values: ReturnType<typeof runFlags>, env: NodeJS.ProcessEnv, compileFilter: FilterCompiler): RunOptions {
  const nodeName = values['node-name'] ?? env['NODE_NAME'];
  if (nodeName === undefined || nodeName === '') {
    throw new ConfigError('--node-name (or NODE_NAME) is required: the pool and ResourceSlices are named after the node', { context: { field: '--node-name' } });
  }
  if (values.compat !== undefined && values.compat !== 'dranet') {
    throw new ConfigError(`--compat must be "dranet", got "${values.compat}"`, { context: { field: '--compat' } });
  }
  const instance = values['rolling-update'] ? env['POD_UID'] : undefined;
  if (values['rolling-update'] && (instance === undefined || instance === '')) {
    throw new ConfigError('--rolling-update needs POD_UID (from the downward API) to name its sockets', { context: { field: '--rolling-update' } });
  }
  // Bad values are usage errors here, not failures once the daemon starts.
  parseBindAddress(values['metrics-address']);
  const metricsTls = metricsTlsFrom(values['metrics-tls-cert-file'], values['metrics-tls-private-key-file']);
  if (values['log-level'] !== undefined) logLevelFrom(values['log-level'], env);
  if (!/^\d\d$/.test(values['nri-plugin-index'])) {
    throw new ConfigError(`--nri-plugin-index must be two digits (00-99), got ${JSON.stringify(values['nri-plugin-index'])}`, { context: { field: '--nri-plugin-index' } });
  }
  const containerGate = values['container-gate'];
  if (containerGate !== 'create' && containerGate !== 'start') {
    throw new ConfigError(`--container-gate must be "create" or "start", got ${JSON.stringify(containerGate)}`, { context: { field: '--container-gate' } });
  }
  const containerdSocket = values['containerd-socket'];
  if (containerdSocket !== undefined && !containerdSocket.startsWith('/')) {
    throw new ConfigError(`--containerd-socket must be an absolute path, got ${JSON.stringify(containerdSocket)}`, { context: { field: '--containerd-socket' } });
  }
  if (containerdSocket !== undefined && values['no-nri']) {
    throw new ConfigError('--containerd-socket starts the NRI attach early, and --no-nri has none: give one or the other', { context: { field: '--containerd-socket' } });
  }
  const sliceWriteBudget = writeBudgetFromFlags(values['slice-write-rate'], values['slice-write-burst']);
  const returnTimeout = values['device-return-timeout'];
  if (returnTimeout !== undefined && !(/^\d+(\.\d+)?$/.test(returnTimeout) && Number(returnTimeout) > 0 && Number(returnTimeout) <= 3600)) {
    throw new ConfigError(`--device-return-timeout must be a number of seconds above 0 and at most 3600, got ${JSON.stringify(returnTimeout)}`, { context: { field: '--device-return-timeout' } });
  }
  const dranet = values.compat === 'dranet';
  const driverName = values['driver-name'];
  return {
    nodeName, driverName,
    kubeletRootDir: values['kubelet-root-dir'], stateDir: values['state-dir'], cdiDir: values['cdi-dir'], sysfsRoot: sysfsRootFromFlag(values['sysfs-root']),
    inventory: inventoryOptionsFromFlags(values, dranet ? 'dranet' : 'netclaim', compileFilter, dranet, nodeIpsFromEnv(env)),
    cloudProvider: cloudProviderValue(values['cloud-provider']),
    cloudDefaults: !values['no-cloud-config'],
    attributeDomain: dranet ? DRANET_DOMAIN : driverName,
    dranetConfigs: true,
    taintUnhealthy: values['taint-unhealthy'],
    taintUnhealthyNoExecute: values['taint-unhealthy-noexecute'],
    sliceWriteBudget,
    ...(instance === undefined ? {} : { instance }),
    metricsAddress: values['metrics-address'],
    ...(metricsTls === undefined ? {} : { metricsTls }),
    ...(values['metrics-auth'] ? { metricsAuth: true } : {}),
    ...(values['no-nri'] ? {} : { nriSocket: values['nri-socket'], nriPluginIndex: values['nri-plugin-index'], containerGate }),
    ...(containerdSocket === undefined ? {} : { containerdSocket }),
    evictUnreconciled: values['evict-unreconciled'],
    deviceMetadata: !values['no-device-metadata'],
    ...(returnTimeout === undefined ? {} : { deviceReturnTimeoutMs: Math.round(Number(returnTimeout) * 1000) }),
    ...(values['host-netns'] === undefined ? {} : { hostNetns: values['host-netns'] }),
    ...(values['log-level'] === undefined ? {} : { logLevel: values['log-level'] }),
    // Last, so a bad flag above is named first. --kubeconfig, else $KUBECONFIG, ~/.kube/config, the pod's service account.
    kubeConfig: new KubeApi(loadKubeTarget(values.kubeconfig, env)),
  };
}

/**
 * How long the exit waits for log lines a slow reader has not taken yet: a
 * bounded chance for 'netclaim stopped', never a wait on a stuck or gone reader.
 */
const LOG_DRAIN_MS = 1000;

/** Runs the daemon until a signal; resolves with the exit code, once the log is drained or LOG_DRAIN_MS passed. */
export async function runDaemon(options: RunOptions): Promise<number> {
  const sink = stdoutLogSink();
  ignoreStderrErrors();
  const code = await runUntilSignal(options, sink);
  await sink.drained(LOG_DRAIN_MS);
  return code;
}

async function runUntilSignal({ logLevel, ...options }: RunOptions, sink: LogSink): Promise<number> {
  const log = createLogger({ level: logLevelFrom(logLevel), destination: sink });
  const daemon = new Daemon({ ...options, libc: libc(), log });
  registerLogMetrics(daemon.metrics.registry, sink);
  const stopped = Promise.withResolvers<number>();
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'stopping');
    void daemon.stop().then(() => stopped.resolve(0), (err: unknown) => {
      log.error({ err }, 'stop failed');
      stopped.resolve(1);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await daemon.start();
  } catch (err) {
    // A signal during the start: stopping, not failing.
    if (daemon.stopping) return stopped.promise;
    log.fatal({ err }, 'start failed');
    await daemon.stop().catch(() => {});
    return 1;
  }
  return stopped.promise;
}

export const runCommand: Command<RunOptions> = { name: 'run', parse: (argv) => parseRunOptions(argv), execute: (options) => runDaemon(options) };

/** --metrics-tls-cert-file and --metrics-tls-private-key-file: both or neither; the pair must load. */
function metricsTlsFrom(certFile: string | undefined, keyFile: string | undefined): TlsFilePaths | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError('--metrics-tls-cert-file and --metrics-tls-private-key-file go together', { context: { field: certFile === undefined ? '--metrics-tls-cert-file' : '--metrics-tls-private-key-file' } });
  }
  readTlsPair({ certFile, keyFile });
  return { certFile, keyFile };
}

/** NODE_IPS from the downward API (status.hostIPs: one or two addresses, comma-separated), if set. */
function nodeIpsFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const v = env['NODE_IPS'];
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** `--slice-write-rate` (publishes per second, 0: no budget) and `--slice-write-burst` (≥ 1). */
function writeBudgetFromFlags(rate: string, burst: string): WriteBudgetOptions {
  const r = Number(rate);
  if (rate.trim() === '' || !Number.isFinite(r) || r < 0) {
    throw new ConfigError(`--slice-write-rate must be a number ≥ 0 (ResourceSlice publishes per second; 0 turns the budget off), got ${JSON.stringify(rate)}`, { context: { field: '--slice-write-rate' } });
  }
  const b = Number(burst);
  if (!/^\d+$/.test(burst.trim()) || b < 1) {
    throw new ConfigError(`--slice-write-burst must be an integer ≥ 1, got ${JSON.stringify(burst)}`, { context: { field: '--slice-write-burst' } });
  }
  return { ratePerSec: r, burst: b };
}

/** `--cloud-provider`, checked while the flags are read (a usage error, not a failed start). */
function cloudProviderValue(v: string): string {
  const value = v.trim().toLowerCase();
  if (!(CLOUD_PROVIDER_VALUES as readonly string[]).includes(value)) {
    throw new ConfigError(`--cloud-provider: "${v}" is not one of ${CLOUD_PROVIDER_VALUES.join(', ')}`, { context: { field: '--cloud-provider' } });
  }
  return value;
}
