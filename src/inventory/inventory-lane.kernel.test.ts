/**
 * Discovery of devices only the QEMU lane has: netdevsim with SR-IOV VFs, and
 * soft-RoCE (which must live in init_net on 6.1, so that test uses the VM's
 * own namespace as "the host").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNetdevsim, hasNetdevsim } from '../../test/kernel/netdevsim-fixture.ts';
import { createNetns, needsQemuLane, testLibc, tool } from '../../test/kernel/netns-fixture.ts';
import { rxeOverDummy } from '../../test/kernel/rxe-fixture.ts';
import { canUseRxe } from '../../test/kernel/vm-guard.ts';
import { buildInventory } from './build.ts';
import { collectSnapshot } from './collect.ts';
import { DEFAULT_OPTIONS } from './options.ts';

/** Test devices are virtual kinds: publish them all. */
const ALL = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
const emptySys = mkdtempSync(join(tmpdir(), 'nc-sys-'));
afterAll(() => rmSync(emptySys, { recursive: true, force: true }));
const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) { try { c(); } catch { /* best effort */ } } });
const val = (a: Record<string, object>, n: string): unknown => { const v = a[`netclaim.dev/${n}`]; return v && Object.values(v)[0]; };

describe(`inventory on lane-only devices (${testLibc.backend})`, () => {
  it.skipIf(!hasNetdevsim())(`netdevsim ports with SR-IOV VFs${hasNetdevsim() ? '' : ` (${needsQemuLane('netdevsim')})`}`, () => {
    const ns = createNetns('nsim');
    const dev = createNetdevsim(ns, { ports: 2, vfs: 3 });
    const inv = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, ALL), ALL);
    const ports = inv.devices.filter((d) => d.ifName && dev.netdevs.includes(d.ifName));
    expect(ports.map((d) => d.ifName).sort()).toEqual([...dev.netdevs].sort());
    const vfLinks = JSON.parse(tool('ip', ['-n', ns.name, '-j', 'link', 'show'])) as { ifname: string; vfinfo_list?: unknown[] }[];
    for (const d of ports) {
      const oracle = vfLinks.find((l) => l.ifname === d.ifName)!;
      expect(d.kind).toBe('virtual'); // netdevsim hangs off its own bus, not PCI
      expect([val(d.attributes, 'sriov'), val(d.attributes, 'sriovVfs')]).toEqual(oracle.vfinfo_list?.length ? [true, oracle.vfinfo_list.length] : [false, undefined]);
    }
    expect(ports.some((d) => val(d.attributes, 'sriovVfs') === 3)).toBe(true);
  });

  it.skipIf(!canUseRxe())(`a soft-RoCE device over a dummy netdev, cross-checked with rdma -j${canUseRxe() ? '' : ` (${needsQemuLane('rdma_rxe')})`}`, () => {
    const { host, netdev, rxe } = rxeOverDummy('rxd', cleanups);
    const inv = buildInventory(collectSnapshot(host, { sysfsRoot: '/sys' }, ALL), ALL);
    const d = inv.devices.find((x) => x.ifName === netdev)!;
    const link = (JSON.parse(tool('rdma', ['-j', 'link', 'show', `${rxe}/1`])) as { state: string; netdev: string }[])[0]!;
    expect(link.netdev).toBe(netdev);
    expect(d).toMatchObject({ kind: 'virtual', rdmaDevice: rxe });
    expect([val(d.attributes, 'rdma'), val(d.attributes, 'rdmaDevice'), val(d.attributes, 'rdmaPortState'), val(d.attributes, 'rdmaLinkLayer')])
      .toEqual([true, rxe, link.state.toLowerCase(), 'ethernet']);
    const verbs = (JSON.parse(tool('rdma', ['-j', 'dev', 'show', rxe])) as { ifname: string }[])[0]!;
    expect(verbs.ifname).toBe(rxe);
    expect(d.charDevices.some((c) => /^\/dev\/infiniband\/uverbs\d+$/.test(c))).toBe(true);
    expect(inv.rdmaNetnsMode).toMatch(/^(shared|exclusive)$/);
  });
});
