/**
 * An AF_PACKET SOCK_RAW socket bound to one interface for IPv4 frames,
 * created inside the interface's namespace (a synchronous setns window of
 * its NetnsHandle, like the netlink sockets): what a DHCP client needs
 * before it has an address. Frames are whole Ethernet frames both ways;
 * `send` goes out of the bound interface (packet(7): without a destination
 * a bound packet socket uses its own ifindex and protocol).
 *
 * Receiving never blocks the event loop unboundedly: `recvWait` blocks the
 * calling thread for at most the given time (SO_RCVTIMEO), `recvNow` not at
 * all (MSG_DONTWAIT). Equivalent to what `dhclient` opens: `socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP))`.
 */
import { DriverError } from '../../common/errors.ts';
import { syscallError } from '../errors.ts';
import type { Libc } from '../libc/libc.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { ETH_P_IP } from './frame-codec.ts';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
/** SO_RCVTIMEO (the "old" 64-bit timeval layout on x86_64 and arm64). */
const SO_RCVTIMEO = 20;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const EINTR = 4;
/** sockaddr_ll: family u16, protocol be16, ifindex i32, hatype u16, pkttype u8, halen u8, addr[8]. */
const SOCKADDR_LL_LEN = 20;
/** Jumbo frames fit; a longer one is cut (and then refused by the frame decoder). */
const RECV_LEN = 9216;

export class DhcpSocket {
  readonly ifIndex: number;
  readonly #libc: Libc;
  readonly #fd: number;
  readonly #buf = Buffer.alloc(RECV_LEN);
  #timeoutMs = -1;
  #closed = false;

  private constructor(libc: Libc, fd: number, ifIndex: number) {
    this.#libc = libc;
    this.#fd = fd;
    this.ifIndex = ifIndex;
  }

  /** Opens the socket inside `netns` and binds it to `ifIndex` there. */
  static open(netns: NetnsHandle, ifIndex: number, libc: Libc): DhcpSocket {
    // Protocol 0 at creation: nothing is queued until bind names the interface and ETH_P_IP.
    const fd = netns.within(() => libc.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (fd < 0) throw syscallError('socket(AF_PACKET)', libc.errno(), { netns: netns.path });
    const sll = Buffer.alloc(SOCKADDR_LL_LEN);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16BE(ETH_P_IP, 2);
    sll.writeInt32LE(ifIndex, 4);
    if (libc.bind(fd, sll, SOCKADDR_LL_LEN) < 0) {
      const errno = libc.errno();
      libc.close(fd);
      throw syscallError('bind(AF_PACKET)', errno, { netns: netns.path, ifindex: ifIndex });
    }
    return new DhcpSocket(libc, fd, ifIndex);
  }

  send(frame: Buffer): void {
    this.#assertOpen();
    for (;;) {
      const n = this.#libc.send(this.#fd, frame, frame.length, 0);
      if (n >= 0) return;
      const errno = this.#libc.errno();
      if (errno !== EINTR) throw syscallError('send(AF_PACKET)', errno, { ifindex: this.ifIndex });
    }
  }

  /** The next frame, or undefined when none is queued. */
  recvNow(): Buffer | undefined {
    return this.#recv(MSG_DONTWAIT);
  }

  /** The next frame, waiting at most `ms` (blocking the calling thread), or undefined. */
  recvWait(ms: number): Buffer | undefined {
    this.#assertOpen();
    const wait = Math.max(1, Math.ceil(ms));
    if (wait !== this.#timeoutMs) {
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(BigInt(Math.floor(wait / 1000)), 0);
      tv.writeBigInt64LE(BigInt((wait % 1000) * 1000), 8);
      if (this.#libc.setsockopt(this.#fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length) < 0) {
        throw syscallError('setsockopt(SO_RCVTIMEO)', this.#libc.errno(), { ifindex: this.ifIndex });
      }
      this.#timeoutMs = wait;
    }
    return this.#recv(0);
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.close(this.#fd);
  }

  #recv(flags: number): Buffer | undefined {
    this.#assertOpen();
    for (;;) {
      const n = this.#libc.recv(this.#fd, this.#buf, this.#buf.length, flags);
      if (n >= 0) return Buffer.from(this.#buf.subarray(0, n));
      const errno = this.#libc.errno();
      if (errno === EAGAIN) return undefined;
      if (errno !== EINTR) throw syscallError('recv(AF_PACKET)', errno, { ifindex: this.ifIndex });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new DriverError('KERNEL_CLOSED', `DHCP socket on ifindex ${this.ifIndex} is closed`);
  }
}
