/**
 * The NUMA nodes a PCI function is local to, from sysfs: its
 * `bus/pci/devices/<addr>/local_cpulist` mapped to nodes through
 * `devices/system/node/nodeN/cpulist`, with its `numa_node`.
 *
 * What the kernel prints there (drivers/pci/pci-sysfs.c
 * pci_dev_show_local_cpu, CONFIG_NUMA): the CPUs of the function's node, or
 * every online CPU when its node is unknown (numa_node -1). So a function
 * with a node is local to that one node (a scalar), and one the firmware
 * placed nowhere (no _PXM) spans every node with CPUs: the list says
 * "local to all of these" where the scalar could say nothing.
 */
import { join } from 'node:path';
import { isPlainName, listDir, readAttr, readIntAttr } from './sysfs-files.ts';

/** Bound on one cpulist (CPUs a host can have: NR_CPUS is at most 8192). */
const MAX_CPU = 8191;

/** `0-3,8,10-11` → the CPU numbers; undefined when malformed or past MAX_CPU. */
export function parseCpuList(s: string): number[] | undefined {
  const out: number[] = [];
  if (s.trim() === '') return out;
  for (const part of s.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > MAX_CPU) return undefined;
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** CPU → its node, from every `devices/system/node/nodeN/cpulist` (CPU-less nodes, e.g. a GPU's memory, have none). */
export function cpuNodes(root: string): Map<number, number> {
  const out = new Map<number, number>();
  const dir = join(root, 'devices', 'system', 'node');
  for (const entry of listDir(dir)) {
    const m = /^node(\d+)$/.exec(entry);
    if (!m) continue;
    for (const cpu of parseCpuList(readAttr(join(dir, entry, 'cpulist')) ?? '') ?? []) out.set(cpu, Number(m[1]));
  }
  return out;
}

/**
 * The nodes PCI function `address` is local to, ascending: its `numa_node`
 * (when ≥ 0) and the nodes of the CPUs in its `local_cpulist`. Undefined
 * when sysfs says nothing usable.
 */
export function pciLocalNumaNodes(root: string, address: string, cpus: ReadonlyMap<number, number>): number[] | undefined {
  if (!isPlainName(address)) return undefined;
  const dev = join(root, 'bus', 'pci', 'devices', address);
  const nodes = new Set<number>();
  const own = readIntAttr(join(dev, 'numa_node'));
  if (own !== undefined && own >= 0) nodes.add(own);
  for (const cpu of parseCpuList(readAttr(join(dev, 'local_cpulist')) ?? '') ?? []) {
    const n = cpus.get(cpu);
    if (n !== undefined) nodes.add(n);
  }
  return nodes.size === 0 ? undefined : [...nodes].sort((a, b) => a - b);
}
