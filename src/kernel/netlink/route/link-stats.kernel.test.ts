/**
 * linkCountersGet against the real kernel, `ip -s -s -d -j link show` the
 * oracle: a veth pair between two test namespaces carries a few UDP
 * datagrams (traffic only between test namespaces; no IPv6 link-local
 * chatter, so the counts settle), and its peer flaps for carrier changes.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../common/errors.ts';
import { createNetns, eventually, ip, ipJson, tool, uniqueName, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import { linkGetByName } from './link-ops.ts';
import { linkCountersGet } from './link-stats.ts';

interface IpStats {
  ifindex: number;
  stats64: { rx: { packets: number; errors: number; dropped: number; crc_errors?: number }; tx: { packets: number; errors: number; dropped: number; carrier_errors?: number; carrier_changes?: number } };
}

let a: TestNetns;
let b: TestNetns;
beforeEach(() => {
  a = createNetns('lsa');
  b = createNetns('lsb');
});
// The fixture deletes both namespaces after each test, and the veth with them.

describe('linkCountersGet', () => {
  it('reads the same packets, errors, drops and carrier changes as `ip -s -s -d link show`', async () => {
    const dev = uniqueName('ls');
    ip(a, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`, 'netns', b.name);
    ip(a, 'link', 'set', dev, 'addrgenmode', 'none');
    ip(b, 'link', 'set', `${dev}p`, 'addrgenmode', 'none');
    ip(a, 'addr', 'add', '192.0.2.1/24', 'dev', dev);
    ip(b, 'addr', 'add', '192.0.2.2/24', 'dev', `${dev}p`);
    ip(a, 'link', 'set', dev, 'up');
    ip(b, 'link', 'set', `${dev}p`, 'up');
    for (let i = 0; i < 2; i++) {
      ip(b, 'link', 'set', `${dev}p`, 'down');
      ip(b, 'link', 'set', `${dev}p`, 'up');
    }
    // Three datagrams from a to b (b answers port unreachable), sent by Node inside a.
    const send = "const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send('x',9,'192.0.2.2',()=>{if(++n<3)go();else s.close();});go();";
    tool('ip', ['netns', 'exec', a.name, process.execPath, '-e', send]);
    const index = linkGetByName(a.handle, dev).index;
    const { c, o } = await eventually(() => {
      const got = linkCountersGet(a.handle, index);
      const [oracle] = ipJson<IpStats[]>(a, '-s', '-s', '-d', 'link', 'show', 'dev', dev);
      expect(got.rx_packets).toBe(oracle!.stats64.rx.packets); // the same once the replies are in
      expect(got.tx_packets).toBe(oracle!.stats64.tx.packets);
      return { c: got, o: oracle };
    }, 10_000);
    expect(c.rx_packets).toBe(o!.stats64.rx.packets);
    expect(c.tx_packets).toBe(o!.stats64.tx.packets);
    expect(c.tx_packets).toBeGreaterThanOrEqual(3);
    expect(c.rx_errors).toBe(o!.stats64.rx.errors);
    expect(c.tx_errors).toBe(o!.stats64.tx.errors);
    expect(c.rx_dropped).toBe(o!.stats64.rx.dropped);
    expect(c.rx_crc_errors).toBe(o!.stats64.rx.crc_errors ?? 0);
    expect(c.tx_carrier_errors).toBe(o!.stats64.tx.carrier_errors ?? 0);
    expect(c.carrier_changes).toBe(o!.stats64.tx.carrier_changes); // iproute2 prints it with the tx errors
    expect(c.carrier_changes).toBeGreaterThanOrEqual(4); // two flaps of the peer
  });

  it('a missing link is NotFoundError', () => {
    expect(() => linkCountersGet(a.handle, 999_999)).toThrow(NotFoundError);
  });
});
