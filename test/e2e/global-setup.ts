/**
 * vitest globalSetup for the `e2e` project (T4): one node for the whole run
 * (control plane, containerd, kubelet; see node/e2e-node.ts), handed to test files
 * with `inject('e2eNode')`. Test files start and stop netclaim themselves
 * (node/netclaim-daemon.ts), so they can restart it; they run one at a time.
 */
import type { TestProject } from 'vitest/node';
import { startE2eNode, type E2eNodeState } from './node/e2e-node.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eNode: E2eNodeState;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const node = await startE2eNode({ log: (l) => console.log(`e2e: ${l}`) });
  console.log(`e2e: node ${node.state.nodeName} (${node.state.version}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; files under ${node.state.dir}`);
  project.provide('e2eNode', node.state);
  return () => node.stop();
}
