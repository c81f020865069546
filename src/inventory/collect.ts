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
import { ethtoolLinkModesGet } from '../kernel/netlink/genl/ethtool-ops.ts';
import type { EthtoolLinkModes } from '../kernel/netlink/genl/ethtool-types.ts';
import { rdmaNetnsModeGet, rdmaPortList } from '../kernel/netlink/rdma/rdma-ops.ts';
import type { RdmaNetnsMode, RdmaPort } from '../kernel/netlink/rdma/rdma-types.ts';
import { addrList } from '../kernel/netlink/route/addr-ops.ts';
import { linkList } from '../kernel/netlink/route/link-ops.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import { routeList } from '../kernel/netlink/route/route-ops.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { pciAddressOfBusDevice } from '../kernel/sysfs/bus-device.ts';
import { listIbDevices, rdmaCmPresent } from '../kernel/sysfs/infiniband.ts';
import { listPciFunctions, readPciFunction } from '../kernel/sysfs/pci.ts';
import type { PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import { linkExclusions } from './exclusions.ts';
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
  const { linkPci, pci, ib, rdmaCm } = sysfsFacts(c.sysfsRoot, links);
  const { ports, mode } = rdmaFacts(h);
  const candidates = publishable(links, defaultRoutes, o);
  const ethtool = new Map<number, EthtoolLinkModes>();
  const ebpf = new Map<number, AttachedPrograms>();
  if (c.details ?? true) {
    for (const l of candidates) {
      const modes = optional(() => ethtoolLinkModesGet(h, l.index));
      if (modes) ethtool.set(l.index, modes);
      const progs = optional(() => ebpfAttachedList(h, l.index, l));
      if (progs) ebpf.set(l.index, progs);
    }
  }
  return {
    links, addrs, defaultRoutes, linkPci, pci, ib, rdmaPorts: ports, rdmaCm, ethtool, ebpf,
    ...(mode ? { rdmaNetnsMode: mode } : {}),
  };
}

/**
 * The sysfs part of a snapshot: network-class PCI functions, the function
 * behind each link (from the parent device netlink reports, so it works for
 * any namespace), RDMA devices and their functions.
 */
export function sysfsFacts(root: string, links: readonly Link[]): Pick<InventorySnapshot, 'linkPci' | 'pci' | 'ib' | 'rdmaCm'> {
  const pci = new Map<string, PciFunction>(listPciFunctions(root, { classPrefix: '02' }).map((f) => [f.address, f]));
  const add = (addr: string): void => {
    if (pci.has(addr)) return;
    const f = optional(() => readPciFunction(root, addr));
    if (f) pci.set(f.address, f);
  };
  const linkPci = new Map<number, string>();
  for (const l of links) {
    const addr = l.parentDevBusName && l.parentDevName ? pciAddressOfBusDevice(root, l.parentDevBusName, l.parentDevName) : undefined;
    if (addr === undefined) continue;
    linkPci.set(l.index, addr);
    add(addr);
  }
  const ib = listIbDevices(root);
  for (const d of ib) if (d.pciAddress !== undefined) add(d.pciAddress);
  return { linkPci, pci, ib, rdmaCm: rdmaCmPresent(root) };
}

/** Links not excluded by name, kind or route: only these get ethtool and eBPF queries. */
function publishable(links: readonly Link[], defaultRoutes: InventorySnapshot['defaultRoutes'], o: InventoryOptions): Link[] {
  const ex = linkExclusions(links, defaultRoutes, o);
  return links.filter((l) => !ex.has(l.index));
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
