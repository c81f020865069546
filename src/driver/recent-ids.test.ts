import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentIds } from './recent-ids.ts';

describe('RecentIds', () => {
  it('keeps exactly the last `capacity` distinct ids added, whatever the sequence', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 }).map(String), { maxLength: 200 }), (capacity, adds) => {
      const r = new RecentIds(capacity);
      for (const id of adds) r.add(id);
      // Model: the distinct ids by their last addition, newest last.
      const lastAt = new Map<string, number>();
      adds.forEach((id, i) => lastAt.set(id, i));
      const newest = [...lastAt.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id).slice(-capacity);
      expect(r.size).toBe(newest.length);
      for (const id of lastAt.keys()) expect(r.has(id)).toBe(newest.includes(id));
    }));
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentIds(0)).toThrow(/capacity/);
    expect(() => new RecentIds(1.5)).toThrow(/capacity/);
  });
});
