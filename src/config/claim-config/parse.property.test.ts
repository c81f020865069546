import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allFields, arbConfig, arbValidConfig, deepMerge, embed, pathText, refused, setAt } from '../../../test/fixtures/claim-config/fields.ts';
import { isDriverError } from '../../common/errors.ts';
import { claimConfigError } from './issues.ts';
import type { AnyNode } from './nodes.ts';
import { parseNetworkConfig, parseNetworkConfigJson } from './parse.ts';

const RUNS = { numRuns: 300 };

describe('parse, for any input', () => {
  it('never throws, and reports each problem with a path and a message', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const r = parseNetworkConfig(v);
      if (!r.ok) {
        expect(r.issues.length).toBeGreaterThan(0);
        for (const i of r.issues) { expect(typeof i.path).toBe('string'); expect(i.message.length).toBeGreaterThan(0); }
      }
    }), RUNS);
  });

  it('never throws on arbitrary text as JSON', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
      const r = parseNetworkConfigJson(text);
      expect(typeof r.ok).toBe('boolean');
    }), RUNS);
  });

  it('gives the same verdict on random configs of the right shape, and the problems aggregate into one CONFIG_CLAIM_INVALID error', () => {
    fc.assert(fc.property(arbConfig(), (v) => {
      const r = parseNetworkConfig(v);
      if (r.ok) return;
      const e = claimConfigError('request "nic"', r.issues);
      expect(isDriverError(e) && e.code).toBe('CONFIG_CLAIM_INVALID');
      expect((e.cause as AggregateError).errors).toHaveLength(r.issues.length);
      expect((e.cause as AggregateError).errors.every((x: unknown) => isDriverError(x) && x.code === 'CONFIG_INVALID')).toBe(true);
    }), RUNS);
  });
});

describe('a parsed config', () => {
  it('parses again to itself (normalisation is idempotent)', () => {
    fc.assert(fc.property(arbValidConfig(), (v) => {
      const r = parseNetworkConfig(v);
      expect(r.ok ? [] : r.issues).toEqual([]);
      if (!r.ok) return;
      expect(parseNetworkConfig(r.config)).toEqual({ ok: true, config: r.config });
      expect(parseNetworkConfig(JSON.parse(JSON.stringify(r.config)))).toEqual({ ok: true, config: r.config });
    }), RUNS);
  });
});

const objectPaths = allFields().filter((f) => f.node.kind === 'object');
const leafFields = allFields().filter((f) => f.node.kind !== 'object' && f.node.kind !== 'list' && f.node.kind !== 'map');

describe('every problem is reported', () => {
  it('an unknown field injected at any set of object levels is reported at each', () => {
    fc.assert(fc.property(fc.subarray(objectPaths, { minLength: 1 }), (chosen) => {
      const config = chosen.reduce<unknown>((acc, f) => deepMerge(acc, embed(f.path, { zzUnknown: 1 })), {});
      const r = parseNetworkConfig(config);
      const unknown = r.ok ? [] : r.issues.filter((i) => i.message === 'unknown field').map((i) => i.path).sort();
      const expected = chosen.map((f) => (f.node.kind === 'object' && f.node.keyedPaths ? `${pathText(f.path)}[zzUnknown]` : `${pathText(f.path)}.zzUnknown`)).sort();
      expect(unknown).toEqual(expected);
    }), RUNS);
  });

  it('bad values at any set of fields are each reported at their path', () => {
    const badAt = fc.constantFrom(...leafFields).chain((f) => fc.constantFrom(...refused(f.node as AnyNode)).map((v) => ({ f, v })));
    fc.assert(fc.property(fc.uniqueArray(badAt, { minLength: 1, maxLength: 6, selector: (x) => pathText(x.f.path) }), (bad) => {
      const config = bad.reduce<unknown>((acc, { f, v }) => deepMerge(acc, embed(f.path, v)), {});
      for (const { f, v } of bad) setAt(config, f.path, v); // a later context may have put a sample back
      const r = parseNetworkConfig(config);
      const paths = r.ok ? [] : r.issues.map((i) => i.path);
      for (const { f } of bad) {
        const at = pathText(f.path);
        expect(paths.some((p) => p === at || p.startsWith(`${at}[`)), `${at} in ${JSON.stringify(paths)}`).toBe(true);
      }
    }), RUNS);
  });
});
