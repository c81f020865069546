/**
 * Reads an inventory snapshot from the kernel: rtnetlink (links, addresses,
 * default routes) in "the host" namespace, PCI and RDMA facts from sysfs,
 * RDMA netlink (port ↔ netdev, netns mode), and — for the interfaces that can
 * be published — ethtool link modes and attached eBPF programs. The only
 * inventory code that does I/O; everything after it is pure.
 */
import { isDriverError } from '../common/errors.ts';
import { ebpfAttachedList } from '../kernel/bpf/ebpf-attached.ts';
import type { AttachedPrograms } from '../kernel/bpf/ebpf-types.ts';
import { ethtoolFeaturesGet, ethtoolLinkModesGet } from '../kernel/netlink/genl/ethtool-ops.ts';
import type { EthtoolLinkModes } from '../kernel/netlink/genl/ethtool-types.ts';
import { rdmaNetnsModeGet, rdmaPortList } from '../kernel/netlink/rdma/rdma-ops.ts';
import type { RdmaNetnsMode, RdmaPort } from '../kernel/netlink/rdma/rdma-types.ts';
import { addrList } from '../kernel/netlink/route/addr-ops.ts';
import { linkList } from '../kernel/netlink/route/link-ops.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import { routeList } from '../kernel/netlink/route/route-ops.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { resolveBusParent } from '../kernel/sysfs/bus-device.ts';
import { listIbDevices, rdmaCmPresent } from '../kernel/sysfs/infiniband.ts';
import { listPciFunctions, readPciFunction } from '../kernel/sysfs/pci.ts';
import { numaNodeCount } from '../kernel/sysfs/sysfs-files.ts';
import { cpuNodes, pciLocalNumaNodes } from '../kernel/sysfs/numa.ts';
import type { PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import { IMMOVABLE_KINDS, linkCauses } from './exclusions.ts';
import type { InventorySnapshot } from './model.ts';
import type { InventoryOptions } from './options.ts';

export interface CollectOptions {
  /** Root of sysfs (default `/sys`; a fixture tree in tests). */
  readonly sysfsRoot: string;
  /** Query ethtool and eBPF state of publishable interfaces (default true). */
  readonly details?: boolean;
}

export function collectSnapshot(h: NetnsHandle, c: CollectOptions, o: InventoryOptions): InventorySnapshot {
  const links = linkList(h, { vf: true });
  const addrs = addrList(h);
  const defaultRoutes = routeList(h, { table: 254 }).filter((r) => r.dst === 'default');
  const sysfs = sysfsFacts(c.sysfsRoot, links);
  const { ports, mode } = rdmaFacts(h);
  const candidates = publishable({ links, addrs, defaultRoutes, ...sysfs }, o);
  // Ask the kernel about the candidates, and about the kinds we would otherwise only guess are immovable.
  const netnsLocal = netnsLocalLinks(h, links, [...candidates, ...links.filter((l) => l.kind !== undefined && IMMOVABLE_KINDS.has(l.kind))]);
  const ethtool = new Map<number, EthtoolLinkModes>();
  const ebpf = new Map<number, AttachedPrograms>();
  if (c.details ?? true) {
    for (const l of candidates) {
      if (netnsLocal.has(l.index)) continue;
      const modes = optional(() => ethtoolLinkModesGet(h, l.index));
      if (modes) ethtool.set(l.index, modes);
      const progs = optional(() => ebpfAttachedList(h, l.index, l));
      if (progs) ebpf.set(l.index, progs);
    }
  }
  return {
    links, addrs, defaultRoutes, ...sysfs, rdmaPorts: ports, ethtool, ebpf, netnsLocal,
    ...(mode ? { rdmaNetnsMode: mode } : {}),
  };
}

/**
 * Links the kernel will not move, on kernels that do not say so in the link
 * itself: up to 6.11 ethtool reports the fixed feature `netns-local`; 6.15+
 * sends IFLA_NETNS_IMMUTABLE with every link (then nothing is asked here).
 * 6.12–6.14 report neither; exclusions.ts falls back to the kinds known to
 * be immovable.
 */
function netnsLocalLinks(h: NetnsHandle, links: readonly Link[], candidates: readonly Link[]): Set<number> {
  const out = new Set<number>();
  if (links.some((l) => l.netnsImmutable !== undefined)) return out;
  for (const l of candidates) {
    const f = optional(() => ethtoolFeaturesGet(h, l.index));
    if (f?.active['netns-local'] === true) out.add(l.index);
  }
  return out;
}

/**
 * The sysfs part of a snapshot: network-class PCI functions, the bus device
 * behind each link (from the parent device netlink reports, so it works for
 * any namespace) — a PCI function, a VMBus device, or one the model does not
 * know — RDMA devices and their functions.
 */
export function sysfsFacts(root: string, links: readonly Link[]): Pick<InventorySnapshot, 'linkPci' | 'linkVmbus' | 'linkUnknown' | 'pci' | 'ib' | 'rdmaCm' | 'numaNodes' | 'pciNumaNodes'> {
  const pci = new Map<string, PciFunction>(listPciFunctions(root, { classPrefix: '02' }).map((f) => [f.address, f]));
  const add = (addr: string): boolean => {
    if (pci.has(addr)) return true;
    const f = optional(() => readPciFunction(root, addr));
    if (f) pci.set(f.address, f);
    return f !== undefined;
  };
  const linkPci = new Map<number, string>();
  const linkVmbus = new Map<number, string>();
  const linkUnknown = new Map<number, string>();
  for (const l of links) {
    if (l.parentDevBusName === undefined || l.parentDevName === undefined) continue;
    const p = resolveBusParent(root, l.parentDevBusName, l.parentDevName);
    if (p.kind === 'pci' && add(p.address)) linkPci.set(l.index, p.address);
    else if (p.kind === 'pci') linkUnknown.set(l.index, `PCI function ${p.address} (parent of ${l.name}) is not in ${root}/bus/pci/devices`);
    else if (p.kind === 'vmbus') linkVmbus.set(l.index, p.id);
    else if (p.kind === 'test') continue;
    else linkUnknown.set(l.index, `${l.name}: ${p.problem}`);
  }
  const ib = listIbDevices(root);
  for (const d of ib) if (d.pciAddress !== undefined) add(d.pciAddress);
  const numaNodes = numaNodeCount(root);
  // Functions local to several NUMA nodes (kernel/sysfs/numa.ts): only on hosts with several.
  const pciNumaNodes = new Map<string, number[]>();
  if (numaNodes !== undefined && numaNodes > 1) {
    const cpus = cpuNodes(root);
    for (const addr of pci.keys()) {
      const nodes = pciLocalNumaNodes(root, addr, cpus);
      if (nodes !== undefined && nodes.length > 1) pciNumaNodes.set(addr, nodes);
    }
  }
  return {
    linkPci, linkVmbus, linkUnknown, pci, ib, rdmaCm: rdmaCmPresent(root), ...(numaNodes !== undefined ? { numaNodes } : {}),
    ...(pciNumaNodes.size > 0 ? { pciNumaNodes } : {}),
  };
}

/** Links with no direct cause to leave them out: only these get ethtool and eBPF queries. */
function publishable(s: Pick<InventorySnapshot, 'links' | 'addrs' | 'defaultRoutes' | 'linkPci' | 'linkVmbus' | 'linkUnknown'>, o: InventoryOptions): Link[] {
  const ex = linkCauses(s, o);
  return s.links.filter((l) => !ex.has(l.index));
}

/** RDMA netlink facts; a kernel without the RDMA subsystem has none. */
function rdmaFacts(h: NetnsHandle): { ports: RdmaPort[]; mode?: RdmaNetnsMode } {
  // No NETLINK_RDMA family (EPROTONOSUPPORT on kernels without RDMA): nothing to add.
  const ports = optional(() => rdmaPortList(h));
  if (ports === undefined) return { ports: [] };
  const mode = optional(() => rdmaNetnsModeGet(h));
  return mode ? { ports, mode } : { ports };
}

/** A detail that may legitimately be unavailable (unsupported by the driver, raced with a delete). */
function optional<T>(fn: () => T | undefined): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (isDriverError(err)) return undefined;
    throw err;
  }
}
