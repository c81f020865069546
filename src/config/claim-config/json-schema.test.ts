import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DOC_FILE, SCHEMA_FILE, renderConfigSchema, renderFieldReference, withReference } from '../../../scripts/gen-config-schema.ts';
import { allFields, arbConfig, embed, pathText, refused } from '../../../test/fixtures/claim-config/fields.ts';
import { checkDocument } from './documents.ts';
import { parseNetworkConfig } from './parse.ts';
import { DRANET_DRIVER, NETCLAIM_DRIVER } from './types.ts';

// ajv (a devDependency, used only here) checks the schema against the draft-07
// meta-schema in strict mode and validates with it the way users' tools will:
// a validator of our own would only agree with our own reading of the schema.
const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const validate = ajv.compile(schema);
const FIXTURES = new URL('../../../test/fixtures/claim-config/', import.meta.url);

/** Every opaque config's parameters in a fixture file, and whether the file is meant to be valid. */
function fixtureParameters(): { name: string; parameters: unknown }[] {
  const out: { name: string; parameters: unknown }[] = [];
  for (const dir of ['dranet', 'netclaim']) {
    for (const file of readdirSync(new URL(`${dir}/`, FIXTURES))) {
      const text = readFileSync(new URL(`${dir}/${file}`, FIXTURES), 'utf8');
      for (const doc of parseAllDocuments(text, { version: '1.1' }) as { toJS(): unknown }[]) collect(doc.toJS(), `${dir}/${file}`, out);
    }
  }
  return out;
}

function collect(v: unknown, name: string, out: { name: string; parameters: unknown }[]): void {
  if (typeof v !== 'object' || v === null) return;
  const o = v as Record<string, unknown>;
  const opaque = o.opaque as Record<string, unknown> | undefined;
  if (opaque && (opaque.driver === NETCLAIM_DRIVER || opaque.driver === DRANET_DRIVER)) out.push({ name, parameters: opaque.parameters });
  else if (o.apiVersion === 'netclaim.dev/v1alpha1') out.push({ name, parameters: o });
  for (const child of Object.values(o)) collect(child, name, out);
}

describe('schema/claim-config.schema.json', () => {
  it('is exactly what scripts/gen-config-schema.ts makes (run it after changing fields.ts)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderConfigSchema());
  });

  it('and docs/claim-config.md carries the field reference it makes', () => {
    const doc = readFileSync(DOC_FILE, 'utf8');
    expect(doc).toBe(withReference(doc, renderFieldReference()));
  });

  it('is a valid draft-07 schema under ajv\'s strict mode', () => {
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  it('accepts the parameters of every valid fixture, and refuses DraNet\'s user-guide typo', () => {
    const all = fixtureParameters();
    expect(all.length).toBeGreaterThanOrEqual(15);
    for (const { name, parameters } of all) {
      const ok = validate(parameters);
      expect(ok, `${name}: ${JSON.stringify(validate.errors)}`).toBe(!name.includes('user-guide-neighbors'));
    }
  });

  it('accepts the examples in docs/claim-config.md, as netclaim validate does', () => {
    const blocks = [...readFileSync(DOC_FILE, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const doc = parseAllDocuments(block, { version: '1.1' }) as { toJS(): unknown }[];
      for (const d of doc) {
        expect(checkDocument(d.toJS(), new Set([NETCLAIM_DRIVER])).issues).toEqual([]);
        const params: { name: string; parameters: unknown }[] = [];
        collect(d.toJS(), 'docs', params);
        for (const p of params) expect(validate(p.parameters), JSON.stringify(validate.errors)).toBe(true);
      }
    }
  });

  it('never refuses what the parser accepts', () => {
    fc.assert(fc.property(arbConfig(), (v) => {
      if (parseNetworkConfig(v).ok) expect(validate(v), JSON.stringify(validate.errors)).toBe(true);
    }), { numRuns: 500 });
    expect(validate({ interface: { mtu: null, vrf: null }, ethtool: { features: { 'rx-gro': null } } })).toBe(true);
  });

  it('refuses unknown fields, wrong types and out-of-range numbers, like the parser', () => {
    for (const { path, node } of allFields()) {
      for (const v of refused(node)) {
        const structural = node.kind === 'integer' ? typeof v !== 'string' || !node.names : node.kind !== 'string' || typeof v !== 'string';
        if (!structural) continue; // string formats: the schema's patterns are looser than the parser's checks
        expect(validate(embed(path, v)), `${pathText(path)} = ${JSON.stringify(v).slice(0, 50)}`).toBe(false);
      }
      if (node.kind === 'object') expect(validate(embed(path, { zzUnknown: 1 })), pathText(path)).toBe(false);
    }
  });
});
