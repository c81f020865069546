/**
 * Per-interface IPv4 sysctls (the `ipv4_devconf` of an interface) written
 * over rtnetlink instead of /proc/sys: RTM_NEWLINK with
 * IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF → { IPV4_DEVCONF_<NAME>: u32 }
 * (net/ipv4/devinet.c, inet_validate_link_af / inet_set_link_af). It needs
 * CAP_NET_ADMIN in the namespace only, so it works where /proc/sys is
 * mounted read-only (a container that is not privileged).
 *
 * What the kernel does differently from a /proc/sys write: it stores the
 * value (and marks it set, so a later change of `conf/default` no longer
 * overrides it) without the side effects of the sysctl handler: no netconf
 * notification, no route-cache flush, and for `forwarding` no LRO disable.
 * Values are not range-checked by the kernel on this path, so callers pass
 * values the kernel reported or the claim config validated. IPv6 has no
 * such path (inet6_set_link_af takes only the token and addr_gen_mode).
 */
import { ConfigError } from '../../../common/errors.ts';
import { AF_INET } from '../../../common/ip.ts';
import type { IfIndex } from '../../../common/ids.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { IFLA } from './link-constants.ts';
import { RTM } from './rtnl-constants.ts';

/** IFLA_INET_CONF inside the AF_INET part of IFLA_AF_SPEC (<linux/if_link.h>). */
export const IFLA_INET_CONF = 1;

/**
 * IPV4_DEVCONF_* ids (<linux/ip.h>, kernel 6.x) by sysctl name. `mc_forwarding`
 * is left out: /proc/sys refuses writes to it (the multicast router daemon
 * owns it), and so does netclaim.
 */
export const IPV4_DEVCONF: Readonly<Record<string, number>> = {
  forwarding: 1,
  proxy_arp: 3,
  accept_redirects: 4,
  secure_redirects: 5,
  send_redirects: 6,
  shared_media: 7,
  rp_filter: 8,
  accept_source_route: 9,
  bootp_relay: 10,
  log_martians: 11,
  tag: 12,
  arp_filter: 13,
  medium_id: 14,
  disable_xfrm: 15,
  disable_policy: 16,
  force_igmp_version: 17,
  arp_announce: 18,
  arp_ignore: 19,
  promote_secondaries: 20,
  arp_accept: 21,
  arp_notify: 22,
  accept_local: 23,
  src_valid_mark: 24,
  proxy_arp_pvlan: 25,
  route_localnet: 26,
  igmpv2_unsolicited_report_interval: 27,
  igmpv3_unsolicited_report_interval: 28,
  ignore_routes_with_linkdown: 29,
  drop_unicast_in_l2_multicast: 30,
  drop_gratuitous_arp: 31,
  bc_forwarding: 32,
  arp_evict_nocarrier: 33,
};

/** Whether `net.ipv4.conf.<if>.<name>` can be written over rtnetlink. */
export const isIpv4Devconf = (name: string): boolean => Object.hasOwn(IPV4_DEVCONF, name);

/**
 * Sets per-interface IPv4 sysctls of link `index` in one message, e.g.
 * `{ arp_ignore: 1, rp_filter: 2 }`. An unknown name, or a value that is not
 * a 32-bit integer, is a ConfigError before anything is sent.
 * Equivalent to: `sysctl -w net.ipv4.conf.IF.NAME=VALUE ...` (without /proc/sys)
 */
export function linkSetInetConf(h: NetnsHandle, index: IfIndex | number, values: Readonly<Record<string, number>>): void {
  const entries = Object.entries(values).map(([name, v]) => {
    const id = IPV4_DEVCONF[name];
    if (id === undefined || !Object.hasOwn(IPV4_DEVCONF, name)) {
      throw new ConfigError(`net.ipv4.conf.*.${name} cannot be set over rtnetlink (not an IPv4 devconf sysctl)`, { context: { field: name } });
    }
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new ConfigError(`net.ipv4.conf.*.${name}: ${String(v)} is not a 32-bit integer`, { context: { field: name, value: v } });
    }
    return [id, v] as const;
  });
  if (entries.length === 0) return;
  const w = h.route.writer.reset();
  w.beginMessage(RTM.RTM_NEWLINK, 0);
  encodeIfInfoMsg(w, { index, flags: 0, change: 0 });
  const spec = w.nestStart(IFLA.IFLA_AF_SPEC);
  const inet = w.nestStart(AF_INET);
  const conf = w.nestStart(IFLA_INET_CONF);
  for (const [id, v] of entries) w.attrU32(id, v >>> 0);
  w.nestEnd(conf).nestEnd(inet).nestEnd(spec);
  w.endMessage();
  h.route.request(w, 'RTM_NEWLINK');
}
