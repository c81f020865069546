/**
 * netclaim's DaemonSet pod on the e2e node, seen from the test: which pod serves now,
 * its container (containerd id, the host PID of its process, `crictl exec` into it), its
 * log as the kubelet keeps it (/var/log/pods), a watch on the DaemonSet's pods (what a
 * rolling update does, event by event), and useNetclaimPod(): apply the chart with some
 * values and wait for the rollout.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { KubeClient } from '../../conformance/kube-client.ts';
import { tail, until, type E2eNodeState } from './e2e-node.ts';
import { applyChart, daemonSetPods, NAMESPACE, POD_SELECTOR, renderChart, rolloutDone, type ChartValues, type DaemonSetPod } from './netclaim-chart.ts';
import { nodeProcesses } from './node-sandbox.ts';

const apiOf = (node: E2eNodeState): KubeClient => new KubeClient({ server: node.server, token: node.token, caPem: node.caPem });

/** The pod's container id in containerd (no `containerd://`), once it has one. */
export function containerIdOf(p: DaemonSetPod): string | undefined {
  return p.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '') || undefined;
}

/** crictl inside the node. */
export function crictl(node: E2eNodeState, args: string[], timeoutMs = 60_000): { status: number; stdout: string; stderr: string } {
  return nodeProcesses(node).exec(join(node.bins.runtime, 'crictl'), ['--runtime-endpoint', 'unix:///run/containerd/containerd.sock', ...args], { timeoutMs });
}

/** The host PID of a running container's process (crictl inspect; the node shares the machine's PID namespace). */
export function containerPid(node: E2eNodeState, containerId: string): number {
  const r = crictl(node, ['inspect', containerId]);
  if (r.status !== 0) throw new Error(`crictl inspect ${containerId}: ${r.stderr}`);
  const pid = (JSON.parse(r.stdout) as { info?: { pid?: number } }).info?.pid;
  if (!pid) throw new Error(`container ${containerId} has no process`);
  return pid;
}

/** Runs argv in the container (CRI ExecSync: the container's namespaces, capabilities, seccomp and root). */
export function execInContainer(node: E2eNodeState, containerId: string, argv: string[], timeoutMs = 60_000): { status: number; stdout: string; stderr: string } {
  return crictl(node, ['exec', containerId, ...argv], timeoutMs);
}

/** The kubelet's log files of a pod's netclaim container (one per start), oldest first. */
function logFiles(node: E2eNodeState, p: { metadata: { name: string; uid: string } }): string[] {
  const dir = join(node.dir, 'var-log', 'pods', `${NAMESPACE}_${p.metadata.name}_${p.metadata.uid}`, 'netclaim');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^\d+\.log$/.test(f)).sort((a, b) => parseInt(a) - parseInt(b)).map((f) => join(dir, f));
}

/** What the pod's container printed, one string per start of it, without the CRI log prefix ("<time> stdout F "). */
export function podLogs(node: E2eNodeState, p: { metadata: { name: string; uid: string } }): string[] {
  // CRI log lines: "<time> <stream> <F|P> <text>"; P (partial) lines continue on the next one.
  return logFiles(node, p).map((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean)
    .map((l) => /^\S+ (?:stdout|stderr) ([FP]) (.*)$/.exec(l)).filter((m) => m !== null)
    .map((m) => (m[1] === 'P' ? m[2]! : `${m[2]!}\n`)).join(''));
}

/** The JSON lines of a log (netclaim logs with pino), parsed; other lines left out. */
export function logEntries(log: string): Array<Record<string, unknown> & { time: string; msg: string }> {
  return log.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown> & { time: string; msg: string }];
    } catch {
      return [];
    }
  });
}

/** Every start's log, together. */
export const podLog = (node: E2eNodeState, p: { metadata: { name: string; uid: string } }): string => podLogs(node, p).join('');

/**
 * The one running, Ready pod of the DaemonSet (the rollout being complete), with its container,
 * once that container's own log says it registered with the kubelet. Ready alone is not enough:
 * a surge pod's probes can be answered by the old pod (docs/e2e.md, "What the pod found").
 */
export async function servingPod(node: E2eNodeState, timeoutMs = 120_000): Promise<DaemonSetPod & { containerId: string }> {
  const api = apiOf(node);
  const p = await until('netclaim\'s DaemonSet rolled out, its pod Ready and registered with the kubelet', timeoutMs, async () => {
    const done = await rolloutDone(api);
    return done && podLogs(node, done).at(-1)?.includes('"registered with the kubelet"') ? done : undefined;
  }, () => diagnose(node));
  return { ...p, containerId: containerIdOf(p)! };
}

/** The DaemonSet's pods, their status and the last lines of their logs (for a timeout's message). */
export function diagnose(node: E2eNodeState): string {
  const lines: string[] = [];
  const pods = join(node.dir, 'var-log', 'pods');
  for (const d of existsSync(pods) ? readdirSync(pods).filter((x) => x.startsWith(`${NAMESPACE}_`)) : []) {
    const [, name, uid] = d.split('_');
    lines.push(`--- pod ${name} (${uid})\n${podLog(node, { metadata: { name: name!, uid: uid! } }).trimEnd().split('\n').slice(-15).join('\n')}`);
  }
  return `${lines.join('\n')}\n${tail(join(node.logs, 'kubelet.log'), 15)}`;
}

/**
 * Renders the chart with `values` (on top of the e2e value), applies it, and waits for the
 * rollout: a changed template is a rolling update the DaemonSet controller and the kubelet
 * carry out (surge pod first, then the old one goes); an unchanged one changes nothing.
 */
export async function useNetclaimPod(node: E2eNodeState, values: ChartValues = {}, timeoutMs = 180_000): Promise<DaemonSetPod & { containerId: string }> {
  await applyChart(apiOf(node), renderChart(node.bins.helm, values));
  return servingPod(node, timeoutMs);
}

export interface PodEvent { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: DaemonSetPod; at: number }

export interface PodWatch {
  events: PodEvent[];
  close(): void;
}

/**
 * Watches the DaemonSet's pods from now on (GET …/pods?watch=1): every ADDED, MODIFIED and
 * DELETED, in order, with the time it arrived. The final status of a deleted pod (its
 * container's exit code) is in the last MODIFIED before its DELETED.
 */
export async function watchDaemonSetPods(node: E2eNodeState): Promise<PodWatch> {
  const api = apiOf(node);
  const list = await api.get<{ metadata: { resourceVersion: string } }>(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(POD_SELECTOR)}`);
  const path = `/api/v1/namespaces/${NAMESPACE}/pods?watch=1&allowWatchBookmarks=false&labelSelector=${encodeURIComponent(POD_SELECTOR)}&resourceVersion=${list.body.metadata.resourceVersion}`;
  const events: PodEvent[] = [];
  let buf = '';
  const req = request(new URL(path, node.server), { method: 'GET', ca: node.caPem, headers: { authorization: `Bearer ${node.token}`, accept: 'application/json' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buf += c;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) events.push({ ...(JSON.parse(line) as Omit<PodEvent, 'at'>), at: Date.now() });
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  return { events, close: () => req.destroy() };
}

export { daemonSetPods };
