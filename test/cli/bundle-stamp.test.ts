/**
 * bin/netclaim.js runs dist/netclaim.mjs only while the bundle's stamp matches
 * the sources (bin/bundle-stamp.js): a stale bundle must never run. Checked on
 * a small checkout of its own, so that nothing here depends on this one's dist/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { isBundleFresh, STAMP_FILE, writeBundleStamp } from '../../bin/bundle-stamp.js';

const root = mkdtempSync(join(tmpdir(), 'nc-stamp-'));
const dist = join(root, 'dist');
afterAll(() => { rmSync(root, { recursive: true, force: true }); });

function put(rel: string, text: string): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
}

beforeEach(() => {
  rmSync(root, { recursive: true, force: true });
  put('package.json', '{"type": "module"}\n');
  put('node_modules/.package-lock.json', '{"lockfileVersion": 3}\n');
  put('src/main.ts', "console.log('sources');\n");
  put('src/lib.ts', 'export const x: number = 1;\n');
  put('dist/netclaim.mjs', "console.log('bundle');\n");
  // As esbuild names its inputs, relative to the working directory; node_modules files are npm's lock file's.
  writeBundleStamp(root, dist, ['src/main.ts', 'src/lib.ts', 'package.json', 'node_modules/yaml/dist/index.js'], root);
});

describe('the bundle stamp', () => {
  it('holds the checkout\'s inputs and npm\'s lock file, not node_modules files', () => {
    expect(isBundleFresh(root, dist)).toBe(true);
  });

  it('stays fresh when a file is only touched, goes stale when one is edited, deleted or re-installed', () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(root, 'src/lib.ts'), later, later);
    expect(isBundleFresh(root, dist)).toBe(true);
    put('src/lib.ts', 'export const x: number = 2;\n'); // same size, other content
    expect(isBundleFresh(root, dist)).toBe(false);
    put('src/lib.ts', 'export const x: number = 1;\n');
    expect(isBundleFresh(root, dist)).toBe(true);
    put('node_modules/.package-lock.json', '{"lockfileVersion": 3, "packages": {}}\n');
    expect(isBundleFresh(root, dist)).toBe(false);
    put('node_modules/.package-lock.json', '{"lockfileVersion": 3}\n');
    unlinkSync(join(root, 'src/lib.ts'));
    expect(isBundleFresh(root, dist)).toBe(false);
  });

  it('is stale without a stamp, or with one that cannot be read', () => {
    unlinkSync(join(dist, STAMP_FILE));
    expect(isBundleFresh(root, dist)).toBe(false);
    writeFileSync(join(dist, STAMP_FILE), '{"files": {}}');
    expect(isBundleFresh(root, dist)).toBe(false);
    writeFileSync(join(dist, STAMP_FILE), 'not json');
    expect(isBundleFresh(root, dist)).toBe(false);
  });

  it('decides what bin/netclaim.js runs: the bundle while fresh, the sources once stale or when told', () => {
    mkdirSync(join(root, 'bin'));
    for (const f of ['netclaim.js', 'bundle-stamp.js']) copyFileSync(new URL(`../../bin/${f}`, import.meta.url), join(root, 'bin', f));
    const run = (env: NodeJS.ProcessEnv = {}): string =>
      spawnSync(process.execPath, [join(root, 'bin/netclaim.js')], { encoding: 'utf8', env: { ...process.env, NETCLAIM_NO_BUNDLE: '', ...env } }).stdout.trim();
    expect(run()).toBe('bundle');
    expect(run({ NETCLAIM_NO_BUNDLE: '1' })).toBe('sources');
    put('src/lib.ts', 'export const x: number = 3; // edited after the bundle\n');
    expect(run()).toBe('sources');
  });
});
