/**
 * Kernel events collected without a reader thread: a netlink socket joins
 * multicast groups inside a namespace, the kernel queues the events on it,
 * and `drain()` takes what is there with non-blocking recv(2) calls.
 *
 * The counterpart of monitor.ts for many small watches: each NetlinkMonitor
 * keeps one read parked on a libuv pool thread (4 by default, shared with
 * every async fs and dns call of the process), so one monitor per pod
 * namespace would starve the pool on a node with many pods; a queue costs
 * nothing until drained, and a caller drains them all on one timer.
 *
 * If the kernel queue overflows between drains (ENOBUFS), `drain` says so
 * (`overrun`): the caller must re-read the state it watches.
 *
 * Equivalent to: `ip monitor link` (one batch at a time)
 */
import { syscallError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { MSG_DONTWAIT, NETLINK_ADD_MEMBERSHIP, NETLINK_ROUTE, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, SOL_NETLINK } from './constants.ts';
import { forEachMessage } from './message.ts';
import type { EventDecoder } from './monitor.ts';
import { decodeRouteEvent, type RouteEvent } from './route/route-events.ts';
import { RTNLGRP } from './route/rtnl-constants.ts';
import { NetlinkSocket } from './socket.ts';

const EAGAIN = 11;
const EINTR = 4;
const ENOBUFS = 105;

export interface DrainResult<T> {
  readonly events: T[];
  /** Events were lost (ENOBUFS) or one could not be decoded: re-read what is watched. */
  readonly overrun: boolean;
}

export class NetlinkEventQueue<T> {
  readonly #socket: NetlinkSocket;
  readonly #libc: Libc;
  readonly #decode: EventDecoder<T>;
  readonly #buf: Buffer;
  #closed = false;

  /** Opens the socket inside `h`'s namespace, joined to `groups` of `protocol`. */
  constructor(h: NetnsHandle, libc: Libc, protocol: number, groups: readonly number[], decode: EventDecoder<T>, kernelRecvBuffer = 256 * 1024) {
    this.#socket = h.within(() => new NetlinkSocket(libc, protocol, { netnsLabel: h.path, recvBufferSize: 16, kernelRecvBuffer }));
    try {
      for (const g of groups) this.#socket.setIntOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g, `NETLINK_ADD_MEMBERSHIP(${g})`);
    } catch (err) {
      this.#socket.close();
      throw err;
    }
    this.#libc = libc;
    this.#decode = decode;
    this.#buf = Buffer.alloc(64 * 1024);
  }

  /** Every event queued now (never waits); throws a KernelError when the socket fails. */
  drain(): DrainResult<T> {
    const events: T[] = [];
    let overrun = false;
    if (this.#closed) return { events, overrun };
    for (;;) {
      const n = this.#libc.recv(this.#socket.fd, this.#buf, this.#buf.length, MSG_DONTWAIT);
      if (n < 0) {
        const errno = this.#libc.errno();
        if (errno === EAGAIN) return { events, overrun };
        if (errno === EINTR) continue;
        if (errno === ENOBUFS) {
          overrun = true; // the kernel dropped events; later ones are queued again
          continue;
        }
        throw syscallError('recv (netlink event queue)', errno);
      }
      try {
        forEachMessage(this.#buf, n, (m) => {
          if (m.type === NLMSG_NOOP || m.type === NLMSG_DONE || m.type === NLMSG_ERROR) return;
          const v = this.#decode(this.#buf, m);
          if (v !== undefined) events.push(v);
        });
      } catch {
        overrun = true; // a malformed event cannot be trusted: re-read
      }
    }
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}

/** Link changes (RTM_NEWLINK / RTM_DELLINK) inside `h`'s namespace, collected until drained. */
export function linkEventQueueOpen(h: NetnsHandle, libc: Libc): NetlinkEventQueue<RouteEvent> {
  return new NetlinkEventQueue(h, libc, NETLINK_ROUTE, [RTNLGRP.RTNLGRP_LINK], decodeRouteEvent);
}
