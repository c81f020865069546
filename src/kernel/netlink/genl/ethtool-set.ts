/**
 * ethtool over generic netlink, the writing side: what `ethtool -K`, `-G`,
 * `-L`, `-C` and `--set-priv-flags` change, for a device by ifindex in the
 * handle's namespace. Only the given fields are sent; the kernel keeps every
 * other value. A request with nothing to change sends nothing.
 *
 * Failures are the kernel's, as KernelError carrying the ifindex and the
 * extack text: EOPNOTSUPP when the driver cannot change that setting at all
 * (rings, channels and coalescing on veth) or does not know a name,
 * EINVAL for a value beyond the device's maximum. Values that cannot be
 * right anywhere (negative, not an integer, a name too long) are a
 * ConfigError before anything is sent.
 *
 * Features are different: the kernel accepts the request and then resolves
 * dependencies (netdev_fix_features), so a feature may stay off although it
 * was asked on. ethtoolFeaturesSet reads the features back and throws when
 * a requested one did not take; ethtoolFeaturesSetReport says which did.
 */
import { DriverError } from '../../../common/errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import type { NlWriter } from '../writer.ts';
import { ETHTOOL_GENL_NAME } from './ethtool-constants.ts';
import { ethtoolFeaturesGet, withIfindex } from './ethtool-ops.ts';
import {
  encodeEthtoolChannelsSet, encodeEthtoolCoalesceSet, encodeEthtoolFeaturesSet, encodeEthtoolPrivFlagsSet, encodeEthtoolRingsSet,
  ethtoolSetIsEmpty, type EthtoolChannelsSettable, type EthtoolRingsSettable,
} from './ethtool-set-codec.ts';
import type { EthtoolCoalesce } from './ethtool-types.ts';
import { genlFamilyResolve } from './genl-ctrl.ts';

export type { EthtoolChannelsSettable, EthtoolRingsSettable } from './ethtool-set-codec.ts';

/** Which requested features are in effect after a FEATURES_SET, each with the state asked for. */
export interface EthtoolFeaturesSetReport {
  /** Requested and now active as requested. */
  readonly applied: Readonly<Record<string, boolean>>;
  /** Requested but left in the other state by the kernel (a dependency, or fixed by the driver). */
  readonly notApplied: Readonly<Record<string, boolean>>;
}

/** One ethtool SET: the request built by `encode` (which validates first), acked without a reply. */
function ethtoolSet(h: NetnsHandle, index: number, op: string, encode: (w: NlWriter, familyId: number) => NlWriter): void {
  const sock = h.genl;
  const family = genlFamilyResolve(h, ETHTOOL_GENL_NAME);
  const w = encode(sock.writer.reset(), family.id);
  w.endMessage();
  try {
    sock.request(w, op);
  } catch (err) {
    throw withIfindex(err, index);
  }
}

/**
 * Requests features on or off (only the named ones change) and reports, from
 * a read-back, which of them the kernel put in effect. Unknown names fail
 * as the kernel says (EOPNOTSUPP "bit name not found"), features the driver
 * never lets change as EINVAL.
 * Equivalent to: `ethtool -K DEV NAME on|off ...`
 */
export function ethtoolFeaturesSetReport(h: NetnsHandle, index: number, features: Readonly<Record<string, boolean>>): EthtoolFeaturesSetReport {
  if (ethtoolSetIsEmpty(features)) return { applied: {}, notApplied: {} };
  ethtoolSet(h, index, 'ETHTOOL_MSG_FEATURES_SET', (w, id) => encodeEthtoolFeaturesSet(w, id, index, features));
  const active = ethtoolFeaturesGet(h, index)?.active ?? {};
  const applied: Record<string, boolean> = {};
  const notApplied: Record<string, boolean> = {};
  for (const [name, want] of Object.entries(features)) (active[name] === want ? applied : notApplied)[name] = want;
  return { applied, notApplied };
}

/**
 * Requests features on or off and checks they took: a feature the kernel
 * left in the other state (a dependency it resolved, e.g. TSO off while
 * checksumming is off) throws a DriverError `KERNEL_NETLINK_ERROR` naming
 * them (context: ifindex, notApplied, applied). The kernel keeps the request
 * as "wanted" and may apply it later, as `ethtool -k` shows with
 * `[requested on]`.
 * Equivalent to: `ethtool -K DEV NAME on|off ...`
 */
export function ethtoolFeaturesSet(h: NetnsHandle, index: number, features: Readonly<Record<string, boolean>>): void {
  const r = ethtoolFeaturesSetReport(h, index, features);
  const missed = Object.entries(r.notApplied);
  if (missed.length === 0) return;
  const list = missed.map(([n, v]) => `${n} ${v ? 'on' : 'off'}`).join(', ');
  throw new DriverError('KERNEL_NETLINK_ERROR', `ETHTOOL_MSG_FEATURES_SET: the kernel did not apply ${list} (ifindex ${index})`, {
    context: { op: 'ETHTOOL_MSG_FEATURES_SET', ifindex: index, notApplied: r.notApplied, applied: r.applied },
  });
}

/**
 * Turns driver private flags on or off (only the named ones change).
 * Equivalent to: `ethtool --set-priv-flags DEV NAME on|off ...`
 */
export function ethtoolPrivFlagsSet(h: NetnsHandle, index: number, flags: Readonly<Record<string, boolean>>): void {
  if (ethtoolSetIsEmpty(flags)) return;
  ethtoolSet(h, index, 'ETHTOOL_MSG_PRIVFLAGS_SET', (w, id) => encodeEthtoolPrivFlagsSet(w, id, index, flags));
}

/**
 * Sets ring sizes and ring options (EINVAL past the device's maxima,
 * EOPNOTSUPP where the driver has no rings or not that option).
 * Equivalent to: `ethtool -G DEV rx N tx N rx-mini N rx-jumbo N rx-buf-len N cqe-size N tx-push on|off rx-push on|off tcp-data-split auto|off|on`
 */
export function ethtoolRingsSet(h: NetnsHandle, index: number, rings: Partial<EthtoolRingsSettable>): void {
  if (ethtoolSetIsEmpty(rings)) return;
  ethtoolSet(h, index, 'ETHTOOL_MSG_RINGS_SET', (w, id) => encodeEthtoolRingsSet(w, id, index, rings));
}

/**
 * Sets queue counts per channel type (EINVAL past a maximum).
 * Equivalent to: `ethtool -L DEV rx N tx N other N combined N`
 */
export function ethtoolChannelsSet(h: NetnsHandle, index: number, ch: EthtoolChannelsSettable): void {
  if (ethtoolSetIsEmpty(ch)) return;
  ethtoolSet(h, index, 'ETHTOOL_MSG_CHANNELS_SET', (w, id) => encodeEthtoolChannelsSet(w, id, index, ch));
}

/**
 * Sets interrupt coalescing parameters (EOPNOTSUPP "unsupported parameter"
 * for one the driver does not implement).
 * Equivalent to: `ethtool -C DEV rx-usecs N tx-frames N adaptive-rx on|off ...`
 */
export function ethtoolCoalesceSet(h: NetnsHandle, index: number, c: Partial<EthtoolCoalesce>): void {
  if (ethtoolSetIsEmpty(c)) return;
  ethtoolSet(h, index, 'ETHTOOL_MSG_COALESCE_SET', (w, id) => encodeEthtoolCoalesceSet(w, id, index, c));
}
