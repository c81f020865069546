import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuNodes, parseCpuList, pciLocalNumaNodes } from './numa.ts';

let root: string | undefined;
afterEach(() => { if (root) rmSync(root, { recursive: true, force: true }); });

function tree(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'nc-numa-'));
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), `${v}\n`);
  }
  return root;
}

/**
 * A GB200-like compute tray, synthesized (no capture at hand): two Grace
 * CPUs as nodes 0 and 1 (72 cores each), the GPUs' memory as CPU-less nodes
 * 2–9 (NVIDIA's Grace Hopper / GB200 tuning guides: HBM appears as NUMA
 * nodes without CPUs). PCI functions per drivers/pci/pci-sysfs.c
 * pci_dev_show_local_cpu: `local_cpulist` is the CPUs of the function's
 * node, or every online CPU when `numa_node` is -1.
 */
const GB200_LIKE = {
  'devices/system/node/node0/cpulist': '0-71', 'devices/system/node/node1/cpulist': '72-143',
  ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`devices/system/node/node${i + 2}/cpulist`, ''])),
  // A ConnectX-7 on the first Grace: its node, its node's CPUs.
  'bus/pci/devices/0000:01:00.0/numa_node': '0', 'bus/pci/devices/0000:01:00.0/local_cpulist': '0-71',
  // A function the firmware gave no proximity (_PXM): node -1, every online CPU.
  'bus/pci/devices/0002:01:00.0/numa_node': '-1', 'bus/pci/devices/0002:01:00.0/local_cpulist': '0-143',
};

describe('NUMA locality of PCI functions', () => {
  it('one node for a function with a node; every node with CPUs for one with none (numa_node -1); CPU-less nodes never', () => {
    const r = tree(GB200_LIKE);
    const cpus = cpuNodes(r);
    expect(cpus.size).toBe(144);
    expect(pciLocalNumaNodes(r, '0000:01:00.0', cpus)).toEqual([0]);
    expect(pciLocalNumaNodes(r, '0002:01:00.0', cpus)).toEqual([0, 1]);
    expect(pciLocalNumaNodes(r, '0003:00:00.0', cpus)).toBeUndefined(); // not there
    expect(pciLocalNumaNodes(r, '../x', cpus)).toBeUndefined();
  });

  it('parses cpulists as the kernel prints them (bitmap_print_to_pagebuf list form) and refuses anything else', () => {
    expect(parseCpuList('0-3,8,10-11')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('')).toEqual([]);
    for (const bad of ['3-1', 'a', '0-', '1,,2', '0-9000']) expect(parseCpuList(bad)).toBeUndefined();
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 8191 }), { maxLength: 50 }), (cpus) => {
      const sorted = [...cpus].sort((a, b) => a - b);
      expect(parseCpuList(sorted.join(','))).toEqual(sorted);
    }));
  });
});
