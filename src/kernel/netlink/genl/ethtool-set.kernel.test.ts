/**
 * ethtool SET requests on veth pairs in throwaway namespaces, read back
 * through our GETs and checked against the `ethtool` command run in the
 * same namespace.
 */
import { describe, expect, it } from 'vitest';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';
import {
  ethtool, ethtoolFails, ethtoolK, ethtoolSections, hasEthtool, needsEthtool, numOrNa, renderEthtoolK,
} from '../../../../test/kernel/ethtool-oracle.ts';
import { createNetns, ip, ipJson, testLibc, type TestNetns, uniqueName } from '../../../../test/kernel/netns-fixture.ts';
import { isDriverError } from '../../../common/errors.ts';
import { KernelError } from '../../errors.ts';
import { ethtoolChannelsGet, ethtoolFeaturesGet } from './ethtool-ops.ts';
import {
  ethtoolChannelsSet, ethtoolCoalesceSet, ethtoolFeaturesSet, ethtoolFeaturesSetReport, ethtoolPrivFlagsSet, ethtoolRingsSet,
} from './ethtool-set.ts';

/** A veth pair inside `ns` (both ends there); returns the first end's name and ifindex. */
function vethIn(ns: TestNetns, ...extra: string[]): { name: string; peer: string; index: number } {
  const name = uniqueName('st');
  const peer = uniqueName('sp');
  ip(ns, 'link', 'add', name, ...extra, 'type', 'veth', 'peer', 'name', peer);
  return { name, peer, index: ipJson<{ ifindex: number }[]>(ns, 'link', 'show', name)[0]!.ifindex };
}

/** What `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

/** `ethtool -l` current counts as our settable record. */
function channelCounts(ns: TestNetns, dev: string): { rx: number | undefined; tx: number | undefined } {
  const cur = ethtoolSections(ethtool(ns, '-l', dev))['Current hardware settings']!;
  return { rx: numOrNa(cur['RX']), tx: numOrNa(cur['TX']) };
}

describe(`ethtool SET on veth (${testLibc.backend})`, () => {
  it.skipIf(!hasEthtool)(`features: turned on and off, as \`ethtool -k\` then shows (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    const before = ethtoolFeaturesGet(ns.handle, v.index)!;
    expect(before.active['rx-gro']).toBe(false);
    expect(before.active['tx-nocache-copy']).toBe(false);
    ethtoolFeaturesSet(ns.handle, v.index, { 'rx-gro': true, 'tx-nocache-copy': true, 'rx-checksum': false });
    const k = ethtoolK(ns, v.name);
    expect(k).toContain('generic-receive-offload: on');
    expect(k).toContain('tx-nocache-copy: on');
    expect(k).toContain('rx-checksumming: off');
    expect(renderEthtoolK(ethtoolFeaturesGet(ns.handle, v.index)!)).toEqual(k);

    ethtoolFeaturesSet(ns.handle, v.index, { 'rx-gro': false, 'rx-checksum': true });
    const after = ethtoolFeaturesGet(ns.handle, v.index)!;
    expect(after.active).toEqual({ ...before.active, 'tx-nocache-copy': true });
    expect(renderEthtoolK(after)).toEqual(ethtoolK(ns, v.name));
  });

  it.skipIf(!hasEthtool)(`features: one left off by a dependency throws, naming it; the report says what took (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    // TSO needs checksumming: with tx-checksum-ip-generic off the kernel keeps TSO off, wanted on.
    const r = ethtoolFeaturesSetReport(ns.handle, v.index, { 'tx-checksum-ip-generic': false, 'tx-tcp-segmentation': true, 'rx-gro': true });
    expect(r).toEqual({ applied: { 'tx-checksum-ip-generic': false, 'rx-gro': true }, notApplied: { 'tx-tcp-segmentation': true } });
    expect(ethtoolK(ns, v.name)).toContain('\ttx-tcp-segmentation: off [requested on]');

    const err = thrown(() => ethtoolFeaturesSet(ns.handle, v.index, { 'tx-tcp-segmentation': true, 'rx-gro': false }));
    expect(isDriverError(err)).toBe(true);
    expect(err).not.toBeInstanceOf(KernelError);
    const e = err as { code: string; message: string; context: Record<string, unknown> };
    expect(e.code).toBe('KERNEL_NETLINK_ERROR');
    expect(e.message).toMatch(/did not apply tx-tcp-segmentation on/);
    expect(e.context).toMatchObject({
      op: 'ETHTOOL_MSG_FEATURES_SET', ifindex: v.index, notApplied: { 'tx-tcp-segmentation': true }, applied: { 'rx-gro': false },
    });
    // The rest of the request took; turning checksumming back on brings the wanted TSO with it.
    expect(ethtoolFeaturesGet(ns.handle, v.index)!.active['rx-gro']).toBe(false);
    ethtoolFeaturesSet(ns.handle, v.index, { 'tx-checksum-ip-generic': true });
    expect(ethtoolFeaturesGet(ns.handle, v.index)!.active['tx-tcp-segmentation']).toBe(true);
    expect(ethtoolK(ns, v.name)).toContain('\ttx-tcp-segmentation: on');
  });

  it.skipIf(!hasEthtool)(`features: a fixed one is not applied (no kernel error), already-true requests are applied (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    expect(ethtoolK(ns, v.name)).toContain('loopback: off [fixed]');
    expect(ethtoolFeaturesSetReport(ns.handle, v.index, { loopback: true, highdma: true })).toEqual({
      applied: { highdma: true }, notApplied: { loopback: true },
    });
    expect(ethtoolFeaturesSetReport(ns.handle, v.index, { loopback: false })).toEqual({ applied: { loopback: false }, notApplied: {} });
    expect(ethtoolK(ns, v.name)).toContain('loopback: off [fixed]');
  });

  it('features: an unknown name is the kernel\'s EOPNOTSUPP; nothing to change sends nothing', () => {
    const ns = createNetns();
    const v = vethIn(ns);
    const err = kernelError(() => ethtoolFeaturesSet(ns.handle, v.index, { 'nc-no-such-feature': true }));
    expect(err).toMatchObject({ errnoName: 'EOPNOTSUPP', op: 'ETHTOOL_MSG_FEATURES_SET', ifindex: v.index, netns: ns.path });
    if (err.extack !== undefined) expect(err.extack).toMatch(/bit name not found/);
    // Empty requests never reach the kernel (not even for a missing device).
    expect(ethtoolFeaturesSetReport(ns.handle, 4242, {})).toEqual({ applied: {}, notApplied: {} });
    ethtoolRingsSet(ns.handle, 4242, {});
    ethtoolChannelsSet(ns.handle, 4242, { rx: undefined });
    ethtoolCoalesceSet(ns.handle, 4242, {});
    ethtoolPrivFlagsSet(ns.handle, 4242, {});
  });

  it.skipIf(!hasEthtool)(`channels: set, read back, as \`ethtool -l\` shows; past the maximum is EINVAL (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns, 'numtxqueues', '4', 'numrxqueues', '6');
    ethtoolChannelsSet(ns.handle, v.index, { rx: 2, tx: 3 });
    expect(ethtoolChannelsGet(ns.handle, v.index)).toEqual({ rxMax: 6, txMax: 4, rxCount: 2, txCount: 3 });
    expect(channelCounts(ns, v.name)).toEqual({ rx: 2, tx: 3 });
    ethtoolChannelsSet(ns.handle, v.index, { tx: 1 });
    expect(channelCounts(ns, v.name)).toEqual({ rx: 2, tx: 1 });

    const err = kernelError(() => ethtoolChannelsSet(ns.handle, v.index, { rx: 7 }));
    expect(err).toMatchObject({ errnoName: 'EINVAL', op: 'ETHTOOL_MSG_CHANNELS_SET', ifindex: v.index });
    if (err.extack !== undefined) expect(err.extack).toMatch(/exceeds maximum/);
    // veth has no combined channels: any combined count exceeds its maximum of 0.
    expect(kernelError(() => ethtoolChannelsSet(ns.handle, v.index, { combined: 1 })).errnoName).toBe('EINVAL');
    expect(channelCounts(ns, v.name)).toEqual({ rx: 2, tx: 1 });
  });

  it.skipIf(!hasEthtool)(`rings, coalescing and private flags: veth cannot change them (EOPNOTSUPP), nor can ethtool (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    const cases: [string, () => void][] = [
      ['ETHTOOL_MSG_RINGS_SET', () => ethtoolRingsSet(ns.handle, v.index, { rx: 256, tx: 256 })],
      ['ETHTOOL_MSG_COALESCE_SET', () => ethtoolCoalesceSet(ns.handle, v.index, { rxUsecs: 10, useAdaptiveRx: true })],
      ['ETHTOOL_MSG_PRIVFLAGS_SET', () => ethtoolPrivFlagsSet(ns.handle, v.index, { 'nc-flag': true })],
    ];
    for (const [op, fn] of cases) {
      const err = kernelError(fn);
      expect(err, op).toMatchObject({ errnoName: 'EOPNOTSUPP', code: 'KERNEL_NETLINK_ERROR', op, ifindex: v.index, netns: ns.path });
    }
    expect(ethtoolFails(ns, '-G', v.name, 'rx', '256')).toMatch(/not supported/i);
    expect(ethtoolFails(ns, '-C', v.name, 'rx-usecs', '10')).toMatch(/not supported/i);
  });

  it('a missing device is ENODEV with the ifindex', () => {
    const ns = createNetns();
    for (const fn of [
      () => ethtoolChannelsSet(ns.handle, 4242, { rx: 1 }),
      () => ethtoolFeaturesSet(ns.handle, 4242, { 'rx-gro': true }),
      () => ethtoolRingsSet(ns.handle, 4242, { rx: 1 }),
    ]) {
      expect(kernelError(fn)).toMatchObject({ errnoName: 'ENODEV', ifindex: 4242 });
    }
  });

  it('each handle changes its own namespace\'s device, even where the ifindex repeats', () => {
    const a = createNetns();
    const b = createNetns();
    const va = vethIn(a, 'index', '77', 'numrxqueues', '4', 'numtxqueues', '4');
    vethIn(b, 'index', '77', 'numrxqueues', '4', 'numtxqueues', '4');
    expect(va.index).toBe(77);
    ethtoolChannelsSet(a.handle, 77, { rx: 1, tx: 2 });
    ethtoolFeaturesSet(a.handle, 77, { 'rx-gro': true });
    expect(ethtoolChannelsGet(a.handle, 77)).toMatchObject({ rxCount: 1, txCount: 2 });
    expect(ethtoolChannelsGet(b.handle, 77)).toMatchObject({ rxCount: 4, txCount: 4 });
    expect(ethtoolFeaturesGet(a.handle, 77)!.active['rx-gro']).toBe(true);
    expect(ethtoolFeaturesGet(b.handle, 77)!.active['rx-gro']).toBe(false);
  });
});
