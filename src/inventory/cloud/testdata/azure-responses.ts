/**
 * Azure Instance Metadata Service answers for an ND H100 v5 VM with two
 * accelerated-networking NICs (the MACs of test/fixtures/topologies/azure-accelnet.ts).
 *
 * Sources:
 * - learn.microsoft.com/azure/virtual-machines/instance-metadata-service:
 *   `GET /metadata/instance?api-version=…` with `Metadata: true` (a request
 *   without it is `400 Bad Request`, as is an unknown api-version); the
 *   sample response's shape — `compute` with `vmSize`, `placementGroupId`,
 *   `zone`, `location`…, `network.interface[]` with `ipv4.ipAddress[]`
 *   (`privateIpAddress`, `publicIpAddress`), `ipv4.subnet[]` (`address`,
 *   `prefix` as strings), `ipv6.ipAddress[]`, `macAddress` as 12 upper-case
 *   hex digits.
 * - kubernetes-sigs/dranet pkg/cloudprovider/azure/azure.go: `compute.interconnectGroupId`
 *   and `compute.interconnectSubgroupId`, read with api-version 2025-11-11.
 */

export const AZURE_MACS = { nic0: '00:0d:3a:1c:6f:2e', nic1: '00:0d:3a:1c:70:4b' } as const;

export const AZURE_INSTANCE = {
  compute: {
    azEnvironment: 'AzurePublicCloud',
    location: 'eastus2',
    name: 'ndv5-node-0',
    offer: 'ubuntu-hpc',
    osType: 'Linux',
    placementGroupId: 'f67c14ab-e92c-408c-ae2d-da15866ec79a',
    interconnectGroupId: 'ig-7a1c2e',
    interconnectSubgroupId: 'isg-03',
    platformFaultDomain: '0',
    platformUpdateDomain: '0',
    provider: 'Microsoft.Compute',
    resourceId: '/subscriptions/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/ndv5-node-0',
    vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
    vmSize: 'Standard_ND96isr_H100_v5',
    zone: '1',
  },
  network: {
    interface: [
      {
        ipv4: { ipAddress: [{ privateIpAddress: '10.144.133.132', publicIpAddress: '' }], subnet: [{ address: '10.144.133.128', prefix: '26' }] },
        ipv6: { ipAddress: [] },
        macAddress: '000D3A1C6F2E',
      },
      {
        ipv4: { ipAddress: [{ privateIpAddress: '10.144.134.10', publicIpAddress: '' }], subnet: [{ address: '10.144.134.0', prefix: '24' }] },
        ipv6: { ipAddress: [] },
        macAddress: '000D3A1C704B',
      },
    ],
  },
};

/** The same document as an older api-version answers it: no interconnect fields. */
export const AZURE_INSTANCE_2021 = {
  ...AZURE_INSTANCE,
  compute: Object.fromEntries(Object.entries(AZURE_INSTANCE.compute).filter(([k]) => !k.startsWith('interconnect'))),
};

/** IMDS's answer to an api-version it does not know (the documented 400 body). */
export const AZURE_BAD_VERSION = JSON.stringify({
  error: 'Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds',
  'newest-versions': ['2021-02-01', '2020-12-01', '2020-10-01'],
});
