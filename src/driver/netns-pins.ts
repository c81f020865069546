/**
 * The pod namespaces netclaim holds while a device is in them (docs/pods.md,
 * "Namespace pins"): one pin per attached claim, `<dir>/<claimUid>`, a bind
 * mount of the pod's namespace (kernel/netns/netns-pin.ts). A pinned
 * namespace outlives the pod's sandbox, the runtime's own mount of it and
 * the daemon process, so a virtual device in it is never destroyed with it
 * and a physical one is never handed back to the host by the kernel with
 * nobody watching: the devices stay where netclaim put them until netclaim
 * gives them back and restores them, and only then is the pin released.
 *
 * The attach journal names the pin before it is made and the pin is
 * released only after the journal is cleared, so a crash anywhere leaves
 * either a journal that names the pin (the restart detaches through it) or
 * a pin no journal names (swept at start-up: its devices were all settled).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Libc } from '../kernel/libc/libc.ts';
import { isNetnsFile, mountPropagation, netnsPin, netnsUnpin } from '../kernel/netns/netns-pin.ts';

/** The probe's pin name: not a claim UID (those never start with a dot). */
const PROBE = '.probe';

export class NetnsPins {
  readonly dir: string;
  readonly #libc: Libc;

  constructor(dir: string, libc: Libc) {
    this.dir = resolve(dir);
    this.#libc = libc;
  }

  /** Where a claim's pin lives. */
  pathFor(claimUid: string): string {
    return join(this.dir, claimUid);
  }

  /** Pins the namespace at `netns` for a claim (idempotent); throws what the kernel refused. */
  pin(claimUid: string, netns: string): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = this.pathFor(claimUid);
    netnsPin(this.#libc, netns, path);
    return path;
  }

  /** Whether `path` is a live pin (a namespace is mounted there). */
  held(path: string): boolean {
    return isNetnsFile(path);
  }

  /** Releases a pin (lazy unmount, file removed); a pin already gone is fine. */
  release(path: string): void {
    netnsUnpin(this.#libc, path);
  }

  /**
   * Releases every pin not in `keep` (the pins journals name): at start-up,
   * a pin no journal names belongs to a claim whose devices were all settled
   * before a crash came between clearing its journal and releasing its pin.
   * Returns what could not be released.
   */
  sweep(keep: ReadonlySet<string>): string[] {
    const failed: string[] = [];
    for (const path of this.list()) {
      if (keep.has(path)) continue;
      try {
        this.release(path);
      } catch {
        failed.push(path);
      }
    }
    return failed;
  }

  /** How many pins hold a namespace now. */
  heldCount(): number {
    return this.list().filter((p) => this.held(p)).length;
  }

  /** The pin files present (live or left behind), as paths. */
  list(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => n !== PROBE).map((n) => join(this.dir, n));
    } catch {
      return [];
    }
  }

  /**
   * Whether pins can be made here: pins this process's own namespace to a
   * probe file and releases it. Returns why not (the kernel's refusal:
   * EPERM without CAP_SYS_ADMIN, EACCES under an LSM profile that denies
   * mount), or undefined; `propagation` says whether pins reach the host's
   * mount namespace (`shared`), so they outlive this process's container.
   */
  probe(): { readonly problem?: string; readonly propagation: string } {
    const propagation = mountPropagation(this.dir) ?? 'unknown';
    const path = join(this.dir, PROBE);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      netnsPin(this.#libc, '/proc/thread-self/ns/net', path);
      netnsUnpin(this.#libc, path);
      return { propagation: mountPropagation(this.dir) ?? propagation };
    } catch (err) {
      try {
        netnsUnpin(this.#libc, path);
      } catch {
        /* nothing was mounted */
      }
      return { problem: err instanceof Error ? err.message : String(err), propagation };
    }
  }
}
