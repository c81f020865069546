/**
 * Prepare on devices only the QEMU lane has: a soft-RoCE device (its CDI
 * spec carries the real uverbs and rdma_cm device nodes, and the NCCL/UCX
 * hints name it), and a netdevsim port (ethtool rings and channels are
 * checked against the maximums the driver reports). Skipped on the host with
 * the reason.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../inventory/options.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { ethtool, ethtoolSections, numOrNa } from '../../test/kernel/ethtool-oracle.ts';
import { createNetdevsim, hasNetdevsim } from '../../test/kernel/netdevsim-fixture.ts';
import { createNetns, needsQemuLane, testLibc, tool } from '../../test/kernel/netns-fixture.ts';
import { rxeOverDummy } from '../../test/kernel/rxe-fixture.ts';
import { canUseRxe } from '../../test/kernel/vm-guard.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try { c(); } catch { /* best effort */ }
  }
});

function driverOver(h: NetnsHandle, claim: AllocatedClaim): { driver: ClaimDriver; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nc-lane-driver-'));
  const store = ClaimStore.open(join(dir, 'state'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
  const options = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'lane', claims: { get: () => Promise.resolve(claim) }, store,
    inventory: { current: buildInventory(collectSnapshot(h, { sysfsRoot: '/sys' }, options), options), hold: () => {}, release: () => {} },
    kernel: hostReads(h, '/sys'), cdiDir: join(dir, 'cdi'),
  });
  return { driver, dir };
}

function claimFor(h: NetnsHandle, ifName: string, parameters: unknown): AllocatedClaim {
  const options = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
  const device = buildInventory(collectSnapshot(h, { sysfsRoot: '/sys' }, options), options).devices.find((d) => d.ifName === ifName)!;
  return {
    namespace: 'lane', name: 'c', uid: `1a000000-0000-4000-8000-${String(Date.now() % 1e12).padStart(12, '0')}` as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'p', uid: 'pod-1' }],
    allocation: {
      results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'lane', device: device.name }],
      config: [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters } }],
    },
  };
}

/** `major:minor` of a device node, as stat(1) prints them (hex). */
const statNumbers = (path: string): string => {
  const [maj, min] = tool('stat', ['-c', '%t %T', path]).trim().split(' ');
  return `${parseInt(maj!, 16)}:${parseInt(min!, 16)}`;
};

describe(`prepare on lane-only devices (${testLibc.backend})`, () => {
  it.skipIf(!canUseRxe())(`soft-RoCE: CDI device nodes for uverbs and rdma_cm, NCCL/UCX hints${canUseRxe() ? '' : ` (${needsQemuLane('rdma_rxe')})`}`, async () => {
    const { host, netdev, rxe } = rxeOverDummy('rxd', cleanups);

    const claim = claimFor(host, netdev, { interface: { name: 'roce0' } });
    const { driver, dir } = driverOver(host, claim);
    const res = (await driver.prepare([{ namespace: 'lane', name: 'c', uid: claim.uid }])).get(claim.uid);
    expect(res).toHaveProperty('devices');
    const device = claim.allocation!.results[0]!.device;
    const ids = res !== undefined && 'devices' in res ? res.devices[0]!.cdiDeviceIds : [];
    expect(ids).toEqual([`netclaim.dev/net=${claim.uid}-${device}`]);
    const spec = JSON.parse(readFileSync(join(dir, 'cdi', `netclaim.dev-net_${claim.uid}.json`), 'utf8')) as {
      cdiVersion: string; containerEdits: { env: string[] }; devices: { containerEdits: { deviceNodes?: { path: string; major: number; minor: number; type: string }[] } }[];
    };
    const nodes = spec.devices[0]!.containerEdits.deviceNodes ?? [];
    const uverbs = nodes.find((n) => /^\/dev\/infiniband\/uverbs\d+$/.test(n.path));
    expect(uverbs).toBeDefined();
    expect(`${uverbs!.major}:${uverbs!.minor}`).toBe(statNumbers(uverbs!.path));
    const cm = nodes.find((n) => n.path === '/dev/infiniband/rdma_cm');
    if (cm !== undefined) expect(`${cm.major}:${cm.minor}`).toBe(statNumbers(cm.path));
    expect(nodes.every((n) => n.type === 'c')).toBe(true);
    expect(spec.containerEdits.env).toEqual([`NCCL_IB_HCA==${rxe}`, 'NCCL_SOCKET_IFNAME==roce0', `UCX_NET_DEVICES=${rxe}:1`]);
  });

  it.skipIf(!hasNetdevsim())(`netdevsim: rings and channels within the driver's maximums, names resolved${hasNetdevsim() ? '' : ` (${needsQemuLane('netdevsim')})`}`, async () => {
    const ns = createNetns('nsimp');
    const port = createNetdevsim(ns, { ports: 1 }).netdevs[0]!;
    const rxMax = numOrNa(ethtoolSections(ethtool(ns, '-g', port))['Pre-set maximums']!['RX']);
    const ok = claimFor(ns.handle, port, { ethtool: { rings: { rx: 64 }, features: { gro: false } } });
    const good = (await driverOver(ns.handle, ok).driver.prepare([{ namespace: 'lane', name: 'c', uid: ok.uid }])).get(ok.uid);
    expect(good).toHaveProperty('devices');
    const tooBig = claimFor(ns.handle, port, { ethtool: { rings: { rx: (rxMax ?? 4096) + 1 }, channels: { combined: 10_000 } } });
    const bad = (await driverOver(ns.handle, tooBig).driver.prepare([{ namespace: 'lane', name: 'c', uid: tooBig.uid }])).get(tooBig.uid);
    expect(bad).toEqual({ error: expect.stringMatching(/^PREPARE_DEVICE_CONFLICT: .*ethtool\.rings\.rx.*ethtool\.channels\.combined/) });
  });
});

