/**
 * The host-side reads Prepare needs, bound to the host namespace and the
 * sysfs root: a device's snapshot and the character devices of an RDMA
 * device (with their numbers, for CDI device nodes).
 */
import type { Device } from '../inventory/model.ts';
import type { NetworkConfig } from '../config/claim-config/types.ts';
import { readIbDevice, rdmaCmCharDevice } from '../kernel/sysfs/infiniband.ts';
import type { RdmaCharDevice } from '../kernel/sysfs/sysfs-types.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { snapshotHost } from './plan/host-snapshot.ts';
import type { CharDevice, HostSnapshot } from './plan/plan-types.ts';

export interface HostReads {
  snapshot(device: Device, config: NetworkConfig): HostSnapshot;
  charDevices(rdmaDevice: string): (CharDevice & { readonly kind: string })[];
}

export function hostReads(h: NetnsHandle, sysfsRoot: string): HostReads {
  return {
    snapshot(device, config) {
      if (device.ifIndex === undefined) throw new Error(`device ${device.name} has no netdev`);
      return snapshotHost(h, device.ifIndex, { sysctlKeys: Object.keys(config.interface?.sysctls ?? {}) });
    },
    charDevices(rdmaDevice) {
      const cm = rdmaCmCharDevice(sysfsRoot);
      return [...readIbDevice(sysfsRoot, rdmaDevice).charDevices, ...(cm === undefined ? [] : [cm])].flatMap(withNumbers);
    },
  };
}

/** Only char devices whose numbers sysfs gave: a device node needs them. */
const withNumbers = (c: RdmaCharDevice): (CharDevice & { readonly kind: string })[] =>
  c.major === undefined || c.minor === undefined ? [] : [{ path: c.path, type: 'c', major: c.major, minor: c.minor, kind: c.kind }];
