/**
 * Helpers for the attach engine's kernel tests (src/driver/attach): realistic
 * plans (the host snapshot and the planner from a claim config, as Prepare
 * makes them) and oracle snapshots of an interface's host state or of a
 * pod, read with `ip -j`, `ethtool -k` and `sysctl`, normalised so two can be
 * compared with toEqual.
 */
import { execFileSync } from 'node:child_process';
import type { DeviceName } from '../../src/common/ids.ts';
import { resolveDeviceConfig } from '../../src/config/claim-config/resolve.ts';
import type { AllocationResult } from '../../src/driver/claim.ts';
import { snapshotHost } from '../../src/driver/plan/host-snapshot.ts';
import { planDevice } from '../../src/driver/plan/plan-device.ts';
import type { DevicePlan } from '../../src/driver/record-model.ts';
import type { Device } from '../../src/inventory/model.ts';
import { linkGetByName } from '../../src/kernel/netlink/route/link-ops.ts';
import { hasEthtool, ethtoolK } from './ethtool-oracle.ts';
import { ipJson, testLibc, type TestNetns } from './netns-fixture.ts';

/** The plan Prepare would store for interface `ifName` of `host` under claim config `parameters`. */
export function planFor(host: TestNetns, ifName: string, parameters: unknown, device = `dev-${ifName}`): DevicePlan {
  // As the DeviceClass's config, which may set anything: the class policy is policy.test.ts's.
  const r = resolveDeviceConfig('nic', [{ source: 'FromClass', opaque: { driver: 'netclaim.dev', parameters } }]);
  if (!r.ok) throw r.error;
  const link = linkGetByName(host.handle, ifName);
  const snap = snapshotHost(host.handle, link.index, { libc: testLibc, sysctlKeys: Object.keys(r.config.interface?.sysctls ?? {}) });
  const dev: Device = {
    name: device as DeviceName, kind: 'virtual', ifName, ifIndex: link.index, charDevices: [], netdevPresent: true, attributes: {}, dropped: [],
  };
  const result: AllocationResult = { request: 'nic', driver: 'netclaim.dev', pool: 'node-1', device };
  const p = planDevice({ result, config: r.config, device: dev, host: snap, charDevices: [] });
  if (!p.ok) throw new Error(`plan: ${JSON.stringify(p.issues)}`);
  return { ...p.plan, env: [], cdiDeviceIds: [] };
}

/** `sysctl -n` of each key inside `ns` (missing ones left out). */
export function sysctls(ns: TestNetns, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    try {
      out[k] = execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-n', k], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      /* no such sysctl */
    }
  }
  return out;
}

type Json = Record<string, unknown>;

const LINK_FIELDS = [
  'ifindex', 'ifname', 'mtu', 'address', 'operstate', 'ifalias', 'txqlen', 'min_mtu', 'max_mtu',
  'gso_max_size', 'gso_max_segs', 'gro_max_size', 'gso_ipv4_max_size', 'gro_ipv4_max_size', 'master',
] as const;
const VOLATILE_ADDR = new Set(['valid_life_time', 'preferred_life_time']);

const pick = (o: Json, keys: readonly string[]): Json => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
const sortJson = (xs: readonly unknown[]): unknown[] => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const omit = (o: Json, drop: ReadonlySet<string>): Json => Object.fromEntries(Object.entries(o).filter(([k]) => !drop.has(k)));

/** Routes of every table, both families, that use `dev` (as output or as a multipath leg), `expires` dropped. */
export function routesOf(ns: TestNetns, dev: string): unknown[] {
  const out: unknown[] = [];
  for (const fam of ['-4', '-6']) {
    for (const r of ipJson<Json[]>(ns, fam, 'route', 'show', 'table', 'all')) {
      const legs = r['nexthops'] as Json[] | undefined;
      if (r['dev'] !== dev && !legs?.some((n) => n['dev'] === dev)) continue;
      out.push(omit(r, new Set(['expires'])));
    }
  }
  return sortJson(out);
}

export const rulesOf = (ns: TestNetns): unknown[] => [...ipJson<unknown[]>(ns, 'rule', 'show'), ...ipJson<unknown[]>(ns, '-6', 'rule', 'show')];

export interface IfState {
  readonly link: Json;
  readonly flags: string[];
  readonly addrs: unknown[];
  readonly routes: unknown[];
  readonly rules: unknown[];
  readonly neigh: unknown[];
  readonly ethtool: string[];
  readonly sysctls: Record<string, string>;
}

export const IF_SYSCTLS = ['arp_ignore', 'arp_announce', 'rp_filter', 'forwarding', 'accept_local'];

/** Everything the oracles say about interface `dev` of `ns`, volatile fields (statistics, lifetimes) removed. */
export function ifState(ns: TestNetns, dev: string): IfState {
  const [l] = ipJson<Json[]>(ns, '-d', 'link', 'show', 'dev', dev);
  const [a] = ipJson<Json[]>(ns, 'addr', 'show', 'dev', dev);
  const keys = [...IF_SYSCTLS.map((k) => `net.ipv4.conf.${dev}.${k}`), `net.ipv6.conf.${dev}.forwarding`, `net.ipv6.conf.${dev}.accept_dad`];
  return {
    link: pick(l!, LINK_FIELDS),
    flags: [...(l!['flags'] as string[])].sort(),
    addrs: ((a!['addr_info'] as Json[]) ?? []).map((x) => omit(x, VOLATILE_ADDR)),
    routes: routesOf(ns, dev),
    rules: rulesOf(ns),
    neigh: sortJson(ipJson<unknown[]>(ns, 'neigh', 'show', 'dev', dev, 'nud', 'permanent')),
    ethtool: hasEthtool ? ethtoolK(ns, dev) : [],
    sysctls: sysctls(ns, keys),
  };
}

/**
 * ifState once it has settled: operstate follows a link going up through
 * linkwatch, asynchronously (slowly under the QEMU lane's emulated CPU), so
 * a "before" taken right after set-up may still say UNKNOWN. Two reads
 * 150 ms apart must agree.
 */
export async function settledIfState(ns: TestNetns, dev: string, ms = 5000): Promise<IfState> {
  const deadline = Date.now() + ms;
  let last = ifState(ns, dev);
  for (;;) {
    await new Promise((r) => setTimeout(r, 150));
    const now = ifState(ns, dev);
    if (JSON.stringify(now) === JSON.stringify(last) || Date.now() > deadline) return now;
    last = now;
  }
}

/** The names of a namespace's links. */
export const linkNames = (ns: TestNetns): string[] => ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname).sort();

/** Percentile of sorted samples. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
