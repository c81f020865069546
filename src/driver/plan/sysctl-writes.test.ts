import { describe, expect, it } from 'vitest';
import { procOnlyHostKeys, procOnlySysctlWrites } from './sysctl-writes.ts';
import type { HostSnapshot, PodInterfacePlan } from './plan-types.ts';

const pod = (sysctls: Record<string, string>, vrf?: { name: string }): PodInterfacePlan => ({
  name: 'net1', addresses: [], routes: [], rules: [], neighbors: [], sysctls, disableEbpfPrograms: false, ...(vrf === undefined ? {} : { vrf }),
});
const host = (sysctls: Record<string, string>): HostSnapshot => ({
  ifName: 'eth1', ifIndex: 3, mtu: 1500, up: true, addresses: [], routes: [], rules: [], neighbors: [], ethtool: {}, sysctls, ebpf: { xdp: false, tc: 0, tcx: 0 },
});

describe('procOnlySysctlWrites', () => {
  it('IPv4 per-interface sysctls need no /proc/sys (rtnetlink); IPv6 ones, forwarding\'s IPv6 half and a VRF do', () => {
    expect(procOnlySysctlWrites({ pod: pod({ 'ipv4.arp_ignore': '1', 'ipv4.rp_filter': '2' }) }, {})).toEqual([]);
    expect(procOnlySysctlWrites({ pod: pod({ 'ipv6.accept_ra': '0', 'ipv4.forwarding': '1', 'ipv6.forwarding': '1' }, { name: 'blue' }) }, {}).map((w) => w.field))
      .toEqual(['interface.sysctls["ipv6.accept_ra"]', 'interface.forwarding', 'vrf']);
  });

  it('a host sysctl only /proc/sys can restore matters only when the device would not get its value back (conf/default)', () => {
    const h = host({ 'ipv4.arp_ignore': '2', 'ipv6.forwarding': '1' });
    expect(procOnlyHostKeys(h)).toEqual(['ipv6.forwarding']);
    expect(procOnlySysctlWrites({ host: h }, { 'ipv6.forwarding': '1' })).toEqual([]);
    expect(procOnlySysctlWrites({ host: h }, { 'ipv6.forwarding': '0' })).toEqual([
      { field: 'net.ipv6.conf.eth1.forwarding', message: 'is 1 on the host, and a device returned to the host gets 0 (conf/default): restoring it needs /proc/sys' },
    ]);
  });
});
