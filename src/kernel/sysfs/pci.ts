/**
 * PCI functions from sysfs: ids and names, class, driver, NUMA node, PCIe
 * root, SR-IOV links, and the netdevs and RDMA devices on top — what
 * `lspci -vmmnnk -D` and `ls /sys/bus/pci/devices/<BDF>/{net,infiniband}`
 * show. Every reader takes the sysfs root (`/sys`, or a fixture tree).
 */
import { join, basename, dirname } from 'node:path';
import { NotFoundError } from '../../common/errors.ts';
import type { PciAddress } from '../../common/ids.ts';
import { isPciAddress, pciAddress, pcieRootFromPath } from './pci-address.ts';
import { pciIds, type PciIdsLookup } from './pci-ids.ts';
import {
  DEFAULT_SYSFS_ROOT,
  isPlainName,
  listDir,
  naturalCompare,
  pathExists,
  readAttr,
  readHexAttr,
  readIntAttr,
  readLinkBase,
  realpathOrUndefined,
} from './sysfs-files.ts';
import type { PciFunction, PciSriov } from './sysfs-types.ts';

export interface PciReadOptions {
  /** Where names come from; `false` leaves them out. Default: the process-wide {@link pciIds}. */
  readonly names?: PciIdsLookup | false;
}

export interface PciListFilter {
  /** Keep functions whose 6-hex-digit class code starts with this (`02`: network, `0207`: InfiniBand). */
  readonly classPrefix?: string;
}

/** Per-scan facts shared by every function of one listing. */
interface ScanContext {
  readonly root: string;
  readonly realRoot: string;
  readonly slots: ReadonlyMap<string, string>;
  readonly names: PciIdsLookup | undefined;
}

const VIRTFN_RE = /^virtfn(\d+)$/;
const VIRTIO_RE = /^virtio\d+$/;

const devicesDir = (root: string): string => join(root, 'bus', 'pci', 'devices');

/**
 * Physical slots: `bus/pci/slots/<name>/address` holds `dddd:bb:dd` (or
 * `dddd:bb` for a whole bus) → slot name.
 */
function readSlots(root: string): Map<string, string> {
  const slots = new Map<string, string>();
  const dir = join(root, 'bus', 'pci', 'slots');
  for (const name of listDir(dir).sort(naturalCompare)) {
    const addr = readAttr(join(dir, name, 'address'));
    if (addr && !slots.has(addr)) slots.set(addr, name);
  }
  return slots;
}

function slotOf(slots: ReadonlyMap<string, string>, address: PciAddress): string | undefined {
  const device = address.slice(0, 10); // dddd:bb:dd
  return slots.get(device) ?? slots.get(address.slice(0, 7));
}

function readSriov(dir: string): PciSriov | undefined {
  const totalVfs = readIntAttr(join(dir, 'sriov_totalvfs'));
  const numVfs = readIntAttr(join(dir, 'sriov_numvfs'));
  const vfs: { index: number; address: PciAddress }[] = [];
  for (const entry of listDir(dir)) {
    const m = VIRTFN_RE.exec(entry);
    const target = m ? readLinkBase(join(dir, entry)) : undefined;
    if (m && target !== undefined && isPciAddress(target)) vfs.push({ index: Number(m[1]), address: target });
  }
  if (totalVfs === undefined && numVfs === undefined && vfs.length === 0) return undefined;
  vfs.sort((a, b) => a.index - b.index);
  return { ...(totalVfs !== undefined && { totalVfs }), numVfs: numVfs ?? vfs.length, vfs };
}

function readPhysfn(root: string, dir: string, address: PciAddress): PciFunction['physfn'] {
  const pf = readLinkBase(join(dir, 'physfn'));
  if (pf === undefined || !isPciAddress(pf)) return undefined;
  const pfDir = join(devicesDir(root), pf);
  for (const entry of listDir(pfDir)) {
    const m = VIRTFN_RE.exec(entry);
    if (m && readLinkBase(join(pfDir, entry)) === address) return { address: pf, vfIndex: Number(m[1]) };
  }
  return { address: pf };
}

/** Netdevs of the function: `net/*`, and `virtioN/net/*` for virtio devices (the netdev hangs off the virtio device). */
function readNetdevs(dir: string): string[] {
  const names = listDir(join(dir, 'net'));
  for (const entry of listDir(dir)) {
    if (VIRTIO_RE.test(entry)) names.push(...listDir(join(dir, entry, 'net')));
  }
  return names;
}

function readFunction(ctx: ScanContext, address: PciAddress): PciFunction {
  const dir = join(devicesDir(ctx.root), address);
  const vendorId = readHexAttr(join(dir, 'vendor'));
  const deviceId = readHexAttr(join(dir, 'device'));
  if (vendorId === undefined || deviceId === undefined) {
    throw new NotFoundError(`PCI function ${address} not found under ${devicesDir(ctx.root)}`, { context: { address } });
  }
  const subsystemVendorId = readHexAttr(join(dir, 'subsystem_vendor'));
  const subsystemDeviceId = readHexAttr(join(dir, 'subsystem_device'));
  const classCode = (readHexAttr(join(dir, 'class')) ?? '').padStart(6, '0');
  const names = ctx.names?.lookup(vendorId, deviceId, subsystemVendorId, subsystemDeviceId) ?? {};
  const driver = readLinkBase(join(dir, 'driver'));
  const numa = readIntAttr(join(dir, 'numa_node'));
  const real = realpathOrUndefined(dir);
  const pcieRoot = real === undefined ? undefined : pcieRootFromPath(ctx.realRoot, real, address);
  const sriov = readSriov(dir);
  const physfn = readPhysfn(ctx.root, dir, address);
  const label = readAttr(join(dir, 'label'));
  // a VF sits in its PF's slot, though its device number differs (E810 VFs: 81:01.x)
  const slot = slotOf(ctx.slots, address) ?? (physfn && slotOf(ctx.slots, physfn.address));
  return {
    address,
    vendorId,
    deviceId,
    ...(subsystemVendorId !== undefined && { subsystemVendorId }),
    ...(subsystemDeviceId !== undefined && { subsystemDeviceId }),
    classCode,
    ...(names.vendorName !== undefined && { vendorName: names.vendorName }),
    ...(names.deviceName !== undefined && { deviceName: names.deviceName }),
    ...(names.subsystemName !== undefined && { subsystemName: names.subsystemName }),
    ...(driver !== undefined && { driver }),
    ...(numa !== undefined && numa >= 0 && { numaNode: numa }),
    ...(pcieRoot !== undefined && { pcieRoot }),
    ...(sriov !== undefined && { sriov }),
    ...(physfn !== undefined && { physfn }),
    netdevs: readNetdevs(dir),
    rdmaDevices: listDir(join(dir, 'infiniband')),
    ...(slot !== undefined && { slot }),
    ...(label !== undefined && label !== '' && { label }),
  };
}

function scanContext(root: string, options: PciReadOptions): ScanContext {
  const realRoot = realpathOrUndefined(root);
  if (realRoot === undefined) throw new NotFoundError(`sysfs root ${root} not found`, { context: { root } });
  const names = options.names === false ? undefined : (options.names ?? pciIds());
  return { root, realRoot, slots: readSlots(root), names };
}

/**
 * One PCI function, from `<root>/bus/pci/devices/<address>`. Throws
 * ConfigError for a malformed address and NotFoundError when the function
 * does not exist; every optional attribute that is missing is left out.
 * Equivalent to: `lspci -vmmnnk -D -s <address>`.
 */
export function readPciFunction(root: string, address: string, options: PciReadOptions = {}): PciFunction {
  const bdf = pciAddress(address);
  const ctx = scanContext(root, options);
  if (!pathExists(join(devicesDir(root), bdf))) {
    throw new NotFoundError(`PCI function ${bdf} not found under ${devicesDir(root)}`, { context: { address: bdf } });
  }
  return readFunction(ctx, bdf);
}

/**
 * Every PCI function, sorted by address, optionally only those of a class.
 * A function that disappears mid-scan (hot-unplug, VFs being destroyed) is
 * skipped. Empty when the tree has no PCI bus.
 * Equivalent to: `lspci -D -d ::<class>`.
 */
export function listPciFunctions(
  root: string = DEFAULT_SYSFS_ROOT,
  filter: PciListFilter = {},
  options: PciReadOptions = {},
): PciFunction[] {
  const ctx = scanContext(root, options);
  const prefix = filter.classPrefix?.toLowerCase().replace(/^0x/, '');
  const out: PciFunction[] = [];
  for (const entry of listDir(devicesDir(root))) {
    if (!isPciAddress(entry)) continue;
    if (prefix !== undefined) {
      const cls = readHexAttr(join(devicesDir(root), entry, 'class'))?.padStart(6, '0');
      if (cls === undefined || !cls.startsWith(prefix)) continue;
    }
    try {
      out.push(readFunction(ctx, entry));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return out;
}

/**
 * The PCI function behind a netdev: the resolved `class/net/<ifname>/device`
 * when it is a PCI function, or its parent when it is a virtio device
 * (`…/0000:00:03.0/virtio2`). Undefined for a netdev without a PCI function
 * (veth, bridge, USB NIC…). Throws NotFoundError when the netdev is not in
 * `class/net` (sysfs shows only the netdevs of the namespace that mounted it).
 * Equivalent to: `basename $(readlink -f /sys/class/net/<ifname>/device)`.
 */
export function pciAddressOfNetdev(root: string, ifname: string): PciAddress | undefined {
  const netdir = join(root, 'class', 'net', ifname);
  if (!isPlainName(ifname) || !pathExists(netdir)) {
    throw new NotFoundError(`netdev ${JSON.stringify(ifname)} not found under ${join(root, 'class', 'net')}`, {
      context: { ifname },
    });
  }
  const device = realpathOrUndefined(join(netdir, 'device'));
  if (device === undefined) return undefined;
  const name = basename(device);
  if (isPciAddress(name)) return name;
  const parent = basename(dirname(device));
  return VIRTIO_RE.test(name) && isPciAddress(parent) ? parent : undefined;
}
