/**
 * NetlinkEventQueue against the real kernel: link changes inside a throwaway
 * namespace are queued on the socket and taken by drain() without blocking;
 * a queue left undrained past its kernel buffer reports the loss (ENOBUFS)
 * instead of pretending it saw everything.
 */
import { describe, expect, it } from 'vitest';
import { createNetns, ip, testLibc, uniqueName } from '../../../test/kernel/netns-fixture.ts';
import { NETLINK_ROUTE } from './constants.ts';
import { linkEventQueueOpen, NetlinkEventQueue } from './event-queue.ts';
import { decodeRouteEvent } from './route/route-events.ts';
import { RTNLGRP } from './route/rtnl-constants.ts';

describe('NetlinkEventQueue', () => {
  it('drains the link events queued since the last drain, and nothing when none came', () => {
    const ns = createNetns('eq');
    const q = linkEventQueueOpen(ns.handle, testLibc);
    try {
      expect(q.drain()).toEqual({ events: [], overrun: false });
      const dev = uniqueName('eq');
      ip(ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
      ip(ns, 'link', 'set', dev, 'up');
      const { events, overrun } = q.drain();
      expect(overrun).toBe(false);
      const mine = events.filter((e) => e.object === 'link' && e.link.name === dev);
      expect(mine[0]).toMatchObject({ action: 'new' });
      expect(mine.some((e) => e.object === 'link' && e.link.up)).toBe(true);
      expect(q.drain().events).toEqual([]);
      ip(ns, 'link', 'del', dev);
      expect(q.drain().events.some((e) => e.object === 'link' && e.action === 'del' && e.link.name === dev)).toBe(true);
    } finally {
      q.close();
      q.close(); // idempotent
    }
    expect(q.drain()).toEqual({ events: [], overrun: false }); // closed: nothing, no throw
  });

  it('reports an overrun when the kernel dropped events, then queues again', () => {
    const ns = createNetns('eqo');
    // The smallest kernel buffer the kernel allows (it doubles and floors SO_RCVBUF): a few events fill it.
    const q = new NetlinkEventQueue(ns.handle, testLibc, NETLINK_ROUTE, [RTNLGRP.RTNLGRP_LINK], decodeRouteEvent, 1);
    try {
      const dev = uniqueName('eqo');
      ip(ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
      for (let i = 0; i < 40; i++) ip(ns, 'link', 'set', dev, i % 2 === 0 ? 'up' : 'down');
      expect(q.drain().overrun).toBe(true);
      ip(ns, 'link', 'set', dev, 'mtu', '1400');
      const after = q.drain();
      expect(after.overrun).toBe(false);
      expect(after.events.some((e) => e.object === 'link' && e.link.name === dev && e.link.mtu === 1400)).toBe(true);
    } finally {
      q.close();
    }
  });
});
