/**
 * Creating and deleting links: one RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL) per
 * link, kind-specific data from link-kinds.ts, and RTM_DELLINK. Specs are
 * validated before anything is sent, so a bad one creates nothing.
 */
import { ConfigError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.ts';
import type { NlWriter } from '../writer.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { checkIfName, parseMac, validateLinkAddSpec } from './link-add-validate.ts';
import { IFF, IFLA } from './link-constants.ts';
import { encodeKindSpec } from './link-kinds.ts';
import type { LinkAddSpec, LinkKindSpec } from './link-types.ts';
import { RTM } from './rtnl-constants.ts';

/** The common link attributes, for the typed wrappers below. */
export type LinkAddOptions = Omit<LinkAddSpec, 'name' | 'spec'>;
/** The spec variant whose `kind` admits K (macvlan and macvtap share one). */
type SpecOf<K extends LinkKindSpec['kind'], S = LinkKindSpec> = S extends { readonly kind: infer SK } ? (K extends SK ? S : never) : never;
type Params<K extends LinkKindSpec['kind']> = Omit<SpecOf<K>, 'kind'>;

/**
 * Builds the RTM_NEWLINK request for `s` into `w` (no validation; linkAdd
 * validates first). The socket adds NLM_F_REQUEST|NLM_F_ACK, seq and pid.
 */
export function encodeLinkAdd(w: NlWriter, s: LinkAddSpec): NlWriter {
  w.beginMessage(RTM.RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  // ifi_change must cover IFF_UP: with change 0 the kernel takes ifi_flags as the whole flag word.
  encodeIfInfoMsg(w, s.up ? { flags: IFF.IFF_UP, change: IFF.IFF_UP } : {});
  w.attrString(IFLA.IFLA_IFNAME, s.name);
  if (s.mtu !== undefined) w.attrU32(IFLA.IFLA_MTU, s.mtu);
  if (s.mac !== undefined) w.attrBytes(IFLA.IFLA_ADDRESS, parseMac('linkAdd', 'mac', s.mac));
  if (s.numTxQueues !== undefined) w.attrU32(IFLA.IFLA_NUM_TX_QUEUES, s.numTxQueues);
  if (s.numRxQueues !== undefined) w.attrU32(IFLA.IFLA_NUM_RX_QUEUES, s.numRxQueues);
  if (s.netnsFd !== undefined) w.attrU32(IFLA.IFLA_NET_NS_FD, s.netnsFd);
  if (s.master !== undefined) w.attrU32(IFLA.IFLA_MASTER, s.master);
  const k = s.spec;
  // vxlan's lower device goes in IFLA_VXLAN_LINK instead (see kinds/vxlan.ts).
  if (k.kind === 'vlan' || k.kind === 'macvlan' || k.kind === 'macvtap' || k.kind === 'ipvlan') {
    w.attrU32(IFLA.IFLA_LINK, k.parent);
  }
  const info = w.nestStart(IFLA.IFLA_LINKINFO);
  encodeKindSpec(w, k);
  w.nestEnd(info);
  w.endMessage();
  return w;
}

/**
 * Creates a link. Fails with a ConfigError naming the field before sending
 * if `spec` is invalid, and with a KernelError (EEXIST for a taken name,
 * ENODEV for a missing parent, ...) if the kernel refuses. With `netnsFd`
 * the link is created directly in that namespace; `master` is looked up there.
 *
 * Equivalent to: `ip link add NAME [mtu M] [address MAC] [numtxqueues N] [numrxqueues N] [netns NS] [master DEV] [link PARENT] [up] type KIND ...`
 */
export function linkAdd(h: NetnsHandle, spec: LinkAddSpec): void {
  validateLinkAddSpec(spec);
  const w = encodeLinkAdd(h.route.writer.reset(), spec);
  h.route.request(w, 'RTM_NEWLINK');
}

/** Equivalent to: `ip link add NAME type veth peer name PEER [netns PEERNS] [address MAC]` */
export function vethAdd(h: NetnsHandle, name: string, peer: Params<'veth'>['peer'], opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'veth', peer } });
}

/** Equivalent to: `ip link add NAME link PARENT type macvlan [mode MODE]` */
export function macvlanAdd(h: NetnsHandle, name: string, p: Params<'macvlan'>, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'macvlan', ...p } });
}

/** Equivalent to: `ip link add NAME link PARENT type ipvlan [mode MODE]` */
export function ipvlanAdd(h: NetnsHandle, name: string, p: Params<'ipvlan'>, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'ipvlan', ...p } });
}

/** Equivalent to: `ip link add NAME link PARENT type vlan id ID [protocol 802.1Q|802.1ad]` */
export function vlanAdd(h: NetnsHandle, name: string, p: Params<'vlan'>, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'vlan', ...p } });
}

/** Equivalent to: `ip link add NAME type vxlan id VNI [group|remote IP] [local IP] [dev PARENT] [dstport PORT] [[no]learning]` */
export function vxlanAdd(h: NetnsHandle, name: string, p: Params<'vxlan'>, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'vxlan', ...p } });
}

/** Equivalent to: `ip link add NAME type bridge [vlan_filtering 0|1]` */
export function bridgeAdd(h: NetnsHandle, name: string, p: Params<'bridge'> = {}, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'bridge', ...p } });
}

/** Equivalent to: `ip link add NAME type dummy` */
export function dummyAdd(h: NetnsHandle, name: string, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'dummy' } });
}

/** Equivalent to: `ip link add NAME type vrf table TABLE` */
export function vrfAdd(h: NetnsHandle, name: string, p: Params<'vrf'>, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'vrf', ...p } });
}

/** Equivalent to: `ip link add NAME type bond [mode MODE] [miimon MS]` */
export function bondAdd(h: NetnsHandle, name: string, p: Params<'bond'> = {}, opts: LinkAddOptions = {}): void {
  linkAdd(h, { ...opts, name, spec: { kind: 'bond', ...p } });
}

/** Builds RTM_DELLINK for an ifindex, or for a name when `index` is 0. */
export function encodeLinkDelete(w: NlWriter, index: number, name?: string): NlWriter {
  w.beginMessage(RTM.RTM_DELLINK, 0);
  encodeIfInfoMsg(w, { index });
  if (name !== undefined) w.attrString(IFLA.IFLA_IFNAME, name);
  w.endMessage();
  return w;
}

/**
 * Deletes a link (a veth's peer goes with it). ENODEV if there is none.
 *
 * Equivalent to: `ip link delete dev X`
 */
export function linkDelete(h: NetnsHandle, index: IfIndex): void {
  if (!Number.isInteger(index) || index < 1 || index > 0x7fffffff) {
    throw new ConfigError(`linkDelete: index must be a positive ifindex (got ${String(index)})`, { context: { field: 'index', value: index } });
  }
  h.route.request(encodeLinkDelete(h.route.writer.reset(), index), 'RTM_DELLINK');
}

/**
 * Deletes a link by name (the kernel looks it up; no dump needed).
 *
 * Equivalent to: `ip link delete dev X`
 */
export function linkDeleteByName(h: NetnsHandle, name: string): void {
  checkIfName('linkDeleteByName', 'name', name);
  h.route.request(encodeLinkDelete(h.route.writer.reset(), 0, name), 'RTM_DELLINK');
}
