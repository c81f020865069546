/**
 * vitest globalSetup for the `e2e` project (T4): one node for the whole run
 * (control plane, containerd, kubelet; see node/e2e-node.ts) with netclaim's chart
 * applied and its DaemonSet's pod Ready, handed to test files with
 * `inject('e2eNode')`. Test files ask for the chart values they need (a rolling
 * update when they differ) and act on the pod (node/netclaim-daemon.ts,
 * node/netclaim-pod.ts); they run one at a time. NETCLAIM_E2E_DAEMON=process:
 * files run netclaim as a process in the node instead. NETCLAIM_E2E_NODE=none: no
 * node at all, for files that start their own parts (containerd-watch.e2e.test.ts);
 * a file that needs the node then fails at inject('e2eNode').
 */
import type { TestProject } from 'vitest/node';
import { startE2eNode, type E2eNodeState } from './node/e2e-node.ts';
import { servingPod } from './node/netclaim-pod.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eNode: E2eNodeState;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env['NETCLAIM_E2E_NODE'] === 'none') {
    console.log('e2e: no node (NETCLAIM_E2E_NODE=none)');
    return async () => {};
  }
  const t0 = Date.now();
  const node = await startE2eNode({ log: (l) => console.log(`e2e: ${l}`) });
  console.log(`e2e: node ${node.state.nodeName} (${node.state.version}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; files under ${node.state.dir}`);
  if (node.state.daemonMode === 'pod') {
    // The chart's DaemonSet was applied with the node: its first pod, started by the kubelet.
    const t1 = Date.now();
    try {
      const pod = await servingPod(node.state);
      console.log(`e2e: netclaim's pod ${pod.metadata.name} (${node.state.netclaimImage}) Ready in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    } catch (e) {
      await node.stop();
      throw e;
    }
  } else console.log('e2e: netclaim runs as a process in the node (NETCLAIM_E2E_DAEMON=process)');
  project.provide('e2eNode', node.state);
  return () => node.stop();
}
