/**
 * Stable device names: DNS labels that survive renames and netns moves where
 * the hardware allows. PCI functions are named by address (`pci-0000-3b-00-0`,
 * the same form DraNet uses, so names carry over); other netdevs by interface
 * name when it is a DNS label, else `net-` + base32 of the name; RDMA devices
 * without PCI by `rdma-` + their name; Hyper-V synthetic NICs by `vmbus-` + their
 * VMBus GUID.
 */
import type { DeviceName } from '../common/ids.ts';
import { isDnsLabel } from './attributes/limits.ts';

export function pciDeviceName(address: string, port?: string): DeviceName {
  const base = `pci-${address.toLowerCase().replace(/[:.]/g, '-')}`;
  return (port === undefined ? base : `${base}-${normalizedSuffix(port)}`) as DeviceName;
}

export function netdevDeviceName(ifName: string): DeviceName {
  return (isDnsLabel(ifName) ? ifName : `net-${base32(ifName)}`) as DeviceName;
}

/** A Hyper-V synthetic NIC, by its VMBus instance GUID (stable across reboots and renames). */
export function vmbusDeviceName(guid: string): DeviceName {
  return `vmbus-${guid.toLowerCase()}` as DeviceName;
}

export function rdmaDeviceName(rdmaName: string): DeviceName {
  const lower = rdmaName.toLowerCase();
  return (isDnsLabel(`rdma-${lower}`) && lower === rdmaName ? `rdma-${lower}` : `rdma-${base32(rdmaName)}`) as DeviceName;
}

function normalizedSuffix(s: string): string {
  const t = s.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  return t === '' ? base32(s) : t;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, unpadded (as DraNet's names use). */
export function base32(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
