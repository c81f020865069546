/**
 * docs/cli.md cannot drift from the code: the limits it states are the ones
 * validate applies, it names every command, and its links resolve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ALIAS_VALUES, MAX_INPUT_BYTES, MAX_NESTING } from '../../src/surfaces/cli/input-limits.ts';
import { COMMAND_USAGE } from '../../src/surfaces/cli/usage.ts';
import { PARAMETERS_MAX_DEPTH } from '../../src/config/claim-config/parse.ts';

const DOCS = new URL('../../docs/', import.meta.url).pathname;
const text = readFileSync(join(DOCS, 'cli.md'), 'utf8');

describe('docs/cli.md', () => {
  it('states the limits validate applies', () => {
    expect(MAX_INPUT_BYTES).toBe(1024 * 1024);
    expect(text).toContain('**1 MiB per file**');
    expect(text).toContain(`**${MAX_NESTING} levels of nesting.**`);
    expect(text).toContain(`**${MAX_ALIAS_VALUES.toLocaleString('en-US')} values stood for by YAML aliases per document.**`);
    expect(text).toContain(`may nest ${PARAMETERS_MAX_DEPTH} levels`);
  });

  it('names every command, and is linked from the README', () => {
    for (const name of Object.keys(COMMAND_USAGE)) expect(text).toContain(`netclaim ${name} `);
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain('(docs/cli.md)');
  });

  it('links only to files that exist', () => {
    const links = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    for (const l of links) expect(existsSync(join(DOCS, l)), l).toBe(true);
  });
});
