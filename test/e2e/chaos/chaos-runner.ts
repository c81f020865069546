/**
 * Chaos on the e2e node (issue 15, docs/e2e.md "Chaos"): pods with a NIC claim from a
 * ResourceClaimTemplate are created and deleted, several at a time, while netclaim's
 * container is SIGKILLed (by its host PID; the kubelet restarts it) and the runtime's NRI
 * connection is dropped (containerd itself restarted: it closes every plugin connection,
 * netclaim reconnects and is synchronized) at random moments from a seeded RNG.
 *
 * Each pod's container checks, as its very first instruction, whether its claimed NIC
 * (`net1`) is in its network namespace, and prints the answer; the kubelet keeps one log
 * file per start of the container, so every start is counted. At the end, with the faults
 * stopped, every device must be back on the node as it was before its first claim (name,
 * MTU, MAC, global addresses) and the state directory must hold no claim record.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until, type E2eNodeState } from '../node/e2e-node.ts';
import { crictl, servingPod } from '../node/netclaim-pod.ts';
import { daemonReady, startNetclaim } from '../node/netclaim-daemon.ts';
import { nodeProcesses } from '../node/node-sandbox.ts';
import {
  addLower, addMacvlan, apiOf, claimSpec, create, deleteAndWait, deleteDevice, ensureNamespace, getPod, linkOnNode, onNode,
  publishedDevice, request, type LinkInfo, type PodStatus,
} from '../node/workloads.ts';
import { TOOLS_IMAGE } from '../node/e2e-node.ts';
import { seededRandom } from '../../lib/seeded-random.ts';

export interface ChaosOptions {
  lifecycles: number;
  seed: number;
  /** Pods in flight at once. */
  parallel?: number;
  /** Restart containerd as one fault in five (the NRI drop). */
  nriDrops?: boolean;
  /** Gap before a fault, uniform in [min, max] ms (default 1–8 s; the wait for netclaim's readiness comes first). */
  gapMs?: [number, number];
  log?: (l: string) => void;
}

export interface ChaosReport {
  seed: number;
  lifecycles: number;
  /** Lifecycles whose pod never ran its container within the time allowed. */
  stuck: string[];
  /** Container starts seen (one per log file of the kubelet with the container's first line). */
  starts: number;
  /**
   * Containers created but never run (a log file and no first line: the kubelet's StartContainer
   * failed, e.g. containerd restarted under it, and the next attempt made a new container).
   */
  neverRan: number;
  /** Starts whose first instruction found no net1. */
  startsWithoutNic: string[];
  kills: number;
  nriDrops: number;
  /** Devices not back on the node as they were before (name: what differs). */
  notRestored: string[];
  /** Claim records left in netclaim's state directory at the end. */
  recordsLeft: string[];
  wallMs: number;
}

const NS = 'e2e-chaos';
const ALIAS = 'nc-chaos';
/** Pins need privileged + Bidirectional (docs/pods.md, "Namespace pins"); veths need includeVeth. */
export const CHAOS_VALUES = { includeVeth: true, privileged: true, stateDirMountPropagation: 'Bidirectional' };

interface Snapshot { mtu: number; mac: string; addrs: string[] }
const snap = (l: LinkInfo): Snapshot => ({
  mtu: l.mtu, mac: l.address,
  addrs: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort(),
});

/** The devices the pods claim: macvlans over a veth, and veths (their peers stay on the node). */
function makeDevices(node: E2eNodeState): { names: string[]; cleanup: () => void } {
  const cleanups: Array<() => void> = [addLower(node, 'ncxlow')];
  const names: string[] = [];
  for (let i = 0; i < 4; i++) {
    const name = `ncxm${i}`;
    addMacvlan(node, { name, lower: 'ncxlow', alias: ALIAS, mtu: 1400 + i, addresses: [`192.168.${90 + i}.5/24`, `fd00:90:${i}::5/64`] });
    names.push(name);
    cleanups.push(() => deleteDevice(node, name));
  }
  for (let i = 0; i < 2; i++) {
    const name = `ncxv${i}`;
    onNode(node, 'ip', ['link', 'add', name, 'mtu', String(1300 + i), 'type', 'veth', 'peer', 'name', `${name}p`]);
    onNode(node, 'ip', ['link', 'set', name, 'alias', ALIAS]);
    onNode(node, 'ip', ['addr', 'add', `192.168.${96 + i}.5/24`, 'dev', name]);
    onNode(node, 'ip', ['link', 'set', name, 'up']);
    onNode(node, 'ip', ['link', 'set', `${name}p`, 'up']);
    names.push(name);
    cleanups.push(() => deleteDevice(node, name));
  }
  return { names, cleanup: () => { for (const c of cleanups.reverse()) c(); } };
}

/** The container's very first instruction: is its NIC there? Then it sleeps. */
function chaosPod(name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS },
    spec: {
      automountServiceAccountToken: false, terminationGracePeriodSeconds: 1, enableServiceLinks: false,
      resourceClaims: [{ name: 'nic', resourceClaimTemplateName: 'nic' }],
      containers: [{
        name: 'c', image: TOOLS_IMAGE, imagePullPolicy: 'Never',
        command: ['sh', '-c', 'if [ -e /sys/class/net/net1 ]; then echo nic=present; else echo nic=missing; fi; exec sleep 3600'],
        resources: { claims: [{ name: 'nic' }] },
      }],
    },
  };
}

/** One line per start of the pod's container, from the kubelet's log files (0.log, 1.log, ...). */
function containerStarts(node: E2eNodeState, p: PodStatus): string[] {
  const dir = join(node.dir, 'var-log', 'pods', `${NS}_${p.metadata.name}_${p.metadata.uid}`, 'c');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^\d+\.log$/.test(f)).map((f) => /nic=(present|missing)/.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? 'no-output');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The host PID of netclaim's running container, once there is one. */
async function netclaimPid(node: E2eNodeState): Promise<number> {
  return until('a running netclaim container', 120_000, () => {
    const r = crictl(node, ['ps', '--name', '^netclaim$', '--state', 'running', '-q']);
    const id = r.stdout.trim().split('\n').find(Boolean);
    if (!id) return undefined;
    const i = crictl(node, ['inspect', id]);
    return i.status === 0 ? (JSON.parse(i.stdout) as { info?: { pid?: number } }).info?.pid || undefined : undefined;
  }, undefined, 100);
}

/** containerd of this node: the process whose executable is the node's containerd, in the node's cgroup. */
function containerdPid(node: E2eNodeState): number | undefined {
  const exe = join(node.bins.runtime, 'containerd');
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (execFileSync('readlink', [`/proc/${d}/exe`], { encoding: 'utf8' }).trim() !== exe) continue;
      if (!readFileSync(`/proc/${d}/cgroup`, 'utf8').includes(node.cgroupRoot)) continue;
      return Number(d);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

/**
 * The NRI drop: containerd stopped (SIGTERM) and started again with the node's config. The
 * runtime closes every plugin connection; shims and containers live on; netclaim reconnects
 * (backoff) and the runtime synchronizes it again. A kill of the plugin's connection from the
 * runtime's side with nothing else restarted has no handle here (containerd offers none).
 */
async function restartContainerd(node: E2eNodeState): Promise<void> {
  const pid = containerdPid(node);
  if (!pid) throw new Error('no containerd in the node');
  process.kill(pid, 'SIGTERM');
  await until('containerd stopped', 60_000, () => (existsSync(`/proc/${pid}`) ? undefined : true), undefined, 50);
  const child = nodeProcesses(node).spawn(join(node.bins.runtime, 'containerd'), ['--config', join(node.dir, 'containerd.toml')], join(node.logs, 'containerd.log'),
    { PATH: `${node.bins.runtime}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` });
  child.unref();
  await until('containerd answering', 60_000, () =>
    nodeProcesses(node).exec(join(node.bins.runtime, 'ctr'), ['--address', '/run/containerd/containerd.sock', 'version']).status === 0 || undefined, undefined, 100);
}

/**
 * What netclaim keeps per claim in its state dir: the claim records (`<claim UID>.json`, with
 * the attach journal) and the namespace pins (`netns/<claim UID>`). `inventory/` is the node's,
 * not a claim's.
 */
const recordsIn = (dir: string): string[] => [
  ...(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : []),
  ...(existsSync(join(dir, 'netns')) ? readdirSync(join(dir, 'netns')).map((f) => `netns/${f}`) : []),
];

export async function runChaos(node: E2eNodeState, opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const random = seededRandom(opts.seed);
  const api = apiOf(node);
  const parallel = opts.parallel ?? 5;
  const [gapMin, gapMax] = opts.gapMs ?? [1000, 8000];
  const stateDir = nodeProcesses(node).nodePath('/var/lib/netclaim');
  const report: ChaosReport = {
    seed: opts.seed, lifecycles: 0, stuck: [], starts: 0, neverRan: 0, startsWithoutNic: [], kills: 0, nriDrops: 0, notRestored: [], recordsLeft: [], wallMs: 0,
  };

  await startNetclaim(node, { values: CHAOS_VALUES });
  await ensureNamespace(api, NS);
  const devices = makeDevices(node);
  try {
    const before = new Map(devices.names.map((n) => [n, snap(linkOnNode(node, n)!)]));
    for (const n of devices.names) await publishedDevice(node, n, 60_000);
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaimtemplates`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic', namespace: NS },
      spec: { spec: claimSpec([request('nic', `device.attributes["netclaim.dev"].?alias.orValue("") == "${ALIAS}"`)], { interface: { name: 'net1' } }) },
    });

    const t0 = Date.now();
    let next = 0;
    let done = false;

    const lifecycle = async (i: number): Promise<void> => {
      const name = `cx-${i}`;
      const path = `/api/v1/namespaces/${NS}/pods/${name}`;
      await create(api, `/api/v1/namespaces/${NS}/pods`, chaosPod(name));
      let pod: PodStatus | undefined;
      try {
        pod = await until(`${name} running`, 180_000, async () => {
          const p = await getPod(api, NS, name);
          return p?.status?.containerStatuses?.[0]?.state?.['running'] ? p : undefined;
        }, undefined, 250);
        await sleep(random() * 1500);
        // Its first line may still be on its way to the log file.
        await until(`${name}'s first line`, 30_000, () => (containerStarts(node, pod!).some((s) => s !== 'no-output') || undefined), undefined, 100).catch(() => undefined);
      } catch {
        report.stuck.push(name);
        pod = await getPod(api, NS, name);
      }
      if (pod) {
        for (const [k, s] of containerStarts(node, pod).entries()) {
          if (s === 'no-output') {
            report.neverRan++;
            continue;
          }
          report.starts++;
          if (s !== 'present') report.startsWithoutNic.push(`${name} start ${k}: ${s}`);
        }
      }
      await deleteAndWait(api, path, 300_000);
      report.lifecycles++;
      if (report.lifecycles % 5 === 0) log(`chaos: ${report.lifecycles}/${opts.lifecycles} lifecycles, ${report.kills} kills, ${report.nriDrops} NRI drops, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    };

    const worker = async (): Promise<void> => {
      while (next < opts.lifecycles) await lifecycle(next++);
    };

    // Faults come at random moments: most after netclaim is ready again (a random moment of
    // its serving), one in four at any moment of its restart (replay, NRI registration and
    // Synchronize, kubelet registration). Without the wait netclaim is down almost all the
    // time (a restart takes the kubelet's back-off plus a few seconds), and every kubelet call
    // that meets it down puts that pod's worker back 10 s (the kubelet's error back-off), so
    // the pods would hardly move. With the wait, faults still meet the pods in every phase.
    const faults = async (): Promise<void> => {
      let n = 0;
      while (!done) {
        if (random() < 0.75) await until('netclaim ready', 300_000, () => done || daemonReady(node) || undefined, undefined, 300);
        await sleep(gapMin + random() * (gapMax - gapMin));
        if (done) break;
        n++;
        if (opts.nriDrops !== false && n % 5 === 2) {
          await restartContainerd(node);
          report.nriDrops++;
          log(`chaos: NRI drop ${report.nriDrops} (containerd restarted) at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        } else {
          const pid = await netclaimPid(node);
          try {
            process.kill(pid, 'SIGKILL');
            report.kills++;
          } catch {
            /* exited meanwhile */
          }
        }
      }
    };

    const faulting = faults();
    try {
      await Promise.all(Array.from({ length: parallel }, worker));
    } finally {
      done = true;
      await faulting;
    }

    // Quiet: netclaim serving again, every generated claim gone, every device back.
    await servingPod(node, 300_000);
    await until('generated claims deleted', 300_000, async () =>
      (await api.get<{ items: unknown[] }>(`/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`)).body.items.length === 0 || undefined).catch(() => undefined);
    await until('every device back on the node', 120_000, () => devices.names.every((n) => linkOnNode(node, n)) || undefined).catch(() => undefined);
    await until('no claim record left', 60_000, () => recordsIn(stateDir).length === 0 || undefined).catch(() => undefined);
    report.wallMs = Date.now() - t0;
    for (const [n, want] of before) {
      const l = linkOnNode(node, n);
      if (!l) report.notRestored.push(`${n}: not on the node`);
      else if (JSON.stringify(snap(l)) !== JSON.stringify(want)) report.notRestored.push(`${n}: ${JSON.stringify(snap(l))}, was ${JSON.stringify(want)}`);
    }
    report.recordsLeft = recordsIn(stateDir);
    return report;
  } finally {
    await deleteAndWait(api, `/api/v1/namespaces/${NS}`, 300_000).catch(() => undefined);
    devices.cleanup();
  }
}

export function formatReport(r: ChaosReport): string {
  return [
    `chaos (seed ${r.seed}): ${r.lifecycles} pod lifecycles, ${r.starts} container starts (${r.neverRan} created and never run), ${r.kills} daemon kills, ${r.nriDrops} NRI drops, ${(r.wallMs / 1000).toFixed(1)} s`,
    `  containers started without their NIC: ${r.startsWithoutNic.length}${r.startsWithoutNic.length ? ` (${r.startsWithoutNic.join('; ')})` : ''}`,
    `  devices not restored: ${r.notRestored.length}${r.notRestored.length ? ` (${r.notRestored.join('; ')})` : ''}`,
    `  records left in the state dir: ${r.recordsLeft.length}${r.recordsLeft.length ? ` (${r.recordsLeft.join(', ')})` : ''}`,
    `  lifecycles whose pod never ran: ${r.stuck.length}${r.stuck.length ? ` (${r.stuck.join(', ')})` : ''}`,
  ].join('\n');
}
