/**
 * PCI addresses (domain:bus:device.function, "BDF") and the PCIe root complex
 * they sit under — the `resource.kubernetes.io/pcieRoot` standard attribute,
 * derived the same way as k8s.io/dynamic-resource-allocation/deviceattribute
 * `GetPCIeRootAttributeByPCIBusID`: resolve `/sys/bus/pci/devices/<BDF>` to
 * `/sys/devices/pciDDDD:BB/…/<BDF>` and take the first component.
 */
import { sep } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import type { PciAddress } from '../../common/ids.ts';

/** The extended BDF as sysfs writes it: `0000:3b:00.0` (lower-case hex, 4-digit domain). */
export const PCI_ADDRESS_RE = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** A root complex directory under `/sys/devices`: `pci0000:00`. */
export const PCIE_ROOT_RE = /^pci[0-9a-f]{4}:[0-9a-f]{2}$/;

export const isPciAddress = (s: string): s is PciAddress => PCI_ADDRESS_RE.test(s);

/** Validates and brands a BDF; throws ConfigError for anything else (upper case included). */
export function pciAddress(s: string): PciAddress {
  if (!isPciAddress(s)) {
    throw new ConfigError(`invalid PCI address ${JSON.stringify(s)}: expected dddd:bb:dd.f in lower-case hex`, {
      context: { address: s },
    });
  }
  return s;
}

/**
 * The root complex of a PCI function from the resolved path of its sysfs
 * directory: `<root>/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0` → `pci0000:3a`.
 * `realRoot` is the resolved sysfs root. Undefined when the path is not under
 * `<root>/devices/pciDDDD:BB/` or does not end with `address` (a platform
 * device, a virtual device, or a link that points somewhere unexpected).
 */
export function pcieRootFromPath(realRoot: string, devicePath: string, address: PciAddress): string | undefined {
  const prefix = (realRoot.endsWith(sep) ? realRoot : realRoot + sep) + 'devices' + sep;
  if (!devicePath.startsWith(prefix)) return undefined;
  const parts = devicePath.slice(prefix.length).split(sep);
  if (parts.length < 2 || parts[parts.length - 1] !== address) return undefined;
  const first = parts[0];
  return PCIE_ROOT_RE.test(first) ? first : undefined;
}
