/**
 * netclaim on the e2e node for a test file: startNetclaim(node, { values }) gives the
 * daemon the chart deploys with those values (on top of the e2e value
 * `includeKinds: [macvlan]`).
 *
 *  - pod mode (default): the chart applied as is, its DaemonSet's pod started by the
 *    kubelet from the image, probes, service account token and all; a file whose values
 *    differ from the last file's rolls the DaemonSet. The pod outlives the file (stop()
 *    leaves it); kill() SIGKILLs the container's process by its host PID, and the
 *    kubelet restarts the container.
 *  - process mode (NETCLAIM_E2E_DAEMON=process, for debugging): `netclaim run` from the
 *    bundle (dist/netclaim.mjs) with the DaemonSet container's args as the chart renders
 *    them, its env (NODE_NAME, POD_UID, NODE_IPS) and its service account's token,
 *    inside the node (host network, the node's paths); each file starts its own and
 *    stops it; two at once are the old and the surge pod of a rolling update.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDeployment, tail, until, type E2eNodeState } from './e2e-node.ts';
import type { ChartValues } from './netclaim-chart.ts';
import { containerPid, podLog, useNetclaimPod } from './netclaim-pod.ts';
import { NODE_IP, nodeProcesses } from './node-sandbox.ts';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const nodeBin = join(repo, 'node_modules', '.bin', 'node');

export interface NetclaimDaemon {
  /** The pod's UID (POD_UID: its kubelet sockets are named after it). */
  podUid: string;
  /** The host PID of the daemon's process (process mode: the child; pod mode: the container's, at start). */
  pid: number;
  /** Everything the daemon logged so far. */
  logs(): string;
  /** Process mode: SIGTERM, then wait (SIGKILL after graceMs); the exit code, or null when killed. Pod mode: nothing (the DaemonSet stays). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, as a node crash or an OOM kill would end it (pod mode: the kubelet restarts the container). */
  kill(): Promise<void>;
  exited(): boolean;
}

let generation = 0;

/** GET /readyz of the daemon's metrics port, from inside the node. */
export function daemonReady(node: E2eNodeState): boolean {
  const r = nodeProcesses(node).exec(nodeBin, ['-e', "fetch('http://127.0.0.1:9177/readyz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]);
  return r.status === 0;
}

export interface StartOptions {
  /** Chart values on top of the e2e value (e.g. `{ includeVeth: true }`). */
  values?: ChartValues;
  /** Process mode only: the pod UID to pose as, extra env (NETCLAIM_CRASH_AT), whether to wait for /readyz. */
  podUid?: string;
  env?: NodeJS.ProcessEnv;
  waitReady?: boolean;
}

export async function startNetclaim(node: E2eNodeState, opts: StartOptions = {}): Promise<NetclaimDaemon> {
  if (node.daemonMode === 'process') return startProcess(node, opts);
  if (opts.env || opts.podUid || opts.waitReady === false) throw new Error('pod mode: env, podUid and waitReady are process-mode options (the DaemonSet sets the pod\'s)');
  const pod = await useNetclaimPod(node, opts.values ?? {});
  const pid = containerPid(node, pod.containerId);
  return {
    podUid: pod.metadata.uid, pid,
    logs: () => podLog(node, pod),
    stop: () => Promise.resolve(null),
    async kill() {
      try {
        process.kill(containerPid(node, pod.containerId), 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
    exited: () => false,
  };
}

async function startProcess(node: E2eNodeState, opts: StartOptions): Promise<NetclaimDaemon> {
  const podUid = opts.podUid ?? `00000000-0000-4000-8000-${String(process.pid).padStart(6, '0')}${String(++generation).padStart(6, '0')}`;
  const logPath = join(node.logs, `netclaim-${podUid.slice(-12)}.log`);
  const args = readDeployment(node.bins.helm, opts.values ?? {}).args.map((a) => a.replace('$(NODE_NAME)', node.nodeName));
  const child: ChildProcess = nodeProcesses(node).spawn(nodeBin, [join(repo, 'dist', 'netclaim.mjs'), ...args], logPath, {
    NODE_NAME: node.nodeName, POD_UID: podUid, NODE_IPS: NODE_IP, KUBECONFIG: node.netclaimKubeconfig, ...opts.env,
  });
  const exitPromise = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const daemon: NetclaimDaemon = {
    podUid, pid: child.pid!, exited,
    logs: () => readFileSync(logPath, 'utf8'),
    async stop(graceMs = 15_000) {
      if (exited()) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exitPromise;
      clearTimeout(t);
      return code;
    },
    async kill() {
      if (exited()) return;
      child.kill('SIGKILL');
      await exitPromise;
    },
  };
  if (opts.waitReady !== false) {
    await until(`netclaim (pod ${podUid}) ready`, 60_000, () => {
      if (exited()) throw new Error(`netclaim exited ${child.exitCode ?? child.signalCode}`);
      return daemonReady(node) || undefined;
    }, () => tail(logPath));
  }
  return daemon;
}
