/**
 * Error counters of a device in a pod, and when they make it unhealthy (pure;
 * pod-health.ts samples the kernel). One error is not a problem — links
 * take the odd CRC error, and counters carry what happened before the pod —
 * a rising count is:
 *
 *   unhealthy  within the last `windowMs` (default 60 s) an error counter
 *              rose by at least `errors` (default 10), or the carrier changed
 *              at least `carrierChanges` times (default 6: three flaps)
 *   reported   every other rise, and every counter's value (metrics,
 *              `netclaim status`)
 *
 * Errors that count: a link's rx/tx errors, CRC, frame and carrier errors;
 * an RDMA port's symbol errors, link error recoveries, link downs, receive
 * errors, local link integrity and buffer overrun errors. Drops, missed and
 * FIFO errors (a host or a receiver too slow, not the device), transmit
 * discards (congestion) and the providers' hw_counters are only reported.
 *
 * A counter that goes down was reset (the device re-created, a driver reset,
 * a 32-bit counter wrapping): that sample counts nothing and becomes the new
 * base, so a reset never reads as a burst. History is kept per device for the
 * window only, at most `MAX_SAMPLES` samples, only counters that rose.
 */

export interface CounterRule {
  readonly windowMs: number;
  /** A rise of one error counter by this much within the window is unhealthy. */
  readonly errors: number;
  /** This many carrier changes within the window is unhealthy (one flap is two). */
  readonly carrierChanges: number;
}

export const DEFAULT_COUNTER_RULE: CounterRule = { windowMs: 60_000, errors: 10, carrierChanges: 6 };

/** Samples kept per device whatever the sampling period: the memory bound. */
export const MAX_SAMPLES = 64;

/** Counters whose rise makes a device unhealthy (link: rtnl_link_stats64 names; RDMA: sysfs `counters/` names, prefixed `rdma:`). */
export const HEALTH_COUNTERS: ReadonlySet<string> = new Set([
  'rx_errors', 'tx_errors', 'rx_crc_errors', 'rx_frame_errors', 'tx_carrier_errors',
  'rdma:symbol_error', 'rdma:link_error_recovery', 'rdma:link_downed', 'rdma:port_rcv_errors',
  'rdma:local_link_integrity_errors', 'rdma:excessive_buffer_overrun_errors',
]);
export const CARRIER_CHANGES = 'carrier_changes';

interface Sample {
  readonly t: number;
  /** Rises since the sample before, only counters that rose. */
  readonly rises: ReadonlyMap<string, number>;
}

/** One device's counter history (a plain record, changed only by counterSample). */
export interface CounterHistory {
  /** The last values read, by counter name. */
  last: ReadonlyMap<string, number>;
  readonly samples: Sample[];
}

export const emptyHistory = (): CounterHistory => ({ last: new Map(), samples: [] });

/**
 * Records a reading taken at `t` (ms, non-decreasing). A counter read for the
 * first time, or lower than before, is a base and counts no rise.
 */
export function counterSample(h: CounterHistory, t: number, values: ReadonlyMap<string, number>, rule: CounterRule = DEFAULT_COUNTER_RULE): void {
  const rises = new Map<string, number>();
  for (const [name, v] of values) {
    const before = h.last.get(name);
    if (before !== undefined && v > before) rises.set(name, v - before);
  }
  h.last = new Map(values);
  if (rises.size > 0) h.samples.push({ t, rises });
  prune(h, t, rule);
}

function prune(h: CounterHistory, now: number, rule: CounterRule): void {
  let drop = 0;
  while (drop < h.samples.length && (h.samples[drop]!.t <= now - rule.windowMs || h.samples.length - drop > MAX_SAMPLES)) drop++;
  if (drop > 0) h.samples.splice(0, drop);
}

/** The rise of every counter within the window ending at `now`. */
export function counterRises(h: CounterHistory, now: number, rule: CounterRule = DEFAULT_COUNTER_RULE): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of h.samples) {
    if (s.t <= now - rule.windowMs) continue;
    for (const [k, v] of s.rises) out.set(k, (out.get(k) ?? 0) + v);
  }
  return out;
}

/** Unhealthy with a message when a health counter rose past the rule within the window; undefined otherwise. */
export function counterVerdict(name: string, h: CounterHistory, now: number, rule: CounterRule = DEFAULT_COUNTER_RULE): string | undefined {
  const seconds = Math.round(rule.windowMs / 1000);
  const bad: string[] = [];
  for (const [k, v] of [...counterRises(h, now, rule)].sort(([a], [b]) => a.localeCompare(b))) {
    if (k === CARRIER_CHANGES ? v >= rule.carrierChanges : HEALTH_COUNTERS.has(k) && v >= rule.errors) bad.push(`${k} +${v}`);
  }
  return bad.length === 0 ? undefined : `${name}: ${bad.join(', ')} in the last ${seconds} s`;
}

/**
 * The non-zero error counters as `name value`, for an operator's "last
 * problem" (carrier changes are left out: moving a device into a pod
 * changes its carrier, so a count there says nothing alone).
 */
export function counterSummary(values: ReadonlyMap<string, number>): string | undefined {
  const shown = [...values].filter(([k, v]) => v > 0 && HEALTH_COUNTERS.has(k)).sort(([a], [b]) => a.localeCompare(b));
  return shown.length === 0 ? undefined : shown.map(([k, v]) => `${k} ${v}`).join(', ');
}
