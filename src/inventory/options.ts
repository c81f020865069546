/** How discovery decides what to publish; built once from flags. */
import type { AttributeNaming } from './attributes/names.ts';
import type { DeviceFilter } from './filter-cel.ts';
import type { ShareableOptions } from './shareable.ts';

export interface InventoryOptions {
  /** `netclaim` (default) or `dranet` attribute names. */
  readonly naming: AttributeNaming;
  /**
   * Virtual link kinds (IFLA_INFO_KIND: `macvlan`, `vlan`, `veth`, `dummy`, `ipoib`…) to publish.
   * Default none: netdevs without a bus device are published only when the admin opts their kind in.
   * `*` opts every movable kind in (the reference peer's wider default, `--compat dranet`).
   */
  readonly includeKinds: readonly string[];
  /** The node's InternalIP(s): the interface holding one is an uplink, like a default-route interface. */
  readonly nodeIps: readonly string[];
  /** Interface-name globs of container-runtime/CNI plumbing never published. */
  readonly plumbingNames: readonly string[];
  /** Admin interface-name globs to leave out. */
  readonly excludeNames: readonly string[];
  /** Admin CEL filter: a device is published only when it evaluates to true. */
  readonly filter?: DeviceFilter;
  /**
   * Publish list-valued attributes (KEP-5491; the API server's alpha gate
   * DRAListTypeAttributes must be on, or every slice holding one is refused):
   * `resource.kubernetes.io/numaNode` as `ints` for a function local to several nodes.
   */
  readonly listAttributes?: boolean;
  /** Shareable parents (shareable.ts, docs/sharing.md); absent: none. */
  readonly shareable?: ShareableOptions;
}

/**
 * Interfaces that belong to the kernel, the container runtime, CNI or
 * kube-proxy: never published, whatever kinds are opted in.
 */
export const DEFAULT_PLUMBING_NAMES: readonly string[] = [
  // created by the kernel when a module loads (ifb: numifbs=2 by default; the ip_gre/ipip/sit fallback devices)
  'ifb*', 'tunl0', 'gre0', 'gretap0', 'erspan0', 'ip_vti0', 'ip6_vti0', 'sit0', 'ip6tnl0', 'ip6gre0', 'pimreg*',
  // container runtimes and virtualisation
  'docker*', 'podman*', 'nerdctl*', 'virbr*', 'lxcbr*', 'lxdbr*',
  // CNI plugins and kube-proxy
  'cni*', 'cbr0', 'cilium_*', 'lxc*', 'flannel*', 'cali*', 'vxlan.calico', 'vxlan-v6.calico', 'kube-ipvs0',
  'kube-bridge', 'kube-dummy-if', 'nodelocaldns', 'weave', 'vethwe*', 'datapath', 'genev_sys_*', 'vxlan_sys_*',
  'ovs-system', 'br-int', 'br-ex', 'br-local', 'ovn-k8s-*', 'breth*', 'antrea-*', 'nmstate*', 'kube-ovn*', 'mirror0',
  // netclaim's own per-claim sub-interfaces (shareable.ts)
  'ncsub*',
];

/** Every kind, for `--include-kind '*'`. */
export const ALL_KINDS = '*';

export const DEFAULT_OPTIONS: InventoryOptions = {
  naming: 'netclaim',
  includeKinds: [],
  nodeIps: [],
  plumbingNames: DEFAULT_PLUMBING_NAMES,
  excludeNames: [],
};

/** `*` and `?` globs, anchored. One combined test first: most names match none. */
export function globMatcher(globs: readonly string[]): (name: string) => string | undefined {
  const source = (g: string): string => `^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`;
  const compiled = globs.map((g) => [g, new RegExp(source(g))] as const);
  const any = globs.length === 0 ? undefined : new RegExp(globs.map((g) => `(?:${source(g)})`).join('|'));
  return (name) => (any?.test(name) ? compiled.find(([, re]) => re.test(name))?.[0] : undefined);
}
