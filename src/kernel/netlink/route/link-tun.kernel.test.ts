import { describe, expect, it } from 'vitest';
import { createNetns, ip, ipJson, testLibc, uniqueName } from '../../../../test/kernel/netns-fixture.ts';
import { linkDelete } from './link-add.ts';
import { linkGetByName, linkList, linkSetUp } from './link-ops.ts';

interface IpLink { ifname: string; ifindex: number; mtu: number; linkinfo?: { info_kind: string; info_data?: { type?: string } } }

describe(`tun/tap links (${testLibc.backend})`, () => {
  it('lists persistent tun and tap devices with their type, as ip -d does', () => {
    const ns = createNetns();
    const tun = uniqueName('tun');
    const tap = uniqueName('tap');
    // /dev/net/tun devices are made with an ioctl, not netlink: `ip tuntap` sets them up here.
    ip(ns, 'tuntap', 'add', 'dev', tun, 'mode', 'tun');
    ip(ns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
    const ours = linkList(ns.handle).filter((l) => l.kind === 'tun');
    const theirs = ipJson<IpLink[]>(ns, '-d', 'link').filter((l) => l.linkinfo?.info_kind === 'tun');
    expect(ours.map((l) => [l.index, l.name, l.mtu, l.kindData]).sort())
      .toEqual(theirs.map((l) => [l.ifindex, l.ifname, l.mtu, { kind: 'tun', type: l.linkinfo?.info_data?.type }]).sort());
    expect(linkGetByName(ns.handle, tap).kindData).toEqual({ kind: 'tun', type: 'tap' });
  });

  it('brings a tap up (no carrier without a reader) and deletes it', () => {
    const ns = createNetns();
    const tap = uniqueName('tap');
    ip(ns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
    const { index } = linkGetByName(ns.handle, tap);
    linkSetUp(ns.handle, index);
    const l = linkGetByName(ns.handle, tap);
    expect(l.up).toBe(true);
    expect(l.operState).toBe(ipJson<{ operstate: string }[]>(ns, 'link', 'show', tap)[0]!.operstate);
    linkDelete(ns.handle, index);
    expect(ipJson<unknown[]>(ns, 'link').length).toBe(1);
  });
});
