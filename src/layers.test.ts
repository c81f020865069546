/**
 * The layers depend one way (design.md §2): each may import only the layers
 * listed for it. `common` and `observe` are leaves everything may use;
 * `config` parses claim configs and is used from the driver up; `daemon` and
 * main.ts compose everything. A test of a layer may import test helpers.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname);
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  common: [],
  observe: ['common'],
  kernel: ['common'],
  config: ['common'],
  inventory: ['common', 'kernel'],
  driver: ['common', 'kernel', 'inventory', 'config', 'observe'],
  surfaces: ['common', 'kernel', 'inventory', 'config', 'observe', 'driver'],
  daemon: ['common', 'kernel', 'inventory', 'config', 'observe', 'driver', 'surfaces'],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []);
}

const layerOf = (file: string): string => relative(SRC, file).split('/')[0]!;

describe('layering', () => {
  it('every import under src/ goes to the same layer or one it may depend on', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const file of files(SRC)) {
      const from = layerOf(file);
      if (from.endsWith('.ts')) continue; // main.ts composes
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)[^'"]*?from\s+'(\.[^']+)'/gm)) {
        const target = resolve(dirname(file), m[1]!);
        if (!target.startsWith(SRC)) continue; // package.json, data
        const to = layerOf(target);
        checked += 1;
        if (to !== from && !ALLOWED[from]!.includes(to)) wrong.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(500);
  });

  it('knows every layer directory', () => {
    const dirs = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(dirs).toEqual(Object.keys(ALLOWED).sort());
  });
});
