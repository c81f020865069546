import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bootstrapMedianInterval, percentile, summarize } from './stats.ts';

describe('bench statistics', () => {
  it('uses the nearest-rank percentile', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(summarize([3, 1, 2])).toEqual({ n: 3, p50: 2, p99: 3, min: 1, max: 3 });
  });
});

describe('bootstrap interval of a median', () => {
  const sample = fc.array(fc.integer({ min: -500, max: 500 }), { minLength: 1, maxLength: 40 });

  it('holds the sample\'s own median, lies within its range, and is the same for the same sample', () => {
    fc.assert(fc.property(sample, (xs) => {
      const i = bootstrapMedianInterval(xs, undefined, { resamples: 300 })!;
      const sorted = [...xs].sort((a, b) => a - b);
      expect(i.lo).toBeLessThanOrEqual(percentile(sorted, 50));
      expect(i.hi).toBeGreaterThanOrEqual(percentile(sorted, 50));
      expect(i.lo).toBeGreaterThanOrEqual(sorted[0]!);
      expect(i.hi).toBeLessThanOrEqual(sorted.at(-1)!);
      expect(bootstrapMedianInterval(xs, undefined, { resamples: 300 })).toEqual(i);
    }), { numRuns: 100 });
  });

  it('of a difference: shifting one sample moves the interval by the shift, and lo ≤ hi', () => {
    fc.assert(fc.property(sample, sample, fc.integer({ min: -200, max: 200 }), (a, b, shift) => {
      const ab = bootstrapMedianInterval(a, b, { resamples: 300 })!;
      const shifted = bootstrapMedianInterval(a.map((x) => x + shift), b, { resamples: 300 })!;
      expect(shifted.lo).toBeCloseTo(ab.lo + shift, 6);
      expect(shifted.hi).toBeCloseTo(ab.hi + shift, 6);
      expect(ab.lo).toBeLessThanOrEqual(ab.hi);
    }), { numRuns: 100 });
  });

  it('is empty without samples', () => {
    expect(bootstrapMedianInterval([])).toBeUndefined();
    expect(bootstrapMedianInterval([1], [])).toBeUndefined();
  });
});
