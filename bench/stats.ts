/** Small statistics helpers for benchmarks: timings in µs or ms from hrtime. */
import { seededRandom } from '../test/lib/seeded-random.ts';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: round(percentile(s, 50)), p99: round(percentile(s, 99)), min: round(s[0] ?? NaN), max: round(s.at(-1) ?? NaN) };
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** Runs `fn` and returns its duration in microseconds. */
export function timeUs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1000;
}

function resampledMedian(xs: readonly number[], rand: () => number): number {
  const r = Array.from({ length: xs.length }, () => xs[Math.floor(rand() * xs.length)]!);
  return percentile(r.sort((x, y) => x - y), 50);
}

/**
 * A percentile-bootstrap interval (default 95 %) of the median of `a`, or of
 * median(a) − median(b) when `b` is given (the two resampled independently):
 * how far the median of 15 or 30 pod pairs could move between runs of the
 * same code. Seeded, so the same samples give the same interval. Undefined
 * when a sample is empty.
 */
export function bootstrapMedianInterval(
  a: readonly number[], b?: readonly number[], o: { level?: number; resamples?: number; seed?: number } = {},
): { lo: number; hi: number } | undefined {
  if (a.length === 0 || (b !== undefined && b.length === 0)) return undefined;
  const rand = seededRandom(o.seed ?? 1);
  const n = o.resamples ?? 2000;
  const stats = Array.from({ length: n }, () => resampledMedian(a, rand) - (b === undefined ? 0 : resampledMedian(b, rand))).sort((x, y) => x - y);
  const tail = (1 - (o.level ?? 0.95)) / 2;
  return { lo: round(percentile(stats, tail * 100)), hi: round(percentile(stats, (1 - tail) * 100)) };
}
