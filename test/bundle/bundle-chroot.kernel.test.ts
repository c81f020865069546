/**
 * What the distroless image promises, proved without a container engine: the
 * bundle (`npm run bundle`, docs/packaging.md) runs in a root that holds only
 * the node binary, the shared libraries `ldd` names for it and for the two
 * native addons, the dynamic loader, and the bundle's folder. No shell, no
 * tools, no node_modules of this checkout. `--version` and `inventory --json`
 * (koffi and ffi-rs) must work there, and the inventory must equal the one
 * `node src/main.ts inventory --json` prints from the sources.
 *
 * procfs and sysfs are mounted read-only inside a private mount namespace by
 * chroot-exec.ts, so the machine itself never sees a mount. Read-only: the
 * inventory changes nothing. In the kernel tier (root) and not in the QEMU
 * lane (guest-kernel-tests.sh excludes test/bundle): it checks packaging,
 * not a kernel feature.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const CHROOT_EXEC = join(import.meta.dirname, 'chroot-exec.ts');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const run = promisify(execFile);

const TOOLS = ['ldd', 'unshare', 'mount', 'chroot'] as const;
const missing = TOOLS.filter((t) => spawnSync(t, ['--version']).error !== undefined);
const blocker = process.getuid?.() !== 0 ? 'needs root (mount, chroot)'
  : missing.length > 0 ? `needs ${missing.join(', ')} (util-linux, coreutils, libc-bin)` : undefined;

interface Outcome { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Runs a command; a non-zero exit is an outcome, not an exception. */
async function outcome(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  try {
    const r = await run(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** Every absolute path `ldd` prints for these ELF files (libraries and the loader); vdso has none. */
function sharedLibraries(elfs: readonly string[]): string[] {
  const libs = new Set<string>();
  for (const elf of elfs) {
    const out = execFileSync('ldd', [elf], { encoding: 'utf8' });
    if (out.includes('not found')) throw new Error(`ldd ${elf}: a library is missing:\n${out}`);
    for (const m of out.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)) libs.add(m[1]!);
  }
  return [...libs].sort();
}

/** Files and symlinks under dir, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe.skipIf(blocker !== undefined)(`the bundle in a root holding only node, its libraries and dist/${blocker ? ` (SKIPPED: ${blocker})` : ''}`, () => {
  let root = '';
  let libs: string[] = [];
  const callerNs = readlinkSync('/proc/self/ns/mnt');

  /** `chroot ROOT /node /netclaim/netclaim.mjs ARGS` with procfs and sysfs, in a private mount namespace. */
  const inRoot = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> =>
    outcome('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, CHROOT_EXEC, callerNs, root, '/node', '/netclaim/netclaim.mjs', ...args],
      { PATH: process.env['PATH'], ...env });
  const fromSources = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> =>
    outcome(process.execPath, [join(REPO, 'src/main.ts'), ...args], { PATH: process.env['PATH'], ...env });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'nc-bundle-root-'));
    execFileSync(process.execPath, [join(REPO, 'scripts/bundle.ts'), join(root, 'netclaim')], { stdio: 'pipe' });
    const node = realpathSync(join(REPO, 'node_modules/node/bin/node'));
    const addons = filesUnder(join(root, 'netclaim')).filter((f) => f.endsWith('.node')).map((f) => join(root, 'netclaim', f));
    libs = sharedLibraries([node, ...addons]);
    copyFileSync(node, join(root, 'node'));
    chmodSync(join(root, 'node'), 0o755);
    for (const lib of libs) {
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(root, lib)); // follows the symlink: the root holds the real file
    }
    mkdirSync(join(root, 'proc'));
    mkdirSync(join(root, 'sys'));
  }, 120_000);

  afterAll(() => {
    if (!root) return;
    // Nothing was mounted here (private namespace); refuse to delete if that ever changes.
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(` ${root}/`));
    if (mounted.length > 0) throw new Error(`still mounted under ${root}, not removing it:\n${mounted.join('\n')}`);
    rmSync(root, { recursive: true, force: true });
  });

  it('holds nothing but node, its shared libraries and the bundle: no shell, no tools', () => {
    const outsideBundle = filesUnder(root).filter((f) => !f.startsWith('netclaim/'));
    expect(outsideBundle).toEqual(['node', ...libs.map((l) => l.slice(1))].sort());
    expect(existsSync(join(root, 'bin/sh'))).toBe(false);
    expect(existsSync(join(root, 'bin'))).toBe(false);
    expect(existsSync(join(root, 'usr'))).toBe(false);
    expect(existsSync(join(root, 'netclaim/netclaim.mjs'))).toBe(true);
    expect(libs.some((l) => /\/ld-linux[^/]*\.so/.test(l))).toBe(true);
  });

  it('is ASCII only (V8 then keeps its text one byte per character: docs/packaging.md)', () => {
    const text = readFileSync(join(root, 'netclaim/netclaim.mjs'));
    expect(text.findIndex((b) => b > 0x7f)).toBe(-1);
  });

  it('prints the version from package.json', async () => {
    const r = await inRoot(['--version']);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  for (const backend of ['koffi', 'ffi-rs'] as const) {
    it(`lists the same devices as the sources do (inventory --json, NETCLAIM_FFI=${backend})`, async () => {
      const [bundled, sources] = await Promise.all([
        inRoot(['inventory', '--json'], { NETCLAIM_FFI: backend }),
        fromSources(['inventory', '--json'], { NETCLAIM_FFI: backend }),
      ]);
      expect(bundled.stderr).toBe('');
      expect(bundled.code).toBe(0);
      expect(sources.code).toBe(0);
      const inventory = JSON.parse(bundled.stdout) as { devices: { name: string }[]; exclusions: { subject: string }[] };
      // Equal to the field: devices, attributes (pci.ids names come from the
      // bundle's data/, the root has no /usr/share/misc/pci.ids) and exclusions.
      expect(inventory).toEqual(JSON.parse(sources.stdout));
      // Something real was compared: a machine whose only NIC is its uplink publishes nothing, but
      // then its PCI function is listed as left out — read from sysfs inside the root.
      const pciNics = readdirSync('/sys/class/net').filter((n) => existsSync(`/sys/class/net/${n}/device`)).length;
      expect(inventory.devices.length + inventory.exclusions.filter((e) => e.subject === 'pci').length).toBeGreaterThanOrEqual(pciNics > 0 ? 1 : 0);
      expect(inventory.exclusions.length).toBeGreaterThan(0);
    });
  }

  it('takes NETCLAIM_FFI from the environment inside the root (an unknown backend is refused)', async () => {
    const r = await inRoot(['inventory'], { NETCLAIM_FFI: 'none' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NETCLAIM_FFI must be "koffi" or "ffi-rs"');
  });
});
