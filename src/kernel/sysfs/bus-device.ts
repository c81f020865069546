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
