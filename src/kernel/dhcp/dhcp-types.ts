/**
 * A DHCPv4 message as plain data (RFC 2131 §2) and the lease a client keeps.
 * Addresses are dotted quads, the hardware address `aa:bb:cc:dd:ee:ff`.
 */
import type { DhcpMessageType } from './dhcp-constants.ts';

/** The options netclaim's client sends or reads (RFC 2132); others are kept raw in `other`. */
export interface DhcpOptions {
  readonly subnetMask?: string;
  readonly routers?: readonly string[];
  /** Recorded, never applied: the pod's resolver belongs to its primary network. */
  readonly dnsServers?: readonly string[];
  readonly hostName?: string;
  readonly requestedAddress?: string;
  /** Seconds; 0xffffffff means infinite. */
  readonly leaseTime?: number;
  /** T1 and T2, seconds. */
  readonly renewalTime?: number;
  readonly rebindingTime?: number;
  readonly serverId?: string;
  readonly parameterRequestList?: readonly number[];
  /** Option 56: the server's text (e.g. why it NAKed). */
  readonly message?: string;
  readonly maxMessageSize?: number;
  /** Option 61, hex without separators. */
  readonly clientId?: string;
  /** Options not listed above, code → data as hex (repeated instances concatenated, RFC 3396). */
  readonly other?: Readonly<Record<number, string>>;
}

export interface DhcpMessage {
  readonly op: 'request' | 'reply';
  readonly type: DhcpMessageType;
  /** Transaction id, uint32. */
  readonly xid: number;
  readonly secs: number;
  readonly broadcast: boolean;
  readonly ciaddr: string;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly giaddr: string;
  /** Client hardware address (Ethernet). */
  readonly chaddr: string;
  readonly options: DhcpOptions;
}

/**
 * A lease as the client keeps it: plain JSON (it is stored in the claim's
 * record so a restarted daemon resumes renewing it).
 */
export interface DhcpLease {
  /** The leased address with its prefix, canonical `a.b.c.d/len`. */
  readonly cidr: string;
  readonly address: string;
  readonly serverId: string;
  /** The MAC the server's replies came from: the next hop to the server for unicast renew and release. */
  readonly serverMac: string;
  /** The client's MAC (chaddr). */
  readonly mac: string;
  readonly routers: readonly string[];
  readonly dnsServers: readonly string[];
  /** Seconds, as the server gave them (T1/T2 defaulted per RFC 2131 §4.4.5 when absent). */
  readonly leaseTime: number;
  readonly renewalTime: number;
  readonly rebindingTime: number;
  /** When the lease (or its last renewal) was granted: ISO time; T1, T2 and expiry count from here. */
  readonly boundAt: string;
}
