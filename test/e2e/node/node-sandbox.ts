/**
 * The node of the e2e tier (T4): a network namespace, a mount namespace and a
 * cgroup subtree on this machine, in which containerd, the kubelet and netclaim
 * run as they would on a node, at their default paths, without touching the
 * machine's own network, mounts, kernel settings or processes.
 *
 *  - network: `ip netns add nce2e-<id>`; its loopback, one veth pair carrying the
 *    node IP (10.254.254.2/24) and a default route that stays inside the namespace.
 *  - mounts: a holder process in a new mount namespace (slave of the host's) with
 *    this namespace's own sysfs (so /sys/class/net lists the node's links, as on a
 *    node), the host's cgroup hierarchies re-attached under it, and fresh folders
 *    of the run dir bound over /var/lib and /var/log, and a tmpfs on /run (as systemd
 *    mounts it).
 *  - kernel settings: the kubelet sets vm.overcommit_memory, kernel.panic and
 *    kernel.panic_on_oops machine-wide when they differ from what it wants; inside
 *    the node's mount namespace those three files read as the values it wants, so
 *    it changes nothing. Everything else under /proc/sys is the real thing.
 *  - processes: every process of the node is put into the cgroup `nc-e2e-<id>/node`
 *    (pids and freezer hierarchies) before it starts, and pods go under the
 *    kubelet's --cgroup-root `/nc-e2e-<id>`; stop() kills what is in that subtree,
 *    removes the cgroups, the namespace and the run dir.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const NODE_IP = '10.254.254.2';
const GATEWAY_IP = '10.254.254.1';
/** The first address of the API server's --service-cluster-ip-range (10.96.0.0/16): the `kubernetes` Service. */
export const SERVICE_IP = '10.96.0.1';
const CGROUP_FS = '/sys/fs/cgroup';
/** Hierarchies that track every process of the node (pids) and can stop them all at once (freezer). */
const TRACKING = ['pids', 'freezer'] as const;

/** What the kubelet insists on; inside the node these files read as its values. */
const KUBELET_TUNABLES: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
};

/** Starting processes inside a running node, from any process of the test run (root). */
export interface NodeProcesses {
  /** A path as the node's processes see it, readable from the host (through the holder's root; /var/run/… as /run/…). */
  nodePath(path: string): string;
  /** Starts a process inside the node (its netns, mount ns and cgroup); output appended to logPath. */
  spawn(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): ChildProcess;
  /** Runs a command inside the node and waits for it. */
  exec(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): { status: number; stdout: string; stderr: string };
}

/**
 * spawn/exec for a node given its holder: `nsenter` into the holder's mount and network
 * namespaces, after joining the node's tracking cgroups (so stop() finds the process).
 * The launcher execs, so a spawned child's PID is the command's own.
 */
export function nodeProcesses(node: { holderPid: number; cgroupRoot: string }, started?: Set<ChildProcess>): NodeProcesses {
  const joinCgroup = TRACKING.map((h) => `echo $$ > ${join(CGROUP_FS, h, node.cgroupRoot, 'node', 'cgroup.procs')}`).join(' && ');
  const enter = (cmd: string, args: string[]): string[] => [
    '-c',
    `${joinCgroup} && exec nsenter --target ${node.holderPid} --mount --net -- "$@"`,
    'nc-e2e-enter', cmd, ...args,
  ];
  return {
    // /var/run is a symlink to /run, and an absolute symlink met under /proc/<pid>/root resolves
    // from the caller's root (the machine's /run): take the node's /run directly.
    nodePath: (p) => `/proc/${node.holderPid}/root${p.replace(/^\/var\/run(?=\/|$)/, '/run')}`,
    spawn(cmd, args, logPath, env) {
      const fd = openSync(logPath, 'a');
      const child = spawn('bash', enter(cmd, args), { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
      closeSync(fd);
      started?.add(child);
      return child;
    },
    exec(cmd, args, o = {}) {
      const r = spawnSync('bash', enter(cmd, args), { encoding: 'utf8', input: o.input, timeout: o.timeoutMs ?? 60_000, env: { ...process.env, ...o.env } });
      return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
  };
}

export interface NodeSandbox extends NodeProcesses {
  id: string;
  /** `nce2e-<id>`: the node's network namespace (under /run/netns on the host). */
  netns: string;
  /** Run dir on the host; /var/lib and /var/log of the node are its var-lib/, var-log/ (/run is a tmpfs of the node's own). */
  dir: string;
  /** The kubelet's --cgroup-root. */
  cgroupRoot: string;
  /** PID of the holder of the node's mount namespace. */
  holderPid: number;
  stop(): Promise<void>;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** The v1 hierarchies mounted on this host (cpu, memory, …, name=systemd) and the v2 one, by folder. */
export function cgroupHierarchies(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0) continue;
    const fstype = f[sep + 1];
    const mountPoint = f[4]!;
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && mountPoint.startsWith(`${CGROUP_FS}/`)) out.push(mountPoint);
  }
  return out;
}

function makeCgroup(hierarchy: string, rel: string): void {
  const path = join(hierarchy, rel);
  if (!existsSync(path)) mkdirSync(path, { recursive: true });
  // cpuset: a new v1 cgroup has no CPUs or memory nodes and refuses tasks until it gets its parent's.
  if (existsSync(join(path, 'cpuset.cpus'))) {
    for (const seg of rel.split('/').reduce<string[]>((acc, s) => [...acc, acc.length ? `${acc[acc.length - 1]}/${s}` : s], [])) {
      const p = join(hierarchy, seg);
      const parent = join(p, '..');
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (readFileSync(join(p, f), 'utf8').trim() === '') writeFileSync(join(p, f), readFileSync(join(parent, f), 'utf8'));
      }
    }
  }
}

/** Every PID in a cgroup subtree (v1 or v2). */
function pidsIn(path: string): number[] {
  if (!existsSync(path)) return [];
  const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) pids.push(...pidsIn(join(path, e.name)));
  return pids;
}

/** Removes a cgroup subtree bottom-up (the kernel refuses rmdir of a cgroup with tasks or children). */
function removeCgroup(path: string): void {
  if (!existsSync(path)) return;
  for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(path, e.name));
  rmdirSync(path);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The holder's script: runs in the node's netns and a new mount namespace (a copy of
 * the host's, slave to it); prints READY, then waits.
 */
function holderScript(dir: string): string {
  const lines = [
    'set -eu',
    // A sysfs of the node's own network namespace (sysfs shows the links of the namespace
    // that mounts it), with the host's cgroup hierarchies bound back under it.
    `mount --rbind ${CGROUP_FS} ${dir}/mnt/cgroup`,
    'mount -t sysfs sysfs /sys',
    `mount --rbind ${dir}/mnt/cgroup ${CGROUP_FS}`,
    `umount -l ${dir}/mnt/cgroup`,
    // /run as systemd mounts it on a node: a tmpfs (the CDI specs in /var/run/cdi, the pods' netns
    // mounts, containerd's state). A folder of the run dir on disk instead made every fsync there
    // (the CDI specs netclaim writes at Prepare) a disk write a real node does not pay.
    'mount -t tmpfs -o mode=0755,nosuid,nodev,size=20% tmpfs /run',
    `mount --bind ${dir}/var-lib /var/lib`,
    `mount --bind ${dir}/var-log /var/log`,
    // Shared, as systemd makes every mount of a node (this machine's are private): the runtime
    // refuses a HostToContainer volume whose host mount is neither shared nor slave, and pod
    // netns mounts under /run/netns reach a container only through a peer group. The peer
    // groups are new ones of the node's own mounts: nothing propagates to the machine.
    'mount --make-rshared /run',
    'mount --make-rshared /var/lib',
    'mount --make-rshared /var/log',
    ...Object.keys(KUBELET_TUNABLES).map((k) => `mount --bind ${dir}/tunables/${k.replace('/', '.')} /proc/sys/${k}`),
    'echo READY',
    'exec sleep infinity',
  ];
  return lines.join('\n');
}

/**
 * Removes what an earlier run left when it died before stop(): sandboxes whose cgroup
 * subtree holds no process any more (a live run always has its holder there) lose their
 * cgroups, namespace and run dir. Live sandboxes of concurrent runs are left alone.
 */
export function sweepStaleSandboxes(runRoot: string, log: (l: string) => void = () => {}): void {
  const pidsRoot = join(CGROUP_FS, 'pids');
  for (const e of existsSync(pidsRoot) ? readdirSync(pidsRoot) : []) {
    const m = /^nc-e2e-([0-9a-f]+)$/.exec(e);
    // A sandbox being set up right now has no process yet for a moment: only old ones count.
    if (!m || pidsIn(join(pidsRoot, e)).length > 0 || Date.now() - statSync(join(pidsRoot, e)).mtimeMs < 60_000) continue;
    for (const h of cgroupHierarchies()) {
      try {
        removeCgroup(join(h, e));
      } catch {
        /* a process appeared: leave it */
      }
    }
    spawnSync('ip', ['netns', 'del', `nce2e-${m[1]}`]);
    log(`removed the leftovers of sandbox ${m[1]}`);
  }
  for (const d of existsSync(runRoot) ? readdirSync(runRoot) : []) {
    const idFile = join(runRoot, d, 'sandbox.id');
    if (!d.startsWith('run-') || !existsSync(idFile)) continue;
    if (!existsSync(join(pidsRoot, `nc-e2e-${readFileSync(idFile, 'utf8').trim()}`))) rmSync(join(runRoot, d), { recursive: true, force: true });
  }
}

export async function startNodeSandbox(opts: { id: string; dir: string; log?: (l: string) => void }): Promise<NodeSandbox> {
  const log = opts.log ?? ((): void => {});
  const { id, dir } = opts;
  const netns = `nce2e-${id}`;
  const cgroupRoot = `/nc-e2e-${id}`;
  const hierarchies = cgroupHierarchies();
  const started = new Set<ChildProcess>();
  let holder: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    // 1. Every process of the node and its pods, by the PIDs its cgroups list: the node's
    //    own processes first (SIGTERM, a grace period), then whatever is left (SIGKILL).
    const tracked = (): number[] => [...new Set(TRACKING.flatMap((h) => pidsIn(join(CGROUP_FS, h, cgroupRoot))))];
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    for (let i = 0; i < 50 && [...started].some((c) => c.exitCode === null && c.signalCode === null); i++) await sleep(100);
    for (let round = 0; round < 50; round++) {
      const left = tracked();
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await sleep(100);
    }
    // 2. The cgroups (the mount namespace went with its last process).
    for (const h of hierarchies) {
      try {
        removeCgroup(join(h, cgroupRoot));
      } catch (e) {
        log(`could not remove cgroup ${join(h, cgroupRoot)}: ${(e as Error).message}`);
      }
    }
    // 3. The network namespace (its links, and the pods' namespaces are gone with the mounts).
    spawnSync('ip', ['netns', 'del', netns]);
    // 4. The run dir, unless asked to keep it.
    if (process.env['NETCLAIM_KEEP_E2E'] === '1') log(`node files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const sub of ['var-lib', 'var-log', 'tunables', 'mnt/cgroup']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'sandbox.id'), id);
    for (const [k, v] of Object.entries(KUBELET_TUNABLES)) writeFileSync(join(dir, 'tunables', k.replace('/', '.')), `${v}\n`);
    for (const h of hierarchies) makeCgroup(h, `${cgroupRoot.slice(1)}/node`);

    sh('ip', ['netns', 'add', netns]);
    const inNs = (args: string[]): string => sh('ip', ['-n', netns, ...args]);
    inNs(['link', 'set', 'lo', 'up']);
    inNs(['link', 'add', `nce2e${id}n`, 'type', 'veth', 'peer', 'name', `nce2e${id}g`]);
    inNs(['addr', 'add', `${NODE_IP}/24`, 'dev', `nce2e${id}n`]);
    inNs(['addr', 'add', `${GATEWAY_IP}/24`, 'dev', `nce2e${id}g`]);
    inNs(['link', 'set', `nce2e${id}n`, 'up']);
    inNs(['link', 'set', `nce2e${id}g`, 'up']);
    inNs(['route', 'add', 'default', 'via', GATEWAY_IP, 'dev', `nce2e${id}n`]);
    // The `kubernetes` Service's ClusterIP, where in-cluster clients (netclaim's pod) dial the
    // API server: on lo, as kube-proxy's IPVS mode binds ClusterIPs to a local dummy link;
    // the API bridge (e2e-node.ts) listens there.
    inNs(['addr', 'add', `${SERVICE_IP}/32`, 'dev', 'lo']);
    // IPv4 forwarding on, as on every Kubernetes node (kubeadm checks it; the CNI bridge would
    // turn it on at the first pod, changing the `forwarding` sysctl of every link under the
    // tests' feet): this namespace's own setting, not the machine's.
    sh('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);

    const joinCgroup = TRACKING.map((h) => `echo $$ > ${join(CGROUP_FS, h, cgroupRoot, 'node', 'cgroup.procs')}`).join(' && ');
    holder = spawn('bash', ['-c', `${joinCgroup} && exec nsenter --net=/run/netns/${netns} unshare --mount --propagation slave bash -c "$0"`, holderScript(dir)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.add(holder);
    let errText = '';
    holder.stderr!.on('data', (c: Buffer) => (errText += c.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      holder!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('READY')) resolve();
      });
      holder!.once('exit', (code) => reject(new Error(`node sandbox holder exited (${code}): ${errText}`)));
    });
    const holderPid = holder.pid!;
    log(`node sandbox ${netns}: holder PID ${holderPid}, cgroup root ${cgroupRoot}, run dir ${dir}`);

    return { id, netns, dir, cgroupRoot, holderPid, ...nodeProcesses({ holderPid, cgroupRoot }, started), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
