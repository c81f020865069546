/**
 * The cloud docs cannot drift from the code: docs/attributes.md has a row
 * for every cloud attribute, in publishing order, and names every DraNet
 * cloud attribute; docs/cloud.md names every `--cloud-provider` value.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOUD_ATTRIBUTES, DRANET_CLOUD_ATTRIBUTES } from '../attributes/names.ts';
import { CLOUD_PROVIDER_VALUES } from './select.ts';
import { CLOUD_NAMES } from './types.ts';

const doc = (name: string): string => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('cloud docs', () => {
  it('docs/attributes.md: a row per cloud attribute, in publishing order', () => {
    const rows = doc('attributes.md').split('\n').filter((l) => l.startsWith('| `netclaim.dev/')).map((l) => l.split('`')[1]!.split('/')[1]);
    expect(rows).toEqual([...CLOUD_ATTRIBUTES]);
  });

  it('docs/attributes.md: every DraNet cloud attribute named', () => {
    const text = doc('attributes.md');
    for (const c of CLOUD_NAMES) for (const n of DRANET_CLOUD_ATTRIBUTES[c]) expect(text, n).toContain(`\`${n}\``);
  });

  it('docs/cloud.md: every --cloud-provider value', () => {
    const text = doc('cloud.md');
    for (const v of CLOUD_PROVIDER_VALUES) expect(text, v).toContain(`\`${v}\``);
  });
});
