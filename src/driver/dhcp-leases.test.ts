import { describe, expect, it } from 'vitest';
import type { DhcpLease } from '../kernel/dhcp/dhcp-types.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import { DhcpLeases } from './dhcp-leases.ts';

// No renewal is due in these tests (T1 a day away), so the keeper never reaches the kernel: the Libc is never called.
const noLibc = new Proxy({}, { get: () => { throw new Error('the kernel is not reached here'); } }) as Libc;
const lease = (i: number, boundAt = new Date().toISOString()): DhcpLease => ({
  cidr: `10.0.${i >> 8}.${i & 255}/16`, address: `10.0.${i >> 8}.${i & 255}`, serverId: '10.0.0.1', serverMac: '02:00:00:00:00:01', mac: '02:00:00:00:00:02',
  routers: [], dnsServers: [], leaseTime: 172_800, renewalTime: 86_400, rebindingTime: 151_200, boundAt,
});

describe('DhcpLeases', () => {
  it('keeps one timer for any number of leases, and none once they are all untracked', () => {
    const k = new DhcpLeases({ libc: noLibc });
    for (let i = 0; i < 5000; i++) k.track(`claim-${i}/dev`, { netns: '/run/netns/x', ifName: 'net1', lease: lease(i) });
    expect(k.size).toBe(5000);
    expect(k.armed).toBe(true);
    for (let i = 0; i < 5000; i++) expect(k.untrack(`claim-${i}/dev`)?.address).toBe(lease(i).address);
    expect(k.size).toBe(0);
    expect(k.armed).toBe(false);
    k.close();
  });

  it('a newer lease replaces an older one, not the reverse; close stops everything and is idempotent', () => {
    const k = new DhcpLeases({ libc: noLibc });
    const older = lease(1, '2026-01-01T00:00:00.000Z');
    const newer = lease(1, '2026-01-01T00:10:00.000Z');
    k.track('c/d', { netns: '/run/netns/x', ifName: 'net1', lease: newer });
    k.track('c/d', { netns: '/run/netns/x', ifName: 'net1', lease: older });
    expect(k.get('c/d')?.boundAt).toBe(newer.boundAt);
    k.close();
    k.close();
    expect(k.armed).toBe(false);
    k.track('c/e', { netns: '/run/netns/x', ifName: 'net1', lease: newer });
    expect(k.size).toBe(0);
  });
});
