/**
 * The env fallback of device metadata (device-metadata.ts), for workloads
 * that read variables rather than the metadata file: per claim request `R`
 * (upper case, `-` → `_`), each a comma-separated list in device order:
 *
 *   NETCLAIM_<R>_METADATA      the metadata file's path in the container
 *   NETCLAIM_<R>_IFNAME        interface names in the pod
 *   NETCLAIM_<R>_PCI_BUS_ID    PCI addresses
 *   NETCLAIM_<R>_MAC           MAC addresses
 *   NETCLAIM_<R>_IPS           addresses (CIDR; `;` between a device's own)
 *   NETCLAIM_<R>_RDMA_DEVICE   RDMA devices
 *   NETCLAIM_<R>_CHAR_DEVICES  RDMA character devices (`;` between a device's own)
 *   NETCLAIM_<R>_NUMA_NODE     NUMA nodes
 *   NETCLAIM_<R>_PCIE_ROOT     PCIe roots
 *
 * A variable none of the devices has a value for is left out; a device
 * without one leaves its place empty, so positions line up. Values are as
 * planned at Prepare (a MAC or address set at attach is in the file only).
 */
import type { MetadataDevice } from './device-metadata.ts';

type Field = 'IFNAME' | 'PCI_BUS_ID' | 'MAC' | 'IPS' | 'RDMA_DEVICE' | 'CHAR_DEVICES' | 'NUMA_NODE' | 'PCIE_ROOT';

/** The attribute whose identifier (after the domain) is `id`, as text. */
function attr(d: MetadataDevice, id: string): string | undefined {
  for (const [k, v] of Object.entries(d.attributes)) {
    if (k !== id && !k.endsWith(`/${id}`)) continue;
    if ('string' in v) return v.string;
    if ('int' in v) return String(v.int);
    if ('strings' in v) return v.strings.join(';');
  }
  return undefined;
}

const FIELDS: readonly [Field, (d: MetadataDevice) => string | undefined][] = [
  ['IFNAME', (d) => d.networkData?.interfaceName],
  ['PCI_BUS_ID', (d) => attr(d, 'pciAddress')],
  ['MAC', (d) => d.networkData?.hardwareAddress ?? attr(d, 'mac')],
  ['IPS', (d) => (d.networkData?.ips?.length ? d.networkData.ips.join(';') : undefined)],
  ['RDMA_DEVICE', (d) => attr(d, 'rdmaDevice')],
  ['CHAR_DEVICES', (d) => attr(d, 'charDevices')],
  ['NUMA_NODE', (d) => attr(d, 'resource.kubernetes.io/numaNode') ?? attr(d, 'numaNode')],
  ['PCIE_ROOT', (d) => attr(d, 'pcieRoot')],
];

export const envPrefix = (request: string): string => `NETCLAIM_${request.toUpperCase().replaceAll('-', '_')}_`;

export function metadataEnv(request: string, devices: readonly MetadataDevice[], containerPath: string): string[] {
  const p = envPrefix(request);
  const out = [`${p}METADATA=${containerPath}`];
  for (const [field, get] of FIELDS) {
    const values = devices.map((d) => get(d) ?? '');
    if (values.some((v) => v !== '')) out.push(`${p}${field}=${values.join(',')}`);
  }
  return out;
}
