/**
 * Shareable parents in the real inventory pipeline (docs/sharing.md): a
 * bridge (netns-local: the kernel cannot move it) is published as a parent
 * when the operator names its kind, is left out otherwise, and our own
 * `ncsub*` sub-interfaces are never published. (Bonds, the other common
 * immovable parent, need the bonding module: QEMU lane.)
 */
import { describe, expect, it } from 'vitest';
import { createNetns, ip, uniqueName } from '../../test/kernel/netns-fixture.ts';
import { buildInventory } from './build.ts';
import { collectSnapshot } from './collect.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from './options.ts';

describe('shareable parents in the inventory', () => {
  it('a bridge is a parent when its kind is shareable, excluded as netns-local otherwise; ncsub* is never published', () => {
    const ns = createNetns('shinv');
    const br = uniqueName('sbr');
    ip(ns, 'link', 'add', br, 'type', 'bridge');
    ip(ns, 'link', 'add', 'ncsub0123456789', 'link', br, 'type', 'macvlan');
    const plain: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
    const shared: InventoryOptions = { ...plain, shareable: { kinds: ['bridge'], names: [], maxSubInterfaces: 8 } };

    const before = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, plain), plain);
    expect(before.devices.find((d) => d.ifName === br)).toBeUndefined();
    expect(before.exclusions.find((x) => x.ifName === br)?.code).toBe('netns-local');

    const after = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, shared), shared);
    // A bridge cannot move: shareable only, no whole twin.
    expect(after.devices.find((d) => d.ifName === br)?.sharing).toEqual({ maxSubInterfaces: 8 });
    expect(after.devices.find((d) => d.ifName === 'ncsub0123456789')).toBeUndefined();
    expect(after.exclusions.find((x) => x.ifName === 'ncsub0123456789')?.code).toBe('plumbing');
  });

  it('a parent that can move (a veth) also gets a whole twin (sharing.whole)', () => {
    const ns = createNetns('shinw');
    const v = uniqueName('sv');
    ip(ns, 'link', 'add', v, 'type', 'veth', 'peer', 'name', `${v}p`);
    const o: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['*'], shareable: { kinds: [], names: [v], maxSubInterfaces: 8 } };
    const inv = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, o), o);
    expect(inv.devices.find((d) => d.ifName === v)?.sharing).toEqual({ maxSubInterfaces: 8, whole: true });
  });
});
