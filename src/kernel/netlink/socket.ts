/**
 * A netlink socket for request/ack and dumps, used synchronously on the main
 * thread (the kernel answers rtnetlink and genetlink requests before send()
 * returns, so a recv never waits long; SO_RCVTIMEO bounds it anyway).
 *
 * - One receive buffer per socket, reused; decoding happens in place, and a
 *   datagram larger than the buffer grows it and retries the operation.
 * - Sequence numbers are patched into each message at send time; replies with
 *   another sequence number (leftovers of a timed-out request) are dropped.
 * - Dumps flagged NLM_F_DUMP_INTR are retried a bounded number of times.
 * - Extended acks are on, so kernel errors carry the kernel's own message.
 */
import { DriverError, ProtocolError } from '../../common/errors.ts';
import { KernelError, syscallError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import {
  AF_NETLINK, MSG_DONTWAIT, MSG_TRUNC, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NLM_F_ACK,
  NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN,
  SOCK_CLOEXEC, SOCK_RAW, SO_RCVBUF, SO_RCVTIMEO, SOL_NETLINK, SOL_SOCKET,
} from './constants.ts';
import { decodeAck, decodeDone, forEachMessage, type NlMessage } from './message.ts';
import { NlWriter } from './writer.ts';

export interface NetlinkSocketOptions {
  /** Receive timeout for request/ack and dumps, in ms (default 5000). */
  readonly timeoutMs?: number;
  /** Retries of an interrupted (NLM_F_DUMP_INTR) or truncated dump (default 5). */
  readonly dumpRetries?: number;
  /** Receive buffer size in bytes (default 64 KiB; grows on demand). */
  readonly recvBufferSize?: number;
  /** Turn on NETLINK_GET_STRICT_CHK (header-filtered dumps). Default true. */
  readonly strictCheck?: boolean;
  /** The kernel-side receive buffer (SO_RCVBUF), default 1 MiB. */
  readonly kernelRecvBuffer?: number;
  /** Used in error messages: which namespace the socket lives in. */
  readonly netnsLabel?: string;
}

/** Decodes one dump or reply message in place; `undefined` skips it. */
export type MessageDecoder<T> = (buf: Buffer, m: NlMessage) => T | undefined;

const MAX_RECV_BUFFER = 16 * 1024 * 1024;
const EINTR = 4;
const EAGAIN = 11;

export class NetlinkSocket {
  readonly fd: number;
  readonly protocol: number;
  readonly portId: number;
  readonly #libc: Libc;
  readonly #timeoutMs: number;
  readonly #dumpRetries: number;
  readonly #netnsLabel: string | undefined;
  #rbuf: Buffer;
  #seq = Math.floor(Date.now() / 1000) >>> 0;
  #closed = false;
  /** Reused by callers to build requests (everything here is synchronous). */
  readonly writer = new NlWriter();

  constructor(libc: Libc, protocol: number, options: NetlinkSocketOptions = {}) {
    this.#libc = libc;
    this.protocol = protocol;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#dumpRetries = options.dumpRetries ?? 5;
    this.#netnsLabel = options.netnsLabel;
    this.#rbuf = Buffer.alloc(options.recvBufferSize ?? 64 * 1024);
    const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw this.#sysError('socket', libc.errno());
    this.fd = fd;
    try {
      this.#bindAndConfigure(options.strictCheck ?? true, options.kernelRecvBuffer ?? 1024 * 1024);
      this.portId = this.#readPortId();
    } catch (err) {
      libc.close(fd);
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sets an integer socket option; throws a KernelError on failure. */
  setIntOption(level: number, name: number, value: number, op = 'setsockopt'): void {
    const v = Buffer.alloc(4);
    v.writeInt32LE(value);
    if (this.#libc.setsockopt(this.fd, level, name, v, 4) < 0) throw this.#sysError(op, this.#libc.errno());
  }

  /**
   * Sends the request(s) in `w` with NLM_F_ACK and waits for each ack. Reply
   * messages (e.g. the answer to a GET) go to `onReply`. Throws a KernelError
   * carrying the kernel's errno and extack message on a negative ack.
   */
  request(w: NlWriter, op: string, onReply?: (buf: Buffer, m: NlMessage) => void): void {
    this.#assertOpen();
    const seqs = this.#stampAndSend(w, NLM_F_REQUEST | NLM_F_ACK, op);
    const pending = new Set(seqs);
    let error: KernelError | undefined;
    let failure: unknown;
    while (pending.size > 0) {
      const n = this.#recv(op);
      if (n > this.#rbuf.length) {
        // A truncated reply cannot be decoded; grow for next time and report it.
        this.#grow(n);
        failure ??= new ProtocolError(`${op}: reply of ${n} bytes was truncated`);
        continue;
      }
      this.#guarded(op, () => forEachMessage(this.#rbuf, n, (m) => {
        if (!pending.has(m.seq) || m.pid !== this.portId) return;
        if (m.type === NLMSG_ERROR) {
          const ack = decodeAck(this.#rbuf, m);
          pending.delete(m.seq);
          if (ack.errno !== 0) error ??= this.#ackError(op, ack);
        } else if (m.type === NLMSG_DONE) {
          pending.delete(m.seq);
        } else if (m.type !== NLMSG_NOOP && onReply && failure === undefined) {
          try {
            onReply(this.#rbuf, m);
          } catch (err) {
            // Keep reading to the ack so the socket stays in step; report afterwards.
            failure = err;
          }
        }
      }));
    }
    if (error) throw error;
    if (failure !== undefined) throw failure;
  }

  /**
   * Dumps with the request in `w` (its flags get NLM_F_DUMP) and decodes each
   * message in place. An interrupted or truncated dump is re-run, up to the
   * retry limit, then fails with KERNEL_DUMP_INTERRUPTED.
   */
  dump<T>(w: NlWriter, op: string, decode: MessageDecoder<T>): T[] {
    this.#assertOpen();
    for (let attempt = 0; ; attempt++) {
      const out: T[] = [];
      const { interrupted } = this.#dumpOnce(w, op, decode, out);
      if (!interrupted) return out;
      if (attempt >= this.#dumpRetries) {
        throw new KernelError('KERNEL_DUMP_INTERRUPTED', { op, errno: 4, ...this.#where() }, {
          context: { attempts: attempt + 1 },
        });
      }
    }
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.close(this.fd);
  }

  // ---- internals --------------------------------------------------------

  #dumpOnce<T>(w: NlWriter, op: string, decode: MessageDecoder<T>, out: T[]): { interrupted: boolean } {
    const [seq] = this.#stampAndSend(w, NLM_F_REQUEST | NLM_F_DUMP, op);
    let interrupted = false;
    let done = false;
    let error: KernelError | undefined;
    let failure: unknown;
    while (!done) {
      const n = this.#recv(op);
      if (n > this.#rbuf.length) {
        // Truncated datagram: its tail is gone. Grow, drain, re-run the dump.
        this.#grow(n);
        interrupted = true;
        continue;
      }
      this.#guarded(op, () => forEachMessage(this.#rbuf, n, (m) => {
        if (m.seq !== seq || m.pid !== this.portId) return true;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type === NLMSG_DONE) {
          const ack = decodeDone(this.#rbuf, m);
          if (ack.errno !== 0) error = this.#ackError(op, ack);
          done = true;
          return false;
        }
        if (m.type === NLMSG_ERROR) {
          const ack = decodeAck(this.#rbuf, m);
          if (ack.errno !== 0) error = this.#ackError(op, ack);
          done = true;
          return false;
        }
        if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN || interrupted || failure !== undefined) return true;
        try {
          const v = decode(this.#rbuf, m);
          if (v !== undefined) out.push(v);
        } catch (err) {
          // Read the dump to its end (the kernel refuses a new dump with EBUSY
          // while one is unfinished), then report the decode failure.
          failure = err;
        }
        return true;
      }));
    }
    if (error) throw error;
    if (failure !== undefined) throw failure;
    return { interrupted };
  }

  /**
   * Runs a framing step; if the datagram itself is malformed the stream can no
   * longer be followed, so everything queued is discarded before rethrowing.
   */
  #guarded(op: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#drain(op);
      throw err;
    }
  }

  /** Discards every queued datagram (each read also lets an unfinished dump run on to its end). */
  #drain(op: string): void {
    for (let i = 0; i < 100_000; i++) {
      const n = this.#libc.recv(this.fd, this.#rbuf, this.#rbuf.length, MSG_TRUNC | MSG_DONTWAIT);
      if (n < 0 && this.#libc.errno() !== EINTR) return;
    }
    throw new DriverError('PROTOCOL_UNEXPECTED', `${op}: could not drain the netlink socket`);
  }

  /** Stamps flags, seq and pid into every message of `w`, sends, returns the seqs. */
  #stampAndSend(w: NlWriter, flags: number, op: string): number[] {
    const buf = w.bytes;
    const seqs: number[] = [];
    let pos = 0;
    while (pos + 16 <= buf.length) {
      const len = buf.readUInt32LE(pos);
      if (len < 16 || pos + len > buf.length) throw new DriverError('PROTOCOL_UNEXPECTED', `${op}: malformed request in writer`);
      this.#seq = (this.#seq + 1) >>> 0 || 1;
      buf.writeUInt16LE(buf.readUInt16LE(pos + 6) | flags, pos + 6);
      buf.writeUInt32LE(this.#seq, pos + 8);
      buf.writeUInt32LE(this.portId, pos + 12);
      seqs.push(this.#seq);
      pos += (len + 3) & ~3;
    }
    if (seqs.length === 0) throw new DriverError('PROTOCOL_UNEXPECTED', `${op}: empty request`);
    const sent = this.#libc.send(this.fd, buf, buf.length, 0);
    if (sent < 0) throw this.#sysError(`${op} (send)`, this.#libc.errno());
    return seqs;
  }

  /** One datagram into the receive buffer; returns its full length (may exceed the buffer). */
  #recv(op: string, flags = 0): number {
    let n = this.#libc.recv(this.fd, this.#rbuf, this.#rbuf.length, MSG_TRUNC | flags);
    // A signal interrupts a blocking recv (SO_RCVTIMEO sockets are not restarted): retry.
    while (n < 0 && this.#libc.errno() === EINTR) n = this.#libc.recv(this.fd, this.#rbuf, this.#rbuf.length, MSG_TRUNC | flags);
    if (n >= 0) return n;
    const errno = this.#libc.errno();
    if (errno === EAGAIN /* SO_RCVTIMEO expired */) {
      throw new KernelError('KERNEL_TIMEOUT', { op, errno, ...this.#where() }, {
        context: { timeoutMs: this.#timeoutMs },
      });
    }
    throw this.#sysError(`${op} (recv)`, errno);
  }

  #grow(n: number): void {
    if (n > MAX_RECV_BUFFER) throw new ProtocolError(`netlink datagram of ${n} bytes exceeds ${MAX_RECV_BUFFER}`);
    this.#rbuf = Buffer.alloc(Math.max(n, this.#rbuf.length * 2));
  }

  #bindAndConfigure(strict: boolean, rcvbuf: number): void {
    const sa = Buffer.alloc(12);
    sa.writeUInt16LE(AF_NETLINK, 0);
    if (this.#libc.bind(this.fd, sa, 12) < 0) throw this.#sysError('bind', this.#libc.errno());
    this.setIntOption(SOL_NETLINK, NETLINK_EXT_ACK, 1);
    this.setIntOption(SOL_NETLINK, NETLINK_CAP_ACK, 1);
    if (strict) {
      // Not every family honours strict checking; the option itself is rtnetlink-wide and harmless.
      try { this.setIntOption(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1); } catch { /* kernel < 4.20 */ }
    }
    this.setIntOption(SOL_SOCKET, SO_RCVBUF, rcvbuf);
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(BigInt(Math.floor(this.#timeoutMs / 1000)), 0);
    tv.writeBigInt64LE(BigInt((this.#timeoutMs % 1000) * 1000), 8);
    if (this.#libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) < 0) {
      throw this.#sysError('setsockopt(SO_RCVTIMEO)', this.#libc.errno());
    }
  }

  #readPortId(): number {
    const sa = Buffer.alloc(12);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(12);
    if (this.#libc.getsockname(this.fd, sa, len) < 0) throw this.#sysError('getsockname', this.#libc.errno());
    return sa.readUInt32LE(4);
  }

  #ackError(op: string, ack: { errno: number; extack?: string; extackOffset?: number }): KernelError {
    return new KernelError('KERNEL_NETLINK_ERROR', {
      op,
      errno: ack.errno,
      ...(ack.extack !== undefined ? { extack: ack.extack } : {}),
      ...(ack.extackOffset !== undefined ? { extackOffset: ack.extackOffset } : {}),
      ...this.#where(),
    });
  }

  #sysError(op: string, errno: number): KernelError {
    return syscallError(op, errno, this.#where());
  }

  #where(): { netns?: string } {
    return this.#netnsLabel !== undefined ? { netns: this.#netnsLabel } : {};
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverError('KERNEL_CLOSED', 'netlink socket is closed');
  }
}
