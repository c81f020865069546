/** How discovery decides what to publish; built once from flags. */
import type { AttributeNaming } from './attributes/names.ts';
import type { DeviceFilter } from './filter-cel.ts';

export interface InventoryOptions {
  /** `netclaim` (default) or `dranet` attribute names. */
  readonly naming: AttributeNaming;
  /** Publish veth interfaces too (default false: they are container plumbing). */
  readonly includeVeth: boolean;
  /** Interface-name globs of container-runtime/CNI plumbing never published. */
  readonly plumbingNames: readonly string[];
  /** Admin interface-name globs to leave out. */
  readonly excludeNames: readonly string[];
  /** Admin CEL filter: a device is published only when it evaluates to true. */
  readonly filter?: DeviceFilter;
}

/** Interfaces that belong to the container runtime, CNI or kube-proxy. */
export const DEFAULT_PLUMBING_NAMES: readonly string[] = [
  'docker*', 'cni*', 'cilium_*', 'lxc*', 'flannel.*', 'cali*', 'vxlan.calico', 'vxlan-v6.calico', 'tunl0',
  'kube-ipvs0', 'kube-bridge', 'nodelocaldns', 'weave', 'datapath', 'genev_sys_*', 'ovs-system', 'antrea-*',
  'virbr*', 'podman*', 'nerdctl*',
];

export const DEFAULT_OPTIONS: InventoryOptions = {
  naming: 'netclaim',
  includeVeth: false,
  plumbingNames: DEFAULT_PLUMBING_NAMES,
  excludeNames: [],
};

/** `*` and `?` globs, anchored. */
export function globMatcher(globs: readonly string[]): (name: string) => string | undefined {
  const compiled = globs.map((g) => [g, new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)] as const);
  return (name) => compiled.find(([, re]) => re.test(name))?.[0];
}
