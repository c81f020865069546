/**
 * The client side of RFC 2131 as pure functions: the messages each state
 * sends (§4.4.1 INIT, §4.3.2 REQUEST in SELECTING/RENEWING/REBINDING, §4.4.6
 * RELEASE), which replies belong to a transaction, and the lease an ACK
 * grants (T1/T2 defaulted as §4.4.5 says). The exchange over a socket is
 * dhcp-client.ts.
 */
import { ProtocolError } from '../../common/errors.ts';
import { DHO } from './dhcp-constants.ts';
import { maskToPrefix } from './dhcp-codec.ts';
import type { DhcpLease, DhcpMessage } from './dhcp-types.ts';
import type { UdpFrame } from './frame-codec.ts';

export const ZERO = '0.0.0.0';
export const BROADCAST_IP = '255.255.255.255';
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
/** 0xffffffff seconds: an infinite lease, never renewed (RFC 2131 §3.3). */
export const INFINITE = 0xffffffff;
/** What we ask for (option 55): mask, routers, DNS (recorded only), lease time, server id, T1, T2. */
const PARAMS = [DHO.SUBNET_MASK, DHO.ROUTERS, DHO.DOMAIN_NAME_SERVERS, DHO.LEASE_TIME, DHO.SERVER_ID, DHO.RENEWAL_TIME, DHO.REBINDING_TIME];
/** Option 57: an Ethernet frame's worth. */
const MAX_MESSAGE = 1500;

export interface ClientIdentity {
  readonly mac: string;
  /** Option 12, when set. */
  readonly hostName?: string;
}

/** Option 61 as RFC 2132 §9.14 suggests for Ethernet: type 1 and the MAC. */
export const clientIdOf = (mac: string): string => `01${mac.replaceAll(':', '')}`;

function base(id: ClientIdentity, xid: number, secs: number): Omit<DhcpMessage, 'type' | 'options'> {
  return { op: 'request', xid, secs: Math.min(secs, 0xffff), broadcast: true, ciaddr: ZERO, yiaddr: ZERO, siaddr: ZERO, giaddr: ZERO, chaddr: id.mac };
}

const common = (id: ClientIdentity) => ({
  clientId: clientIdOf(id.mac), maxMessageSize: MAX_MESSAGE, ...(id.hostName === undefined ? {} : { hostName: id.hostName }),
});

export function discoverMessage(id: ClientIdentity, xid: number, secs: number): DhcpMessage {
  return { ...base(id, xid, secs), type: 'discover', options: { ...common(id), parameterRequestList: PARAMS } };
}

/** SELECTING: broadcast, naming the offer's address and server (§4.3.2). */
export function selectingRequest(id: ClientIdentity, xid: number, secs: number, offer: DhcpMessage): DhcpMessage {
  return {
    ...base(id, xid, secs), type: 'request',
    options: { ...common(id), parameterRequestList: PARAMS, requestedAddress: offer.yiaddr, serverId: offer.options.serverId! },
  };
}

/** RENEWING (unicast to the server) or REBINDING (broadcast): ciaddr set, no server id, no requested address (§4.3.2). */
export function extendRequest(id: ClientIdentity, xid: number, lease: DhcpLease): DhcpMessage {
  return {
    ...base(id, xid, 0), type: 'request', broadcast: false, ciaddr: lease.address,
    options: { ...common(id), parameterRequestList: PARAMS },
  };
}

export function releaseMessage(id: ClientIdentity, xid: number, lease: DhcpLease): DhcpMessage {
  return { ...base(id, xid, 0), type: 'release', broadcast: false, ciaddr: lease.address, options: { clientId: clientIdOf(id.mac), serverId: lease.serverId } };
}

/** A reply to our transaction: BOOTREPLY, our xid and our hardware address. */
export const isReplyTo = (m: DhcpMessage, xid: number, mac: string): boolean =>
  m.op === 'reply' && m.xid === (xid >>> 0) && m.chaddr === mac.toLowerCase();

/** An OFFER we can take: an address and a server id (RFC 2131 §4.3.1 makes the server id a MUST). */
export const usableOffer = (m: DhcpMessage): boolean =>
  m.type === 'offer' && m.yiaddr !== ZERO && m.options.serverId !== undefined;

/**
 * The lease an ACK grants. The prefix comes from the subnet mask (a host
 * prefix, /32, when the server sends none); T1 and T2 default to 0.5 and
 * 0.875 of the lease (§4.4.5) and are clamped so T1 ≤ T2 ≤ lease.
 */
export function leaseFromAck(ack: DhcpMessage, frame: Pick<UdpFrame, 'srcMac'>, mac: string, now: Date, offered?: DhcpMessage): DhcpLease {
  const o = ack.options;
  const leaseTime = o.leaseTime ?? offered?.options.leaseTime;
  if (leaseTime === undefined) throw new ProtocolError('DHCPACK: no lease time (option 51) in the ACK or its offer');
  const serverId = o.serverId ?? offered?.options.serverId;
  if (serverId === undefined) throw new ProtocolError('DHCPACK: no server identifier (option 54)');
  if (ack.yiaddr === ZERO) throw new ProtocolError('DHCPACK: yiaddr is 0.0.0.0');
  const mask = o.subnetMask ?? offered?.options.subnetMask;
  const prefix = mask === undefined ? 32 : maskToPrefix(mask);
  const infinite = leaseTime === INFINITE;
  const rebind = infinite ? INFINITE : Math.min(o.rebindingTime ?? Math.floor(leaseTime * 0.875), leaseTime);
  const renew = infinite ? INFINITE : Math.min(o.renewalTime ?? Math.floor(leaseTime * 0.5), rebind);
  return {
    cidr: `${ack.yiaddr}/${prefix}`, address: ack.yiaddr, serverId, serverMac: frame.srcMac, mac: mac.toLowerCase(),
    routers: o.routers ?? offered?.options.routers ?? [], dnsServers: o.dnsServers ?? offered?.options.dnsServers ?? [],
    leaseTime, renewalTime: renew, rebindingTime: rebind, boundAt: now.toISOString(),
  };
}

/** When T1, T2 and the expiry fall (ms since the epoch); Infinity for an infinite lease. */
export function leaseDeadlines(l: DhcpLease): { readonly t1: number; readonly t2: number; readonly expiry: number } {
  const at = Date.parse(l.boundAt);
  if (l.leaseTime === INFINITE) return { t1: Infinity, t2: Infinity, expiry: Infinity };
  return { t1: at + l.renewalTime * 1000, t2: at + l.rebindingTime * 1000, expiry: at + l.leaseTime * 1000 };
}

/** A random transaction id (RFC 2131 §4.4.1 asks for one a client can tell apart). */
export const newXid = (): number => (Math.random() * 0x100000000) >>> 0;
