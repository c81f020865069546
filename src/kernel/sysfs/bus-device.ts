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

/** The nearest PCI function at or above `/sys/bus/<bus>/devices/<name>`, or undefined. */
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
  for (let i = parts.length - 1; i >= 0; i--) if (BDF.test(parts[i]!)) return parts[i] as PciAddress;
  return undefined;
}
