/**
 * ethtool settings of the device: applying the pod's (features, private
 * flags, channels, rings, coalescing, in that order: private flags and
 * channel counts may change ring sizes) and putting the host snapshot's
 * back. These are properties of the device, not of a namespace: they travel
 * with it, so giving the device back must undo them explicitly.
 *
 * Restoring compares first and changes only what differs, so a device that
 * already matches costs reads only.
 */
import {
  ethtoolChannelsGet, ethtoolCoalesceGet, ethtoolFeaturesGet, ethtoolPrivFlagsGet, ethtoolRingsGet,
} from '../../kernel/netlink/genl/ethtool-ops.ts';
import {
  ethtoolChannelsSet, ethtoolCoalesceSet, ethtoolFeaturesSet, ethtoolFeaturesSetReport, ethtoolPrivFlagsSet, ethtoolRingsSet,
  type EthtoolRingsSettable,
} from '../../kernel/netlink/genl/ethtool-set.ts';
import type { EthtoolCoalesce } from '../../kernel/netlink/genl/ethtool-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { EthtoolRingsConfig } from '../../config/claim-config/types.ts';
import type { PodInterfacePlan, SnapshotEthtool } from '../plan/plan-types.ts';
import type { DetachProblem } from './attach-types.ts';

export type EthtoolPart = 'features' | 'privateFlags' | 'channels' | 'rings' | 'coalesce';
export const ETHTOOL_PARTS: readonly EthtoolPart[] = ['features', 'privateFlags', 'channels', 'rings', 'coalesce'];

type PodEthtool = NonNullable<PodInterfacePlan['ethtool']>;

/** ETHTOOL_TCP_DATA_SPLIT_*: `auto` is UNKNOWN (0, the driver's default), then DISABLED 1, ENABLED 2. */
const TCP_DATA_SPLIT = { auto: 0, disabled: 1, enabled: 2 } as const;

/** The config's ring settings in the kernel's terms (tcpDataSplit as ETHTOOL_TCP_DATA_SPLIT_*). */
export function ringsRequest(r: EthtoolRingsConfig): Partial<EthtoolRingsSettable> {
  const { tcpDataSplit, ...rest } = r;
  return { ...rest, ...(tcpDataSplit === undefined ? {} : { tcpDataSplit: TCP_DATA_SPLIT[tcpDataSplit] }) };
}

const nonEmpty = (o: object | undefined): boolean => o !== undefined && Object.keys(o).length > 0;

/**
 * Applies the pod's ethtool settings to `index`, recording each part in
 * `applied` before it is sent (a part the kernel half-applied must be undone
 * too). A feature the kernel leaves in the other state fails the attach.
 * Equivalent to: `ethtool -K/--set-priv-flags/-L/-G/-C DEV ...`
 */
export function ethtoolApply(h: NetnsHandle, index: number, e: PodEthtool, applied: EthtoolPart[]): void {
  if (nonEmpty(e.features)) {
    applied.push('features');
    ethtoolFeaturesSet(h, index, e.features);
  }
  if (nonEmpty(e.privateFlags)) {
    applied.push('privateFlags');
    ethtoolPrivFlagsSet(h, index, e.privateFlags);
  }
  if (nonEmpty(e.channels)) {
    applied.push('channels');
    ethtoolChannelsSet(h, index, e.channels!);
  }
  if (nonEmpty(e.rings)) {
    applied.push('rings');
    ethtoolRingsSet(h, index, ringsRequest(e.rings!));
  }
  if (nonEmpty(e.coalesce)) {
    applied.push('coalesce');
    ethtoolCoalesceSet(h, index, e.coalesce as Partial<EthtoolCoalesce>);
  }
}

/** The entries of `want` whose value differs from `have`. */
function diff<V>(want: Readonly<Record<string, V>>, have: Readonly<Record<string, unknown>> | undefined): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of Object.entries(want)) if (have?.[k] !== v) out[k] = v;
  return out;
}

const CHANNEL_COUNT = { rx: 'rxCount', tx: 'txCount', other: 'otherCount', combined: 'combinedCount' } as const;

/** Reads one part now and sets the snapshot's values that differ; true when something was set. */
function restorePart(h: NetnsHandle, index: number, snap: SnapshotEthtool, part: EthtoolPart, problems: DetachProblem[]): boolean {
  switch (part) {
    case 'features': {
      if (snap.features === undefined) return false;
      const d = diff(snap.features, ethtoolFeaturesGet(h, index)?.active);
      if (Object.keys(d).length === 0) return false;
      const r = ethtoolFeaturesSetReport(h, index, d);
      const missed = Object.entries(r.notApplied).map(([n, v]) => `${n} ${v ? 'on' : 'off'}`);
      if (missed.length > 0) problems.push({ step: 'ethtool', message: `features the kernel did not restore: ${missed.join(', ')}` });
      return true;
    }
    case 'privateFlags': {
      if (snap.privateFlags === undefined) return false;
      const d = diff(snap.privateFlags, ethtoolPrivFlagsGet(h, index));
      if (Object.keys(d).length > 0) ethtoolPrivFlagsSet(h, index, d);
      return Object.keys(d).length > 0;
    }
    case 'channels': {
      if (snap.channels === undefined) return false;
      const now = ethtoolChannelsGet(h, index);
      const have: Record<string, number | undefined> = {};
      for (const [k, field] of Object.entries(CHANNEL_COUNT)) have[k] = now?.[field];
      const d = diff(snap.channels, have);
      if (Object.keys(d).length > 0) ethtoolChannelsSet(h, index, d);
      return Object.keys(d).length > 0;
    }
    case 'rings': {
      if (snap.rings === undefined) return false;
      const d = diff(snap.rings, ethtoolRingsGet(h, index) as Readonly<Record<string, unknown>> | undefined);
      if (Object.keys(d).length > 0) ethtoolRingsSet(h, index, d as Partial<EthtoolRingsSettable>);
      return Object.keys(d).length > 0;
    }
    case 'coalesce': {
      if (snap.coalesce === undefined) return false;
      const d = diff(snap.coalesce, ethtoolCoalesceGet(h, index) as Readonly<Record<string, unknown>> | undefined);
      if (Object.keys(d).length > 0) ethtoolCoalesceSet(h, index, d as Partial<EthtoolCoalesce>);
      return Object.keys(d).length > 0;
    }
  }
}

/**
 * Puts the snapshot's ethtool settings back on `index` (only `parts`, all by
 * default), each part on its own: a failure is a problem and the next part
 * is still tried. Returns the parts that were changed.
 */
export function ethtoolRestore(
  h: NetnsHandle, index: number, snap: SnapshotEthtool, problems: DetachProblem[], parts: readonly EthtoolPart[] = ETHTOOL_PARTS,
): EthtoolPart[] {
  const changed: EthtoolPart[] = [];
  for (const part of parts) {
    try {
      if (restorePart(h, index, snap, part, problems)) changed.push(part);
    } catch (err) {
      problems.push({ step: 'ethtool', message: `${part}: ${(err as Error).message}` });
    }
  }
  return changed;
}
