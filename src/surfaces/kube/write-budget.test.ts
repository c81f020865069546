import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { budgetTake, budgetWait, createWriteBudget, DEFAULT_WRITE_BUDGET, type WriteBudgetOptions } from './write-budget.ts';

const budget = (o: WriteBudgetOptions, now = 0) => createWriteBudget(o, now)!;

describe('write budget (token bucket over publishes)', () => {
  it('a quiet node publishes `burst` times at once, then one per 1/rate s', () => {
    const b = budget({ ratePerSec: 1, burst: 5 });
    for (let i = 0; i < 5; i++) expect(budgetTake(b, 0)).toBe(true);
    expect(budgetTake(b, 0)).toBe(false);
    expect(budgetWait(b, 0)).toBe(1000);
    expect(budgetWait(b, 400)).toBe(600);
    expect(budgetTake(b, 999)).toBe(false);
    expect(budgetTake(b, 1000)).toBe(true);
    expect(budgetWait(b, 1000)).toBe(1000);
  });

  it('refills to `burst`, never beyond, and a clock going back refills nothing', () => {
    const b = budget({ ratePerSec: 2, burst: 3 });
    for (let i = 0; i < 3; i++) budgetTake(b, 0);
    expect(budgetWait(b, 60_000)).toBe(0);
    expect(b.tokens).toBe(3);
    for (let i = 0; i < 3; i++) expect(budgetTake(b, 60_000)).toBe(true);
    expect(budgetTake(b, 59_000)).toBe(false);
    expect(budgetWait(b, 59_000)).toBe(500);
  });

  it('rate 0 is no budget; bad options are a ConfigError naming the field', () => {
    expect(createWriteBudget({ ratePerSec: 0, burst: 1 }, 0)).toBeUndefined();
    expect(createWriteBudget(DEFAULT_WRITE_BUDGET, 0)).toMatchObject({ tokens: 5 });
    for (const [o, field] of [[{ ratePerSec: -1, burst: 5 }, 'ratePerSec'], [{ ratePerSec: Number.NaN, burst: 5 }, 'ratePerSec'], [{ ratePerSec: 1, burst: 0 }, 'burst'], [{ ratePerSec: 1, burst: 1.5 }, 'burst']] as const) {
      let err: unknown;
      try {
        createWriteBudget(o, 0);
      } catch (e) {
        err = e;
      }
      expect(isDriverError(err) && err.code).toBe('CONFIG_INVALID');
      expect((err as { context?: { field?: string } }).context?.field).toBe(field);
    }
  });

  const opts = fc.record({ ratePerSec: fc.double({ min: 0.1, max: 20, noNaN: true }), burst: fc.integer({ min: 1, max: 10 }) });
  /** Attempt times: increasing, with gaps from 0 to 2 s. */
  const times = fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 300 }).map((gaps) => {
    let t = 0;
    return gaps.map((g) => (t += g));
  });

  it('property: in any window of W ms at most burst + rate·W/1000 publishes go, however often they are tried', () => {
    fc.assert(fc.property(opts, times, (o, ts) => {
      const b = budget(o, 0);
      const ok = ts.filter((t) => budgetTake(b, t));
      for (let i = 0; i < ok.length; i++) {
        for (let j = i; j < ok.length; j++) {
          const w = ok[j]! - ok[i]!;
          expect(j - i + 1).toBeLessThanOrEqual(o.burst + (o.ratePerSec * w) / 1000 + 1e-9);
        }
      }
    }));
  });

  it('property: waiting budgetWait() ms always lets the next publish go (the last state is never starved)', () => {
    fc.assert(fc.property(opts, times, (o, ts) => {
      const b = budget(o, 0);
      let now = 0;
      for (const t of ts) {
        now = Math.max(now, t);
        const wait = budgetWait(b, now);
        expect(wait).toBeLessThanOrEqual(Math.ceil(1000 / o.ratePerSec));
        now += wait;
        expect(budgetTake(b, now)).toBe(true);
      }
    }));
  });
});
