import { describe, expect, it } from 'vitest';
import { createNetns, ip, testLibc, uniqueName } from '../../../../test/kernel/netns-fixture.ts';
import type { MonitorEvent } from '../monitor.ts';
import type { NetlinkMonitor } from '../monitor.ts';
import { linkGetByName, linkSetMtu } from './link-ops.ts';
import { addrAdd } from './addr-ops.ts';
import { routeAdd, routeDelete } from './route-ops.ts';
import { ruleAdd } from './rule-ops.ts';
import { neighAdd } from './neigh-ops.ts';
import { routeEventsOpen, type RouteEvent } from './route-events.ts';

async function expectEvent(mon: NetlinkMonitor<RouteEvent>, pred: (e: RouteEvent) => boolean, ms = 5000): Promise<RouteEvent> {
  const deadline = Date.now() + ms;
  let seen = 0;
  while (Date.now() < deadline) {
    const r = await Promise.race([mon.next(), new Promise<'t'>((res) => setTimeout(res, Math.max(1, deadline - Date.now()), 't'))]);
    if (r === 't' || r.done) break;
    seen++;
    const ev = r.value as MonitorEvent<RouteEvent>;
    if (ev.kind === 'message' && pred(ev.value)) return ev.value;
  }
  throw new Error(`expected event not seen (${seen} others)`);
}

describe(`routeEventsOpen (${testLibc.backend})`, () => {
  it('streams decoded link, address, route, rule and neighbour changes made through our own ops', async () => {
    const ns = createNetns();
    const mon = routeEventsOpen(ns.handle, { objects: ['link', 'addr', 'route', 'rule', 'neigh'], libc: testLibc, pollMs: 50 });
    try {
      const a = uniqueName('e');
      ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', uniqueName('f'));
      const created = await expectEvent(mon, (e) => e.object === 'link' && e.action === 'new' && e.link.name === a);
      expect(created.object === 'link' && created.link.kind).toBe('veth');
      const index = linkGetByName(ns.handle, a).index;

      linkSetMtu(ns.handle, index, 1400);
      await expectEvent(mon, (e) => e.object === 'link' && e.link.index === index && e.link.mtu === 1400);

      ip(ns, 'link', 'set', a, 'up');
      addrAdd(ns.handle, index, { cidr: '10.77.0.1/24' });
      const addr = await expectEvent(mon, (e) => e.object === 'addr' && e.action === 'new');
      expect(addr.object === 'addr' && [addr.addr.address, addr.addr.prefixLen, addr.addr.index]).toEqual(['10.77.0.1', 24, index]);

      addrAdd(ns.handle, index, { cidr: 'fd00:77::1/64', flags: ['nodad'] });
      await expectEvent(mon, (e) => e.object === 'addr' && e.addr.address === 'fd00:77::1');

      routeAdd(ns.handle, { dst: '10.78.0.0/16', gateway: '10.77.0.2', table: 100 });
      const route = await expectEvent(mon, (e) => e.object === 'route' && e.action === 'new' && e.route.table === 100);
      expect(route.object === 'route' && [route.route.dst, route.route.gateway]).toEqual(['10.78.0.0/16', '10.77.0.2']);
      routeDelete(ns.handle, { dst: '10.78.0.0/16', gateway: '10.77.0.2', table: 100 });
      await expectEvent(mon, (e) => e.object === 'route' && e.action === 'del' && e.route.table === 100);

      ruleAdd(ns.handle, { family: 2, priority: 1234, table: 100, src: '10.77.0.0/24' });
      await expectEvent(mon, (e) => e.object === 'rule' && e.rule.priority === 1234);

      neighAdd(ns.handle, { index, dst: '10.77.0.9', lladdr: '02:00:00:00:00:09' });
      await expectEvent(mon, (e) => e.object === 'neigh' && e.neigh.dst === '10.77.0.9');

      ip(ns, 'link', 'del', a);
      await expectEvent(mon, (e) => e.object === 'link' && e.action === 'del' && e.link.name === a);
    } finally {
      await mon.close();
    }
  });
});
