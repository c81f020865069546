import { describe, expect, it } from 'vitest';
import { createNetns, ip, testLibc, tool, uniqueName } from '../../../test/kernel/netns-fixture.ts';
import { forEachAttr, readString } from './attrs.ts';
import { NETLINK_ROUTE } from './constants.ts';
import { NetlinkMonitor, type MonitorEvent } from './monitor.ts';
import { RTM, RTNLGRP } from './route/rtnl-constants.ts';

interface Ev { type: number; name?: string }
const decode = (buf: Buffer, m: { type: number; off: number; len: number }): Ev => {
  const ev: Ev = { type: m.type };
  if (m.type === RTM.RTM_NEWLINK || m.type === RTM.RTM_DELLINK) {
    forEachAttr(buf, m.off + 16, m.off + m.len, (t, o, l) => { if (t === 3) ev.name = readString(buf, o, l); });
  }
  return ev;
};

async function until<T>(mon: NetlinkMonitor<T>, pred: (e: MonitorEvent<T>) => boolean, ms = 5000): Promise<MonitorEvent<T>[]> {
  const seen: MonitorEvent<T>[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await Promise.race([mon.next(), new Promise<'t'>((res) => setTimeout(res, deadline - Date.now(), 't'))]);
    if (r === 't' || r.done) break;
    seen.push(r.value);
    if (pred(r.value)) return seen;
  }
  throw new Error(`event not seen; ${seen.length} others, last: ${JSON.stringify(seen.slice(-3))}`);
}

describe(`NetlinkMonitor (${testLibc.backend})`, () => {
  it('streams link and address events from a namespace without blocking the event loop', async () => {
    const ns = createNetns();
    const mon = new NetlinkMonitor(ns.handle, NETLINK_ROUTE, [RTNLGRP.RTNLGRP_LINK, RTNLGRP.RTNLGRP_IPV4_IFADDR], decode, { libc: testLibc, pollMs: 50 });
    try {
      const a = uniqueName('m');
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', uniqueName('n'));
      await until(mon, (e) => e.kind === 'message' && e.value.type === RTM.RTM_NEWLINK && e.value.name === a);
      ip(ns, 'addr', 'add', '10.9.0.1/24', 'dev', a);
      await until(mon, (e) => e.kind === 'message' && e.value.type === RTM.RTM_NEWADDR);
      ip(ns, 'link', 'del', a);
      await until(mon, (e) => e.kind === 'message' && e.value.type === RTM.RTM_DELLINK && e.value.name === a);
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(0); // timers ran while reads were parked
    } finally {
      await mon.close();
    }
  });

  it('does not see events of other namespaces', async () => {
    const ns = createNetns();
    const other = createNetns();
    const mon = new NetlinkMonitor(ns.handle, NETLINK_ROUTE, [RTNLGRP.RTNLGRP_LINK], decode, { libc: testLibc, pollMs: 50 });
    try {
      const elsewhere = uniqueName('o');
      ip(other, 'link', 'add', elsewhere, 'type', 'veth', 'peer', 'name', uniqueName('q'));
      const here = uniqueName('h');
      ip(ns, 'link', 'add', here, 'type', 'veth', 'peer', 'name', uniqueName('r'));
      const seen = await until(mon, (e) => e.kind === 'message' && e.value.name === here);
      expect(seen.some((e) => e.kind === 'message' && e.value.name === elsewhere)).toBe(false);
    } finally {
      await mon.close();
    }
  });

  it('reports an overrun when the consumer falls behind, then keeps streaming', async () => {
    const ns = createNetns();
    // A tiny JS queue and no consumer: the kernel's buffer fills and it reports ENOBUFS.
    const mon = new NetlinkMonitor(ns.handle, NETLINK_ROUTE, [RTNLGRP.RTNLGRP_LINK], decode, { libc: testLibc, pollMs: 50, highWater: 1, kernelRecvBuffer: 4096 });
    try {
      const batch = Array.from({ length: 600 }, () => `link add ${uniqueName('x')} type veth peer name ${uniqueName('y')}`).join('\n');
      tool('ip', ['-n', ns.name, '-batch', '-'], batch);
      await until(mon, (e) => e.kind === 'overrun');
      const late = uniqueName('z');
      ip(ns, 'link', 'add', late, 'type', 'veth', 'peer', 'name', uniqueName('w'));
      await until(mon, (e) => e.kind === 'message' && e.value.name === late, 10_000);
    } finally {
      await mon.close();
    }
  });

  it('closes while a read is parked, ends iteration, and is idempotent', async () => {
    const ns = createNetns();
    const mon = new NetlinkMonitor(ns.handle, NETLINK_ROUTE, [RTNLGRP.RTNLGRP_LINK], decode, { libc: testLibc, pollMs: 50 });
    const pending = mon.next();
    await Promise.all([mon.close(), mon.close()]);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await mon.next()).toEqual({ done: true, value: undefined });
  });
});
