/**
 * The e2e bench's result from its samples, on made-up pods whose every stamp is chosen, so
 * each figure can be worked out by hand: a driver with simulated devices (the floor) has no
 * NIC to give back and no NRI hook, and the side-by-side result says netclaim − peer per
 * segment.
 */
import { describe, expect, it } from 'vitest';
import { breakdown, describeBreakdown, describeSideBySide, sideBySide, type TimedSample } from './e2e-breakdown.ts';

/** A pod whose segments are `seg` (toKubelet, kubeletToSandbox, runPodSandbox, toContainer, container, toReady), in ms. */
function pod(name: string, claim: boolean, seg: [number, number, number, number, number, number], giveBack?: TimedSample['giveBack']): TimedSample {
  const at = seg.map((_, i) => seg.slice(0, i + 1).reduce((a, b) => a + b, 0));
  return {
    name, claim, readyMs: at[5]!,
    timeline: {
      kubeletAddMs: at[0]!, sandboxStartMs: at[1]!, sandboxEndMs: at[2]!, containerCreateMs: at[3]!, containerStartedMs: at[4]!,
      // From the delete, for the pods the bench deletes and times.
      ...(giveBack ? { kubeletDeleteMs: 15, stopSandboxStartMs: 400, stopSandboxEndMs: 420 } : {}),
    },
    ...(giveBack ? { giveBack } : {}),
  };
}

/** One run's pairs: each claim pod costs `extra` more in kubeletToSandbox and `extraContainer` in container than its plain twin. */
function pairs(prefix: string, extra: number[], extraContainer: number, linkBack: boolean): TimedSample[] {
  return extra.flatMap((x, i) => [
    pod(`${prefix}-nic-${i}`, true, [20, 30 + x, 100, 3, 100 + extraContainer, 20], { ...(linkBack ? { linkBackMs: 500 } : {}), claimGoneMs: 600, listedMs: 10 }),
    pod(`${prefix}-plain-${i}`, false, [10, 30, 100, 3, 100, 20]),
  ]);
}

describe('the e2e breakdown of a driver with simulated devices (the floor)', () => {
  const floor = breakdown(pairs('floor', [40, 50, 60], 0, false), {}, {
    driver: 'test-driver.cdi.k8s.io',
    peerCalls: (name) => (name === 'floor-nic-1' ? { prepareMs: 5 } : { prepareMs: 3 }),
  });

  it('has no device give-back and no hook, and nothing NaN', () => {
    const gb = floor['giveBack'] as Record<string, unknown>;
    expect(gb['linkBack']).toBeUndefined();
    expect(gb['claimGone']).toMatchObject({ n: 3, p50: 600 });
    expect(floor['driverOwn']).toEqual({ prepare: { n: 3, p50: 3, p99: 5, min: 3, max: 5 }, onPath: { n: 3, p50: 3, p99: 5, min: 3, max: 5 } });
    expect(floor['netclaim']).toBeUndefined();
    expect(JSON.stringify(floor)).not.toContain('null');
    const text = describeBreakdown(floor).join('\n');
    expect(text).not.toContain('NaN');
    expect(text).toContain('give-back from the delete: claim gone p50 600 ms');
    expect(text).toContain('Prepare p50 3 ms');
  });

  it('places the claim\'s extra in its segments', () => {
    // 10 ms more to the kubelet, 50 (the median) more to the sandbox.
    expect(floor['extra']).toMatchObject({ p50: 60, pairDiffP50: 60 });
    expect((floor['path'] as Record<string, { extra: number }>)['toKubelet']!.extra).toBe(10);
    expect((floor['path'] as Record<string, { extra: number }>)['kubeletToSandbox']!.extra).toBe(50);
  });
});

describe('side by side with the floor', () => {
  const netclaim = breakdown(pairs('netclaim', [60, 70, 80], 30, true), {});
  const floor = breakdown(pairs('floor', [40, 50, 60], 0, false), {}, { driver: 'test-driver.cdi.k8s.io' });

  it('says netclaim − peer overall and per segment, and which peer is the floor', () => {
    const side = sideBySide({ netclaim, floor }, { floor: 'floor' });
    expect(side['floor']).toBe('floor');
    expect(side['netclaimMinusPeer']).toEqual({ floor: {
      // netclaim's pairs differ by 10 + 70 + 30 = 110 ms (median), the floor's by 10 + 50 = 60.
      extraP50: 50, pairDiffP50: 50,
      // Pairs 100/110/120 against 50/60/70: any resample's medians differ by 30 to 70.
      pairDiffP50Ci95: [30, 70], verdict: 'netclaim adds more',
      path: { toKubelet: 0, kubeletToSandbox: 20, runPodSandbox: 0, toContainer: 0, container: 30, toReady: 0 },
    } });
    const text = describeSideBySide(side).join('\n');
    expect(text).toContain('netclaim − floor (the floor: a driver that does no device work; this is netclaim\'s own cost): extra p50 50 ms, pair differences p50 50 ms (95 % interval 30 to 70: netclaim adds more)');
    expect(text).toContain('kubeletToSandbox 20, runPodSandbox 0, toContainer 0, container 30');
  });

  it('names no floor when none is given (a network peer such as dranet)', () => {
    const side = sideBySide({ netclaim, dranet: floor });
    expect(side['floor']).toBeUndefined();
    expect(Object.keys(side['netclaimMinusPeer'] as object)).toEqual(['dranet']);
    expect(describeSideBySide(side).join('\n')).not.toContain('the floor');
  });
});

describe('ranking two drivers takes an interval clear of 0', () => {
  // The same pair differences in a different order: the medians are equal, and so is every resample's spread.
  const a = breakdown(pairs('netclaim', [40, 90, 60, 10, 75, 30], 0, true), {});
  const b = breakdown(pairs('peer', [60, 30, 90, 75, 10, 40], 0, true), {}, { driver: 'dra.net' });

  it('says no difference when the interval holds 0, and keeps each run\'s pairs and the interval of its median', () => {
    const minus = (sideBySide({ netclaim: a, dranet: b })['netclaimMinusPeer'] as Record<string, { pairDiffP50: number; pairDiffP50Ci95: [number, number]; verdict: string }>)['dranet']!;
    expect(minus.pairDiffP50).toBe(0);
    expect(minus.pairDiffP50Ci95[0]).toBeLessThan(0);
    expect(minus.pairDiffP50Ci95[1]).toBeGreaterThan(0);
    expect(minus.verdict).toBe('no difference shown');
    const extra = a['extra'] as { pairDiffs: number[]; pairDiffP50: number; pairDiffP50Ci95: [number, number] };
    expect(extra.pairDiffs).toEqual([50, 100, 70, 20, 85, 40]);
    expect(extra.pairDiffP50Ci95[0]).toBeLessThanOrEqual(extra.pairDiffP50);
    expect(extra.pairDiffP50Ci95[1]).toBeGreaterThanOrEqual(extra.pairDiffP50);
    expect(describeBreakdown(a).join('\n')).toContain(`pair differences p50 ${extra.pairDiffP50} (95 % interval ${extra.pairDiffP50Ci95[0]} to ${extra.pairDiffP50Ci95[1]})`);
  });
});

describe('netclaim\'s time on the pod\'s path', () => {
  // containerd spends `own` ms in CreateContainer before it calls the plugins, in every pod; the claim pod's
  // container step is `own + wait` where netclaim kept it waiting `wait` ms (its hook took `hook` of them).
  function withHooks(own: number, waits: Array<{ wait: number; hook: number }>): TimedSample[] {
    return waits.flatMap(({ wait, hook }, i) => {
      const nic = pod(`nc-nic-${i}`, true, [20, 40, 100, 3, own + 50 + wait, 20]);
      const t = nic.timeline;
      const answered = t.containerCreateMs! + own + wait;
      return [
        { ...nic, timeline: { ...t, prepare: { endMs: t.sandboxStartMs! - 5, ms: 8, steps: {} }, run: { endMs: t.sandboxEndMs! - 50, ms: 1, steps: {} }, create: { endMs: answered, ms: hook, steps: {} } } },
        pod(`nc-plain-${i}`, false, [10, 30, 100, 3, own + 50, 20]),
      ];
    });
  }

  it('counts what the container step of a claim pod took over the same step of plain pods, not containerd\'s own work', () => {
    // Pod 0: the request waited unread for the attach (hook 1 ms, containerd waited 15); pod 1: no wait beyond the hook.
    const nc = breakdown(withHooks(10, [{ wait: 15, hook: 1 }, { wait: 2, hook: 2 }, { wait: 9, hook: 1 }]), {})['netclaim'] as Record<string, { p50: number; max: number; min: number } | number>;
    expect(nc['containerBaseline']).toBe(60);
    // Prepare 8 + RunPodSandbox 1 (containerd waited for it) + the wait: 24, 11, 18.
    expect(nc['onPath']).toMatchObject({ min: 11, p50: 18, max: 24 });
    // The old reading, containerd's CreateContainer → the answer, has containerd's own 10 ms in it.
    expect(nc['createContainerWaited']).toMatchObject({ min: 12, p50: 19, max: 25 });
  });

  it('never counts less than the hooks\' own time, even when the claim pod\'s container step was the faster', () => {
    const nc = breakdown(withHooks(10, [{ wait: -6, hook: 3 }]), {})['netclaim'] as Record<string, { p50: number }>;
    expect(nc['onPath']!.p50).toBe(8 + 1 + 3);
  });
});
