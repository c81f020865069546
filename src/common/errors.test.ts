import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, DriverError, ERROR_CODES, isDriverError } from './errors.ts';

describe('error catalogue', () => {
  it('documents every code in docs/errors.md, and nothing else', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODES].sort());
  });

  it('never reuses a code', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('keeps cause and context, and is recognised across copies by its brand', () => {
    const cause = new Error('root');
    const e = new ConfigError('spec.mtu: must be a positive integer', { cause, context: { field: 'spec.mtu' } });
    expect(e.cause).toBe(cause);
    expect(e.context).toEqual({ field: 'spec.mtu' });
    expect(e.name).toBe('ConfigError');
    expect(isDriverError(e)).toBe(true);
    expect(e).toBeInstanceOf(DriverError);
    // A structurally similar object without the brand is not one of ours.
    expect(isDriverError(Object.assign(new Error('x'), { code: 'CONFIG_INVALID' }))).toBe(false);
  });
});
