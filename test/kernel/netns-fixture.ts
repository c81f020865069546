/**
 * Throwaway network namespaces for kernel tests. Each test gets its own
 * namespaces (names start with `nc`), used as "the host" and as pods; the
 * machine's own namespace is never touched. Everything created is deleted
 * after the test, even when it fails, and again at process exit as a last
 * resort. `ip` is used here only as test tooling and as an oracle.
 */
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import { afterAll, afterEach } from 'vitest';
import { NetnsHandle } from '../../src/kernel/netns/handle.ts';
import { loadLibc, ffiBackendFromEnv, type Libc } from '../../src/kernel/libc/index.ts';

export interface TestNetns {
  readonly name: string;
  readonly path: string;
  readonly handle: NetnsHandle;
}

const live = new Map<string, TestNetns>();
const kept = new Map<string, TestNetns>();
let counter = 0;

/** The FFI backend the kernel tests run on (from NETCLAIM_FFI). */
export const testLibc: Libc = loadLibc(ffiBackendFromEnv());

/** A name unique across parallel test processes, ≤ 15 chars (IFNAMSIZ-1), starting with `nc`. */
export function uniqueName(tag = ''): string {
  counter += 1;
  const id = `${(process.pid % 46656).toString(36)}${counter.toString(36)}`;
  return `nc${tag.slice(0, 15 - 2 - id.length)}${id}`;
}

/**
 * Creates a namespace with `lo` up and opens a handle to it. Deleted after
 * the test, or with `forFile` at the end of the test file (for a namespace
 * made in `beforeAll`); always at process exit.
 */
export function createNetns(tag = 'ns', opts: { forFile?: boolean } = {}): TestNetns {
  const name = uniqueName(tag);
  execFileSync('ip', ['netns', 'add', name]);
  try {
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    const path = `/run/netns/${name}`;
    const ns: TestNetns = { name, path, handle: NetnsHandle.open(path, { libc: testLibc }) };
    (opts.forFile === true ? kept : live).set(name, ns);
    return ns;
  } catch (err) {
    execFileSync('ip', ['netns', 'delete', name]);
    throw err;
  }
}

export function deleteNetns(ns: TestNetns): void {
  if (!live.delete(ns.name) && !kept.delete(ns.name)) return;
  ns.handle.close();
  try {
    execFileSync('ip', ['netns', 'delete', ns.name], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

function deleteAll(): void {
  for (const ns of [...live.values()]) deleteNetns(ns);
}

afterEach(deleteAll);
afterAll(() => {
  for (const ns of [...kept.values()]) deleteNetns(ns);
});
process.on('exit', () => {
  deleteAll();
  for (const ns of [...kept.values()]) deleteNetns(ns);
});

/**
 * Runs a command-line tool (`ip`, `rdma`...) for test set-up or as an oracle.
 * Only tests do this: the code under test reaches the kernel through its own
 * netlink code. Throws with the tool's stderr when it fails.
 */
export function tool(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** True when a tool is installed (it may still exit non-zero for `args`: only a missing binary counts). */
export function hasTool(cmd: string, args: readonly string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== 'ENOENT';
  }
}

/** Runs `ip -j` inside a test namespace and parses its JSON (the oracle). */
export function ipJson<T = unknown>(ns: TestNetns | string, ...args: string[]): T {
  const name = typeof ns === 'string' ? ns : ns.name;
  const out = execFileSync('ip', ['-n', name, '-j', ...args], { encoding: 'utf8' });
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}

/** Runs `ip` inside a test namespace (test set-up only, never the code under test). */
export function ip(ns: TestNetns | string, ...args: string[]): string {
  const name = typeof ns === 'string' ? ns : ns.name;
  return execFileSync('ip', ['-n', name, ...args], { encoding: 'utf8' });
}

/** True when the running kernel can create links of this kind (module present). */
export function kernelHasLinkKind(kind: string, ...typeArgs: string[]): boolean {
  const probe = createNetns('pk');
  try {
    execFileSync('ip', ['-n', probe.name, 'link', 'add', 'ncprobe', 'type', kind, ...typeArgs], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    deleteNetns(probe);
  }
}

/** The message for a test skipped because this host lacks a kernel module. */
export const needsQemuLane = (what: string): string =>
  `needs ${what}, absent from this host's kernel: runs in the QEMU lane (npm run test:vm)`;

/** True when the running kernel is at least `major.minor` (behaviour differs across the host and the QEMU lane). */
export function kernelAtLeast(major: number, minor: number): boolean {
  const [ma = 0, mi = 0] = release().split('.').map((x) => parseInt(x, 10));
  return ma > major || (ma === major && mi >= minor);
}

/** Retries `check` until it stops throwing or `ms` pass (for state the kernel updates asynchronously, e.g. operstate via linkwatch). */
export async function eventually<T>(check: () => T, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
