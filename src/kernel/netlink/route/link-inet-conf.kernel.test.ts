/**
 * IPv4 per-interface sysctls over rtnetlink, checked against /proc/sys: every
 * IPV4_DEVCONF name this table knows lands on the sysctl file of that name.
 */
import { describe, expect, it } from 'vitest';
import { createNetns, ip } from '../../../../test/kernel/netns-fixture.ts';
import { netconfSysctlGet } from '../../sysctl/netconf-sysctl.ts';
import { IPV4_DEVCONF, linkSetInetConf } from './link-inet-conf.ts';
import { linkGetByName } from './link-ops.ts';

describe('linkSetInetConf', () => {
  it('sets each IPv4 devconf value by its sysctl name (read back from /proc/sys)', () => {
    const ns = createNetns('ic');
    ip(ns, 'link', 'add', 'ncic0', 'type', 'veth', 'peer', 'name', 'ncic1');
    const index = linkGetByName(ns.handle, 'ncic0').index;
    const checked: string[] = [];
    for (const name of Object.keys(IPV4_DEVCONF)) {
      const was = netconfSysctlGet(ns.handle, 'ipv4', 'ncic0', name);
      if (was === undefined) continue; // this kernel has no such sysctl
      const next = was === '1' ? 0 : 1;
      linkSetInetConf(ns.handle, index, { [name]: next });
      expect(netconfSysctlGet(ns.handle, 'ipv4', 'ncic0', name), name).toBe(String(next));
      checked.push(name);
    }
    expect(checked).toEqual(expect.arrayContaining(['forwarding', 'rp_filter', 'arp_ignore', 'arp_announce', 'accept_local', 'disable_policy']));
  });

  it('refuses a name that is not an IPv4 devconf sysctl before sending anything', () => {
    const ns = createNetns('ic');
    expect(() => linkSetInetConf(ns.handle, 1, { mc_forwarding: 1 })).toThrow(/cannot be set over rtnetlink/);
    expect(() => linkSetInetConf(ns.handle, 1, { arp_ignore: 1.5 })).toThrow(/not a 32-bit integer/);
  });
});
