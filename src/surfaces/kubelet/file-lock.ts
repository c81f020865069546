/**
 * Advisory file locks with flock(2), through kernel/libc.
 *
 * Why flock and not a pid file: driver instances run in different pods, so in
 * different pid namespaces (both may well be pid 1), and "is pid N alive?" has
 * no correct answer across them. A flock belongs to the open file, lives on the
 * shared hostPath inode, and the kernel drops it the moment its holder dies,
 * however it dies: there is no stale state to detect. The holder's pid is
 * written into the file only as a hint for the error message.
 *
 * Lock files are never deleted: unlinking a lock file while another process
 * waits on the old inode lets two processes "hold" the lock at once.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { DriverError } from '../../common/errors.ts';
import { syscallError } from '../../kernel/errors.ts';
import type { Libc } from '../../kernel/libc/index.ts';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;
const EINTR = 4;

export class FileLock {
  readonly path: string;
  readonly #libc: Libc;
  #fd: number | undefined;

  private constructor(path: string, fd: number, libc: Libc) {
    this.path = path;
    this.#fd = fd;
    this.#libc = libc;
  }

  /** Opens (creating, 0600) the lock file without locking it. */
  static open(path: string, libc: Libc): FileLock {
    return new FileLock(path, openSync(path, 'a+', 0o600), libc);
  }

  /**
   * Opens and locks `path` for this instance's life, or fails with
   * KUBELET_INSTANCE_LOCKED when another live process holds it.
   */
  static acquireExclusive(path: string, libc: Libc, what: string): FileLock {
    const lock = FileLock.open(path, libc);
    if (!lock.tryLock()) {
      lock.close();
      const holder = readFileSync(path, 'utf8').trim();
      throw new DriverError('KUBELET_INSTANCE_LOCKED',
        `${what} is already served by another live instance (lock ${path}${holder ? `, held by pid ${holder} in its own pid namespace` : ''})`,
        { context: { path, holder } });
    }
    lock.#writeHint(`${process.pid}\n`);
    return lock;
  }

  /** Takes the lock if it is free; false while another open file holds it. */
  tryLock(): boolean {
    for (;;) {
      if (this.#libc.flock(this.#openFd(), LOCK_EX | LOCK_NB) === 0) return true;
      const errno = this.#libc.errno();
      if (errno === EWOULDBLOCK) return false;
      if (errno !== EINTR) throw syscallError('flock', errno);
    }
  }

  /**
   * Waits for the lock by polling: a blocking flock would stall the event
   * loop, and the waits are short (one prepare or unprepare of another
   * instance). Rejects with the signal's reason when it aborts.
   */
  async lock(signal?: AbortSignal, pollMs = 20): Promise<void> {
    while (!this.tryLock()) {
      signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  unlock(): void {
    if (this.#fd === undefined) return;
    if (this.#libc.flock(this.#fd, LOCK_UN) !== 0) throw syscallError('flock', this.#libc.errno());
  }

  /** Releases the lock (closing the last fd drops a flock) and keeps the file. */
  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #openFd(): number {
    if (this.#fd === undefined) throw new DriverError('KUBELET_SERVER_CLOSED', `lock ${this.path} was closed`);
    return this.#fd;
  }

  #writeHint(text: string): void {
    const fd = this.#openFd();
    ftruncateSync(fd, 0);
    writeSync(fd, text, 0);
  }
}
