/**
 * The DHCP client against a real server: dnsmasq in one test namespace, the
 * client on the other end of a veth in another. The server's lease database
 * is the oracle for each step.
 */
import { describe, expect, it } from 'vitest';
import { createNetns, eventually, ip, ipJson, testLibc, uniqueName } from '../../../test/kernel/netns-fixture.ts';
import { hasDnsmasq, NO_DNSMASQ, startDnsmasq } from '../../../test/kernel/dnsmasq-fixture.ts';
import { linkGetByName } from '../netlink/route/link-ops.ts';
import { dhcpAcquire, dhcpExtend, dhcpRelease } from './dhcp-client.ts';

function link() {
  const server = createNetns('srv');
  const client = createNetns('cli');
  const a = uniqueName('s');
  const b = uniqueName('c');
  ip(server, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', client.name);
  ip(server, 'addr', 'add', '10.77.0.1/24', 'dev', a);
  ip(server, 'link', 'set', a, 'up');
  ip(client, 'link', 'set', b, 'up');
  const l = linkGetByName(client.handle, b);
  return { server, client, serverIf: a, clientIf: b, index: l.index, mac: l.mac! };
}

describe.skipIf(!hasDnsmasq())(`DHCP client against dnsmasq (${testLibc.backend})`, () => {
  it('acquires, renews, rebinds and releases a lease; the server\'s lease file shows each step', async () => {
    const t = link();
    const srv = await startDnsmasq({ ns: t.server, ifName: t.serverIf, range: '10.77.0.50,10.77.0.60,255.255.255.0,2m', options: ['option:router,10.77.0.1', 'option:dns-server,10.77.0.53'] });
    const o = { netns: t.client.handle, ifIndex: t.index, mac: t.mac, libc: testLibc };
    const lease = dhcpAcquire({ ...o, timeoutMs: 10_000 });
    expect(lease).toMatchObject({ serverId: '10.77.0.1', leaseTime: 120, renewalTime: 60, rebindingTime: 105, routers: ['10.77.0.1'], dnsServers: ['10.77.0.53'], mac: t.mac });
    expect(lease.cidr).toMatch(/^10\.77\.0\.(5\d|60)\/24$/);
    const granted = await eventually(() => {
      const l = srv.leases().find((x) => x.mac === t.mac);
      expect(l?.ip).toBe(lease.address);
      return l!;
    });
    // Renew (unicast) needs the address on the interface: the server answers to it.
    ip(t.client, 'addr', 'add', lease.cidr, 'dev', t.clientIf);
    await new Promise((r) => setTimeout(r, 1100)); // lease expiry in the file has 1 s resolution
    const renewed = await dhcpExtend({ ...o, lease, mode: 'renew', waitMs: 5000 });
    expect(renewed).toMatchObject({ kind: 'ack', lease: { address: lease.address, cidr: lease.cidr } });
    await eventually(() => expect(srv.leases().find((x) => x.mac === t.mac)!.expiry).toBeGreaterThan(granted.expiry));
    const rebound = await dhcpExtend({ ...o, lease, mode: 'rebind', waitMs: 5000 });
    expect(rebound).toMatchObject({ kind: 'ack', lease: { address: lease.address } });
    expect(srv.log()).toMatch(new RegExp(`DHCPACK\\(${t.serverIf}\\) ${lease.address.replaceAll('.', '\\.')} ${t.mac}`));
    dhcpRelease({ ...o, lease });
    await eventually(() => expect(srv.leases().find((x) => x.mac === t.mac)).toBeUndefined());
    expect(srv.log()).toMatch(/DHCPRELEASE/);
    expect(ipJson(t.client, 'addr', 'show', 'dev', t.clientIf)).toBeDefined();
  });

  it('times out naming the step when no server answers, within the configured time', () => {
    const t = link();
    const start = performance.now();
    expect(() => dhcpAcquire({ netns: t.client.handle, ifIndex: t.index, mac: t.mac, libc: testLibc, timeoutMs: 1500 }))
      .toThrow(expect.objectContaining({ code: 'DHCP_TIMEOUT', message: expect.stringMatching(/^dhcp\.discover: no usable DHCPOFFER within 1\.5 s/) }));
    expect(performance.now() - start).toBeGreaterThanOrEqual(1400);
  });
});

if (!hasDnsmasq()) describe('DHCP client against dnsmasq', () => it.skip(NO_DNSMASQ, () => {}));
