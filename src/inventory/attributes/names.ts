/**
 * Attribute names. netclaim publishes under its driver domain; the Kubernetes
 * standard attributes use `resource.kubernetes.io`. A DraNet compatibility
 * mode renames ours to `dra.net/...`, with DraNet's values (dranet.ts), so
 * DeviceClasses written for DraNet keep working (docs/migrate-from-dranet.md).
 */

/** The driver name, and the domain of netclaim's own attributes. */
export { DRIVER_NAME } from '../../common/driver.ts';
import { DRIVER_NAME } from '../../common/driver.ts';

/**
 * Standard attributes (k8s.io/dynamic-resource-allocation/deviceattribute,
 * attribute.go: StandardDeviceAttributePCIeRoot, StandardDeviceAttributePCIBusID,
 * StandardDeviceAttributeNUMANode), published first, in this order.
 */
export const STANDARD = {
  pcieRoot: 'resource.kubernetes.io/pcieRoot',
  pciBusID: 'resource.kubernetes.io/pciBusID',
  numaNode: 'resource.kubernetes.io/numaNode',
} as const;

/**
 * netclaim's attributes (unqualified identifiers; qualified with the domain
 * when published), in publishing priority order: when a device would exceed
 * the API's 32 attributes, the last ones present are dropped first.
 */
export const ATTRIBUTES = [
  'ifName', 'pciAddress', 'rdma', 'rdmaDevice', 'kind', 'virtual', 'sriovVf', 'sriov',
  'mac', 'mtu', 'state', 'type', 'encapsulation', 'speed', 'driver', 'numaNode',
  'pciVendorId', 'pciDeviceId', 'pciVendor', 'pciDevice', 'pciSubsystem',
  'sriovTotalVfs', 'sriovVfs', 'sriovPf', 'vfIndex', 'rdmaLinkLayer', 'rdmaPortState',
  'ipv4', 'ipv6', 'ebpf', 'tcFilterNames', 'tcxProgramNames', 'xdpProgramName', 'alias', 'permMac', 'duplex',
] as const;

export type AttributeName = (typeof ATTRIBUTES)[number];

/**
 * DraNet's names for the attributes both drivers publish (compatibility
 * mode): all 23 of kubernetes-sigs/dranet pkg/apis/attributes.go.
 */
const DRANET = {
  ifName: 'ifName', pciAddress: 'pciAddress', mac: 'mac', mtu: 'mtu', encapsulation: 'encapsulation',
  alias: 'alias', state: 'state', type: 'type', ipv4: 'ipv4', ipv6: 'ipv6', tcFilterNames: 'tcFilterNames',
  tcxProgramNames: 'tcxProgramNames', ebpf: 'ebpf', sriov: 'sriov', sriovVfs: 'sriovVfs', sriovVf: 'isSriovVf',
  virtual: 'virtual', rdma: 'rdma', rdmaDevice: 'rdmaDevice', numaNode: 'numaNode', pciVendor: 'pciVendor',
  pciDevice: 'pciDevice', pciSubsystem: 'pciSubsystem',
} as const satisfies Partial<Record<AttributeName, string>>;
export const DRANET_NAMES: Readonly<Partial<Record<AttributeName, string>>> = DRANET;

/** Our attributes that have a DraNet counterpart. */
export type DranetAttribute = keyof typeof DRANET;
export const DRANET_DOMAIN = 'dra.net';

export type AttributeNaming = 'netclaim' | 'dranet';

/** The published (qualified) name of one of our attributes, or undefined when the naming has none. */
export function qualifiedName(name: AttributeName, naming: AttributeNaming): string | undefined {
  if (naming === 'netclaim') return `${DRIVER_NAME}/${name}`;
  const dn = DRANET_NAMES[name];
  return dn === undefined ? undefined : `${DRANET_DOMAIN}/${dn}`;
}

/**
 * Attributes from the cloud's instance metadata service (src/inventory/cloud,
 * docs/cloud.md), published under netclaim's domain after every attribute
 * above, in this priority order: a device that would exceed the API's 32
 * attributes loses these first, the last ones first. Node-wide placement
 * (island ⊃ block ⊃ subBlock ⊃ rack ⊃ host) comes before per-NIC facts.
 */
export const CLOUD_ATTRIBUTES = [
  'island', 'block', 'subBlock', 'rack', 'host', 'memoryFabric', 'interconnectGroup', 'interconnectSubgroup',
  'placementGroup', 'partition', 'subnet', 'networkName', 'networkCard', 'nicIndex', 'instanceType', 'ipAliases',
] as const;

export type CloudAttributeName = (typeof CLOUD_ATTRIBUTES)[number];

/**
 * The peer's cloud attributes, qualified, per cloud and in publishing
 * priority order (the `dranet` naming publishes these instead of
 * CLOUD_ATTRIBUTES): kubernetes-sigs/dranet pkg/cloudprovider/gce/gce.go,
 * azure/azure.go, oke/oke.go, and `dra.net/cloudNetwork` of the GCE network
 * (google/dranet pkg/inventory/cloud.go, the name the peer's quick-start
 * DeviceClass selects). The peer's AWS attributes (`resource.aws.com/devicegroup*_id`)
 * come from AWS's Neuron lookup table and are not reproduced.
 */
export const DRANET_CLOUD_ATTRIBUTES = {
  gce: [
    'gce.dra.net/block', 'gce.dra.net/subBlock', 'gce.dra.net/host', 'dra.net/cloudNetwork', 'gce.dra.net/networkName',
    'gce.dra.net/networkProjectNumber', 'gce.dra.net/machineType', 'gce.dra.net/ipAliases',
  ],
  aws: [],
  azure: [
    'azure.dra.net/placementGroupId', 'azure.dra.net/interconnectGroupId', 'azure.dra.net/interconnectSubgroupId',
    'azure.dra.net/subnet', 'azure.dra.net/vmSize',
  ],
  oci: ['oke.dra.net/hpcIslandId', 'oke.dra.net/networkBlockId', 'oke.dra.net/localBlockId', 'oke.dra.net/rackId', 'oke.dra.net/gpuMemoryFabricId'],
} as const;
