/**
 * The e2e bench's result from its samples: start-up with and without a NIC
 * claim, the extra latency the claim adds (from the same run, pods
 * alternating), where that extra goes (the timeline's segments, p50 each
 * way), netclaim's own share (Prepare + NRI hooks, with their steps), and the
 * give-back after deletion.
 */
import type { E2eNodeState } from '../test/e2e/node/e2e-node.ts';
import { apiOf } from '../test/e2e/node/workloads.ts';
import { segments, type NetclaimCall, type PodTimeline } from './e2e-timeline.ts';
import { bootstrapMedianInterval, percentile, round, summarize, type Summary } from './stats.ts';

export interface TimedSample {
  readonly name: string;
  readonly claim: boolean;
  readonly readyMs: number;
  /** linkBackMs: absent for a driver without a NIC to give back (the floor). */
  readonly giveBack?: { linkBackMs?: number; claimGoneMs: number; listedMs: number };
  readonly timeline: PodTimeline;
}

/** Whether a device with this ifName is in the node's ResourceSlices now (one read). */
export async function listed(node: E2eNodeState, ifName: string): Promise<boolean> {
  const r = await apiOf(node).get<{ items?: Array<{ spec: { driver: string; devices?: Array<{ attributes: Record<string, Record<string, unknown>> }> } }> }>(
    `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName=${node.nodeName}`);
  return (r.body.items ?? []).some((s) => s.spec.driver === node.driverName && (s.spec.devices ?? []).some((d) => d.attributes['netclaim.dev/ifName']?.['string'] === ifName));
}

const p50 = (xs: readonly number[]): number => round(percentile([...xs].sort((a, b) => a - b), 50));
/** An interval as `[lo, hi]` under `key`, or nothing when there was no sample. */
const ci = (key: string, i: { lo: number; hi: number } | undefined): Record<string, [number, number]> => (i === undefined ? {} : { [key]: [i.lo, i.hi] });

/** p50/p99 of a call's total and the p50 of each of its steps. */
function calls(cs: readonly (NetclaimCall | undefined)[]): { ms: Summary; stepsP50: Record<string, number> } | undefined {
  const present = cs.filter((c): c is NetclaimCall => c !== undefined);
  if (present.length === 0) return undefined;
  const names = [...new Set(present.flatMap((c) => Object.keys(c.steps)))];
  return {
    ms: summarize(present.map((c) => c.ms)),
    stepsP50: Object.fromEntries(names.map((n) => [n, p50(present.map((c) => c.steps[n] ?? 0))])),
  };
}

/**
 * `driver`: whose claims these are; another driver's pods (the side-by-side peer) have no
 * netclaim calls, so their result leaves netclaim's share and its stop hook out.
 */
export function breakdown(
  samples: readonly TimedSample[], meta: Record<string, unknown>,
  opts: { driver?: string; peerCalls?: (pod: string) => { prepareMs?: number; runPodSandboxMs?: number } } = {},
): Record<string, unknown> {
  const ours = (opts.driver ?? 'netclaim.dev') === 'netclaim.dev';
  const claim = samples.filter((s) => s.claim);
  const plain = samples.filter((s) => !s.claim);
  const withClaim = summarize(claim.map((s) => s.readyMs));
  const without = summarize(plain.map((s) => s.readyMs));
  // Pairs: pod i with a claim, then pod i without, back to back.
  const pairDiffs = claim.map((s, i) => s.readyMs - (plain[i]?.readyMs ?? NaN)).filter((x) => !Number.isNaN(x));
  const segs = (xs: readonly TimedSample[]): Array<Record<string, number>> => xs.map((s) => segments(s.timeline, s.readyMs));
  const segNames = ['toKubelet', 'kubeletToSandbox', 'runPodSandbox', 'toContainer', 'container', 'toReady'];
  const segClaim = segs(claim);
  const segPlain = segs(plain);
  const path = Object.fromEntries(segNames.map((n) => {
    const a = p50(segClaim.map((s) => s[n]).filter((x) => x !== undefined));
    const b = p50(segPlain.map((s) => s[n]).filter((x) => x !== undefined));
    return [n, { claim: a, noClaim: b, extra: round(a - b) }];
  }));
  // The early attach is netclaim's work too, but off the pod's path: what of it the pod waited for is in the run
  // hook's `queue` step (RunPodSandbox came while it still ran) or in CreateContainer's wait.
  const share = claim.map((s) => (s.timeline.prepare?.ms ?? 0) + (s.timeline.early?.ms ?? 0) + (s.timeline.run?.ms ?? 0) + (s.timeline.create?.ms ?? 0) + (s.timeline.start?.ms ?? 0));
  // On the pod's path: the attach counts only when containerd's RunPodSandbox waited for it (it ended
  // before the sandbox call returned; pino stamps are whole ms); after the answer, CreateContainer's
  // wait for it is in the create hook's `queue` step.
  const attachOnPath = (t: PodTimeline): boolean => t.run !== undefined && (t.sandboxEndMs === undefined || t.run.endMs <= t.sandboxEndMs + 1);
  // CreateContainer as containerd waited for it: from its start to netclaim's answer. The hook's own
  // `ms` starts only when netclaim reads the request; while the background attach (synchronous
  // netlink and fsyncs) holds netclaim's event loop, the request waits unread, so the attach is on
  // the pod's path again, in CreateContainer (docs/benchmarks.md, "Side by side"). This includes
  // containerd's own work before it calls the plugins (about 10 ms on the e2e node), which every
  // pod has, so it is reported but not counted on the path.
  const createWaited = (t: PodTimeline): number => Math.max(t.create?.ms ?? 0,
    t.create !== undefined && t.containerCreateMs !== undefined ? t.create.endMs - t.containerCreateMs : 0);
  // What the claim added to the container step (CreateContainer → started, containerd's and the hooks'
  // work together) over the same step of this run's pods without a claim (p50): the per-run baseline
  // takes containerd's own work out, and whatever netclaim delayed (its hooks, a request left unread
  // while the attach held the event loop, the gate at StartContainer) stays in. Never less than the
  // hooks' own time: that much the pod waited for in any case.
  const plainContainer = segPlain.flatMap((s) => (s['container'] === undefined ? [] : [s['container']]));
  const containerBaseline = plainContainer.length === 0 ? undefined : p50(plainContainer);
  const containerOnPath = (s: TimedSample, seg: Record<string, number>): number => {
    const hooks = (s.timeline.create?.ms ?? 0) + (s.timeline.start?.ms ?? 0);
    return containerBaseline === undefined || seg['container'] === undefined ? hooks : Math.max(hooks, seg['container'] - containerBaseline);
  };
  const onPath = claim.map((s, i) => (s.timeline.prepare?.ms ?? 0) + (attachOnPath(s.timeline) ? s.timeline.run!.ms : 0) + containerOnPath(s, segClaim[i]!));
  const gb = claim.filter((s) => s.giveBack !== undefined);
  // The peer's own calls, where its log gives their durations (klogPeerCalls): both on the pod's path.
  const peer = opts.peerCalls === undefined ? [] : claim.map((s) => opts.peerCalls!(s.name));
  const peerPrep = peer.flatMap((c) => (c.prepareMs === undefined ? [] : [c.prepareMs]));
  const peerRun = peer.flatMap((c) => (c.runPodSandboxMs === undefined ? [] : [c.runPodSandboxMs]));
  // A driver without an NRI plugin (the floor) has no RunPodSandbox hook: left out, not NaN.
  const peerOwn = peerPrep.length + peerRun.length === 0 ? {} : { driverOwn: {
    ...(peerPrep.length > 0 ? { prepare: summarize(peerPrep) } : {}), ...(peerRun.length > 0 ? { runPodSandbox: summarize(peerRun) } : {}),
    onPath: summarize(peer.map((c) => (c.prepareMs ?? 0) + (c.runPodSandboxMs ?? 0))),
  } };
  const linkBack = gb.flatMap((s) => (s.giveBack!.linkBackMs === undefined ? [] : [s.giveBack!.linkBackMs]));
  return {
    ...meta,
    unit: 'ms',
    podStartupWithNicClaim: withClaim,
    podStartupWithoutClaim: without,
    // p50/p99: the difference of the two distributions' percentiles (the issue's convention); with 15 pairs the p99s are
    // the slowest pods, often the same cold first pair, so p99 can come out below p50. pairDiffP99 is the tail of the pairs.
    // pairDiffP50Ci95: where the median of the pairs could lie in another run of the same code (bootstrap, 95 %).
    extra: {
      p50: round(withClaim.p50 - without.p50), p99: round(withClaim.p99 - without.p99), pairDiffP50: p50(pairDiffs), pairDiffP99: round(percentile([...pairDiffs].sort((a, b) => a - b), 99)),
      ...ci('pairDiffP50Ci95', bootstrapMedianInterval(pairDiffs)), pairDiffs: pairDiffs.map((x) => round(x, 1)),
    },
    /** Where the pod's time goes, p50 per segment with and without a claim (e2e-timeline.ts). */
    path,
    ...(ours ? { netclaim: {
      /** Prepare + RunPodSandbox + CreateContainer (+ StartContainer, with the gate there) as each took. */
      share: summarize(share),
      /**
       * What of it the pod waited for: Prepare, RunPodSandbox when containerd waited for the attach in it,
       * and the container step's excess over this run's plain pods (`containerBaseline`, p50 ms).
       */
      onPath: summarize(onPath),
      ...(containerBaseline === undefined ? {} : { containerBaseline }),
      attachAfterAnswer: claim.filter((s) => s.timeline.run !== undefined && !attachOnPath(s.timeline)).length,
      /** Pods whose attach started early (before RunPodSandbox), and those whose RunPodSandbox found it done. */
      earlyAttach: claim.filter((s) => s.timeline.early !== undefined).length,
      earlyAttachDone: claim.filter((s) => s.timeline.run?.steps['early'] !== undefined).length,
      /** CreateContainer start (containerd) → netclaim's answer (pino stamps: whole ms); containerd's own work before the plugins is in it. */
      createContainerWaited: summarize(claim.filter((s) => s.timeline.create !== undefined).map((s) => createWaited(s.timeline))),
      prepare: calls(claim.map((s) => s.timeline.prepare)),
      ...(claim.some((s) => s.timeline.early !== undefined) ? { early: calls(claim.map((s) => s.timeline.early)) } : {}),
      runPodSandbox: calls(claim.map((s) => s.timeline.run)),
      createContainer: calls(claim.map((s) => s.timeline.create)),
      ...(claim.some((s) => s.timeline.start !== undefined) ? { startContainer: calls(claim.map((s) => s.timeline.start)) } : {}),
    } } : {}),
    ...peerOwn,
    giveBack: {
      ...(linkBack.length > 0 ? { linkBack: summarize(linkBack) } : {}),
      claimGone: summarize(gb.map((s) => s.giveBack!.claimGoneMs)),
      listed: summarize(gb.map((s) => s.giveBack!.listedMs)),
      kubeletDeleteP50: p50(gb.map((s) => s.timeline.kubeletDeleteMs).filter((x) => x !== undefined)),
      stopPodSandboxStartP50: p50(gb.map((s) => s.timeline.stopSandboxStartMs).filter((x) => x !== undefined)),
      stopPodSandboxEndP50: p50(gb.map((s) => s.timeline.stopSandboxEndMs).filter((x) => x !== undefined)),
      ...(ours ? { stopHook: calls(gb.map((s) => s.timeline.stop)) } : {}),
    },
    pods: samples.map((s) => ({ name: s.name, readyMs: round(s.readyMs), segments: segments(s.timeline, s.readyMs), timeline: s.timeline, ...(s.giveBack ? { giveBack: s.giveBack } : {}) })),
  };
}

/** The result in a few lines for the terminal (the JSON has it all). */
export function describeBreakdown(r: Record<string, unknown>): string[] {
  const s = (x: unknown): Summary => x as Summary;
  const path = r['path'] as Record<string, { claim: number; noClaim: number; extra: number }>;
  const nc = r['netclaim'] as Record<string, { ms: Summary; stepsP50: Record<string, number> } | Summary | undefined> | undefined;
  const gb = r['giveBack'] as Record<string, unknown>;
  const extra = r['extra'] as { p50: number; p99: number; pairDiffP50: number; pairDiffP99: number; pairDiffP50Ci95?: [number, number] };
  const steps = (c: unknown): string => {
    const x = c as { ms: Summary; stepsP50: Record<string, number> } | undefined;
    if (x === undefined) return 'not seen';
    return `p50 ${x.ms.p50} / p99 ${x.ms.p99} ms (${Object.entries(x.stepsP50).map(([k, v]) => `${k} ${v}`).join(', ')})`;
  };
  const ours = nc === undefined ? [] : [
    `netclaim's share (prepare + hooks): p50 ${s(nc['share']).p50} / p99 ${s(nc['share']).p99} ms; of it on the pod's path p50 ${s(nc['onPath']).p50} / p99 ${s(nc['onPath']).p99} ms (attach after the answer in ${String(nc['attachAfterAnswer'])} pods; containerd's CreateContainer → netclaim's answer p50 ${s(nc['createContainerWaited']).p50} ms, the container step of plain pods p50 ${String(nc['containerBaseline'])} ms)`,
    `  prepare ${steps(nc['prepare'])}`,
    ...(nc['early'] === undefined ? [] : [`  early attach (${String(nc['earlyAttach'])} pods; RunPodSandbox found it done in ${String(nc['earlyAttachDone'])}) ${steps(nc['early'])}`]),
    `  RunPodSandbox ${steps(nc['runPodSandbox'])}`,
    `  CreateContainer ${steps(nc['createContainer'])}`,
    ...(nc['startContainer'] === undefined ? [] : [`  StartContainer ${steps(nc['startContainer'])}`]),
  ];
  const own = r['driverOwn'] as Record<string, Summary> | undefined;
  if (own !== undefined) {
    const calls = [own['prepare'] ? `Prepare p50 ${own['prepare'].p50} ms` : '', own['runPodSandbox'] ? `RunPodSandbox hook p50 ${own['runPodSandbox'].p50} ms` : ''].filter((x) => x !== '');
    ours.push(`the driver's own calls (its log): on the pod's path p50 ${own['onPath']!.p50} / p99 ${own['onPath']!.p99} ms; ${calls.join(', ')}`);
  }
  return [
    `create → Ready: with a NIC claim p50 ${s(r['podStartupWithNicClaim']).p50} / p99 ${s(r['podStartupWithNicClaim']).p99} ms; without p50 ${s(r['podStartupWithoutClaim']).p50} / p99 ${s(r['podStartupWithoutClaim']).p99} ms`,
    `extra for the claim: p50 ${extra.p50} ms, p99 ${extra.p99} ms, pair differences p50 ${extra.pairDiffP50}${extra.pairDiffP50Ci95 === undefined ? '' : ` (95 % interval ${extra.pairDiffP50Ci95[0]} to ${extra.pairDiffP50Ci95[1]})`} / p99 ${extra.pairDiffP99} ms`,
    `path (p50 with / without / extra): ${Object.entries(path).map(([k, v]) => `${k} ${v.claim}/${v.noClaim}/${v.extra}`).join('; ')}`,
    ...ours,
    `give-back from the delete: ${gb['linkBack'] === undefined ? '' : `device back on the node and restored p50 ${s(gb['linkBack']).p50} ms, `}claim gone p50 ${s(gb['claimGone']).p50} ms, listed p50 ${s(gb['listed']).p50} ms; StopPodSandbox began at p50 ${String(gb['stopPodSandboxStartP50'])} ms${nc === undefined ? '' : `; stop hook ${steps(gb['stopHook'])}`}`,
  ];
}

/**
 * Each driver's extra start-up latency for a claim (from its own pairs in the same run), and
 * netclaim's over each peer's: the ratio, and the difference overall and per segment of the
 * pod's path. `floor`: the key of a peer that does no device work (bench/e2e-peer.ts
 * floorSpec); netclaim's extra minus its extra is what netclaim itself costs a pod.
 */
export function sideBySide(results: Record<string, Record<string, unknown>>, opts: { floor?: string } = {}): Record<string, unknown> {
  const extra = (r: Record<string, unknown>): { p50: number; p99: number; pairDiffP50: number; pairDiffP99: number } => r['extra'] as { p50: number; p99: number; pairDiffP50: number; pairDiffP99: number };
  const row = (r: Record<string, unknown>): Record<string, number> => ({
    withClaimP50: (r['podStartupWithNicClaim'] as Summary).p50, withoutP50: (r['podStartupWithoutClaim'] as Summary).p50,
    extraP50: extra(r).p50, extraP99: extra(r).p99, pairDiffP50: extra(r).pairDiffP50, pairDiffP99: extra(r).pairDiffP99, n: (r['podStartupWithNicClaim'] as Summary).n,
  });
  const drivers = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, row(r)]));
  const nc = drivers['netclaim']!;
  const ratio = (a: number, b: number): number => round(a / b);
  const ratios = Object.fromEntries(Object.entries(drivers).filter(([k]) => k !== 'netclaim').map(([k, p]) => [k, {
    /** netclaim's extra over the peer's: below 1, netclaim adds less. */
    extraP50: ratio(nc['extraP50']!, p['extraP50']!), extraP99: ratio(nc['extraP99']!, p['extraP99']!), pairDiffP50: ratio(nc['pairDiffP50']!, p['pairDiffP50']!), pairDiffP99: ratio(nc['pairDiffP99']!, p['pairDiffP99']!),
  }]));
  const pairs = (r: Record<string, unknown>): number[] => ((r['extra'] as { pairDiffs?: number[] }).pairDiffs ?? []);
  const segExtra = (r: Record<string, unknown>): Record<string, number> =>
    Object.fromEntries(Object.entries(r['path'] as Record<string, { extra: number }>).map(([k, v]) => [k, v.extra]));
  const ncSeg = segExtra(results['netclaim']!);
  const minus = Object.fromEntries(Object.entries(drivers).filter(([k]) => k !== 'netclaim').map(([k, p]) => {
    const peerSeg = segExtra(results[k]!);
    // The difference of the two pair medians, bootstrapped: only an interval clear of 0 ranks the two drivers.
    const interval = bootstrapMedianInterval(pairs(results['netclaim']!), pairs(results[k]!));
    return [k, {
      /** netclaim's extra minus the peer's (ms): above 0, netclaim adds more. */
      extraP50: round(nc['extraP50']! - p['extraP50']!), pairDiffP50: round(nc['pairDiffP50']! - p['pairDiffP50']!),
      ...ci('pairDiffP50Ci95', interval),
      ...(interval === undefined ? {} : { verdict: interval.hi < 0 ? 'netclaim adds less' : interval.lo > 0 ? 'netclaim adds more' : 'no difference shown' }),
      path: Object.fromEntries(Object.keys(ncSeg).filter((n) => n in peerSeg).map((n) => [n, round(ncSeg[n]! - peerSeg[n]!)])),
    }];
  }));
  return { drivers, netclaimOverPeer: ratios, netclaimMinusPeer: minus, ...(opts.floor !== undefined && opts.floor in minus ? { floor: opts.floor } : {}) };
}

export function describeSideBySide(r: Record<string, unknown>): string[] {
  const drivers = r['drivers'] as Record<string, Record<string, number>>;
  const ratios = r['netclaimOverPeer'] as Record<string, Record<string, number>>;
  const minus = r['netclaimMinusPeer'] as Record<string, { extraP50: number; pairDiffP50: number; pairDiffP50Ci95?: [number, number]; verdict?: string; path: Record<string, number> }>;
  const floor = r['floor'] as string | undefined;
  return [
    'side by side (same run, rounds alternating drivers), extra start-up latency for one NIC claim:',
    ...Object.entries(drivers).map(([k, d]) => `  ${k}: p50 ${d['extraP50']} ms, p99 ${d['extraP99']} ms, pair differences p50 ${d['pairDiffP50']} / p99 ${d['pairDiffP99']} ms (with ${d['withClaimP50']} / without ${d['withoutP50']} ms p50, ${d['n']} pairs)`),
    ...Object.entries(ratios).map(([k, x]) => `  netclaim / ${k}: p50 ${x['extraP50']}, p99 ${x['extraP99']}, pair differences p50 ${x['pairDiffP50']} / p99 ${x['pairDiffP99']}`),
    ...Object.entries(minus).map(([k, x]) => `  netclaim − ${k}${k === floor ? ' (the floor: a driver that does no device work; this is netclaim\'s own cost)' : ''}: extra p50 ${x.extraP50} ms, pair differences p50 ${x.pairDiffP50} ms${x.pairDiffP50Ci95 === undefined ? '' : ` (95 % interval ${x.pairDiffP50Ci95[0]} to ${x.pairDiffP50Ci95[1]}: ${x.verdict!})`}; per segment ${Object.entries(x.path).map(([n, v]) => `${n} ${v}`).join(', ')}`),
  ];
}
