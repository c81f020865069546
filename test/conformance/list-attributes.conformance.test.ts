/**
 * List-valued attributes (KEP-5491, --list-attributes) against the real
 * kube-apiserver, started here with the alpha gate DRAListTypeAttributes: a
 * NIC local to several NUMA nodes publishes `resource.kubernetes.io/numaNode`
 * as `ints`, built by the inventory's attribute builder from a sysfs layout
 * (kernel/sysfs/numa.ts); the publisher keeps such slices at 64 devices (the
 * server refuses a 65th). Against the shared control plane, where the gate is
 * off (its default), the same slice is refused: why the flag is opt-in.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix } from './slice-fixtures.ts';
import { deviceAttributes } from '../../src/inventory/attributes/build.ts';
import { cpuNodes, pciLocalNumaNodes } from '../../src/kernel/sysfs/numa.ts';
import type { PciFunction } from '../../src/kernel/sysfs/sysfs-types.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';

const shared = inject('controlPlane');
let cp: ControlPlane;
let sysfs: string;
const NUMA = 'resource.kubernetes.io/numaNode';

beforeAll(async () => {
  cp = await startControlPlane({ featureGates: { DRAListTypeAttributes: true } });
  // Two nodes with CPUs; a function with no proximity (numa_node -1: every online CPU, drivers/pci/pci-sysfs.c).
  sysfs = mkdtempSync(join(tmpdir(), 'nc-list-attrs-'));
  const files: Record<string, string> = {
    'devices/system/node/node0/cpulist': '0-71', 'devices/system/node/node1/cpulist': '72-143',
    'bus/pci/devices/0002:01:00.0/numa_node': '-1', 'bus/pci/devices/0002:01:00.0/local_cpulist': '0-143',
  };
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(join(sysfs, p, '..'), { recursive: true });
    writeFileSync(join(sysfs, p), `${v}\n`);
  }
}, 180_000);

afterAll(async () => {
  await cp?.stop();
  if (sysfs) rmSync(sysfs, { recursive: true, force: true });
});

/** 100 devices; the fourth is the function local to both nodes, its attributes from the inventory's builder. */
function devices(): PublishDevice[] {
  const numaNodes = pciLocalNumaNodes(sysfs, '0002:01:00.0', cpuNodes(sysfs));
  expect(numaNodes).toEqual([0, 1]);
  const pci = { address: '0002:01:00.0', vendor: '15b3', device: '1021', classCode: '020000', driver: 'mlx5_core' } as unknown as PciFunction;
  const { attributes } = deviceAttributes({ kind: 'pci', addrs: [], pci, numaNodes: numaNodes! }, 'netclaim', true);
  expect(attributes[NUMA]).toEqual({ ints: [0, 1] });
  return Array.from({ length: 100 }, (_, i) => ({
    name: `eth${String(i).padStart(3, '0')}`,
    attributes: i === 3 ? attributes : { [NUMA]: { int: i % 2 }, 'netclaim.dev/mtu': { int: 1500 } },
  }));
}

async function run(server: { server: string; token: string; caPem: string }, ds: PublishDevice[]): Promise<{ kube: KubeClient; node: string; p: SlicePublisher }> {
  const kube = new KubeClient({ server: server.server, token: server.token, caPem: server.caPem });
  const node = `list-${suffix()}`;
  await ensureNode(kube, node);
  const p = new SlicePublisher({ kubeConfig: kubeConfigFor(server as never, server.token), nodeName: node, retryMinMs: 50 });
  await p.start();
  p.update(ds);
  return { kube, node, p };
}

describe('list-valued numaNode (--list-attributes, KEP-5491)', () => {
  test('with DRAListTypeAttributes on: stored as ints, and the slices hold 64 devices', async () => {
    const { kube, node, p } = await run(cp, devices());
    try {
      await p.synced();
      const ss = await sliceList(kube, node, 'netclaim.dev');
      expect(ss.map((s) => s.spec.devices.length)).toEqual([64, 36]);
      expect(ss[0]!.spec.devices[3]!.attributes[NUMA]).toEqual({ ints: [0, 1] });
      expect(p.errors).toBe(0);
    } finally {
      await p.close();
      await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
    }
  });

  test('with the gate off (the default): the API server refuses the slice, naming the attribute', async () => {
    const { kube, node, p } = await run(shared, devices());
    try {
      const deadline = Date.now() + 30_000;
      while (p.errors === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(p.lastError?.message).toContain(`attributes[${NUMA}]`);
    } finally {
      await p.close();
      await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
    }
  });
});
