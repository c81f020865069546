/**
 * ethtool on a netdevsim port (a simulated NIC with rings, channels and
 * coalescing), checked against the `ethtool` command. netdevsim exists only
 * in the QEMU lane, so on the host every test here is skipped.
 */
import { describe, expect, it } from 'vitest';
import {
  ethtool, ethtoolFails, ethtoolK, ethtoolSections, hasEthtool, needsEthtool, numOrNa, renderEthtoolK,
} from '../../../../test/kernel/ethtool-oracle.ts';
import { createNetdevsim, hasNetdevsim } from '../../../../test/kernel/netdevsim-fixture.ts';
import { createNetns, ipJson, needsQemuLane, testLibc, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import {
  ethtoolChannelsGet, ethtoolCoalesceGet, ethtoolFeaturesGet, ethtoolLinkModesGet, ethtoolPrivFlagsGet, ethtoolRingsGet,
} from './ethtool-ops.ts';
import type { EthtoolCoalesce, EthtoolRings } from './ethtool-types.ts';

const canRun = hasNetdevsim() && hasEthtool;
const skipNote = hasNetdevsim() ? needsEthtool : needsQemuLane('netdevsim');

/** A netdevsim port in a fresh namespace: its namespace, name and ifindex. */
function nsimPort(): { ns: TestNetns; name: string; index: number } {
  const ns = createNetns();
  const name = createNetdevsim(ns).netdevs[0]!;
  return { ns, name, index: ipJson<{ ifindex: number }[]>(ns, 'link', 'show', name)[0]!.ifindex };
}

const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
const onOff = (v: string | undefined): boolean | undefined => (v === 'on' ? true : v === 'off' ? false : undefined);

/** `ethtool -g` as our record (the fields ethtool 6.1 prints, TCP data split aside). */
function ringsFromEthtool(ns: TestNetns, dev: string): Partial<EthtoolRings> {
  const s = ethtoolSections(ethtool(ns, '-g', dev));
  const max = s['Pre-set maximums']!;
  const cur = s['Current hardware settings']!;
  return defined({
    rxMax: numOrNa(max['RX']), rxMiniMax: numOrNa(max['RX Mini']), rxJumboMax: numOrNa(max['RX Jumbo']), txMax: numOrNa(max['TX']),
    rx: numOrNa(cur['RX']), rxMini: numOrNa(cur['RX Mini']), rxJumbo: numOrNa(cur['RX Jumbo']), tx: numOrNa(cur['TX']),
    rxBufLen: numOrNa(cur['RX Buf Len']), cqeSize: numOrNa(cur['CQE Size']), txPush: onOff(cur['TX Push']),
  }) as Partial<EthtoolRings>;
}
const RING_FIELDS = ['rxMax', 'rxMiniMax', 'rxJumboMax', 'txMax', 'rx', 'rxMini', 'rxJumbo', 'tx', 'rxBufLen', 'cqeSize', 'txPush'] as const;

/** ethtool 6.1's `-c` labels → our fields. */
const COALESCE_LABELS: Readonly<Record<string, keyof EthtoolCoalesce>> = {
  'stats-block-usecs': 'statsBlockUsecs', 'sample-interval': 'rateSampleInterval',
  'pkt-rate-low': 'pktRateLow', 'pkt-rate-high': 'pktRateHigh',
  'rx-usecs': 'rxUsecs', 'rx-frames': 'rxMaxFrames', 'rx-usecs-irq': 'rxUsecsIrq', 'rx-frames-irq': 'rxMaxFramesIrq',
  'tx-usecs': 'txUsecs', 'tx-frames': 'txMaxFrames', 'tx-usecs-irq': 'txUsecsIrq', 'tx-frames-irq': 'txMaxFramesIrq',
  'rx-usecs-low': 'rxUsecsLow', 'rx-frame-low': 'rxMaxFramesLow', 'tx-usecs-low': 'txUsecsLow', 'tx-frame-low': 'txMaxFramesLow',
  'rx-usecs-high': 'rxUsecsHigh', 'rx-frame-high': 'rxMaxFramesHigh', 'tx-usecs-high': 'txUsecsHigh', 'tx-frame-high': 'txMaxFramesHigh',
};

/** `ethtool -c` as our record. */
function coalesceFromEthtool(ns: TestNetns, dev: string): Partial<EthtoolCoalesce> {
  const out: Record<string, number | boolean | undefined> = {};
  for (const line of ethtool(ns, '-c', dev).split('\n')) {
    const pair = /^(Adaptive|CQE mode) RX: (\S+)\s+TX: (\S+)$/.exec(line);
    if (pair) {
      const [rx, tx] = pair[1] === 'Adaptive' ? ['useAdaptiveRx', 'useAdaptiveTx'] : ['useCqeModeRx', 'useCqeModeTx'];
      out[rx] = onOff(pair[2]);
      out[tx] = onOff(pair[3]);
      continue;
    }
    const m = /^([a-z-]+):\s+(\S+)$/.exec(line);
    const field = m ? COALESCE_LABELS[m[1]!] : undefined;
    if (field) out[field] = numOrNa(m![2]);
  }
  return defined(out) as Partial<EthtoolCoalesce>;
}
const COALESCE_FIELDS = [...Object.values(COALESCE_LABELS), 'useAdaptiveRx', 'useAdaptiveTx', 'useCqeModeRx', 'useCqeModeTx'] as const;

const pick = <T extends object>(o: T | undefined, keys: readonly (keyof T)[]): Partial<T> =>
  defined(Object.fromEntries(keys.map((k) => [k, o?.[k]])) as T);

describe(`ethtool on netdevsim (${testLibc.backend})`, () => {
  it.skipIf(!canRun)(`rings match \`ethtool -g\`, before and after \`ethtool -G\` (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    const before = ethtoolRingsGet(ns.handle, index);
    expect(before).toBeDefined();
    expect(pick(before, RING_FIELDS)).toEqual(ringsFromEthtool(ns, name));
    ethtool(ns, '-G', name, 'rx', '512', 'tx', '256');
    const after = ethtoolRingsGet(ns.handle, index)!;
    expect(after).toMatchObject({ rx: 512, tx: 256 });
    expect(pick(after, RING_FIELDS)).toEqual(ringsFromEthtool(ns, name));
  });

  it.skipIf(!canRun)(`channels match \`ethtool -l\` (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    const ch = ethtoolChannelsGet(ns.handle, index)!;
    const s = ethtoolSections(ethtool(ns, '-l', name));
    expect(ch).toEqual(defined({
      rxMax: numOrNa(s['Pre-set maximums']!['RX']), txMax: numOrNa(s['Pre-set maximums']!['TX']),
      otherMax: numOrNa(s['Pre-set maximums']!['Other']), combinedMax: numOrNa(s['Pre-set maximums']!['Combined']),
      rxCount: numOrNa(s['Current hardware settings']!['RX']), txCount: numOrNa(s['Current hardware settings']!['TX']),
      otherCount: numOrNa(s['Current hardware settings']!['Other']),
      combinedCount: numOrNa(s['Current hardware settings']!['Combined']),
    }));
    expect(ch.combinedMax).toBeGreaterThan(0);
  });

  it.skipIf(!canRun)(`coalescing matches \`ethtool -c\`, before and after \`ethtool -C\` (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    expect(pick(ethtoolCoalesceGet(ns.handle, index), COALESCE_FIELDS)).toEqual(coalesceFromEthtool(ns, name));
    ethtool(ns, '-C', name, 'rx-usecs', '50', 'tx-frames', '7', 'adaptive-rx', 'on');
    const after = ethtoolCoalesceGet(ns.handle, index)!;
    expect(after).toMatchObject({ rxUsecs: 50, txMaxFrames: 7, useAdaptiveRx: true });
    expect(pick(after, COALESCE_FIELDS)).toEqual(coalesceFromEthtool(ns, name));
  });

  it.skipIf(!canRun)(`features match the whole \`ethtool -k\` listing (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    expect(renderEthtoolK(ethtoolFeaturesGet(ns.handle, index)!)).toEqual(ethtoolK(ns, name));
  });

  it.skipIf(!canRun)(`no private flags and no link settings (EOPNOTSUPP → undefined), as ethtool says (${skipNote})`, () => {
    const { ns, name, index } = nsimPort();
    expect(ethtoolPrivFlagsGet(ns.handle, index)).toBeUndefined();
    expect(ethtoolFails(ns, '--show-priv-flags', name)).toMatch(/Operation not supported/);
    expect(ethtoolLinkModesGet(ns.handle, index)).toBeUndefined();
  });
});
