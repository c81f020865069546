/**
 * What a claim's own config may set on a device, by the policy of its
 * DeviceClass. A claim creator is not the cluster admin: without a policy,
 * a claim could detach the admin's eBPF programs from a host NIC, take any
 * MAC on the L2 segment (a gateway's), or flip driver private flags that act
 * on the whole adapter and its firmware. So, by default, a claim config may not set:
 *
 *   interface.disableEbpfPrograms   the admin's tc/tcx/XDP programs stay
 *   ethtool.privateFlags            their scope is the driver's: several are
 *                                   port-, adapter- or firmware-wide
 *   subInterface.vlanId             a VLAN is a broadcast domain the admin
 *                                   chooses (docs/sharing.md)
 *   interface.hardwareAddr          unless it falls in a policy.hardwareAddrRanges range
 *   interface.sysctls[KEY]          unless KEY is in DEFAULT_CLAIM_SYSCTLS or policy.sysctls
 *
 * A DeviceClass config (source FromClass) may set anything, and may carry a
 * `policy` that widens (allowFields, hardwareAddrRanges, sysctls) or narrows
 * (denyFields) this; the policies of several class configs add up, a deny
 * winning over an allow. A policy in a claim config is refused.
 */
import { NETWORK_CONFIG } from './fields.ts';
import type { ConfigIssue } from './issues.ts';
import { formatPath, type AnyNode, type PathSegment } from './nodes.ts';
import { parseMac } from './net-values.ts';
import { macInRange, parseMacRange, type MacRange } from './policy-values.ts';
import type { NetworkConfig } from './types.ts';

type Policy = NonNullable<NetworkConfig['policy']>;

/** Fields claims may not set unless a class allows them (hardwareAddr and sysctls have rules of their own). */
export const DEFAULT_DENIED_FIELDS: readonly string[] = ['interface.disableEbpfPrograms', 'ethtool.privateFlags', 'subInterface.vlanId'];

/**
 * Sysctls a claim may set without a class widening the list: each acts only
 * on how the pod's own interface receives and configures itself. Left out:
 * the ones that make the pod answer or route for others on the segment
 * (proxy_arp, proxy_ndp, send_redirects), that accept what hosts normally
 * refuse (accept_source_route, accept_local, route_localnet, arp_accept), and
 * that switch IPsec off (disable_policy, disable_xfrm).
 */
export const DEFAULT_CLAIM_SYSCTLS: readonly string[] = [
  'ipv4.rp_filter', 'ipv4.accept_redirects', 'ipv4.log_martians', 'ipv4.arp_filter', 'ipv4.arp_notify',
  'ipv4.drop_gratuitous_arp', 'ipv4.ignore_routes_with_linkdown',
  'ipv6.accept_ra', 'ipv6.accept_ra_defrtr', 'ipv6.accept_ra_pinfo', 'ipv6.accept_redirects', 'ipv6.accept_dad',
  'ipv6.dad_transmits', 'ipv6.autoconf', 'ipv6.disable_ipv6', 'ipv6.addr_gen_mode', 'ipv6.use_tempaddr',
  'ipv6.hop_limit', 'ipv6.mtu', 'ipv6.keep_addr_on_down', 'ipv6.ndisc_notify', 'ipv6.ignore_routes_with_linkdown',
];

export const POLICY_IN_CLAIM = 'a policy can only be set in a DeviceClass config (source FromClass), not in a claim';

/** The policy that holds for a device: every class config's, added up. */
export interface ClassPolicy {
  readonly allowFields: ReadonlySet<string>;
  readonly denyFields: ReadonlySet<string>;
  readonly hardwareAddrRanges: readonly string[];
  readonly sysctls: ReadonlySet<string>;
}

/** Adds up the policies of a device's class configs (absent ones count as empty). */
export function combinePolicies(policies: readonly (Policy | undefined)[]): ClassPolicy {
  const all = policies.filter((p): p is Policy => p !== undefined);
  const union = (pick: (p: Policy) => readonly string[] | undefined): string[] => [...new Set(all.flatMap((p) => pick(p) ?? []))];
  return {
    allowFields: new Set(union((p) => p.allowFields)),
    denyFields: new Set(union((p) => p.denyFields)),
    hardwareAddrRanges: union((p) => p.hardwareAddrRanges),
    sysctls: new Set(union((p) => p.sysctls)),
  };
}

/**
 * The fields a claim config sets that its class does not allow, at `base`
 * (`config[2].opaque.parameters`); `className` names the DeviceClass in the
 * messages (undefined when it is not known).
 */
export function claimPolicyIssues(config: NetworkConfig, policy: ClassPolicy, base: readonly PathSegment[], className: string | undefined): ConfigIssue[] {
  const cls = className === undefined ? 'the DeviceClass' : `DeviceClass "${className}"`;
  const issues: ConfigIssue[] = [];
  const add = (path: readonly PathSegment[], message: string): void => { issues.push({ path: formatPath([...base, ...path]), message }); };
  if (config.policy !== undefined) {
    add(['policy'], POLICY_IN_CLAIM);
  }
  const ranges = policy.hardwareAddrRanges.map(parseMacRange).filter((r): r is MacRange => r !== undefined);
  for (const path of setPaths(config)) {
    const names = path.filter((s): s is string => typeof s === 'string');
    const under = (paths: ReadonlySet<string> | readonly string[]): string | undefined =>
      [...paths].find((p) => { const ps = p.split('.'); return ps.every((n, i) => names[i] === n); });
    const denied = under(policy.denyFields);
    if (denied !== undefined) {
      add(path, `claims of ${cls} may not set this field: the class denies ${denied} (policy.denyFields)`);
      continue;
    }
    if (under(policy.allowFields) !== undefined) continue;
    const byDefault = under(DEFAULT_DENIED_FIELDS);
    if (byDefault !== undefined) {
      add(path, `claims of ${cls} may not set this field: only a DeviceClass config may, unless the class allows ${byDefault} (policy.allowFields)`);
    } else if (names.join('.') === 'interface.hardwareAddr') {
      const problem = macProblemFor(config.interface!.hardwareAddr!, ranges, policy.hardwareAddrRanges);
      if (problem !== undefined) add(path, `claims of ${cls} may not set this MAC: ${problem}`);
    } else if (names.join('.') === 'interface.sysctls') {
      const key = (path[2] as { key: string }).key;
      if (!DEFAULT_CLAIM_SYSCTLS.includes(key) && !policy.sysctls.has(key)) {
        add(path, `claims of ${cls} may not set this sysctl: it is not in the default list and the class does not allow it (policy.sysctls)`);
      }
    }
  }
  return issues;
}

function macProblemFor(mac: string, ranges: readonly MacRange[], texts: readonly string[]): string | undefined {
  if (ranges.length === 0) return 'the class allows no MAC range (policy.hardwareAddrRanges)';
  const b = parseMac(mac);
  if (b !== undefined && ranges.some((r) => macInRange(b, r))) return undefined;
  return `${mac} is outside the class's ranges (${texts.join(', ')})`;
}

/**
 * The paths a config sets, as the policy sees them: objects are walked into,
 * interface.sysctls one key deep (`interface.sysctls[ipv4.rp_filter]`);
 * lists, maps and scalars are leaves. `policy` is left out
 * (claimPolicyIssues refuses it whole).
 */
export function setPaths(config: NetworkConfig): PathSegment[][] {
  const out: PathSegment[][] = [];
  const walk = (node: AnyNode, v: unknown, path: PathSegment[]): void => {
    if (node.kind !== 'object') { out.push(path); return; }
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (child === undefined || !Object.hasOwn(node.fields, k) || (path.length === 0 && k === 'policy')) continue;
      if (node.keyedPaths === true) out.push([...path, { key: k }]);
      else walk(node.fields[k]!, child, [...path, k]);
    }
  };
  walk(NETWORK_CONFIG, config, []);
  return out;
}
