/**
 * A TLS server's certificate and key, read from two PEM files and read again
 * when they change: cert-manager renews a Certificate into its Secret, the
 * kubelet swaps the Secret volume's files (an atomic symlink flip), and the
 * server must present the new pair without a restart. Used by the admission
 * webhook (docs/webhook.md) and by the metrics server with TLS
 * (docs/observability.md).
 *
 * The files are polled (a stat of each, every `intervalMs`, default 10 s): a
 * Secret volume's update is a rename of its `..data` link, which inotify on
 * the file itself does not see, and polling works the same on every volume
 * type. A pair that does not load (a half-written file, a key that does not
 * match) is logged and the current one kept, and read again at each poll
 * until it loads.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, errorText } from '../common/errors.ts';
import type { Logger } from './logger.ts';

export interface TlsFilePaths {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export const DEFAULT_TLS_POLL_MS = 10_000;

/** Reads and checks a pair (the key must match the certificate); a ConfigError naming the file otherwise. */
export function readTlsPair(p: TlsFilePaths): TlsPair {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`TLS ${what} ${file}: ${errorText(err)}`, { cause: err, context: { file } });
    }
  };
  const pair = { cert: read(p.certFile, 'certificate'), key: read(p.keyFile, 'private key') };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new ConfigError(`TLS certificate ${p.certFile} and key ${p.keyFile} do not load: ${errorText(err)}`, { cause: err, context: { file: p.certFile } });
  }
  return pair;
}

/** Size, mtime and inode of both files: a change in any is a reason to read them again. */
function fingerprint(p: TlsFilePaths): string {
  return [p.certFile, p.keyFile].map((f) => {
    const s = statSync(f, { throwIfNoEntry: false });
    return s === undefined ? 'missing' : `${s.ino}:${s.size}:${s.mtimeMs}`;
  }).join('|');
}

export interface TlsReloaderOptions {
  readonly intervalMs?: number;
  readonly log?: Logger;
}

/**
 * Holds the current pair and calls `apply` with each new one that loads.
 * The first read happens in the constructor and throws: a server must not
 * start without a usable pair.
 */
export class TlsReloader {
  readonly #paths: TlsFilePaths;
  readonly #apply: (pair: TlsPair) => void;
  readonly #log: Logger | undefined;
  readonly #timer: NodeJS.Timeout;
  #seen: string;
  #failed: string | undefined;
  #current: TlsPair;
  #reloads = 0;

  constructor(paths: TlsFilePaths, apply: (pair: TlsPair) => void, o: TlsReloaderOptions = {}) {
    this.#paths = paths;
    this.#apply = apply;
    this.#log = o.log;
    this.#seen = fingerprint(paths);
    this.#current = readTlsPair(paths);
    this.#timer = setInterval(() => this.check(), o.intervalMs ?? DEFAULT_TLS_POLL_MS).unref();
  }

  get current(): TlsPair {
    return this.#current;
  }

  /** How many new pairs were applied since start. */
  get reloads(): number {
    return this.#reloads;
  }

  /** Looks at the files now; applies a changed pair that loads. Returns true when one was applied. */
  check(): boolean {
    let now: string;
    try {
      now = fingerprint(this.#paths);
    } catch (err) {
      this.#log?.warn({ err }, 'TLS files: cannot stat');
      return false;
    }
    if (now === this.#seen) return false;
    let pair: TlsPair;
    try {
      pair = readTlsPair(this.#paths);
    } catch (err) {
      // Kept: the old pair still serves. Read again at every poll (a file written in place may
      // have been caught half-written), but logged once per state of the files.
      if (now !== this.#failed) this.#log?.warn({ err, certFile: this.#paths.certFile }, `TLS files changed but do not load; keeping the current pair: ${errorText(err)}`);
      this.#failed = now;
      return false;
    }
    this.#seen = now;
    this.#failed = undefined;
    if (pair.cert.equals(this.#current.cert) && pair.key.equals(this.#current.key)) return false;
    this.#current = pair;
    this.#apply(pair);
    this.#reloads++;
    this.#log?.info({ certFile: this.#paths.certFile }, 'TLS certificate reloaded');
    return true;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
