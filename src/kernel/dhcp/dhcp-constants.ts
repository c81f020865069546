/**
 * DHCPv4 wire constants, under the names RFC 2131 and RFC 2132 give them
 * (the IANA "BOOTP Vendor Extensions and DHCP Options" registry numbers).
 */

/** BOOTP `op` (RFC 2131 §2). */
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** `htype` for Ethernet (ARP hardware type 1) and its `hlen`. */
export const HTYPE_ETHER = 1;
export const HLEN_ETHER = 6;
/** RFC 2131 §3: the first four octets of the options field. */
export const MAGIC_COOKIE = 0x63825363;
/** The fixed BOOTP header before the magic cookie: op..file (RFC 2131 fig. 1). */
export const BOOTP_FIXED_LEN = 236;
/** RFC 2131 §2: the broadcast bit of `flags`. */
export const FLAG_BROADCAST = 0x8000;
export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;
/** RFC 2131 §2: a client must accept messages of up to 576 octets; we offer a larger buffer via option 57. */
export const MIN_MESSAGE_LEN = 300;

/** Option 53 values (RFC 2132 §9.6). */
export const DHCP_MESSAGE_TYPES = {
  discover: 1, offer: 2, request: 3, decline: 4, ack: 5, nak: 6, release: 7, inform: 8,
} as const;
export type DhcpMessageType = keyof typeof DHCP_MESSAGE_TYPES;
export const DHCP_MESSAGE_TYPE_NAMES: ReadonlyMap<number, DhcpMessageType> = new Map(
  Object.entries(DHCP_MESSAGE_TYPES).map(([k, v]) => [v, k as DhcpMessageType]),
);

/** Option codes (RFC 2132). */
export const DHO = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTERS: 3,
  DOMAIN_NAME_SERVERS: 6,
  HOST_NAME: 12,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OPTION_OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;
