/**
 * Builds the self-contained daemon the image ships (docs/packaging.md):
 *
 *   dist/netclaim.mjs          src/main.ts and every JS dependency, one ESM file (esbuild)
 *   dist/proto/kubelet/…       the .proto files the kubelet and NRI surfaces load at run time
 *   dist/proto/nri/…
 *   dist/data/pci.ids.network  the shipped pci.ids subset
 *   dist/node_modules/…        the two FFI packages, which cannot be bundled: their
 *                              loaders and this platform's native addon (glibc) only
 *
 * `node /path/to/dist/netclaim.mjs` then needs nothing else but Node.js 24.
 * The bundler defines NETCLAIM_BUNDLED, so src/common/assets.ts finds proto/
 * and data/ next to the bundle; koffi and ffi-rs are loaded through
 * createRequire(import.meta.url), so Node.js finds them in dist/node_modules.
 *
 * Usage: node scripts/bundle.ts [OUTDIR]   (default dist/; OUTDIR is emptied first)
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, parse, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { writeBundleStamp } from '../bin/bundle-stamp.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Shipped beside the bundle, relative to the package root (src/common/assets.ts reads them). */
const ASSETS = ['proto/kubelet', 'proto/nri', 'data/pci.ids.network'] as const;

/**
 * The FFI packages, copied as Node.js resolves them: each package's loader
 * files, then its package for this platform (npm installs only that one; the
 * image's build stage runs on the target platform, so it is the image's).
 */
const NATIVE: readonly { pkg: string; files: readonly string[]; platformPkg: string }[] = [
  {
    pkg: 'koffi',
    files: ['package.json', 'LICENSE.txt', 'index.cjs', 'src/koffi/index.cjs', 'src/koffi/src/static.cjs'],
    platformPkg: `@koromix/koffi-${process.platform}-${process.arch}`,
  },
  {
    pkg: 'ffi-rs',
    files: ['package.json', 'LICENSE', 'index.js'],
    platformPkg: `@yuuang/ffi-rs-${process.platform}-${process.arch}-gnu`,
  },
];

// The image is glibc (distroless Debian): musl builds and READMEs stay behind.
const SKIP_IN_PLATFORM_PKG = (name: string): boolean => name.startsWith('musl') || name.startsWith('README');

// CommonJS dependencies call require() for Node.js built-ins; an ES module has
// no `require`, so the bundle makes one (esbuild's documented pattern).
const BANNER = "import { createRequire as __netclaimCreateRequire } from 'node:module';\n"
  + 'const require = __netclaimCreateRequire(import.meta.url);';

export interface BundleResult { readonly outDir: string; readonly bundleBytes: number; readonly totalBytes: number }

export async function bundle(outDir = join(ROOT, 'dist')): Promise<BundleResult> {
  emptyOutDir(resolve(outDir));
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, 'netclaim.mjs');
  const { metafile } = await build({
    entryPoints: [join(ROOT, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Whitespace and comments only: names are kept, so stack traces in the daemon's logs still
    // name every function (their line:column point into long lines). ASCII only: one character
    // above U+00FF (a comment's ’ in undici) made V8 hold the whole source as two-byte text.
    // Node keeps a module's source for the life of the process, about twice its size: this cut
    // the daemon's RSS by 13 MB (9.0 → 5.1 MB of source; docs/benchmarks.md, daemon).
    minifyWhitespace: true,
    charset: 'ascii',
    banner: { js: BANNER },
    define: { NETCLAIM_BUNDLED: 'true' },
    external: NATIVE.map((n) => n.pkg),
    logLevel: 'warning',
    metafile: true,
  });
  asciiOnly(outfile);
  for (const rel of ASSETS) cpSync(join(ROOT, rel), join(outDir, rel), { recursive: true, filter: (src) => !src.endsWith('README.md') });
  for (const n of NATIVE) copyNative(n, outDir);
  // Last: bin/netclaim.js runs a bundle only once its stamp says which sources it holds.
  writeBundleStamp(ROOT, outDir, Object.keys(metafile.inputs));
  return { outDir, bundleBytes: statSync(outfile).size, totalBytes: treeBytes(outDir) };
}

/**
 * Why OUTDIR must not be emptied, if it must not: it holds the checkout (or is
 * a filesystem root), or it has files and is not a previous bundle (no
 * netclaim.mjs). A mistyped argument must never delete anything else.
 */
export function emptyRefusal(outDir: string): string | undefined {
  const dir = resolve(outDir);
  const toCheckout = relative(dir, ROOT);
  if (dir === parse(dir).root || toCheckout === '' || !toCheckout.startsWith('..')) return `${dir} holds the checkout`;
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, 'netclaim.mjs'))) return `${dir} is not empty and not a previous bundle (no netclaim.mjs)`;
  return undefined;
}

/**
 * esbuild's ASCII charset leaves a regular expression's characters and legal comments as they
 * are (here a µ in a duration pattern and an author's name): escaped here, where \uXXXX means
 * the same character (no template literal of the bundle holds one), so V8 keeps the source as
 * one-byte text, half what Latin-1 text with its UTF-8 copy costs.
 */
function asciiOnly(file: string): void {
  const text = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}

function emptyOutDir(outDir: string): void {
  const refusal = emptyRefusal(outDir);
  if (refusal !== undefined) throw new Error(`bundle: refusing to empty OUTDIR: ${refusal}`);
  rmSync(outDir, { recursive: true, force: true });
}

function copyNative(n: (typeof NATIVE)[number], outDir: string): void {
  const from = join(ROOT, 'node_modules');
  const to = join(outDir, 'node_modules');
  for (const f of n.files) cpSync(join(from, n.pkg, f), join(to, n.pkg, f));
  if (!existsSync(join(from, n.platformPkg))) throw new Error(`bundle: ${n.platformPkg} is not installed (run npm ci on the target platform)`);
  cpSync(join(from, n.platformPkg), join(to, n.platformPkg), { recursive: true, filter: (src) => !SKIP_IN_PLATFORM_PKG(basename(src)) });
}

function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0);
}

if (import.meta.main) {
  const out = resolve(process.argv[2] ?? join(ROOT, 'dist'));
  const r = await bundle(out);
  const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;
  console.log(`bundle: ${relative(process.cwd(), join(r.outDir, 'netclaim.mjs')) || 'netclaim.mjs'} ${mb(r.bundleBytes)}, ${relative(process.cwd(), r.outDir) || '.'}/ ${mb(r.totalBytes)} in all`);
}
