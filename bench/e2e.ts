/**
 * The node e2e benchmark: pod start-up latency (create → Ready) of a pod with one
 * NIC claim, on the e2e tier's node (real kubelet, containerd, scheduler and
 * controller-manager; netclaim deployed as deploy/install.yaml runs it; see
 * test/e2e/node/). Each sample creates a pod whose ResourceClaimTemplate selects one
 * macvlan with a small config (name, address), waits for Ready (as the API server
 * reports it), then deletes it and waits for the device to be back on the node (not
 * timed). A baseline of the same pod without a claim is measured the same way, so
 * the claim's own share shows.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startE2eNode, until } from '../test/e2e/node/e2e-node.ts';
import { startNetclaim } from '../test/e2e/node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimSpec, create, ensureNamespace, getPod, isReady, linkOnNode,
  podSpec, publishedDevice, request,
} from '../test/e2e/node/workloads.ts';
import { breakdown, describeBreakdown, listed } from './e2e-breakdown.ts';
import { podTimeline } from './e2e-timeline.ts';

export async function benchE2e(opts: { pods: number; log: (s: string) => void }): Promise<unknown> {
  const node = await startE2eNode({ log: opts.log });
  // Interrupted: the node's processes, cgroups and namespace go too.
  const interrupted = (): void => void node.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  const state = node.state;
  const daemon = await startNetclaim(state);
  const api = apiOf(state);
  const ns = 'bench-e2e';
  try {
    await ensureNamespace(api, ns);
    addLower(state, 'ncbenchlow');
    addMacvlan(state, { name: 'ncbench0', lower: 'ncbenchlow', addresses: ['192.168.90.5/24'] });
    await publishedDevice(state, 'ncbench0');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaimtemplates`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic', namespace: ns },
      spec: { spec: claimSpec([request('nic', byIfName('ncbench0'))], { interface: { name: 'net1', addresses: ['10.90.0.2/24'] } }) },
    });

    interface Sample { name: string; uid: string; claim: boolean; createdAt: number; readyMs: number; deletedAt: number; giveBack?: GiveBack }
    interface GiveBack { linkBackMs: number; claimGoneMs: number; listedMs: number }
    const startup = async (name: string, withClaim: boolean): Promise<Sample> => {
      const spec = podSpec(withClaim ? [{ name: 'nic', resourceClaimTemplateName: 'nic' }] : []);
      // A workload that exits on SIGTERM, as real ones do: `sleep` as PID 1 ignores it, and the
      // kubelet's 2 s minimum grace plus its relist then dominate the give-back (docs/benchmarks.md).
      (spec['containers'] as { command: string[] }[])[0]!.command = ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep infinity & wait'];
      const createdAt = Date.now();
      const t0 = performance.now();
      await create(api, `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec });
      // Polled every 10 ms: the resolution of the numbers below.
      const pod = await until(`${name} Ready`, 120_000, async () => {
        const p = await getPod(api, ns, name);
        return isReady(p) ? p : undefined;
      }, undefined, 10);
      const readyMs = performance.now() - t0;
      const claimName = pod!.status?.resourceClaimStatuses?.[0]?.resourceClaimName;
      const deletedAt = Date.now();
      const d0 = performance.now();
      const r = await api.delete(`/api/v1/namespaces/${ns}/pods/${name}`);
      if (r.status !== 200 && r.status !== 202) throw new Error(`DELETE pod ${name}: ${r.status} ${r.text}`);
      const sample: Sample = { name, uid: pod!.metadata.uid, claim: withClaim, createdAt, readyMs, deletedAt };
      if (withClaim) {
        // Give-back: the device back on the node with its address (restored), its claim gone (free to allocate again), listed in the slice.
        const stamps: Partial<GiveBack> = {};
        await until('ncbench0 given back', 60_000, async () => {
          const link = linkOnNode(state, 'ncbench0');
          if (stamps.linkBackMs === undefined && link?.addr_info?.some((a) => a.local === '192.168.90.5')) stamps.linkBackMs = performance.now() - d0;
          if (stamps.claimGoneMs === undefined && claimName !== undefined
            && (await api.get(`/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/${claimName}`)).status === 404) stamps.claimGoneMs = performance.now() - d0;
          if (stamps.listedMs === undefined && await listed(state, 'ncbench0')) stamps.listedMs = performance.now() - d0;
          return stamps.linkBackMs !== undefined && stamps.claimGoneMs !== undefined && stamps.listedMs !== undefined || undefined;
        }, undefined, 10);
        sample.giveBack = stamps as GiveBack;
      }
      await until(`${name} gone`, 120_000, async () => (await api.get(`/api/v1/namespaces/${ns}/pods/${name}`)).status === 404 || undefined);
      return sample;
    };

    await startup('warm', true); // first pod: image and CNI warm-up, not counted
    const samples: Sample[] = [];
    for (let i = 0; i < opts.pods; i++) {
      const a = await startup(`nic-${i}`, true);
      const b = await startup(`plain-${i}`, false);
      samples.push(a, b);
      opts.log(`pod ${i + 1}/${opts.pods}: with a NIC claim ${a.readyMs.toFixed(0)} ms, without ${b.readyMs.toFixed(0)} ms; device given back in ${a.giveBack!.linkBackMs.toFixed(0)} ms`);
    }
    const logs = {
      kubelet: readFileSync(join(state.logs, 'kubelet.log'), 'utf8'),
      containerd: readFileSync(join(state.logs, 'containerd.log'), 'utf8'),
      netclaim: daemon.logs(),
    };
    const result = breakdown(samples.map((s) => ({ ...s, timeline: podTimeline({ namespace: ns, ...s }, logs) })), {
      machine: { cpus: cpus().length, kernel: release(), kubernetes: state.version, loadAverage: loadavg().map((x) => Number(x.toFixed(2))) },
      daemon: state.daemonMode,
      nodeStartMs: state.timings,
    });
    for (const line of describeBreakdown(result)) opts.log(line);
    return result;
  } finally {
    try {
      const keep = mkdtempSync(join(tmpdir(), 'nc-bench-e2e-'));
      cpSync(state.logs, keep, { recursive: true });
      writeFileSync(join(keep, 'netclaim.log'), daemon.logs());
      opts.log(`node and netclaim logs kept in ${keep}`);
    } catch (e) {
      opts.log(`logs not kept: ${(e as Error).message}`);
    }
    await daemon.stop();
    await node.stop();
  }
}
