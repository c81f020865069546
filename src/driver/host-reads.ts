/**
 * The host-side reads Prepare needs, bound to the host namespace and the
 * sysfs root: a device's snapshot, the character devices of an RDMA device
 * (with their numbers, for CDI device nodes), and whether /proc/sys can be
 * written here.
 */
import type { Device } from '../inventory/model.ts';
import type { NetworkConfig } from '../config/claim-config/types.ts';
import { linkGetByName } from '../kernel/netlink/route/link-ops.ts';
import { readIbDevice, rdmaCmCharDevice } from '../kernel/sysfs/infiniband.ts';
import { readPciFunction } from '../kernel/sysfs/pci.ts';
import type { RdmaCharDevice } from '../kernel/sysfs/sysfs-types.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import { netconfSysctlsGet, procSysNetWritable } from '../kernel/sysctl/netconf-sysctl.ts';
import type { SysctlAccess } from './prepare-claim.ts';
import { snapshotHost } from './plan/host-snapshot.ts';
import type { CharDevice, HostSnapshot } from './plan/plan-types.ts';

export interface HostReads {
  snapshot(device: Device, config: NetworkConfig): HostSnapshot;
  charDevices(rdmaDevice: string): (CharDevice & { readonly kind: string })[];
  readonly sysctls: SysctlAccess;
}

export function hostReads(h: NetnsHandle, sysfsRoot: string): HostReads {
  return {
    snapshot(device, config) {
      if (device.ifIndex === undefined) throw new Error(`device ${device.name} has no netdev`);
      const snap = snapshotHost(h, device.ifIndex, { sysctlKeys: Object.keys(config.interface?.sysctls ?? {}) });
      const pfMtu = device.kind === 'vf' && device.pciAddress !== undefined ? physfnMtu(h, sysfsRoot, device.pciAddress) : undefined;
      return pfMtu === undefined ? snap : { ...snap, pfMtu };
    },
    charDevices(rdmaDevice) {
      const cm = rdmaCmCharDevice(sysfsRoot);
      return [...readIbDevice(sysfsRoot, rdmaDevice).charDevices, ...(cm === undefined ? [] : [cm])].flatMap(withNumbers);
    },
    sysctls: {
      procWritable: procSysNetWritable,
      hostDefaults: (keys) => (keys.length === 0 ? {} : netconfSysctlsGet(h, 'default', keys)),
    },
  };
}

/** The MTU of a VF's PF netdev (in the host namespace), when sysfs and netlink can tell. */
function physfnMtu(h: NetnsHandle, sysfsRoot: string, vf: string): number | undefined {
  try {
    const pf = readPciFunction(sysfsRoot, vf, { names: false }).physfn;
    const pfNetdev = pf === undefined ? undefined : readPciFunction(sysfsRoot, pf.address, { names: false }).netdevs[0];
    return pfNetdev === undefined ? undefined : linkGetByName(h, pfNetdev).mtu;
  } catch {
    return undefined; // the PF is elsewhere (another namespace) or gone: nothing to compare with
  }
}

/** Only char devices whose numbers sysfs gave: a device node needs them. */
const withNumbers = (c: RdmaCharDevice): (CharDevice & { readonly kind: string })[] =>
  c.major === undefined || c.minor === undefined ? [] : [{ path: c.path, type: 'c', major: c.major, minor: c.minor, kind: c.kind }];
