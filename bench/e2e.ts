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
import { cpus, release } from 'node:os';
import { startE2eNode, until } from '../test/e2e/node/e2e-node.ts';
import { startNetclaim } from '../test/e2e/node/netclaim-daemon.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimSpec, create, deleteAndWait, ensureNamespace, getPod, isReady, linkOnNode,
  podSpec, publishedDevice, request,
} from '../test/e2e/node/workloads.ts';
import { summarize } from './stats.ts';

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

    const startup = async (name: string, withClaim: boolean): Promise<number> => {
      const spec = podSpec(withClaim ? [{ name: 'nic', resourceClaimTemplateName: 'nic' }] : []);
      const t0 = performance.now();
      await create(api, `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec });
      // Polled every 10 ms: the resolution of the numbers below.
      await until(`${name} Ready`, 120_000, async () => isReady(await getPod(api, ns, name)) || undefined, undefined, 10);
      const ms = performance.now() - t0;
      await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/${name}`);
      if (withClaim) await until('ncbench0 back on the node', 30_000, () => linkOnNode(state, 'ncbench0'));
      return ms;
    };

    await startup('warm', true); // first pod: image and CNI warm-up, not counted
    const samples = { claim: [] as number[], noClaim: [] as number[] };
    for (let i = 0; i < opts.pods; i++) {
      samples.claim.push(await startup(`nic-${i}`, true));
      samples.noClaim.push(await startup(`plain-${i}`, false));
      opts.log(`pod ${i + 1}/${opts.pods}: with a NIC claim ${samples.claim.at(-1)!.toFixed(0)} ms, without ${samples.noClaim.at(-1)!.toFixed(0)} ms`);
    }
    return {
      machine: { cpus: cpus().length, kernel: release(), kubernetes: state.version },
      unit: 'ms',
      podStartupWithNicClaim: summarize(samples.claim),
      podStartupWithoutClaim: summarize(samples.noClaim),
      nodeStartMs: state.timings,
    };
  } finally {
    await daemon.stop();
    await node.stop();
  }
}
