/**
 * The stamp that ties dist/netclaim.mjs to the sources it was built from
 * (docs/cli.md, "Start-up"). `npm run bundle` writes it beside the bundle:
 * each file of the checkout esbuild read (src/**, package.json), and the lock
 * file npm keeps of what node_modules holds, with its size, mtime and SHA-256.
 * bin/netclaim.js runs the bundle only while every one of them is unchanged:
 * same size and mtime, or (touched, not edited) same size and hash. A file
 * edited, deleted or re-installed since makes the bundle stale, and the
 * sources run instead. Checking costs a stat per file (about 1 ms) and a hash
 * only for a file touched since.
 *
 * Plain JavaScript, so that checking it loads no TypeScript.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import process from 'node:process';

export const STAMP_FILE = 'netclaim.stamp.json';

/** What node_modules holds, as npm records it on every install. */
const INSTALLED = 'node_modules/.package-lock.json';

// node:crypto takes longer to load than the whole check; only a touched file needs it.
const require = createRequire(import.meta.url);
const sha256 = (path) => require('node:crypto').createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Writes the stamp into outDir. `inputs`: the keys of esbuild's
 * metafile.inputs, relative to `cwd`; those under node_modules are stood for
 * by npm's lock file, any that is not a file of the checkout is left out.
 */
export function writeBundleStamp(root, outDir, inputs, cwd = process.cwd()) {
  const own = inputs
    .map((i) => relative(root, resolve(cwd, i)))
    .filter((f) => !f.startsWith('..') && !f.split(sep).includes('node_modules') && existsSync(join(root, f)));
  const files = {};
  for (const f of [...new Set([...own, INSTALLED])].sort()) {
    const s = statSync(join(root, f));
    files[f] = [s.size, s.mtimeMs, sha256(join(root, f))];
  }
  writeFileSync(join(outDir, STAMP_FILE), `${JSON.stringify({ files }, null, 1)}\n`);
}

/** True when outDir holds a bundle stamped with what root holds now; false on any doubt. */
export function isBundleFresh(root, outDir) {
  try {
    const { files } = JSON.parse(readFileSync(join(outDir, STAMP_FILE), 'utf8'));
    const entries = Object.entries(files);
    if (entries.length === 0) return false;
    const touched = [];
    for (const [file, [size, mtimeMs]] of entries) {
      const s = statSync(join(root, file));
      if (s.size !== size) return false;
      if (s.mtimeMs !== mtimeMs) touched.push(file);
    }
    return touched.every((file) => sha256(join(root, file)) === files[file][2]);
  } catch {
    return false;
  }
}
