import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counterRises, counterSample, counterSummary, counterVerdict, DEFAULT_COUNTER_RULE, emptyHistory, MAX_SAMPLES, type CounterRule,
} from './pod-health-counters.ts';

const rule: CounterRule = DEFAULT_COUNTER_RULE;
const m = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));

describe('counter rule', () => {
  it('one error is reported, a rising count is unhealthy, a quiet window heals', () => {
    const h = emptyHistory();
    counterSample(h, 0, m({ rx_crc_errors: 100, rx_dropped: 5 })); // the base: errors from before the watch
    expect(counterVerdict('net1', h, 0)).toBeUndefined();
    counterSample(h, 5_000, m({ rx_crc_errors: 101, rx_dropped: 5 }));
    expect(counterVerdict('net1', h, 5_000)).toBeUndefined();
    counterSample(h, 10_000, m({ rx_crc_errors: 110, rx_dropped: 9_000 })); // drops are only reported
    expect(counterVerdict('net1', h, 10_000)).toBe('net1: rx_crc_errors +10 in the last 60 s');
    counterSample(h, 65_001, m({ rx_crc_errors: 110, rx_dropped: 9_000 }));
    expect(counterVerdict('net1', h, 65_001)).toBeUndefined(); // the +1 at 5 s left the window: +9 is under the rule
    counterSample(h, 70_001, m({ rx_crc_errors: 110, rx_dropped: 9_000 }));
    expect(counterVerdict('net1', h, 70_001)).toBeUndefined();
    expect(h.samples).toEqual([]);
    expect(counterSummary(h.last)).toBe('rx_crc_errors 110');
  });

  it('three carrier flaps within the window are unhealthy, one is not', () => {
    const h = emptyHistory();
    counterSample(h, 0, m({ carrier_changes: 4 }));
    counterSample(h, 1_000, m({ carrier_changes: 6 }));
    expect(counterVerdict('net1', h, 1_000)).toBeUndefined();
    counterSample(h, 2_000, m({ carrier_changes: 10 }));
    expect(counterVerdict('net1', h, 2_000)).toBe('net1: carrier_changes +6 in the last 60 s');
    expect(counterSummary(h.last)).toBeUndefined(); // a count of carrier changes alone is no problem
  });

  it('RDMA port errors count, provider hw counters are only reported', () => {
    const h = emptyHistory();
    counterSample(h, 0, m({ 'rdma:symbol_error': 0, 'rdma-hw:out_of_buffer': 0 }));
    counterSample(h, 1_000, m({ 'rdma:symbol_error': 50, 'rdma-hw:out_of_buffer': 1e6 }));
    expect(counterVerdict('mlx5_0', h, 1_000)).toBe('mlx5_0: rdma:symbol_error +50 in the last 60 s');
  });

  it('a counter that goes down (reset, re-created device, 32-bit wrap) is a new base, never a burst', () => {
    const h = emptyHistory();
    counterSample(h, 0, m({ rx_errors: 2 ** 32 - 5 }));
    counterSample(h, 1_000, m({ rx_errors: 3 }));
    expect(counterRises(h, 1_000)).toEqual(new Map());
    counterSample(h, 2_000, m({ rx_errors: 4 }));
    expect(counterRises(h, 2_000)).toEqual(m({ rx_errors: 1 }));
  });

  // A step: time passes, then each counter rises by some amount or is reset to a lower value.
  const step = fc.record({
    dt: fc.integer({ min: 0, max: 20_000 }),
    changes: fc.array(fc.record({ k: fc.constantFrom('rx_errors', 'tx_errors', 'rx_dropped', 'carrier_changes', 'rdma:symbol_error'), rise: fc.integer({ min: 0, max: 50 }), reset: fc.boolean() }), { maxLength: 5 }),
  });

  it('rises equal a reference that keeps every sample, while the window holds at most MAX_SAMPLES of them; memory stays bounded (property)', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 200 }), fc.integer({ min: 1_000, max: 120_000 }), (steps, windowMs) => {
      const r = { ...rule, windowMs };
      const h = emptyHistory();
      const values = new Map<string, number>();
      const all: { t: number; rises: Map<string, number> }[] = [];
      let t = 0;
      for (const s of steps) {
        t += s.dt;
        const before = new Map(values);
        for (const c of s.changes) {
          const v = values.get(c.k) ?? 1000;
          values.set(c.k, c.reset ? Math.floor(v / 2) : v + c.rise);
        }
        const rises = new Map<string, number>();
        for (const [k, v] of values) if (before.has(k) && v > before.get(k)!) rises.set(k, v - before.get(k)!);
        all.push({ t, rises });
        counterSample(h, t, values, r);
        // Bounded: never more than MAX_SAMPLES, all inside the window, none without a rise.
        expect(h.samples.length).toBeLessThanOrEqual(MAX_SAMPLES);
        for (const x of h.samples) {
          expect(x.t).toBeGreaterThan(t - windowMs);
          expect(x.rises.size).toBeGreaterThan(0);
          for (const v of x.rises.values()) expect(v).toBeGreaterThan(0);
        }
        const inWindow = all.filter((x) => x.t > t - windowMs && x.rises.size > 0);
        if (inWindow.length > MAX_SAMPLES) continue;
        const expected = new Map<string, number>();
        for (const x of inWindow) for (const [k, v] of x.rises) expected.set(k, (expected.get(k) ?? 0) + v);
        expect(counterRises(h, t, r)).toEqual(expected);
      }
    }), { numRuns: 300 });
  });

  it('counters that only rise by less than the rule within any window never make a device unhealthy (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: 1 })), { maxLength: 100 }), (steps) => {
      // At most one error per 7 s: at most 9 in 60 s, under the rule's 10.
      const h = emptyHistory();
      let t = 0;
      let v = 0;
      let lastRise = -Infinity;
      counterSample(h, t, m({ rx_errors: v }));
      for (const [dt, rise] of steps) {
        t += dt;
        if (rise === 1 && t - lastRise >= 7_000) {
          v += 1;
          lastRise = t;
        }
        counterSample(h, t, m({ rx_errors: v }));
        expect(counterVerdict('net1', h, t)).toBeUndefined();
      }
    }));
  });
});
