/**
 * Looking at netclaim's container from the host, the way the kernel sees it: its
 * process's /proc/<pid>/status (capabilities, seccomp), mountinfo (what is mounted
 * where, read-only or not, with which propagation), environ; its image's files (the
 * OCI archive's layers); and experiments run inside it with the image's own Node.js
 * (pod-probe.cjs through `crictl exec`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { E2eNodeState } from './e2e-node.ts';
import { crictl, execInContainer } from './netclaim-pod.ts';

/** `Name:\tvalue` lines of /proc/<pid>/status. */
export function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter(Boolean).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

export function environ(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));
}

export interface MountEntry { mountPoint: string; options: string[]; propagation: string[]; fsType: string; source: string }

/** /proc/<pid>/mountinfo, the last mount at each mount point (the one on top). */
export function mounts(pid: number): Map<string, MountEntry> {
  const out = new Map<string, MountEntry>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean)) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    out.set(f[4]!, { mountPoint: f[4]!, options: f[5]!.split(','), propagation: f.slice(6, sep), fsType: f[sep + 1]!, source: f[sep + 2]! });
  }
  return out;
}

/** Capability bit numbers set in a /proc status mask (CapEff: 0000000000201000 → [12, 21]). */
export function capBits(mask: string): number[] {
  const v = BigInt(`0x${mask}`);
  return [...Array(64).keys()].filter((b) => (v >> BigInt(b)) & 1n);
}

/** Capability numbers by the names Kubernetes uses (<linux/capability.h> without CAP_). */
const CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
] as const;

export function capNumber(name: string): number {
  const n = CAPS.indexOf(name.replace(/^CAP_/, '') as (typeof CAPS)[number]);
  if (n < 0) throw new Error(`unknown capability ${name}`);
  return n;
}

export const CAP_NET_ADMIN = capNumber('NET_ADMIN');
export const CAP_SYS_ADMIN = capNumber('SYS_ADMIN');

/** Every file of an OCI image archive, layer by layer: `tar tv` lines (mode, owner, size, path). */
export function imageEntries(archive: string): Array<{ mode: string; path: string }> {
  const read = (member: string): string => {
    const r = spawnSync('tar', ['-xOf', archive, member], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`tar -xOf ${archive} ${member}: ${r.stderr}`);
    return r.stdout;
  };
  const index = JSON.parse(read('index.json')) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(read(`blobs/sha256/${index.manifests[0]!.digest.slice(7)}`)) as { layers: Array<{ digest: string }> };
  const entries: Array<{ mode: string; path: string }> = [];
  for (const l of manifest.layers) {
    const r = spawnSync('bash', ['-c', 'tar -xOf "$0" "$1" | tar -tvz', archive, `blobs/sha256/${l.digest.slice(7)}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`listing layer ${l.digest}: ${r.stderr}`);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const f = line.split(/\s+/);
      entries.push({ mode: f[0]!, path: f.slice(5).join(' ').replace(/ -> .*$/, '') });
    }
  }
  return entries;
}

const probeScript = readFileSync(fileURLToPath(new URL('./pod-probe.cjs', import.meta.url)), 'utf8');

/** Runs pod-probe.cjs inside the container with the image's Node.js; its JSON answer. */
export function probe(node: E2eNodeState, containerId: string, args: string[]): Record<string, unknown> {
  const r = execInContainer(node, containerId, ['/nodejs/bin/node', '-e', probeScript, ...args]);
  if (r.status !== 0) throw new Error(`pod-probe ${args.join(' ')}: exit ${r.status}: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** A pod sandbox's network namespace: the path the runtime mounted it at, and its identity (nsfs dev, inode). */
export function sandboxNetns(node: E2eNodeState, podUid: string): { path: string; dev: number; ino: number } {
  const ids = crictl(node, ['pods', '-q', '--label', `io.kubernetes.pod.uid=${podUid}`]).stdout.trim().split('\n').filter(Boolean);
  if (ids.length !== 1) throw new Error(`pod ${podUid}: ${ids.length} sandboxes`);
  const info = (JSON.parse(crictl(node, ['inspectp', ids[0]!]).stdout) as { info: { pid: number; runtimeSpec: { linux: { namespaces: Array<{ type: string; path?: string }> } } } }).info;
  const path = info.runtimeSpec.linux.namespaces.find((n) => n.type === 'network')?.path;
  if (!path) throw new Error(`pod ${podUid}: no network namespace path`);
  const st = statSync(`/proc/${info.pid}/ns/net`);
  return { path, dev: st.dev, ino: st.ino };
}
