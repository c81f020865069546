/**
 * A network namespace and the sockets that live in it. A handle is opened
 * from a path (`/run/netns/X`, `/proc/<pid>/ns/net`) or is the current
 * namespace; it keeps the namespace fd (for IFLA_NET_NS_FD moves) and opens
 * its netlink sockets inside the namespace once, on first use, through a
 * synchronous setns window on the main thread. Object operations take a
 * handle, never a path.
 */
import { fstatSync } from 'node:fs';
import { DriverError } from '../../common/errors.ts';
import { KernelError, syscallError } from '../errors.ts';
import { libc as defaultLibc, type Libc } from '../libc/index.ts';
import { NETLINK_GENERIC, NETLINK_RDMA, NETLINK_ROUTE } from '../netlink/constants.ts';
import { NetlinkSocket, type NetlinkSocketOptions } from '../netlink/socket.ts';

export const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

/** What happens when the thread cannot return to its namespace: by default, abort. */
export type FatalHandler = (err: KernelError) => never;

const abortProcess: FatalHandler = (err) => {
  process.stderr.write(`netclaim: fatal: ${err.message}; aborting to avoid running in the wrong network namespace\n`);
  process.abort();
};

export interface NetnsHandleOptions {
  readonly libc?: Libc;
  readonly socketOptions?: NetlinkSocketOptions;
  /** Only tests replace this (to observe the fatal path without aborting). */
  readonly onFatal?: FatalHandler;
}

export class NetnsHandle {
  /** Where the namespace came from (a path, or `current`). */
  readonly path: string;
  /** An fd referring to the namespace (O_RDONLY|O_CLOEXEC). */
  readonly fd: number;
  /** Namespace identity: the nsfs inode number. */
  readonly inode: bigint;
  readonly #libc: Libc;
  readonly #isCurrent: boolean;
  readonly #socketOptions: NetlinkSocketOptions;
  readonly #onFatal: FatalHandler;
  readonly #sockets = new Map<number, NetlinkSocket>();
  #closed = false;

  private constructor(path: string, fd: number, isCurrent: boolean, options: NetnsHandleOptions) {
    this.#libc = options.libc ?? defaultLibc();
    this.path = path;
    this.fd = fd;
    this.inode = fstatSync(fd, { bigint: true }).ino;
    this.#isCurrent = isCurrent;
    this.#socketOptions = { netnsLabel: path, ...options.socketOptions };
    this.#onFatal = options.onFatal ?? abortProcess;
  }

  /** The namespace the calling thread is in now. */
  static current(options: NetnsHandleOptions = {}): NetnsHandle {
    const l = options.libc ?? defaultLibc();
    return new NetnsHandle('current', openNs(l, '/proc/thread-self/ns/net'), true, { ...options, libc: l });
  }

  /** A namespace by path, e.g. `/run/netns/nc-a1` or `/proc/1234/ns/net`. */
  static open(path: string, options: NetnsHandleOptions = {}): NetnsHandle {
    const l = options.libc ?? defaultLibc();
    return new NetnsHandle(path, openNs(l, path), false, { ...options, libc: l });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The rtnetlink socket of this namespace (opened once). */
  get route(): NetlinkSocket {
    return this.socket(NETLINK_ROUTE);
  }

  /** The generic netlink socket of this namespace (ethtool, devlink...). */
  get genl(): NetlinkSocket {
    return this.socket(NETLINK_GENERIC);
  }

  /** The RDMA netlink socket of this namespace. */
  get rdma(): NetlinkSocket {
    return this.socket(NETLINK_RDMA);
  }

  /** A cached socket of `protocol` created inside this namespace. */
  socket(protocol: number): NetlinkSocket {
    this.#assertOpen();
    let s = this.#sockets.get(protocol);
    if (!s) {
      s = this.within(() => new NetlinkSocket(this.#libc, protocol, this.#socketOptions));
      this.#sockets.set(protocol, s);
    }
    return s;
  }

  /**
   * Runs `fn` with the main thread inside this namespace, then switches back.
   * `fn` must be synchronous: an await inside the window would let other code
   * run in the wrong namespace. Failing to switch back is fatal.
   */
  within<T>(fn: () => T): T {
    this.#assertOpen();
    if (this.#isCurrent) return fn();
    const l = this.#libc;
    const home = openNs(l, '/proc/thread-self/ns/net');
    try {
      if (l.setns(this.fd, CLONE_NEWNET) < 0) throw syscallError('setns', l.errno(), { netns: this.path });
      try {
        const result = fn();
        if (result instanceof Promise) {
          throw new DriverError('STATE_INVALID', 'NetnsHandle.within() needs a synchronous function');
        }
        return result;
      } finally {
        if (l.setns(home, CLONE_NEWNET) < 0) {
          this.#onFatal(new KernelError('KERNEL_NETNS_RETURN_FAILED', { op: 'setns (return)', errno: l.errno(), netns: this.path }));
        }
      }
    } finally {
      l.close(home);
    }
  }

  /** Closes the cached sockets and the namespace fd; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
    this.#libc.close(this.fd);
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverError('KERNEL_CLOSED', `netns handle ${this.path} is closed`);
  }
}

function openNs(l: Libc, path: string): number {
  const fd = l.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) throw syscallError(`open(${path})`, l.errno(), { netns: path });
  return fd;
}
