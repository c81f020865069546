/**
 * netclaim on the e2e node, as the DaemonSet runs it: `netclaim run` from the bundle
 * (dist/netclaim.mjs, what the image runs) with the container's args from
 * deploy/install.yaml, its env (NODE_NAME, POD_UID) and its service account's token,
 * inside the node (host network, the node's paths). Any test process can start one;
 * two at once are the old and the surge pod of a rolling update.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tail, until, type E2eNodeState } from './e2e-node.ts';
import { nodeProcesses } from './node-sandbox.ts';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const nodeBin = join(repo, 'node_modules', '.bin', 'node');

export interface NetclaimDaemon {
  child: ChildProcess;
  pid: number;
  podUid: string;
  logPath: string;
  /** SIGTERM, then wait (SIGKILL after graceMs); the exit code, or null when killed. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, as a node crash or an OOM kill would end it. */
  kill(): Promise<void>;
  exited(): boolean;
}

let generation = 0;

/** GET /readyz of the daemon's metrics port, from inside the node. */
export function daemonReady(node: E2eNodeState): boolean {
  const r = nodeProcesses(node).exec(nodeBin, ['-e', "fetch('http://127.0.0.1:9177/readyz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]);
  return r.status === 0;
}

/**
 * The chart value every e2e daemon runs with: the node's devices are macvlans, a virtual kind
 * published only when opted in (`includeKinds: [macvlan]`).
 */
export const E2E_VALUE_ARGS: readonly string[] = ['--include-kind=macvlan'];

/**
 * extraArgs: what other chart values add to the DaemonSet's args (e.g. `--include-veth` for
 * `includeVeth: true`); everything else is install.yaml's, plus E2E_VALUE_ARGS.
 */
export async function startNetclaim(node: E2eNodeState, opts: { podUid?: string; env?: NodeJS.ProcessEnv; waitReady?: boolean; extraArgs?: string[] } = {}): Promise<NetclaimDaemon> {
  const podUid = opts.podUid ?? `00000000-0000-4000-8000-${String(process.pid).padStart(6, '0')}${String(++generation).padStart(6, '0')}`;
  const logPath = join(node.logs, `netclaim-${podUid.slice(-12)}.log`);
  const args = [...node.daemonArgs.map((a) => a.replace('$(NODE_NAME)', node.nodeName)), ...E2E_VALUE_ARGS, ...(opts.extraArgs ?? [])];
  const child = nodeProcesses(node).spawn(nodeBin, [join(repo, 'dist', 'netclaim.mjs'), ...args], logPath, {
    NODE_NAME: node.nodeName, POD_UID: podUid, KUBECONFIG: node.netclaimKubeconfig, ...opts.env,
  });
  const exitPromise = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const daemon: NetclaimDaemon = {
    child, pid: child.pid!, podUid, logPath, exited,
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
