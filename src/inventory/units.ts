/**
 * Units: the objects that must be published whole or not at all. A PCI
 * function (a virtio NIC's function included), every netdev whose parent
 * device it is, and every RDMA device on it, joined with the netdevs RDMA
 * netlink binds their ports to; a Hyper-V netvsc NIC with its enslaved VF
 * (and that VF's function and RDMA device); a failover master with its
 * slaves. A virtual netdev is a unit of its own (with a soft-RoCE device on
 * it). Object keys: `netdev:<ifindex>`, `pci:<address>`, `rdma:<name>`,
 * `vmbus:<guid>`.
 */
import type { InventorySnapshot } from './model.ts';

export type ObjectKey = `netdev:${number}` | `pci:${string}` | `rdma:${string}` | `vmbus:${string}`;

export const netKey = (index: number): ObjectKey => `netdev:${index}`;
export const pciKey = (address: string): ObjectKey => `pci:${address}`;
export const rdmaKey = (name: string): ObjectKey => `rdma:${name}`;
export const vmbusKey = (id: string): ObjectKey => `vmbus:${id}`;

export interface Unit {
  /** Smallest key of the unit: a stable id, whatever order the kernel listed things in. */
  readonly id: ObjectKey;
  readonly netdevs: readonly number[];
  readonly pci: readonly string[];
  readonly rdma: readonly string[];
  readonly vmbus: readonly string[];
}

/** Partitions every object of the snapshot into units. */
export function buildUnits(s: InventorySnapshot): Unit[] {
  const parent = new Map<ObjectKey, ObjectKey>();
  const find = (k: ObjectKey): ObjectKey => {
    if (!parent.has(k)) parent.set(k, k);
    let root = k;
    while (parent.get(root) !== root) root = parent.get(root)!;
    for (let x = k; x !== root;) { const next = parent.get(x)!; parent.set(x, root); x = next; }
    return root;
  };
  const union = (a: ObjectKey, b: ObjectKey): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra < rb) parent.set(rb, ra);
    else if (rb < ra) parent.set(ra, rb);
  };
  const byIndex = new Map(s.links.map((l) => [l.index as number, l]));
  for (const f of s.pci.keys()) find(pciKey(f));
  for (const l of s.links) {
    const k = netKey(l.index);
    find(k);
    const addr = s.linkPci.get(l.index);
    if (addr !== undefined) union(k, pciKey(addr));
    const vm = s.linkVmbus?.get(l.index);
    if (vm !== undefined) union(k, vmbusKey(vm));
    // A slave of a hardware master (netvsc's VF, a failover slave) belongs with it; a bond's or bridge's does not.
    const master = l.master !== undefined ? byIndex.get(l.master) : undefined;
    if (master && master.kind === undefined && (s.linkPci.has(master.index) || s.linkVmbus?.has(master.index))) union(k, netKey(master.index));
  }
  for (const ib of s.ib) {
    find(rdmaKey(ib.name));
    if (ib.pciAddress !== undefined) union(rdmaKey(ib.name), pciKey(ib.pciAddress));
  }
  for (const p of s.rdmaPorts) {
    if (p.netdevIndex !== undefined && byIndex.has(p.netdevIndex) && s.ib.some((d) => d.name === p.devName)) union(rdmaKey(p.devName), netKey(p.netdevIndex));
  }
  const groups = new Map<ObjectKey, { netdevs: number[]; pci: string[]; rdma: string[]; vmbus: string[] }>();
  for (const k of parent.keys()) {
    const root = find(k);
    const g = groups.get(root) ?? groups.set(root, { netdevs: [], pci: [], rdma: [], vmbus: [] }).get(root)!;
    const [type, ...rest] = k.split(':');
    const v = rest.join(':');
    if (type === 'netdev') g.netdevs.push(Number(v));
    else if (type === 'pci') g.pci.push(v);
    else if (type === 'rdma') g.rdma.push(v);
    else g.vmbus.push(v);
  }
  return [...groups.entries()].map(([id, g]) => ({
    id, netdevs: g.netdevs.sort((a, b) => a - b), pci: g.pci.sort(), rdma: g.rdma.sort(), vmbus: g.vmbus.sort(),
  })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
