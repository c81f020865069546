/**
 * `/sys/class/dmi/id` as each kind of node shows it, written as sysfs-like
 * trees (one file per attribute, newline-terminated, as the kernel's
 * drivers/firmware/dmi-id.c prints them) for the detection in dmi.ts.
 *
 * Sources, per tree:
 * - gce: product_name `Google Compute Engine`, sys_vendor and bios_vendor
 *   `Google` — cloud.google.com/compute/docs/instances/detect-compute-engine;
 *   googleapis/google-cloud-go compute/metadata `systemInfoSuggestsGCE`.
 * - gce-serial: product_name unset, product_serial `GoogleCloud-…` —
 *   canonical/cloud-init tools/ds-identify `dscheck_GCE` ("product name is not
 *   guaranteed", LP #1674861).
 * - aws-nitro: board_asset_tag the instance id — docs.aws.amazon.com/AWSEC2/latest/UserGuide/identify_ec2_instances.html;
 *   sys_vendor/bios_vendor `Amazon EC2`, product_name the instance type
 *   (the SMBIOS strings of Nitro instances).
 * - aws-xen: product_uuid starting `ec2` (upper case on HVM) — the same AWS page, and
 *   cloud-init ds-identify `ec2_identify_platform`; bios_vendor `Xen`.
 * - aws-pv: no DMI at all (paravirtual), `/sys/hypervisor/uuid` starting `ec2` — the
 *   same AWS page ("PV AMIs only") and cloud-init `ec2_identify_platform`.
 * - azure: chassis_asset_tag `7783-7084-3265-9085-8269-3286-77`, sys_vendor
 *   `Microsoft Corporation`, product_name `Virtual Machine` — cloud-init
 *   ds-identify `is_azure_chassis`.
 * - hyperv: the same vendor and product without Azure's asset tag — an
 *   on-premises Hyper-V VM, which is not Azure.
 * - oci: chassis_asset_tag `OracleCloud.com` — cloud-init ds-identify `dscheck_Oracle`.
 * - kvm: this CI machine's kind of VM (QEMU's defaults, hw/smbios): no cloud.
 * - bare: a bare-metal server with vendor strings only: no cloud.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudName } from '../types.ts';

export interface DmiTree {
  readonly name: string;
  readonly files: Readonly<Record<string, string>>;
  /** Extra files under the sysfs root (`hypervisor/uuid`). */
  readonly other?: Readonly<Record<string, string>>;
  readonly expect: CloudName | undefined;
}

export const DMI_TREES: readonly DmiTree[] = [
  {
    name: 'gce', expect: 'gce',
    files: { sys_vendor: 'Google', product_name: 'Google Compute Engine', bios_vendor: 'Google', chassis_asset_tag: '', board_asset_tag: '' },
  },
  { name: 'gce-serial', expect: 'gce', files: { sys_vendor: 'Google', product_serial: 'GoogleCloud-8F1A2B3C4D5E6F708192A3B4C5D6E7F8' } },
  {
    name: 'aws-nitro', expect: 'aws',
    files: { sys_vendor: 'Amazon EC2', product_name: 'p5.48xlarge', bios_vendor: 'Amazon EC2', board_asset_tag: 'i-0af01c0123456789a', chassis_asset_tag: 'Amazon EC2' },
  },
  { name: 'aws-xen', expect: 'aws', files: { sys_vendor: 'Xen', product_name: 'HVM domU', bios_vendor: 'Xen', product_uuid: 'EC2E1916-9099-7CAF-FD21-012345ABCDEF' } },
  { name: 'aws-pv', expect: 'aws', files: {}, other: { 'hypervisor/uuid': 'ec2e1916-9099-7caf-fd21-012345abcdef' } },
  {
    name: 'azure', expect: 'azure',
    files: { sys_vendor: 'Microsoft Corporation', product_name: 'Virtual Machine', bios_vendor: 'Microsoft Corporation', chassis_asset_tag: '7783-7084-3265-9085-8269-3286-77' },
  },
  {
    name: 'hyperv', expect: undefined,
    files: { sys_vendor: 'Microsoft Corporation', product_name: 'Virtual Machine', bios_vendor: 'Microsoft Corporation', chassis_asset_tag: '0000-0015-4716-4123-5327-9542-33' },
  },
  { name: 'oci', expect: 'oci', files: { sys_vendor: 'QEMU', product_name: 'Standard PC (i440FX + PIIX, 1996)', chassis_asset_tag: 'OracleCloud.com' } },
  { name: 'kvm', expect: undefined, files: { sys_vendor: 'QEMU', product_name: 'Standard PC (Q35 + ICH9, 2009)', bios_vendor: 'SeaBIOS', chassis_asset_tag: '' } },
  { name: 'bare', expect: undefined, files: { sys_vendor: 'Supermicro', product_name: 'SYS-821GE-TNHR', bios_vendor: 'American Megatrends International, LLC.', chassis_asset_tag: 'To be filled by O.E.M.' } },
];

/** Writes a tree into a new temp dir and returns the sysfs root. */
export function writeDmiTree(t: DmiTree): string {
  const root = mkdtempSync(join(tmpdir(), `nc-dmi-${t.name}-`));
  const dir = join(root, 'class/dmi/id');
  mkdirSync(dir, { recursive: true });
  for (const [file, value] of Object.entries(t.files)) writeFileSync(join(dir, file), `${value}\n`);
  for (const [rel, value] of Object.entries(t.other ?? {})) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), `${value}\n`);
  }
  return root;
}
