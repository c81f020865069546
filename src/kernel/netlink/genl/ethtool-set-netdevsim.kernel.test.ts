/**
 * ethtool SET requests on a netdevsim port (a simulated NIC with rings,
 * channels and coalescing), read back through our GETs and checked against
 * the `ethtool` command. netdevsim exists only in the QEMU lane, so on the
 * host every test here is skipped.
 */
import { describe, expect, it } from 'vitest';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';
import { ethtool, ethtoolK, ethtoolSections, hasEthtool, needsEthtool, numOrNa } from '../../../../test/kernel/ethtool-oracle.ts';
import { createNetdevsim, hasNetdevsim } from '../../../../test/kernel/netdevsim-fixture.ts';
import { createNetns, ipJson, needsQemuLane, testLibc, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import { ethtoolChannelsGet, ethtoolCoalesceGet, ethtoolFeaturesGet, ethtoolRingsGet } from './ethtool-ops.ts';
import { ethtoolChannelsSet, ethtoolCoalesceSet, ethtoolFeaturesSet, ethtoolPrivFlagsSet, ethtoolRingsSet } from './ethtool-set.ts';

const canRun = hasNetdevsim() && hasEthtool;
const skipNote = hasNetdevsim() ? needsEthtool : needsQemuLane('netdevsim');

/** A netdevsim port with 4 queues in a fresh namespace: its namespace, name and ifindex. */
function nsimPort(): { ns: TestNetns; name: string; index: number } {
  const ns = createNetns();
  const name = createNetdevsim(ns, { queues: 4 }).netdevs[0]!;
  return { ns, name, index: ipJson<{ ifindex: number }[]>(ns, 'link', 'show', name)[0]!.ifindex };
}

/** A section of `ethtool -g` / `-l` output as numbers (n/a left out). */
function section(ns: TestNetns, flag: '-g' | '-l', dev: string, which: 'Pre-set maximums' | 'Current hardware settings'): Record<string, number> {
  const s = ethtoolSections(ethtool(ns, flag, dev))[which]!;
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, numOrNa(v)]).filter(([, v]) => v !== undefined));
}

/** `ethtool -c` lines `name: value` (and the "Adaptive RX: on  TX: off" pair) as strings. */
function coalesceText(ns: TestNetns, dev: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of ethtool(ns, '-c', dev).split('\n')) {
    const pair = /^Adaptive RX: (\S+)\s+TX: (\S+)$/.exec(line);
    if (pair) { out['adaptive-rx'] = pair[1]!; out['adaptive-tx'] = pair[2]!; continue; }
    const m = /^([a-z-]+):\s+(\S+)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe(`ethtool SET on netdevsim (${testLibc.backend})`, () => {
  it.skipIf(!canRun)(`rings: set within the maxima, as \`ethtool -g\` then shows; past them EINVAL (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    const max = ethtoolRingsGet(ns.handle, index)!;
    expect(max.rxMax).toBeGreaterThanOrEqual(512);
    ethtoolRingsSet(ns.handle, index, { rx: 512, tx: 256, rxMini: 64, rxJumbo: 128 });
    expect(ethtoolRingsGet(ns.handle, index)).toMatchObject({ rx: 512, tx: 256, rxMini: 64, rxJumbo: 128 });
    expect(section(ns, '-g', name, 'Current hardware settings')).toMatchObject({ 'RX': 512, 'TX': 256, 'RX Mini': 64, 'RX Jumbo': 128 });
    ethtoolRingsSet(ns.handle, index, { tx: 128 });
    expect(ethtoolRingsGet(ns.handle, index)).toMatchObject({ rx: 512, tx: 128 });

    const err = kernelError(() => ethtoolRingsSet(ns.handle, index, { rx: max.rxMax! + 1 }));
    expect(err).toMatchObject({ errnoName: 'EINVAL', op: 'ETHTOOL_MSG_RINGS_SET', ifindex: index });
    expect(ethtoolRingsGet(ns.handle, index)).toMatchObject({ rx: 512, tx: 128 });
  });

  it.skipIf(!canRun)(`channels: combined count set, as \`ethtool -l\` then shows (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    const ch = ethtoolChannelsGet(ns.handle, index)!;
    expect(ch.combinedMax).toBe(4);
    ethtoolChannelsSet(ns.handle, index, { combined: 1 });
    expect(ethtoolChannelsGet(ns.handle, index)).toMatchObject({ combinedCount: 1 });
    expect(section(ns, '-l', name, 'Current hardware settings')['Combined']).toBe(1);
    ethtoolChannelsSet(ns.handle, index, { combined: ch.combinedMax! });
    expect(section(ns, '-l', name, 'Current hardware settings')['Combined']).toBe(ch.combinedMax);
    expect(kernelError(() => ethtoolChannelsSet(ns.handle, index, { combined: ch.combinedMax! + 1 })).errnoName).toBe('EINVAL');
  });

  it.skipIf(!canRun)(`coalescing: u32 parameters and adaptive switches, as \`ethtool -c\` then shows (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    ethtoolCoalesceSet(ns.handle, index, { rxUsecs: 50, rxMaxFrames: 8, txUsecs: 20, txMaxFrames: 7, useAdaptiveRx: true });
    expect(ethtoolCoalesceGet(ns.handle, index)).toMatchObject({
      rxUsecs: 50, rxMaxFrames: 8, txUsecs: 20, txMaxFrames: 7, useAdaptiveRx: true, useAdaptiveTx: false,
    });
    expect(coalesceText(ns, name)).toMatchObject({
      'rx-usecs': '50', 'rx-frames': '8', 'tx-usecs': '20', 'tx-frames': '7', 'adaptive-rx': 'on', 'adaptive-tx': 'off',
    });
    ethtoolCoalesceSet(ns.handle, index, { useAdaptiveRx: false, rxUsecs: 0 });
    expect(ethtoolCoalesceGet(ns.handle, index)).toMatchObject({ rxUsecs: 0, rxMaxFrames: 8, useAdaptiveRx: false });
    expect(coalesceText(ns, name)).toMatchObject({ 'rx-usecs': '0', 'adaptive-rx': 'off' });
  });

  it.skipIf(!canRun)(`features: hw-tc-offload on and off, as \`ethtool -k\` shows; no private flags (EOPNOTSUPP) (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    expect(ethtoolFeaturesGet(ns.handle, index)!.hw['hw-tc-offload']).toBe(true);
    ethtoolFeaturesSet(ns.handle, index, { 'hw-tc-offload': true });
    expect(ethtoolK(ns, name)).toContain('hw-tc-offload: on');
    ethtoolFeaturesSet(ns.handle, index, { 'hw-tc-offload': false });
    expect(ethtoolK(ns, name)).toContain('hw-tc-offload: off');
    expect(ethtoolFeaturesGet(ns.handle, index)!.active['hw-tc-offload']).toBe(false);
    expect(kernelError(() => ethtoolPrivFlagsSet(ns.handle, index, { 'nc-flag': true })).errnoName).toBe('EOPNOTSUPP');
  });
});
