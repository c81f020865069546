import { describe, expect, it } from 'vitest';
import { addStep, newSteps, roundSteps, timed } from './steps.ts';

describe('steps', () => {
  it('sums a repeated step, times a throwing one too, and does nothing without a record', () => {
    const s = newSteps();
    addStep(s, 'attach', 1.5);
    addStep(s, 'attach', 2.25);
    expect(timed(s, 'plan', () => 7)).toBe(7);
    expect(() => timed(s, 'fails', () => { throw new Error('x'); })).toThrow('x');
    expect(s['attach']).toBe(3.75);
    expect(s['plan']).toBeGreaterThanOrEqual(0);
    expect(s['fails']).toBeGreaterThanOrEqual(0);
    expect(timed(undefined, 'plan', () => 'ok')).toBe('ok');
    addStep(undefined, 'x', 1);
    expect(roundSteps({ a: 1.23456789 })).toEqual({ a: 1.235 });
  });
});
