import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pciAddressOfBusDevice } from './bus-device.ts';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

describe('pciAddressOfBusDevice', () => {
  it('finds the PCI function above a virtio device and takes pci parents as they are', () => {
    dir = mkdtempSync(join(tmpdir(), 'nc-sysfs-'));
    mkdirSync(join(dir, 'devices/pci0000:00/0000:00:03.0/virtio2'), { recursive: true });
    mkdirSync(join(dir, 'bus/virtio/devices'), { recursive: true });
    symlinkSync('../../../devices/pci0000:00/0000:00:03.0/virtio2', join(dir, 'bus/virtio/devices/virtio2'));
    expect(pciAddressOfBusDevice(dir, 'virtio', 'virtio2')).toBe('0000:00:03.0');
    expect(pciAddressOfBusDevice(dir, 'pci', '0000:3b:00.1')).toBe('0000:3b:00.1');
    expect(pciAddressOfBusDevice(dir, 'pci', 'bogus')).toBeUndefined();
    expect(pciAddressOfBusDevice(dir, 'virtio', 'virtio9')).toBeUndefined();
    expect(pciAddressOfBusDevice(dir, '../etc', 'x')).toBeUndefined();
    // A USB NIC is not the netdev of the USB controller's PCI function.
    mkdirSync(join(dir, 'devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0'), { recursive: true });
    mkdirSync(join(dir, 'bus/usb/devices'), { recursive: true });
    symlinkSync('../../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0', join(dir, 'bus/usb/devices/1-1:1.0'));
    expect(pciAddressOfBusDevice(dir, 'usb', '1-1:1.0')).toBeUndefined();
  });

  it.skipIf(!existsSync('/sys/bus/virtio/devices/virtio2'))('resolves this machine\'s virtio NIC to its PCI function (read-only)', () => {
    const real = realpathSync('/sys/bus/virtio/devices/virtio2');
    const bdf = real.split('/').reverse().find((p) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(p));
    expect(pciAddressOfBusDevice('/sys', 'virtio', 'virtio2')).toBe(bdf);
  });
});
