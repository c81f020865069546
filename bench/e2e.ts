/**
 * The node e2e benchmark: pod start-up latency (create → Ready) of a pod with one
 * NIC claim, on the e2e tier's node (real kubelet, containerd, scheduler and
 * controller-manager; netclaim deployed as deploy/install.yaml runs it; see
 * test/e2e/node/). Each sample creates a pod whose ResourceClaimTemplate selects one
 * macvlan with a small config (name, address), waits for Ready (as the API server
 * reports it), then deletes it and waits for the device to be back on the node (not
 * timed). A baseline of the same pod without a claim is measured the same way, so
 * the claim's own share shows.
 *
 * Side by side (`--peer dranet` or `--peer spec.json`, bench/e2e-peer.ts): another DRA
 * network driver runs on the same node beside netclaim, with a macvlan of its own, and
 * every round measures netclaim's pair (claim, no claim) and then the peer's pair, so
 * both see the same node, load and drift; the result has each one's extra latency and
 * the ratio.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startE2eNode, until } from '../test/e2e/node/e2e-node.ts';
import { foreignListed, startForeignDriver, type ForeignDriver, type ForeignDriverSpec } from '../test/e2e/node/foreign-driver.ts';
import { startNetclaim } from '../test/e2e/node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimSpec, create, ensureNamespace, getPod, isReady, linkOnNode,
  podSpec, publishedDevice, request,
} from '../test/e2e/node/workloads.ts';
import { breakdown, describeBreakdown, describeSideBySide, listed, sideBySide } from './e2e-breakdown.ts';
import { klogGrpcCalls, klogPeerCalls, podTimeline } from './e2e-timeline.ts';

/** One driver under test: the template its pods use and how to see its device given back. */
interface Under {
  key: string;
  template: string;
  /** Its NIC; none for a driver of simulated devices (the floor): nothing to give back to the node. */
  ifName?: string;
  /** An address the device has on the node and must have again (netclaim restores it; the peer may not). */
  restoredAddr?: string;
  listed: () => Promise<boolean>;
}

const load = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

export async function benchE2e(opts: { pods: number; log: (s: string) => void; peer?: ForeignDriverSpec; values?: Record<string, unknown> }): Promise<unknown> {
  const node = await startE2eNode({ log: opts.log });
  // Interrupted: the node's processes, cgroups and namespace go too.
  const interrupted = (): void => void node.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  const state = node.state;
  // The peer's device is its own: netclaim leaves it out, as the peer is given only its own.
  const values = { ...opts.values, ...(opts.peer ? { exclude: ['ncpeer*'] } : {}) };
  const daemon = await startNetclaim(state, { values });
  let peer: ForeignDriver | undefined;
  const api = apiOf(state);
  const ns = 'bench-e2e';
  const loadBefore = load();
  try {
    await ensureNamespace(api, ns);
    addLower(state, 'ncbenchlow');
    addMacvlan(state, { name: 'ncbench0', lower: 'ncbenchlow', addresses: ['192.168.90.5/24'] });
    await publishedDevice(state, 'ncbench0');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaimtemplates`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic', namespace: ns },
      spec: { spec: claimSpec([request('nic', byIfName('ncbench0'))], { interface: { name: 'net1', addresses: ['10.90.0.2/24'] } }) },
    });
    const drivers: Under[] = [{ key: 'netclaim', template: 'nic', ifName: 'ncbench0', restoredAddr: '192.168.90.5', listed: () => listed(state, 'ncbench0') }];
    if (opts.peer) {
      const spec = opts.peer;
      const peerIf = spec.devices === 'simulated' ? undefined : 'ncpeer0';
      // No address on the node: dranet copies the device's host routes into the pod (a connected
      // route whose source is the host address fails there once the claim sets another address),
      // and gives back only the name, not addresses (docs/benchmarks.md).
      if (peerIf !== undefined) addMacvlan(state, { name: peerIf, lower: 'ncbenchlow' });
      peer = await startForeignDriver(state, spec, peerIf, { ...(spec.nri === false ? {} : { nriName: `-${spec.driverName}"` }), log: opts.log });
      const sel = peerIf === undefined ? spec.selector : spec.selector.replaceAll('{ifName}', peerIf);
      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaimtemplates`, {
        apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'peer-nic', namespace: ns },
        spec: { spec: { devices: {
          requests: [request('nic', sel, 1, spec.deviceClass)],
          ...(spec.config ? { config: [{ opaque: { driver: spec.driverName, parameters: spec.config } }] } : {}),
        } } },
      });
      drivers.push({ key: spec.label, template: 'peer-nic', ...(peerIf !== undefined ? { ifName: peerIf } : {}), listed: () => foreignListed(state, spec.driverName, peerIf) });
    }

    interface Sample { name: string; uid: string; claim: boolean; createdAt: number; readyMs: number; deletedAt: number; giveBack?: GiveBack }
    /** linkBackMs: absent for a driver without a NIC (the floor). */
    interface GiveBack { linkBackMs?: number; claimGoneMs: number; listedMs: number }
    const startup = async (name: string, d: Under | undefined): Promise<Sample> => {
      const spec = podSpec(d ? [{ name: 'nic', resourceClaimTemplateName: d.template }] : []);
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
      const sample: Sample = { name, uid: pod!.metadata.uid, claim: d !== undefined, createdAt, readyMs, deletedAt };
      if (d) {
        // Give-back: the device back on the node (with its address, where the driver restores it),
        // its claim gone (free to allocate again), listed in the driver's slice.
        const stamps: Partial<GiveBack> = {};
        const ifName = d.ifName;
        await until(`${ifName ?? `${d.key}'s device`} given back`, 60_000, async () => {
          const link = ifName === undefined ? undefined : linkOnNode(state, ifName);
          if (stamps.linkBackMs === undefined && link !== undefined && (d.restoredAddr === undefined || link.addr_info?.some((a) => a.local === d.restoredAddr))) stamps.linkBackMs = performance.now() - d0;
          if (stamps.claimGoneMs === undefined && claimName !== undefined
            && (await api.get(`/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/${claimName}`)).status === 404) stamps.claimGoneMs = performance.now() - d0;
          if (stamps.listedMs === undefined && await d.listed()) stamps.listedMs = performance.now() - d0;
          return (ifName === undefined || stamps.linkBackMs !== undefined) && stamps.claimGoneMs !== undefined && stamps.listedMs !== undefined || undefined;
        }, undefined, 10);
        sample.giveBack = stamps as GiveBack;
      }
      await until(`${name} gone`, 120_000, async () => (await api.get(`/api/v1/namespaces/${ns}/pods/${name}`)).status === 404 || undefined);
      return sample;
    };

    // First pod of each driver: image, CNI and the driver's first claim warm up, not counted.
    for (const d of drivers) await startup(`${d.key}-warm`, d);
    const samples = new Map<string, Sample[]>(drivers.map((d) => [d.key, []]));
    for (let i = 0; i < opts.pods; i++) {
      const line: string[] = [];
      for (const d of drivers) {
        const a = await startup(`${drivers.length > 1 ? `${d.key}-` : ''}nic-${i}`, d);
        const b = await startup(`${drivers.length > 1 ? `${d.key}-` : ''}plain-${i}`, undefined);
        samples.get(d.key)!.push(a, b);
        const back = a.giveBack!.linkBackMs ?? a.giveBack!.claimGoneMs;
        line.push(`${d.key}: with a claim ${a.readyMs.toFixed(0)} ms, without ${b.readyMs.toFixed(0)} ms, ${a.giveBack!.linkBackMs !== undefined ? 'given back' : 'claim gone'} in ${back.toFixed(0)} ms`);
      }
      opts.log(`pod ${i + 1}/${opts.pods}: ${line.join('; ')}`);
    }
    const logs = {
      kubelet: readFileSync(join(state.logs, 'kubelet.log'), 'utf8'),
      containerd: readFileSync(join(state.logs, 'containerd.log'), 'utf8'),
      netclaim: daemon.logs(),
    };
    const meta = {
      machine: { cpus: cpus().length, kernel: release(), kubernetes: state.version, loadAverageBefore: loadBefore, loadAverage: load() },
      daemon: state.daemonMode,
      chartValues: values,
      nodeStartMs: state.timings,
    };
    const timed = (key: string): Array<Sample & { timeline: ReturnType<typeof podTimeline> }> =>
      samples.get(key)!.map((s) => ({ ...s, timeline: podTimeline({ namespace: ns, ...s }, logs) }));
    const result = breakdown(timed('netclaim'), meta);
    for (const line of describeBreakdown(result)) opts.log(line);
    if (!opts.peer) return result;
    const peerLog = peer!.logs();
    // dranet logs its calls' durations; the floor (the kubelet plugin helper at -v=6) its gRPC requests and answers.
    const peerCalls = (name: string): { prepareMs?: number; runPodSandboxMs?: number } => ({ ...klogGrpcCalls(peerLog, { namespace: ns, name }), ...klogPeerCalls(peerLog, { namespace: ns, name }) });
    const peerResult = breakdown(timed(opts.peer.label), {}, { driver: opts.peer.driverName, peerCalls });
    for (const line of describeBreakdown(peerResult)) opts.log(`${opts.peer.label}: ${line}`);
    const side = sideBySide({ netclaim: result, [opts.peer.label]: peerResult }, opts.peer.devices === 'simulated' ? { floor: opts.peer.label } : {});
    for (const line of describeSideBySide(side)) opts.log(line);
    return { ...meta, sideBySide: side, netclaim: result, peer: { label: opts.peer.label, driverName: opts.peer.driverName, command: opts.peer.command, result: peerResult } };
  } finally {
    try {
      const keep = mkdtempSync(join(tmpdir(), 'nc-bench-e2e-'));
      cpSync(state.logs, keep, { recursive: true });
      writeFileSync(join(keep, 'netclaim.log'), daemon.logs());
      opts.log(`node and netclaim logs kept in ${keep}`);
    } catch (e) {
      opts.log(`logs not kept: ${(e as Error).message}`);
    }
    await peer?.stop();
    await daemon.stop();
    await node.stop();
  }
}
