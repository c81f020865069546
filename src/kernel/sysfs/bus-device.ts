/**
 * The PCI function behind a netdev's parent device, from what netlink says
 * about the parent (IFLA_PARENT_DEV_NAME / _BUS_NAME). Unlike
 * /sys/class/net, which shows only the namespace that mounted sysfs, this
 * works for a netdev in any namespace: `/sys/bus/<bus>/devices/<name>` is
 * global. A virtio NIC's parent is `virtio2` on bus `virtio`, whose sysfs
 * directory sits below its PCI function.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { PciAddress } from '../../common/ids.ts';

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/**
 * The PCI function of `/sys/bus/<bus>/devices/<name>`: the device itself on
 * bus `pci`, or its immediate parent (a virtio device sits right below its
 * PCI function). Deeper descendants — a USB NIC below a USB controller — are
 * not that function's netdev, so they give undefined.
 */
export function pciAddressOfBusDevice(root: string, bus: string, name: string): PciAddress | undefined {
  if (bus === 'pci') return BDF.test(name) ? (name as PciAddress) : undefined;
  if (!/^[\w.:-]+$/.test(bus) || !/^[\w.:-]+$/.test(name)) return undefined;
  let real: string;
  try {
    real = realpathSync(join(root, 'bus', bus, 'devices', name));
  } catch {
    return undefined;
  }
  const parts = real.split('/');
  const parent = parts[parts.length - 2];
  return parent !== undefined && BDF.test(parent) ? (parent as PciAddress) : undefined;
}

/**
 * What a netdev's parent device is, as far as the inventory's ownership model
 * goes: a PCI function (bus `pci`, or a virtio device right below one), a
 * Hyper-V VMBus device (netvsc: no PCI ancestor at all), or a shape the model
 * does not know, with the reason (virtio-mmio, auxiliary sub-functions, USB,
 * platform devices, a dangling link).
 */
export type BusParent =
  | { readonly kind: 'pci'; readonly address: PciAddress }
  | { readonly kind: 'vmbus'; readonly id: string }
  /** netdevsim, the kernel's test device: no hardware behind it, so the inventory treats its ports as virtual links. */
  | { readonly kind: 'test' }
  | { readonly kind: 'unknown'; readonly problem: string };

const VMBUS_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function resolveBusParent(root: string, bus: string, name: string): BusParent {
  const where = `${bus}/${name}`;
  if (!/^[\w.:-]+$/.test(bus) || !/^[\w.:-]+$/.test(name)) return { kind: 'unknown', problem: `parent device ${JSON.stringify(where)} is not a sysfs name` };
  if (bus === 'pci') {
    return BDF.test(name) ? { kind: 'pci', address: name as PciAddress } : { kind: 'unknown', problem: `PCI parent ${name} is not a PCI address` };
  }
  if (bus === 'vmbus') {
    return VMBUS_ID.test(name) ? { kind: 'vmbus', id: name.toLowerCase() } : { kind: 'unknown', problem: `VMBus parent ${name} is not a device GUID` };
  }
  if (bus === 'netdevsim') return { kind: 'test' };
  if (bus === 'virtio') {
    const addr = pciAddressOfBusDevice(root, bus, name);
    if (addr !== undefined) return { kind: 'pci', address: addr };
    return { kind: 'unknown', problem: `virtio device ${name} has no PCI function above it (${join(root, 'bus', bus, 'devices', name)}: virtio-mmio, or a dangling link)` };
  }
  return { kind: 'unknown', problem: `parent ${where} is on a bus the inventory does not model (${bus === 'auxiliary' ? 'a sub-function' : 'not pci, virtio or vmbus'})` };
}
