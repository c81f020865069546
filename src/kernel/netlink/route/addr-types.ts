/**
 * The address object model: `Addr` is a complete decoded record (RTM_NEWADDR
 * from the kernel), `AddrSpec` what adding, replacing or deleting one needs.
 */
import type { IfIndex } from '../../../common/ids.ts';
import type { IpFamily } from '../../../common/ip.ts';
import type { ADDR_FLAG_NAMES, ADDR_REQUEST_FLAGS, AddrProtoName } from './addr-constants.ts';
import type { RtScope } from './route-constants.ts';

/** Every flag the kernel may report; 0x01 is `secondary` (IPv4) or `temporary` (IPv6). */
export type AddrFlag = (typeof ADDR_FLAG_NAMES)[number][1] | 'secondary' | 'temporary';
/** The flags a request may set. */
export type AddrRequestFlag = keyof typeof ADDR_REQUEST_FLAGS;
/** A lifetime in seconds, or `forever` (INFINITY_LIFE_TIME). */
export type AddrLifetime = number | 'forever';
/** Who configured the address (IFA_PROTO): a name when the kernel defines one. */
export type AddrProto = AddrProtoName | number;

/** An address as the kernel reports it. */
export interface Addr {
  readonly index: IfIndex;
  readonly family: IpFamily;
  /** The local address (IFA_LOCAL when present, else IFA_ADDRESS). */
  readonly address: string;
  readonly prefixLen: number;
  /** IFA_LOCAL as sent (IPv4 always; IPv6 only with a peer). */
  readonly local?: string;
  /** The point-to-point peer (IFA_ADDRESS when it differs from IFA_LOCAL). */
  readonly peer?: string;
  readonly broadcast?: string;
  readonly anycast?: string;
  /** IPv4 label, e.g. `eth0:1`. */
  readonly label?: string;
  readonly scope: RtScope;
  /** Named flags, from IFA_FLAGS (or the u8 header field when absent). */
  readonly flags: readonly AddrFlag[];
  /** The same flags as a number (IFA_F_* bits). */
  readonly rawFlags: number;
  readonly validLft?: AddrLifetime;
  readonly preferredLft?: AddrLifetime;
  /** IFA_RT_PRIORITY: the metric of the prefix route. */
  readonly metric?: number;
  readonly proto?: AddrProto;
}

/**
 * An address to add, replace or delete. Give `cidr` (`10.0.0.1/24`) or
 * `address` plus `prefixLen` (default: a host prefix).
 */
export interface AddrSpec {
  readonly cidr?: string;
  readonly address?: string;
  readonly prefixLen?: number;
  /** Point-to-point peer; `prefixLen` then applies to it. Same family as the address. */
  readonly peer?: string;
  /** IPv4 only. */
  readonly broadcast?: string;
  /** IPv4 only, at most 15 bytes. */
  readonly label?: string;
  /** Default: `host` for loopback addresses, else `global` (IPv6 addresses get their scope from the kernel). */
  readonly scope?: RtScope;
  readonly flags?: readonly AddrRequestFlag[];
  /** Default `forever`. */
  readonly validLft?: AddrLifetime;
  /** Default: `validLft`. Must not exceed it. */
  readonly preferredLft?: AddrLifetime;
  /** The metric of the prefix route the kernel adds (IFA_RT_PRIORITY). */
  readonly metric?: number;
  readonly proto?: AddrProto;
}

/** Narrows an address dump; the kernel filters where it can (strict checking), the rest is done here. */
export interface AddrFilter {
  readonly index?: IfIndex;
  readonly family?: IpFamily;
}
