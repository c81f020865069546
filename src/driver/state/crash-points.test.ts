import { afterEach, describe, expect, it } from 'vitest';
import { CRASH_POINT_NAMES, crashPoint, setCrashAt } from './crash-points.ts';

// Never arm a point this process would reach: the worker would SIGKILL itself.
// The kill itself is exercised in claim-store.crash.test.ts, in child processes.
afterEach(() => setCrashAt(undefined));

describe('crash points', () => {
  it('are unarmed in the test process and then cost nothing', () => {
    for (const name of CRASH_POINT_NAMES) crashPoint(name);
  });

  it('count hits: name@k passes k-1 hits', () => {
    setCrashAt('store.after-fsync@3');
    crashPoint('store.after-fsync');
    crashPoint('store.after-fsync');
    crashPoint('store.after-rename');
  });

  it('refuse unknown names and bad counts, so a typo cannot pass a crash test', () => {
    for (const bad of ['store.after-fsink', 'store.after-fsync@0', 'store.after-fsync@x', 'store.after-fsync@1.5', 'prepare']) {
      expect(() => setCrashAt(bad)).toThrow(TypeError);
    }
    expect(() => setCrashAt('unprepare.after-cdi-remove@2')).not.toThrow();
    setCrashAt('');
  });

  it('are unique names', () => {
    expect(new Set(CRASH_POINT_NAMES).size).toBe(CRASH_POINT_NAMES.length);
  });
});
