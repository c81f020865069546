/**
 * Kernel events as an async stream. A netlink socket joins multicast groups
 * (e.g. RTNLGRP_LINK) inside a namespace; its fd is read with `fs.read`, so the
 * blocking read(2) happens on a libuv pool thread and the event loop never
 * waits — no native addon needed. SO_RCVTIMEO makes each read return now and
 * then, which is how `close()` stops a reader that is parked in the kernel.
 *
 * If the consumer falls behind, reading pauses; the kernel then drops events
 * and reports ENOBUFS, which surfaces as an `overrun` event: the consumer must
 * resynchronise with a dump. Nothing is ever silently lost.
 */
import { read } from 'node:fs';
import { DriverError } from '../../common/errors.ts';
import { syscallError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { MSG_DONTWAIT, NETLINK_ADD_MEMBERSHIP, SOL_NETLINK, SO_RCVTIMEO, SOL_SOCKET, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP } from './constants.ts';
import { forEachMessage, type NlMessage } from './message.ts';
import { NetlinkSocket } from './socket.ts';

export type MonitorEvent<T> =
  | { readonly kind: 'message'; readonly value: T }
  /** Events were lost (ENOBUFS) or could not be decoded: re-dump to resynchronise. */
  | { readonly kind: 'overrun'; readonly reason: 'ENOBUFS' | 'malformed' };

export interface MonitorOptions {
  readonly libc: Libc;
  /** How often a parked read returns to check for close (ms, default 200). */
  readonly pollMs?: number;
  /** Events queued before reading pauses (default 4096). */
  readonly highWater?: number;
  readonly bufferSize?: number;
  /** Kernel-side socket buffer (SO_RCVBUF); default 4 MiB, so bursts do not overrun. */
  readonly kernelRecvBuffer?: number;
}

/** Decodes one multicast message in place; `undefined` drops it. */
export type EventDecoder<T> = (buf: Buffer, m: NlMessage) => T | undefined;

const ENOBUFS = 105;
const EAGAIN = 11;
const EINTR = 4;

export class NetlinkMonitor<T> implements AsyncIterable<MonitorEvent<T>> {
  readonly #socket: NetlinkSocket;
  readonly #libc: Libc;
  readonly #decode: EventDecoder<T>;
  readonly #highWater: number;
  readonly #buf: Buffer;
  readonly #queue: MonitorEvent<T>[] = [];
  #waiter: { resolve: (r: IteratorResult<MonitorEvent<T>>) => void; reject: (e: unknown) => void } | undefined;
  #failure: unknown;
  #reading = false;
  #closed = false;
  #closedPromise: Promise<void> | undefined;
  #onReaderIdle: (() => void) | undefined;

  /** Opens a monitor inside `h`'s namespace, subscribed to `groups` of `protocol`. */
  constructor(h: NetnsHandle, protocol: number, groups: readonly number[], decode: EventDecoder<T>, options: MonitorOptions) {
    const pollMs = options.pollMs ?? 200;
    this.#socket = h.within(() => new NetlinkSocket(options.libc, protocol, {
      netnsLabel: h.path,
      recvBufferSize: 16,
      kernelRecvBuffer: options.kernelRecvBuffer ?? 4 * 1024 * 1024,
    }));
    try {
      for (const g of groups) this.#socket.setIntOption(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g, `NETLINK_ADD_MEMBERSHIP(${g})`);
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(Math.floor(pollMs / 1000)), 0);
      tv.writeBigInt64LE(BigInt((pollMs % 1000) * 1000), 8);
      if (options.libc.setsockopt(this.#socket.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) < 0) {
        throw syscallError('setsockopt(SO_RCVTIMEO)', options.libc.errno(), { netns: h.path });
      }
    } catch (err) {
      this.#socket.close();
      throw err;
    }
    this.#libc = options.libc;
    this.#decode = decode;
    this.#highWater = options.highWater ?? 4096;
    this.#buf = Buffer.alloc(options.bufferSize ?? 256 * 1024);
    this.#pump();
  }

  [Symbol.asyncIterator](): AsyncIterator<MonitorEvent<T>> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** The next event; `done` once closed. Rejects if reading failed. */
  next(): Promise<IteratorResult<MonitorEvent<T>>> {
    const ev = this.#queue.shift();
    if (ev) {
      this.#pump();
      return Promise.resolve({ done: false, value: ev });
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter) return Promise.reject(new DriverError('STATE_INVALID', 'NetlinkMonitor.next() called concurrently'));
    return new Promise((resolve, reject) => { this.#waiter = { resolve, reject }; });
  }

  /** Stops reading and closes the socket once the parked read returns; idempotent. */
  close(): Promise<void> {
    this.#closedPromise ??= new Promise<void>((resolve) => {
      this.#closed = true;
      const finish = (): void => {
        this.#socket.close();
        this.#deliver(undefined);
        resolve();
      };
      if (this.#reading) this.#onReaderIdle = finish;
      else finish();
    });
    return this.#closedPromise;
  }

  #pump(): void {
    if (this.#reading || this.#closed || this.#failure !== undefined || this.#queue.length >= this.#highWater) return;
    this.#reading = true;
    read(this.#socket.fd, this.#buf, 0, this.#buf.length, null, (err, n) => {
      this.#reading = false;
      if (this.#closed) {
        this.#onReaderIdle?.();
        return;
      }
      if (err) this.#onReadError(err);
      else this.#onDatagram(n);
      this.#pump();
    });
  }

  #onReadError(err: NodeJS.ErrnoException): void {
    const errno = -(err.errno ?? 0);
    if (errno === EAGAIN || errno === EINTR) return; // the poll tick: nothing arrived
    if (errno === ENOBUFS) {
      // The kernel reports ENOBUFS once, then drops every event until the queue
      // is empty again. Empty it now (the resync supersedes what is queued, here
      // and in JS), so that every change after the overrun event is delivered.
      this.#drainKernelQueue();
      this.#queue.length = 0;
      this.#deliver({ kind: 'overrun', reason: 'ENOBUFS' });
      return;
    }
    this.#fail(syscallError('read (netlink monitor)', errno));
  }

  #drainKernelQueue(): void {
    const l = this.#libc;
    for (let i = 0; i < 1_000_000; i++) {
      if (l.recv(this.#socket.fd, this.#buf, this.#buf.length, MSG_DONTWAIT) < 0 && l.errno() !== EINTR) return;
    }
  }

  #onDatagram(n: number): void {
    try {
      forEachMessage(this.#buf, n, (m) => {
        if (m.type === NLMSG_NOOP || m.type === NLMSG_DONE || m.type === NLMSG_ERROR) return;
        const value = this.#decode(this.#buf, m);
        if (value !== undefined) this.#deliver({ kind: 'message', value });
      });
    } catch {
      // A malformed event cannot be trusted; resynchronising is the safe answer.
      this.#deliver({ kind: 'overrun', reason: 'malformed' });
    }
  }

  #deliver(ev: MonitorEvent<T> | undefined): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w.resolve(ev ? { done: false, value: ev } : { done: true, value: undefined });
    } else if (ev) {
      this.#queue.push(ev);
    }
  }

  #fail(err: unknown): void {
    this.#failure = err;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }
}
