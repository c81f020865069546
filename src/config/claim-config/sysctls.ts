/**
 * The per-interface sysctls a claim may set in the pod, beyond DraNet's
 * `arpIgnore`, `arpAnnounce` and `forwarding`. Keys are `ipv4.NAME` for
 * `net.ipv4.conf.<pod ifname>.NAME` and `ipv6.NAME` for
 * `net.ipv6.conf.<pod ifname>.NAME`. The list is closed on purpose: these are
 * per-interface, namespaced knobs whose ranges the kernel documents
 * (Documentation/networking/ip-sysctl.rst); anything else is refused.
 */
import { integer, object, type IntegerNode } from './nodes.ts';

interface SysctlSpec {
  readonly min: number;
  readonly max: number;
  readonly what: string;
}

const bool = (what: string): SysctlSpec => ({ min: 0, max: 1, what });

export const INTERFACE_SYSCTLS: Readonly<Record<string, SysctlSpec>> = {
  'ipv4.rp_filter': { min: 0, max: 2, what: 'reverse-path filtering: 0 off, 1 strict, 2 loose' },
  'ipv4.accept_redirects': bool('accept ICMP redirects'),
  'ipv4.send_redirects': bool('send ICMP redirects'),
  'ipv4.accept_source_route': bool('accept source-routed packets'),
  'ipv4.accept_local': bool('accept packets with a local source address'),
  'ipv4.route_localnet': bool('route 127/8 addresses'),
  'ipv4.proxy_arp': bool('answer ARP for addresses routed elsewhere'),
  'ipv4.arp_filter': bool('answer ARP only on the interface that would route the reply'),
  'ipv4.arp_accept': { min: 0, max: 2, what: 'create neighbour entries from gratuitous ARP' },
  'ipv4.arp_notify': bool('send gratuitous ARP when the address or link changes'),
  'ipv4.drop_gratuitous_arp': bool('drop all gratuitous ARP'),
  'ipv4.log_martians': bool('log packets with impossible addresses'),
  'ipv4.ignore_routes_with_linkdown': bool('ignore routes whose link is down'),
  'ipv4.disable_policy': bool('skip IPsec policy checks'),
  'ipv4.disable_xfrm': bool('skip IPsec encryption'),
  'ipv6.accept_ra': { min: 0, max: 2, what: 'accept router advertisements: 0 no, 1 when not forwarding, 2 always' },
  'ipv6.accept_ra_defrtr': bool('learn a default router from router advertisements'),
  'ipv6.accept_ra_pinfo': bool('learn prefixes from router advertisements'),
  'ipv6.accept_redirects': bool('accept ICMPv6 redirects'),
  'ipv6.accept_dad': { min: 0, max: 2, what: 'duplicate address detection: 0 off, 1 on, 2 on and disable IPv6 on a MAC clash' },
  'ipv6.dad_transmits': { min: 0, max: 255, what: 'DAD probes sent' },
  'ipv6.autoconf': bool('configure addresses from router advertisements (SLAAC)'),
  'ipv6.disable_ipv6': bool('turn IPv6 off on the interface'),
  'ipv6.addr_gen_mode': { min: 0, max: 3, what: 'link-local address generation: 0 EUI-64, 1 none, 2 stable privacy, 3 random' },
  'ipv6.use_tempaddr': { min: 0, max: 2, what: 'privacy addresses: 0 off, 1 on, 2 on and preferred' },
  'ipv6.hop_limit': { min: 1, max: 255, what: 'default hop limit' },
  'ipv6.mtu': { min: 1280, max: 65535, what: 'IPv6 MTU, at most the link MTU' },
  'ipv6.keep_addr_on_down': { min: -1, max: 1, what: 'keep addresses when the link goes down: -1 never, 0 default, 1 always' },
  'ipv6.ndisc_notify': bool('send unsolicited neighbour advertisements when the link changes'),
  'ipv6.proxy_ndp': bool('proxy neighbour discovery'),
  'ipv6.ignore_routes_with_linkdown': bool('ignore routes whose link is down'),
};

/** Keys that DraNet's typed fields already own: setting both would be two ways to say one thing. */
export const TYPED_SYSCTL_FIELDS: Readonly<Record<string, string>> = {
  'ipv4.arp_ignore': 'interface.arpIgnore',
  'ipv4.arp_announce': 'interface.arpAnnounce',
  'ipv4.forwarding': 'interface.forwarding',
  'ipv6.forwarding': 'interface.forwarding',
};

const fields = Object.fromEntries(
  Object.entries(INTERFACE_SYSCTLS).map(([key, s]): [string, IntegerNode] => {
    const [family, name] = key.split('.') as [string, string];
    return [key, integer({
      description: `net.${family}.conf.<ifname>.${name}: ${s.what}.`,
      origin: 'netclaim',
      minimum: s.min,
      maximum: s.max,
    })];
  }),
);

export const SYSCTLS = object(fields, {
  description: 'Per-interface sysctls set in the pod before the link comes up, keyed ipv4.NAME or ipv6.NAME '
    + '(net.ipv4.conf.<ifname>.NAME, net.ipv6.conf.<ifname>.NAME). Only the keys listed are accepted.',
  origin: 'netclaim',
  keyedPaths: true,
  unknownHints: Object.fromEntries(
    Object.entries(TYPED_SYSCTL_FIELDS).map(([k, f]) => [k, `set by ${f}; use that field instead`]),
  ),
});
