import { describe, expect, it } from 'vitest';
import { decodeDhcp, encodeDhcp } from './dhcp-codec.ts';
import { clientIdOf, discoverMessage, extendRequest, INFINITE, isReplyTo, leaseDeadlines, leaseFromAck, releaseMessage, selectingRequest, usableOffer } from './dhcp-messages.ts';
import type { DhcpMessage } from './dhcp-types.ts';

const id = { mac: '02:00:5e:00:53:01' };
const reply = (over: Partial<DhcpMessage> = {}, options: DhcpMessage['options'] = {}): DhcpMessage => ({
  op: 'reply', type: 'ack', xid: 7, secs: 0, broadcast: true, ciaddr: '0.0.0.0', yiaddr: '192.0.2.54', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
  chaddr: id.mac, ...over, options: { serverId: '192.0.2.1', leaseTime: 3600, subnetMask: '255.255.255.0', ...options },
});
const now = new Date('2026-01-01T00:00:00Z');

describe('DHCP client messages (RFC 2131)', () => {
  it('DISCOVER and the SELECTING REQUEST: broadcast, client id, the offer\'s address and server', () => {
    const d = discoverMessage(id, 7, 3);
    expect(d).toMatchObject({ op: 'request', type: 'discover', xid: 7, secs: 3, broadcast: true, ciaddr: '0.0.0.0', options: { clientId: clientIdOf(id.mac) } });
    expect(d.options.parameterRequestList).toEqual(expect.arrayContaining([1, 3, 51, 54, 58, 59]));
    const r = selectingRequest(id, 7, 4, reply({ type: 'offer' }));
    expect(r.options).toMatchObject({ requestedAddress: '192.0.2.54', serverId: '192.0.2.1' });
    expect(decodeDhcp(encodeDhcp(r))).toEqual(r);
  });

  it('RENEWING/REBINDING REQUEST: ciaddr set, no server id, no requested address; RELEASE names the server', () => {
    const lease = leaseFromAck(reply(), { srcMac: '02:00:00:00:00:99' }, id.mac, now);
    const e = extendRequest(id, 9, lease);
    expect(e).toMatchObject({ type: 'request', ciaddr: '192.0.2.54', broadcast: false });
    expect(e.options.serverId).toBeUndefined();
    expect(e.options.requestedAddress).toBeUndefined();
    expect(releaseMessage(id, 9, lease)).toMatchObject({ type: 'release', ciaddr: '192.0.2.54', options: { serverId: '192.0.2.1' } });
  });

  it('matches replies by op, xid and chaddr; an offer needs an address and a server id', () => {
    expect(isReplyTo(reply(), 7, id.mac.toUpperCase())).toBe(true);
    expect(isReplyTo(reply({ xid: 8 }), 7, id.mac)).toBe(false);
    expect(isReplyTo(reply({ chaddr: '02:00:00:00:00:02' }), 7, id.mac)).toBe(false);
    expect(isReplyTo(reply({ op: 'request' }), 7, id.mac)).toBe(false);
    expect(usableOffer(reply({ type: 'offer' }))).toBe(true);
    expect(usableOffer(reply({ type: 'offer', yiaddr: '0.0.0.0' }))).toBe(false);
    expect(usableOffer({ ...reply({ type: 'offer' }), options: {} })).toBe(false);
  });

  it('the lease: prefix from the mask, T1/T2 defaulted to 0.5/0.875 (§4.4.5) and clamped, deadlines from boundAt', () => {
    const l = leaseFromAck(reply(), { srcMac: '02:00:00:00:00:99' }, id.mac, now);
    expect(l).toMatchObject({ cidr: '192.0.2.54/24', renewalTime: 1800, rebindingTime: 3150, serverMac: '02:00:00:00:00:99', boundAt: now.toISOString() });
    expect(leaseDeadlines(l)).toEqual({ t1: now.getTime() + 1_800_000, t2: now.getTime() + 3_150_000, expiry: now.getTime() + 3_600_000 });
    const { subnetMask: _m, ...noMask } = reply({}, { renewalTime: 5000, rebindingTime: 4000 }).options;
    const odd = leaseFromAck({ ...reply(), options: noMask }, { srcMac: '02:00:00:00:00:99' }, id.mac, now);
    expect(odd).toMatchObject({ cidr: '192.0.2.54/32', rebindingTime: 3600, renewalTime: 3600 });
    const inf = leaseFromAck(reply({}, { leaseTime: INFINITE }), { srcMac: '02:00:00:00:00:99' }, id.mac, now);
    expect(leaseDeadlines(inf)).toEqual({ t1: Infinity, t2: Infinity, expiry: Infinity });
  });

  it('an ACK without a lease time (in it or its offer) or a server id is refused', () => {
    const noLease = { ...reply(), options: { serverId: '192.0.2.1' } };
    expect(() => leaseFromAck(noLease, { srcMac: '02:00:00:00:00:99' }, id.mac, now)).toThrow(/no lease time/);
    expect(leaseFromAck(noLease, { srcMac: '02:00:00:00:00:99' }, id.mac, now, reply({ type: 'offer' })).leaseTime).toBe(3600);
    expect(() => leaseFromAck({ ...reply(), options: { leaseTime: 60 } }, { srcMac: '02:00:00:00:00:99' }, id.mac, now)).toThrow(/no server identifier/);
  });
});
