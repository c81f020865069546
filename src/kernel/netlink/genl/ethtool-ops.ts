/**
 * ethtool over generic netlink: what `ethtool DEV`, `-k`, `-l`, `-g`, `-c`
 * and `--show-priv-flags` show, for a device by ifindex in the handle's
 * namespace (the handle's generic netlink socket lives there, so the same
 * ifindex in two namespaces means two different devices).
 *
 * Every Get returns `undefined` when the driver does not implement the
 * query (the kernel answers EOPNOTSUPP: rings and private flags on veth,
 * link modes on devices without link settings): callers treat that as
 * "absent". Any other failure (ENODEV for a missing device...) throws a
 * KernelError carrying the ifindex; NotFoundError when the kernel has no
 * ethtool netlink family at all.
 */
import { KernelError } from '../../errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import type { NlMessage } from '../message.ts';
import type { NetlinkSocket } from '../socket.ts';
import {
  decodeEthtoolChannels, decodeEthtoolCoalesce, decodeEthtoolLinkInfo, decodeEthtoolLinkModes, decodeEthtoolLinkState,
  decodeEthtoolRings, encodeEthtoolRequest, expectReply,
} from './ethtool-codec.ts';
import { ETH_SS, ETHTOOL_GENL_NAME, ETHTOOL_MSG as C } from './ethtool-constants.ts';
import { decodeEthtoolFeatures, decodeEthtoolPrivFlags, decodeEthtoolStrsets, encodeEthtoolStrsetGet } from './ethtool-features.ts';
import type {
  EthtoolChannels, EthtoolCoalesce, EthtoolFeatures, EthtoolLinkInfo, EthtoolLinkModes, EthtoolLinkState, EthtoolPrivFlags,
  EthtoolRings,
} from './ethtool-types.ts';
import { genlFamilyResolve } from './genl-ctrl.ts';

const EOPNOTSUPP = 95;

/** True when `err` is the kernel saying "this driver does not support that" (EOPNOTSUPP). */
export function ethtoolNotSupported(err: unknown): boolean {
  return err instanceof KernelError && err.errno === EOPNOTSUPP;
}

/** The error with the device's ifindex added (the socket does not know it). */
export function withIfindex(err: unknown, ifindex: number): unknown {
  if (!(err instanceof KernelError) || err.ifindex !== undefined) return err;
  return new KernelError(err.code, {
    op: err.op, errno: err.errno, ifindex,
    ...(err.extack !== undefined ? { extack: err.extack } : {}),
    ...(err.extackOffset !== undefined ? { extackOffset: err.extackOffset } : {}),
    ...(err.netns !== undefined ? { netns: err.netns } : {}),
  });
}

/** One ethtool GET: request, single reply, EOPNOTSUPP → undefined. */
function ethtoolGet<T>(h: NetnsHandle, index: number, cmd: number, op: string, decode: (buf: Buffer, m: NlMessage) => T | undefined): T | undefined {
  const family = genlFamilyResolve(h, ETHTOOL_GENL_NAME);
  const sock = h.genl;
  const w = encodeEthtoolRequest(sock.writer, family.id, cmd, index);
  w.endMessage();
  let out: T | undefined;
  try {
    sock.request(w, op, (buf, m) => { out ??= decode(buf, m); });
  } catch (err) {
    if (ethtoolNotSupported(err)) return undefined;
    throw withIfindex(err, index);
  }
  return expectReply(out, op);
}

/** The feature names (ETH_SS_FEATURES, global to the kernel), fetched once per socket. */
const featureNames = new WeakMap<NetlinkSocket, readonly string[]>();

function ethtoolFeatureNames(h: NetnsHandle): readonly string[] {
  const sock = h.genl;
  const hit = featureNames.get(sock);
  if (hit) return hit;
  const family = genlFamilyResolve(h, ETHTOOL_GENL_NAME);
  const w = encodeEthtoolStrsetGet(sock.writer, family.id, undefined, [ETH_SS.ETH_SS_FEATURES]);
  w.endMessage();
  let sets: Map<number, string[]> | undefined;
  sock.request(w, 'ETHTOOL_MSG_STRSET_GET', (buf, m) => { sets ??= decodeEthtoolStrsets(buf, m); });
  const names = expectReply(sets, 'ETHTOOL_MSG_STRSET_GET').get(ETH_SS.ETH_SS_FEATURES) ?? [];
  featureNames.set(sock, names);
  return names;
}

/**
 * Speed, duplex, autonegotiation, lanes and link modes. Speed and duplex
 * are absent when unknown (e.g. a physical NIC with its link down).
 * Equivalent to: `ethtool DEV` (the Speed/Duplex/Auto-negotiation lines)
 */
export function ethtoolLinkModesGet(h: NetnsHandle, index: number): EthtoolLinkModes | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_LINKMODES_GET, 'ETHTOOL_MSG_LINKMODES_GET', decodeEthtoolLinkModes);
}

/**
 * Port (connector), transceiver, PHY address, MDI-X.
 * Equivalent to: `ethtool DEV` (the Port/PHYAD/Transceiver/MDI-X lines)
 */
export function ethtoolLinkInfoGet(h: NetnsHandle, index: number): EthtoolLinkInfo | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_LINKINFO_GET, 'ETHTOOL_MSG_LINKINFO_GET', decodeEthtoolLinkInfo);
}

/**
 * Whether the link is detected, plus SQI and the extended down reason where
 * the driver reports them. Answered for every netdev.
 * Equivalent to: `ethtool DEV` (the "Link detected" line)
 */
export function ethtoolLinkStateGet(h: NetnsHandle, index: number): EthtoolLinkState | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_LINKSTATE_GET, 'ETHTOOL_MSG_LINKSTATE_GET', decodeEthtoolLinkState);
}

/**
 * Offload features: changeable (hw), requested (wanted), in effect (active)
 * and never changeable (nochange), each a map of every feature name the
 * kernel knows. Answered for every netdev.
 * Equivalent to: `ethtool -k DEV`
 */
export function ethtoolFeaturesGet(h: NetnsHandle, index: number): EthtoolFeatures | undefined {
  const names = ethtoolFeatureNames(h);
  return ethtoolGet(h, index, C.ETHTOOL_MSG_FEATURES_GET, 'ETHTOOL_MSG_FEATURES_GET', (b, m) => decodeEthtoolFeatures(b, m, names));
}

/**
 * Queue counts and maxima per channel type.
 * Equivalent to: `ethtool -l DEV`
 */
export function ethtoolChannelsGet(h: NetnsHandle, index: number): EthtoolChannels | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_CHANNELS_GET, 'ETHTOOL_MSG_CHANNELS_GET', decodeEthtoolChannels);
}

/**
 * Ring sizes and maxima (undefined on veth: EOPNOTSUPP).
 * Equivalent to: `ethtool -g DEV`
 */
export function ethtoolRingsGet(h: NetnsHandle, index: number): EthtoolRings | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_RINGS_GET, 'ETHTOOL_MSG_RINGS_GET', decodeEthtoolRings);
}

/**
 * Interrupt coalescing: the parameters the driver supports.
 * Equivalent to: `ethtool -c DEV`
 */
export function ethtoolCoalesceGet(h: NetnsHandle, index: number): EthtoolCoalesce | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_COALESCE_GET, 'ETHTOOL_MSG_COALESCE_GET', decodeEthtoolCoalesce);
}

/**
 * Driver private flags, name → on (undefined when the driver has none to
 * offer through ethtool: EOPNOTSUPP).
 * Equivalent to: `ethtool --show-priv-flags DEV`
 */
export function ethtoolPrivFlagsGet(h: NetnsHandle, index: number): EthtoolPrivFlags | undefined {
  return ethtoolGet(h, index, C.ETHTOOL_MSG_PRIVFLAGS_GET, 'ETHTOOL_MSG_PRIVFLAGS_GET', decodeEthtoolPrivFlags);
}
