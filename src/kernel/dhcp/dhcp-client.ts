/**
 * netclaim's own DHCPv4 client (RFC 2131), over a packet socket opened in
 * the pod's namespace (dhcp-socket.ts): no dhclient or udhcpc child process.
 *
 * - `dhcpAcquire`: INIT → SELECTING → REQUESTING → BOUND, synchronous (it
 *   runs inside an attach, which never yields to the event loop half done),
 *   bounded by one overall timeout; DISCOVER and REQUEST are retransmitted
 *   with a doubling interval (1 s, 2 s, 4 s...: shorter than §4.1's 4 s
 *   start, since the whole budget is seconds).
 * - `dhcpExtend`: RENEWING (unicast to the server) or REBINDING (broadcast),
 *   asynchronous: it polls the socket with MSG_DONTWAIT every 25 ms, so the
 *   event loop runs meanwhile; at most one timer is pending per call.
 * - `dhcpRelease`: one DHCPRELEASE, unicast to the server (§4.4.6; no reply).
 *
 * Replies are matched by xid and chaddr; anything else on the link, and
 * malformed frames, are skipped.
 */
import { DriverError } from '../../common/errors.ts';
import type { Libc } from '../libc/libc.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { CLIENT_PORT, SERVER_PORT } from './dhcp-constants.ts';
import { decodeDhcp, encodeDhcp } from './dhcp-codec.ts';
import {
  BROADCAST_IP, BROADCAST_MAC, ZERO, discoverMessage, extendRequest, isReplyTo, leaseFromAck, newXid, releaseMessage, selectingRequest, usableOffer,
  type ClientIdentity,
} from './dhcp-messages.ts';
import { DhcpSocket } from './dhcp-socket.ts';
import type { DhcpLease, DhcpMessage } from './dhcp-types.ts';
import { decodeFrame, encodeFrame, type UdpFrame } from './frame-codec.ts';

export interface DhcpClientOptions {
  /** The namespace the interface is in. */
  readonly netns: NetnsHandle;
  readonly ifIndex: number;
  /** The interface's MAC (chaddr, client id). */
  readonly mac: string;
  readonly libc: Libc;
  readonly hostName?: string;
  readonly now?: () => Date;
  /** Tests pin it; default random. */
  readonly xid?: number;
}

export interface Reply {
  readonly message: DhcpMessage;
  readonly frame: UdpFrame;
}

const FIRST_RETRANSMIT_MS = 1000;
const POLL_MS = 25;

/** A DHCP step that got no (or a refusing) answer; `step` is `dhcp.discover`, `dhcp.request`, `dhcp.renew` or `dhcp.rebind`. */
function dhcpError(code: 'DHCP_TIMEOUT' | 'DHCP_NAK', step: string, text: string, o: DhcpClientOptions): DriverError {
  return new DriverError(code, `${step}: ${text} (interface ifindex ${o.ifIndex}, ${o.mac}, namespace ${o.netns.path})`, { context: { step, ifIndex: o.ifIndex, mac: o.mac } });
}

const identity = (o: DhcpClientOptions): ClientIdentity => ({ mac: o.mac.toLowerCase(), ...(o.hostName === undefined ? {} : { hostName: o.hostName }) });

/** A request frame: from the client port, broadcast unless a unicast peer is given. */
function requestFrame(m: DhcpMessage, src: string, to?: { readonly mac: string; readonly ip: string }): Buffer {
  return encodeFrame({
    srcMac: m.chaddr, dstMac: to?.mac ?? BROADCAST_MAC, srcIp: src, dstIp: to?.ip ?? BROADCAST_IP,
    srcPort: CLIENT_PORT, dstPort: SERVER_PORT, payload: encodeDhcp(m),
  });
}

/** The reply in a received frame, if it is one to (xid, mac); undefined for anything else or malformed. */
export function replyIn(buf: Buffer, xid: number, mac: string): Reply | undefined {
  try {
    const frame = decodeFrame(buf, CLIENT_PORT);
    if (frame === undefined || frame.srcPort !== SERVER_PORT) return undefined;
    const message = decodeDhcp(frame.payload);
    return isReplyTo(message, xid, mac) ? { message, frame } : undefined;
  } catch {
    return undefined; // someone else's broken frame must not end our transaction
  }
}

/** Sends `frame()` and waits for a reply `wanted` accepts, retransmitting with a doubling interval, until `deadline`. */
function exchangeSync(sock: DhcpSocket, frame: () => Buffer, xid: number, mac: string, wanted: (m: DhcpMessage) => boolean, deadline: number): Reply | undefined {
  let interval = FIRST_RETRANSMIT_MS;
  while (performance.now() < deadline) {
    sock.send(frame());
    const resendAt = Math.min(deadline, performance.now() + interval);
    interval *= 2;
    for (let left = resendAt - performance.now(); left > 0; left = resendAt - performance.now()) {
      const buf = sock.recvWait(left);
      if (buf === undefined) continue;
      const r = replyIn(buf, xid, mac);
      if (r !== undefined && wanted(r.message)) return r;
    }
  }
  return undefined;
}

/**
 * DISCOVER → OFFER → REQUEST → ACK within `timeoutMs`, blocking the calling
 * thread. Throws DHCP_TIMEOUT naming the step that got no answer, DHCP_NAK
 * when the server refuses the request, ProtocolError for an unusable ACK.
 * Equivalent to: `dhclient -1 -4 IFNAME` (without its script: the caller applies the lease).
 */
export function dhcpAcquire(o: DhcpClientOptions & { readonly timeoutMs: number }): DhcpLease {
  const id = identity(o);
  const xid = o.xid ?? newXid();
  const start = performance.now();
  const deadline = start + o.timeoutMs;
  const secs = (): number => Math.floor((performance.now() - start) / 1000);
  const within = `${Math.round(o.timeoutMs / 100) / 10} s`;
  const sock = DhcpSocket.open(o.netns, o.ifIndex, o.libc);
  try {
    const offer = exchangeSync(sock, () => requestFrame(discoverMessage(id, xid, secs()), ZERO), xid, id.mac, usableOffer, deadline);
    if (offer === undefined) throw dhcpError('DHCP_TIMEOUT', 'dhcp.discover', `no usable DHCPOFFER within ${within}`, o);
    const server = offer.message.options.serverId!;
    const answer = exchangeSync(
      sock, () => requestFrame(selectingRequest(id, xid, secs(), offer.message), ZERO), xid, id.mac,
      (m) => (m.type === 'ack' || m.type === 'nak') && (m.options.serverId === undefined || m.options.serverId === server), deadline,
    );
    if (answer === undefined) throw dhcpError('DHCP_TIMEOUT', 'dhcp.request', `no DHCPACK from server ${server} for ${offer.message.yiaddr} within ${within}`, o);
    if (answer.message.type === 'nak') {
      throw dhcpError('DHCP_NAK', 'dhcp.request', `server ${server} refused ${offer.message.yiaddr} (DHCPNAK${answer.message.options.message === undefined ? '' : `: ${answer.message.options.message}`})`, o);
    }
    return leaseFromAck(answer.message, answer.frame, id.mac, (o.now ?? (() => new Date()))(), offer.message);
  } finally {
    sock.close();
  }
}

export type ExtendResult =
  | { readonly kind: 'ack'; readonly lease: DhcpLease }
  | { readonly kind: 'nak'; readonly message: string }
  | { readonly kind: 'none' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One RENEWING (`renew`: unicast to the server through the MAC its replies
 * came from) or REBINDING (`rebind`: broadcast) attempt, waiting up to
 * `waitMs` without blocking the event loop; the request is sent again at
 * half time. An ACK for another address counts as a NAK (the client cannot
 * switch addresses under a running pod).
 * Equivalent to: `dhclient`'s renew of a bound lease.
 */
export async function dhcpExtend(o: DhcpClientOptions & { readonly lease: DhcpLease; readonly mode: 'renew' | 'rebind'; readonly waitMs: number }): Promise<ExtendResult> {
  const id = identity(o);
  const xid = o.xid ?? newXid();
  const l = o.lease;
  const to = o.mode === 'renew' ? { mac: l.serverMac, ip: l.serverId } : undefined;
  const frame = requestFrame(extendRequest(id, xid, l), l.address, to);
  const sock = DhcpSocket.open(o.netns, o.ifIndex, o.libc);
  try {
    const start = performance.now();
    let resent = false;
    sock.send(frame);
    while (performance.now() - start < o.waitMs) {
      if (!resent && performance.now() - start >= o.waitMs / 2) {
        sock.send(frame);
        resent = true;
      }
      let answered: Reply | undefined;
      for (let buf = sock.recvNow(); buf !== undefined; buf = sock.recvNow()) {
        const r = replyIn(buf, xid, id.mac);
        if (r !== undefined && (r.message.type === 'ack' || r.message.type === 'nak')) {
          answered = r;
          break;
        }
      }
      if (answered !== undefined) {
        const m = answered.message;
        if (m.type === 'nak') return { kind: 'nak', message: m.options.message ?? 'DHCPNAK' };
        if (m.yiaddr !== l.address) return { kind: 'nak', message: `the server granted ${m.yiaddr} instead of ${l.address}` };
        // A rebind may be answered by another server: renewals then go to it (its id and MAC are in `next`).
        const next = leaseFromAck(m, answered.frame, id.mac, (o.now ?? (() => new Date()))());
        return { kind: 'ack', lease: m.options.subnetMask === undefined ? { ...next, cidr: l.cidr } : next };
      }
      await sleep(POLL_MS);
    }
    return { kind: 'none' };
  } finally {
    sock.close();
  }
}

/**
 * Gives the address back: one DHCPRELEASE unicast to the server (§4.4.6;
 * the server does not answer). Equivalent to: `dhclient -r IFNAME`.
 */
export function dhcpRelease(o: DhcpClientOptions & { readonly lease: DhcpLease }): void {
  const l = o.lease;
  const m = releaseMessage(identity(o), o.xid ?? newXid(), l);
  const sock = DhcpSocket.open(o.netns, o.ifIndex, o.libc);
  try {
    sock.send(requestFrame(m, l.address, { mac: l.serverMac, ip: l.serverId }));
  } finally {
    sock.close();
  }
}
