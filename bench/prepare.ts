/**
 * The prepare benchmark: NodePrepareResources per claim, through ClaimDriver
 * with the real kernel (veth devices in a throwaway namespace, each with
 * addresses, routes in two tables, a rule and a permanent neighbour), the
 * real claim store (fsync on the state directory's filesystem) and CDI files.
 *
 *   excluded  claims from memory: planning, host snapshot, CDI, durable store
 *   included  claims fetched from a real kube-apiserver (started here from the
 *             conformance harness's binaries when they are built; skipped
 *             otherwise, and said so)
 *
 * Each sample prepares one claim with one device and a full config, then the
 * claim is unprepared (not timed) so the next sample plans again.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRIVER_NAME } from '../src/common/driver.ts';
import type { ClaimUid } from '../src/common/ids.ts';
import type { AllocatedClaim, ClaimSource } from '../src/driver/claim.ts';
import { ClaimDriver } from '../src/driver/claim-driver.ts';
import { hostReads } from '../src/driver/host-reads.ts';
import { ClaimStore } from '../src/driver/state/claim-store.ts';
import { buildInventory } from '../src/inventory/build.ts';
import { collectSnapshot } from '../src/inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../src/inventory/options.ts';
import { loadLibc } from '../src/kernel/libc/index.ts';
import { NetnsHandle } from '../src/kernel/netns/handle.ts';
import { KubeClaimSource } from '../src/surfaces/kube/claim-source.ts';
import { summarize } from './stats.ts';

export interface PrepareBenchOptions {
  readonly runs: number;
  readonly log: (s: string) => void;
}

const POOL = 'bench-node';
const DEVICES = 20;
const PARAMS = {
  interface: { name: 'net1', mtu: 1400, addresses: ['10.60.1.2/24', 'fd00:60::2/64'], sysctls: { 'ipv4.rp_filter': 2 } },
  routes: [{ destination: '10.61.0.0/16', gateway: '10.60.1.1' }, { destination: '10.62.0.0/16', gateway: '10.60.1.1', table: 200 }],
  rules: [{ priority: 3000, source: '10.60.1.0/24', table: 200 }],
  ethtool: { features: { 'rx-gro': true, tso: false } },
};

function claimFor(i: number, device: string): AllocatedClaim {
  return {
    namespace: 'bench', name: `claim-${i}`, uid: `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}` as ClaimUid,
    reservedFor: [{ resource: 'pods', name: `pod-${i}`, uid: `pod-${i}` }],
    allocation: {
      results: [{ request: 'nic', driver: DRIVER_NAME, pool: POOL, device }],
      config: [{ source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER_NAME, parameters: PARAMS } }],
    },
  };
}

async function samples(driver: ClaimDriver, claims: readonly AllocatedClaim[], runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = claims[i % claims.length]!;
    const ref = { namespace: c.namespace, name: c.name, uid: c.uid };
    const t0 = performance.now();
    const r = await driver.prepare([ref]);
    out.push(performance.now() - t0);
    const answer = r.get(c.uid);
    if (answer === undefined || 'error' in answer) throw new Error(`prepare failed: ${JSON.stringify(answer)}`);
    await driver.unprepare([ref]);
  }
  return out;
}

export async function benchPrepare(o: PrepareBenchOptions): Promise<Record<string, unknown>> {
  const ns = `ncbp${process.pid % 10000}`;
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-prepare-'));
  execFileSync('ip', ['netns', 'add', ns]);
  const lines: string[] = [];
  for (let i = 0; i < DEVICES; i++) {
    lines.push(`link add ncb${i} type veth peer name ncb${i}p`, `addr add 10.70.${i}.2/24 dev ncb${i}`, `addr add 10.71.${i}.2/24 dev ncb${i}`,
      `link set ncb${i} up`, `route add 10.72.${i}.0/24 via 10.70.${i}.1 table 100`, `route add 10.73.${i}.0/24 via 10.70.${i}.1`,
      `rule add from 10.70.${i}.0/24 lookup 100 pref ${1000 + i}`, `neigh add 10.70.${i}.9 lladdr 02:00:00:00:00:09 dev ncb${i} nud permanent`);
  }
  execFileSync('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') });
  const libc = loadLibc('koffi');
  const h = NetnsHandle.open(`/run/netns/${ns}`, { libc });
  const options = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
  const inv = buildInventory(collectSnapshot(h, { sysfsRoot: '/sys' }, options), options);
  const devices = inv.devices.filter((d) => /^ncb\d+$/.test(d.ifName ?? '')).map((d) => d.name);
  const claims = devices.map((d, i) => claimFor(i, d));
  const store = ClaimStore.open(join(dir, 'state'));
  const make = (source: ClaimSource): ClaimDriver => new ClaimDriver({
    driverName: DRIVER_NAME, poolName: POOL, claims: source, store,
    inventory: { current: inv, hold: () => {}, release: () => {} }, kernel: hostReads(h, '/sys'), cdiDir: join(dir, 'cdi'),
  });
  const fs = statfsSync(dir);
  try {
    o.log(`prepare: ${o.runs} claims from memory (API fetch excluded)…`);
    const memory = new Map(claims.map((c) => [c.name, c]));
    const excluded = make({ get: (_ns, name) => Promise.resolve(memory.get(name)!) });
    await samples(excluded, claims, 20); // warm-up
    const excludedMs = summarize(await samples(excluded, claims, o.runs));
    const included = await withApiServer(claims, o, async (source, stored) => {
      const d = make(source);
      await samples(d, stored, 20);
      return summarize(await samples(d, stored, o.runs));
    });
    return {
      suite: 'prepare',
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
      stateDir: { path: dir, fsType: `0x${fs.type.toString(16)}` },
      claim: 'one device; MTU, 2 addresses, 2 routes (+2 copied), 1 rule (+1 copied), 1 copied neighbour, ethtool features, sysctl; CDI spec + durable record',
      apiFetchExcludedMs: excludedMs,
      apiFetchIncludedMs: included,
    };
  } finally {
    store.close();
    h.close();
    execFileSync('ip', ['netns', 'delete', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with a ClaimSource on a real kube-apiserver holding `claims`, or reports why it could not. */
async function withApiServer<T>(claims: readonly AllocatedClaim[], o: PrepareBenchOptions, fn: (s: ClaimSource, stored: readonly AllocatedClaim[]) => Promise<T>): Promise<T | { skipped: string }> {
  const { resolveBinDir, startControlPlane, stateOf } = await import('../test/conformance/control-plane.ts');
  const bin = resolveBinDir();
  if (!existsSync(join(bin, 'kube-apiserver'))) return { skipped: `no kube-apiserver in ${bin}: run test/conformance/build.sh first` };
  o.log('prepare: starting kube-apiserver for the API-included run…');
  const cp = await startControlPlane();
  try {
    const { KubeClient } = await import('../test/conformance/kube-client.ts');
    const { kubeConfigFor } = await import('../test/conformance/slice-fixtures.ts');
    const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
    await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    const api = new KubeClaimSource({ kubeConfig: kubeConfigFor(stateOf(cp), cp.token) });
    const stored: AllocatedClaim[] = [];
    for (const c of claims) {
      const created = await kube.post<{ metadata: { uid: string } }>('/apis/resource.k8s.io/v1/namespaces/bench/resourceclaims', {
        apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: c.name, namespace: 'bench' },
        spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'netclaim' } }] } },
      });
      const status = {
        allocation: { devices: { results: c.allocation!.results, config: c.allocation!.config } },
        reservedFor: c.reservedFor.map((r) => ({ ...r, uid: crypto.randomUUID() })),
      };
      const body = { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: c.name, namespace: 'bench', uid: created.body.metadata.uid }, status };
      const r = await kube.put(`/apis/resource.k8s.io/v1/namespaces/bench/resourceclaims/${c.name}/status`, body);
      if (r.status !== 200) throw new Error(`allocate ${c.name}: ${r.status} ${r.text}`);
      stored.push({ ...c, uid: created.body.metadata.uid as ClaimUid });
    }
    return await fn(api, stored);
  } finally {
    await cp.stop();
  }
}
