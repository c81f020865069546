/**
 * Another DRA network driver on the e2e node, beside netclaim, for the side-by-side
 * bench (bench/e2e.ts --peer): started as a process inside the node (its network and
 * mount namespaces and cgroup, as a host-network privileged DaemonSet pod sees the
 * node: the kubelet's plugin directories, containerd's NRI socket, the node's links),
 * given a kubeconfig for the API server as the node reaches it, and stopped with the
 * node's other processes.
 *
 * What a driver needs to be plugged in (docs/benchmarks.md, "Plugging in another driver"):
 * a command line, its driver name, a DeviceClass (made here with the selector
 * `device.driver == "<driver>"` unless it exists), a CEL selector that picks one device by
 * its interface name, and optionally the opaque claim config to give it. `{kubeconfig}`,
 * `{nodeName}` and `{ifName}` in the command, the selector and the config's strings are
 * filled in. A driver whose devices are not NICs (`devices: 'simulated'`: the bench's
 * floor, the upstream DRA test driver) gets no interface; its selector picks any of its
 * devices.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tail, until, type E2eNodeState } from './e2e-node.ts';
import { nodeProcesses } from './node-sandbox.ts';
import { apiOf, type Obj } from './workloads.ts';

export interface ForeignDriverSpec {
  /** A short name for reports and log files. */
  label: string;
  /** argv, run inside the node as root; `{kubeconfig}`, `{nodeName}` filled in. */
  command: string[];
  /** Its DRA driver name (ResourceSlice spec.driver, the claim config's driver). */
  driverName: string;
  /** The DeviceClass claims name; made with `device.driver == "<driverName>"` if absent. */
  deviceClass: string;
  /** CEL selecting the one device this bench gives it; `{ifName}` filled in. */
  selector: string;
  /** Opaque parameters for its claim config (rename to net1, one address, ...). */
  config?: Obj;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Whether it connects an NRI plugin the bench waits for (default true: network drivers do). */
  nri?: boolean;
  /**
   * `nic` (default): the bench gives it a macvlan of its own, which its selector picks by
   * `{ifName}`. `simulated`: its devices are not NICs (a null driver), the bench gives it
   * no interface and waits for any device of its driver in this node's slices.
   */
  devices?: 'nic' | 'simulated';
}

export interface ForeignDriver {
  spec: ForeignDriverSpec;
  pid: number;
  logs(): string;
  stop(graceMs?: number): Promise<void>;
}

/** Replaces `{key}` in every string of `v` (arrays and objects walked). */
export function fillIn<T>(v: T, values: Record<string, string>): T {
  if (typeof v === 'string') return v.replace(/\{(kubeconfig|nodeName|ifName)\}/g, (m, k: string) => values[k] ?? m) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => fillIn(x, values)) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fillIn(x, values)])) as T;
  return v;
}

/** Checks a spec read from a file: a clear error naming the field. */
export function parseForeignDriverSpec(raw: unknown, source: string): ForeignDriverSpec {
  const o = raw as Record<string, unknown>;
  if (o === null || typeof o !== 'object') throw new Error(`${source}: a JSON object`);
  for (const f of ['label', 'driverName', 'deviceClass', 'selector'] as const) {
    if (typeof o[f] !== 'string' || o[f] === '') throw new Error(`${source}: ${f}: a non-empty string`);
  }
  if (!Array.isArray(o['command']) || o['command'].length === 0 || !o['command'].every((a) => typeof a === 'string')) throw new Error(`${source}: command: a non-empty array of strings (argv)`);
  if (o['config'] !== undefined && (o['config'] === null || typeof o['config'] !== 'object')) throw new Error(`${source}: config: an object`);
  if (o['env'] !== undefined && (o['env'] === null || typeof o['env'] !== 'object' || !Object.values(o['env']).every((x) => typeof x === 'string'))) throw new Error(`${source}: env: an object of strings`);
  if (o['nri'] !== undefined && typeof o['nri'] !== 'boolean') throw new Error(`${source}: nri: true or false`);
  if (o['devices'] !== undefined && o['devices'] !== 'nic' && o['devices'] !== 'simulated') throw new Error(`${source}: devices: "nic" or "simulated"`);
  return o as unknown as ForeignDriverSpec;
}

/**
 * Whether the driver lists a device with `ifName` (any string attribute equal to it) in this
 * node's slices; with `ifName` undefined (simulated devices), any device of the driver.
 */
export async function foreignListed(node: E2eNodeState, driverName: string, ifName: string | undefined): Promise<boolean> {
  const r = await apiOf(node).get<{ items?: Array<{ spec: { driver: string; devices?: Array<{ attributes?: Record<string, { string?: string }> }> } }> }>(
    `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=${node.nodeName}`);
  return (r.body.items ?? []).some((s) => s.spec.driver === driverName
    && (s.spec.devices ?? []).some((d) => ifName === undefined || Object.values(d.attributes ?? {}).some((a) => a.string === ifName)));
}

/**
 * Starts the driver and waits until it lists `ifName` (any device of its own when undefined:
 * registered with the kubelet and its inventory up), and containerd has its NRI plugin
 * connected when `nriName` is given.
 */
export async function startForeignDriver(node: E2eNodeState, spec: ForeignDriverSpec, ifName: string | undefined, opts: { nriName?: string; log?: (l: string) => void } = {}): Promise<ForeignDriver> {
  const api = apiOf(node);
  const cls = await api.get(`/apis/resource.k8s.io/v1/deviceclasses/${spec.deviceClass}`);
  if (cls.status === 404) {
    const r = await api.post('/apis/resource.k8s.io/v1/deviceclasses', {
      apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: spec.deviceClass },
      spec: { selectors: [{ cel: { expression: `device.driver == "${spec.driverName}"` } }] },
    });
    if (r.status !== 201) throw new Error(`DeviceClass ${spec.deviceClass}: ${r.status} ${r.text}`);
  }
  // The node's admin kubeconfig (the API server as the node reaches it): the peer runs
  // without RBAC of its own here; what it may do is not what is measured.
  const values: Record<string, string> = { kubeconfig: join(node.dir, 'admin.kubeconfig'), nodeName: node.nodeName, ...(ifName !== undefined ? { ifName } : {}) };
  const [cmd, ...args] = fillIn(spec.command, values);
  const logPath = join(node.logs, `peer-${spec.label}.log`);
  const child: ChildProcess = nodeProcesses(node).spawn(cmd!, args, logPath, spec.env);
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const logs = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const driver: ForeignDriver = {
    spec, pid: child.pid!, logs,
    async stop(graceMs = 10_000) {
      if (exited()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(t);
    },
  };
  try {
    await until(`${spec.label} lists ${ifName ?? 'a device'}`, 120_000, async () => {
      if (exited()) throw new Error(`${spec.label} exited ${child.exitCode ?? child.signalCode}`);
      return await foreignListed(node, spec.driverName, ifName) || undefined;
    }, () => tail(logPath), 250);
    if (opts.nriName !== undefined) {
      const containerdLog = join(node.logs, 'containerd.log');
      await until(`${spec.label}'s NRI plugin connected`, 60_000, () => readFileSync(containerdLog, 'utf8').includes(opts.nriName!) || undefined, () => tail(logPath), 250);
    }
  } catch (e) {
    await driver.stop();
    throw e;
  }
  opts.log?.(`${spec.label} (${spec.driverName}, pid ${driver.pid}) lists ${ifName ?? 'its devices'}`);
  return driver;
}
