/**
 * Which cloud this node runs in, from the firmware's DMI strings under
 * `<sysfs>/class/dmi/id/` — no network request, so a node outside any cloud
 * pays a few file reads. The values that identify each cloud, with sources:
 *
 * | cloud | DMI value | source |
 * |---|---|---|
 * | Azure | `chassis_asset_tag` = `7783-7084-3265-9085-8269-3286-77` | canonical/cloud-init tools/ds-identify `is_azure_chassis` (a plain Hyper-V VM has `sys_vendor` `Microsoft Corporation` too, so the vendor alone is not Azure) |
 * | OCI | `chassis_asset_tag` = `OracleCloud.com` | cloud-init tools/ds-identify `dscheck_Oracle` |
 * | AWS | `board_asset_tag` = an instance id `i-…` (Nitro) | docs.aws.amazon.com/AWSEC2/latest/UserGuide/identify_ec2_instances.html |
 * | AWS | `product_uuid` starting `ec2` (HVM; root-only file), `/sys/hypervisor/uuid` starting `ec2` (Xen PV) | the same AWS page; cloud-init ds-identify `ec2_identify_platform` |
 * | AWS | `sys_vendor` or `bios_vendor` = `Amazon EC2` | the SMBIOS manufacturer of Nitro instances (not on AWS's page; a secondary signal) |
 * | GCE | `product_name` = `Google Compute Engine` or `Google` | googleapis/google-cloud-go compute/metadata `systemInfoSuggestsGCE`; cloud-init ds-identify `dscheck_GCE` |
 * | GCE | `product_serial` starting `GoogleCloud-` (root-only file) | cloud-init ds-identify `dscheck_GCE` ("product name is not guaranteed") |
 * | GCE | `sys_vendor` or `bios_vendor` = `Google` | cloud.google.com/compute/docs/instances/detect-compute-engine (`dmidecode -s bios-vendor`) |
 *
 * The asset tags are checked first: they are the most specific.
 */
import { join } from 'node:path';
import { DEFAULT_SYSFS_ROOT, readAttr } from '../../kernel/sysfs/sysfs-files.ts';
import type { CloudName } from './types.ts';

/** The DMI strings read (each undefined when the file is missing or not readable by this user). */
export interface DmiFacts {
  readonly sysVendor?: string;
  readonly productName?: string;
  readonly chassisAssetTag?: string;
  readonly boardAssetTag?: string;
  readonly biosVendor?: string;
  readonly productUuid?: string;
  readonly productSerial?: string;
  /** `/sys/hypervisor/uuid` (Xen guests only). */
  readonly hypervisorUuid?: string;
}

export interface DetectedCloud {
  readonly cloud: CloudName;
  /** The DMI value that gave it away, e.g. `chassis_asset_tag=OracleCloud.com`. */
  readonly because: string;
}

const FILES = {
  sysVendor: 'sys_vendor', productName: 'product_name', chassisAssetTag: 'chassis_asset_tag', boardAssetTag: 'board_asset_tag',
  biosVendor: 'bios_vendor', productUuid: 'product_uuid', productSerial: 'product_serial',
} as const satisfies Record<Exclude<keyof DmiFacts, 'hypervisorUuid'>, string>;

export function readDmi(sysfsRoot: string = DEFAULT_SYSFS_ROOT): DmiFacts {
  const out: Record<string, string> = {};
  for (const [key, file] of Object.entries(FILES)) {
    const v = readAttr(join(sysfsRoot, 'class/dmi/id', file));
    if (v) out[key] = v;
  }
  const hv = readAttr(join(sysfsRoot, 'hypervisor/uuid'));
  if (hv) out['hypervisorUuid'] = hv;
  return out as DmiFacts;
}

const AZURE_CHASSIS = '7783-7084-3265-9085-8269-3286-77';

/** The cloud the DMI strings name, or undefined (not a cloud netclaim reads, or bare metal). */
export function cloudFromDmi(d: DmiFacts): DetectedCloud | undefined {
  const is = (cloud: CloudName, because: string): DetectedCloud => ({ cloud, because });
  if (d.chassisAssetTag === AZURE_CHASSIS) return is('azure', `chassis_asset_tag=${AZURE_CHASSIS}`);
  if (d.chassisAssetTag === 'OracleCloud.com') return is('oci', 'chassis_asset_tag=OracleCloud.com');
  if (d.boardAssetTag !== undefined && /^i-[0-9a-f]{8,17}$/.test(d.boardAssetTag)) return is('aws', `board_asset_tag=${d.boardAssetTag}`);
  if (d.productUuid !== undefined && /^ec2/i.test(d.productUuid)) return is('aws', `product_uuid=${d.productUuid}`);
  if (d.hypervisorUuid !== undefined && /^ec2/.test(d.hypervisorUuid)) return is('aws', `hypervisor uuid=${d.hypervisorUuid}`);
  for (const [file, v] of [['sys_vendor', d.sysVendor], ['bios_vendor', d.biosVendor]] as const) {
    if (v === 'Amazon EC2') return is('aws', `${file}=Amazon EC2`);
  }
  if (d.productName === 'Google Compute Engine' || d.productName === 'Google') return is('gce', `product_name=${d.productName}`);
  if (d.productSerial?.startsWith('GoogleCloud-')) return is('gce', `product_serial=${d.productSerial}`);
  for (const [file, v] of [['sys_vendor', d.sysVendor], ['bios_vendor', d.biosVendor]] as const) {
    if (v === 'Google') return is('gce', `${file}=Google`);
  }
  return undefined;
}

export function detectCloud(sysfsRoot: string = DEFAULT_SYSFS_ROOT): DetectedCloud | undefined {
  return cloudFromDmi(readDmi(sysfsRoot));
}
