/**
 * vitest globalSetup for the `conformance` project: one control plane for the
 * whole run, handed to test files with `inject('controlPlane')` (and its
 * kubeconfig as $KUBECONFIG for anything they spawn). When
 * NETCLAIM_CONTROL_PLANE_STATE names a running one (control-plane.sh env), that
 * one is used and left running.
 */
import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startControlPlane, stateOf, type ControlPlaneState } from './control-plane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: ControlPlaneState;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const existing = process.env['NETCLAIM_CONTROL_PLANE_STATE'];
  if (existing) {
    const state = JSON.parse(readFileSync(existing, 'utf8')) as ControlPlaneState;
    console.log(`conformance: using the running control plane ${state.version} at ${state.server}`);
    process.env['KUBECONFIG'] = state.kubeconfigPath;
    project.provide('controlPlane', state);
    return undefined;
  }
  const cp = await startControlPlane({ log: (l) => console.log(`conformance: ${l}`) });
  if (cp.gatesNotSet.length) console.log(`conformance: gates not listed by ${cp.version} (GA or unknown), left at their defaults: ${cp.gatesNotSet.join(', ')}`);
  process.env['KUBECONFIG'] = cp.kubeconfigPath;
  project.provide('controlPlane', stateOf(cp));
  return () => cp.stop();
}
