/**
 * What sub-interface a claim gets on a shareable parent (docs/sharing.md),
 * from its merged config: pure. The schema lets `subInterface` fields merge
 * one by one across the class and claim layers, so whether `mode`, `flags`
 * and `vlanId` fit the merged `type` is checked here, each problem naming
 * its field.
 *
 * The name is derived from the claim, request and device (`ncsub` + 10 hex
 * digits of their SHA-256), so a retried Prepare, a restart or a reconcile
 * finds the same name, and two claims never share one (a collision, 2^-40
 * per pair, is refused by the kernel's EEXIST, never adopted: the ledger
 * names the claim that owns a name).
 */
import { createHash } from 'node:crypto';
import type { NetworkConfig } from '../../config/claim-config/types.ts';
import { IPVLAN_F } from '../../kernel/netlink/route/kinds/ipvlan.ts';
import type { IpvlanMode, MacvlanMode } from '../../kernel/netlink/route/link-types.ts';
import { SUB_INTERFACE_PREFIX } from '../../inventory/shareable.ts';

export type SubInterfaceSpec =
  | { readonly type: 'macvlan'; readonly mode: MacvlanMode }
  | { readonly type: 'ipvlan'; readonly mode: IpvlanMode; readonly flags: 'bridge' | 'private' | 'vepa' }
  | { readonly type: 'vlan'; readonly vlanId: number };

const MACVLAN: readonly string[] = ['bridge', 'private', 'vepa', 'passthru'];
const IPVLAN: readonly string[] = ['l2', 'l3', 'l3s'];

/** The spec, or the problems (`path`: under `subInterface`). Absent config: a macvlan in bridge mode. */
export function subInterfaceSpec(config: NetworkConfig): { ok: true; spec: SubInterfaceSpec } | { ok: false; issues: { path: string; message: string }[] } {
  const s = config.subInterface ?? {};
  const type = s.type ?? 'macvlan';
  const issues: { path: string; message: string }[] = [];
  if (s.mode !== undefined) {
    const allowed = type === 'macvlan' ? MACVLAN : type === 'ipvlan' ? IPVLAN : [];
    if (!allowed.includes(s.mode)) {
      issues.push({ path: 'subInterface.mode', message: allowed.length === 0 ? `is not used by type ${type}` : `"${s.mode}" is not a ${type} mode (${allowed.join(', ')})` });
    }
  }
  if (s.flags !== undefined && type !== 'ipvlan') issues.push({ path: 'subInterface.flags', message: `is for type ipvlan only, not ${type}` });
  if (s.vlanId !== undefined && type !== 'vlan') issues.push({ path: 'subInterface.vlanId', message: `is for type vlan only, not ${type}` });
  if (s.vlanId === undefined && type === 'vlan') issues.push({ path: 'subInterface.vlanId', message: 'is required for type vlan' });
  if (issues.length > 0) return { ok: false, issues };
  if (type === 'macvlan') return { ok: true, spec: { type, mode: (s.mode ?? 'bridge') as MacvlanMode } };
  if (type === 'ipvlan') return { ok: true, spec: { type, mode: (s.mode ?? 'l2') as IpvlanMode, flags: s.flags ?? 'bridge' } };
  return { ok: true, spec: { type, vlanId: s.vlanId! } };
}

/** The node-unique interface name of a claim's sub-interface. */
export function subInterfaceName(claimUid: string, request: string, device: string): string {
  return SUB_INTERFACE_PREFIX + createHash('sha256').update(`${claimUid}/${request}/${device}`).digest('hex').slice(0, 10);
}

/** IFLA_IPVLAN_FLAGS of an ipvlan spec. */
export function ipvlanFlags(flags: 'bridge' | 'private' | 'vepa'): number {
  return flags === 'private' ? IPVLAN_F.IPVLAN_F_PRIVATE : flags === 'vepa' ? IPVLAN_F.IPVLAN_F_VEPA : 0;
}
