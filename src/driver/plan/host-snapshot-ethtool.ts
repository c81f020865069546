/**
 * The ethtool part of a host snapshot: features, private flags, rings,
 * channels and coalescing, each absent when the driver does not support
 * reading it (the ops answer `undefined` for EOPNOTSUPP), and all of them
 * absent on a kernel without the ethtool netlink family.
 */
import { NotFoundError } from '../../common/errors.ts';
import {
  ethtoolChannelsGet, ethtoolCoalesceGet, ethtoolFeaturesGet, ethtoolPrivFlagsGet, ethtoolRingsGet,
} from '../../kernel/netlink/genl/ethtool-ops.ts';
import type { EthtoolChannels, EthtoolFeatures, EthtoolRings } from '../../kernel/netlink/genl/ethtool-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { SnapshotEthtool } from './plan-types.ts';

/** Every ethtool setting of `ifIndex` that restoring it may need. */
export function snapshotEthtool(h: NetnsHandle, ifIndex: number): SnapshotEthtool {
  let features: EthtoolFeatures | undefined;
  try {
    features = ethtoolFeaturesGet(h, ifIndex);
  } catch (err) {
    // No ethtool genl family at all (a kernel built without ETHTOOL_NETLINK): nothing to read.
    if (err instanceof NotFoundError) return {};
    throw err;
  }
  const privateFlags = ethtoolPrivFlagsGet(h, ifIndex);
  const rings = ethtoolRingsGet(h, ifIndex);
  const channels = ethtoolChannelsGet(h, ifIndex);
  const coalesce = ethtoolCoalesceGet(h, ifIndex);
  return {
    ...(features === undefined ? {} : { features: changeableFeatures(features), knownFeatures: Object.keys(features.active) }),
    ...(privateFlags === undefined ? {} : { privateFlags: { ...privateFlags } }),
    ...(rings === undefined ? {} : splitRings(rings)),
    ...(channels === undefined ? {} : splitChannels(channels)),
    ...(coalesce === undefined ? {} : { coalesce: { ...coalesce } }),
  };
}

/** Active state of each feature the user may change (`ethtool -k` shows the others as `[fixed]`). */
export function changeableFeatures(f: EthtoolFeatures): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [name, on] of Object.entries(f.active)) if (f.hw[name] === true && f.nochange[name] !== true) out[name] = on;
  return out;
}

/** Ring settings and their maximums (`rxMax`, `txPushBufLenMax`...), apart. */
export function splitRings(r: EthtoolRings): Pick<SnapshotEthtool, 'rings' | 'ringsMax'> {
  const rings: Record<string, number | boolean | string> = {};
  const ringsMax: Record<string, number> = {};
  for (const [k, v] of Object.entries(r) as [string, number | boolean | undefined][]) {
    if (v === undefined) continue;
    if (k.endsWith('Max') && typeof v === 'number') ringsMax[k] = v;
    else rings[k] = v;
  }
  return { rings, ringsMax };
}

const CHANNEL_TYPES = ['rx', 'tx', 'other', 'combined'] as const;

/** Channel counts keyed as the claim config names them (`rx`, `combined`...) and maximums keyed `rxMax`... */
export function splitChannels(c: EthtoolChannels): Pick<SnapshotEthtool, 'channels' | 'channelsMax'> {
  const channels: Record<string, number> = {};
  const channelsMax: Record<string, number> = {};
  for (const t of CHANNEL_TYPES) {
    const count = c[`${t}Count`];
    const max = c[`${t}Max`];
    if (count !== undefined) channels[t] = count;
    if (max !== undefined) channelsMax[`${t}Max`] = max;
  }
  return { channels, channelsMax };
}
