/**
 * OCI instance metadata (v2) answers for a BM.GPU.GB200 bare-metal host
 * whose tenancy has RDMA topology data enabled.
 *
 * Sources:
 * - docs.oracle.com/iaas/Content/Compute/Tasks/gettingmetadata.htm:
 *   `/opc/v2/` with `Authorization: Bearer Oracle` (401 without it);
 *   `/opc/v2/instance/` (`shape`, `availabilityDomain`, `faultDomain`,
 *   `id`, `region`…); `/opc/v2/vnics/` — an array with `vnicId`,
 *   `privateIp`, `vlanTag`, `macAddr`, `virtualRouterIp`, `subnetCidrBlock`,
 *   `nicIndex`, the primary VNIC first.
 * - kubernetes-sigs/dranet pkg/cloudprovider/oke/oke.go and oke_test.go:
 *   `/opc/v2/host/` with `rackId`, `networkBlockId` and `rdmaTopologyData`
 *   (`customerHPCIslandId`, `customerNetworkBlock`, `customerLocalBlock`,
 *   `customerHostId`, `customerGpuMemoryFabric`, OCIDs); the OCID format of
 *   the peer's test (`ocid1.hpcisland.oc1.<region>.<60 characters>`).
 */

const ocid = (type: string, tail: string): string => `ocid1.${type}.oc1.us-chicago-1.${tail.padEnd(60, 'x')}`;

export const OCI_INSTANCE = {
  availabilityDomain: 'EMIr:US-CHICAGO-1-AD-1',
  faultDomain: 'FAULT-DOMAIN-2',
  compartmentId: 'ocid1.tenancy.oc1..aaaaaaaaexampleuniqueid',
  displayName: 'gb200-node-7',
  hostname: 'gb200-node-7',
  id: ocid('instance', 'anxgiljrexampleinstance'),
  region: 'ord',
  canonicalRegionName: 'us-chicago-1',
  shape: 'BM.GPU.GB200.4',
  state: 'Running',
  timeCreated: 1718236800000,
};

export const OCI_VNICS = [
  {
    vnicId: ocid('vnic', 'abxhiljrprimaryvnic'), privateIp: '10.0.10.23', vlanTag: 0, macAddr: '02:00:17:05:5e:4f',
    virtualRouterIp: '10.0.10.1', subnetCidrBlock: '10.0.10.0/24', nicIndex: 0,
  },
  {
    vnicId: ocid('vnic', 'abxhiljrsecondaryvnic'), privateIp: '10.0.20.7', vlanTag: 1, macAddr: '02:00:17:09:a1:33',
    virtualRouterIp: '10.0.20.1', subnetCidrBlock: '10.0.20.0/24', nicIndex: 1,
  },
];

export const OCI_TOPOLOGY = {
  island: 'aaaaaaaa2mvjha24vj6evyafdqtis6nzqibhrnxxhzt65zkc3upy4xlrz5za',
  block: 'aaaaaaaanetworkblockexample0000000000000000000000000000000',
  local: 'aaaaaaaalocalblockexample000000000000000000000000000000000',
  host: 'aaaaaaaacustomerhostexample0000000000000000000000000000000',
  fabric: 'aaaaaaaagpumemoryfabricexample000000000000000000000000000',
};

export const OCI_HOST = {
  id: 'a1b2c3d4e5f6a7b8c9d0',
  rackId: '9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f',
  networkBlockId: 'fedcba9876543210fedcba9876543210',
  rdmaTopologyData: {
    customerHPCIslandId: `ocid1.hpcisland.oc1.us-chicago-1.${OCI_TOPOLOGY.island}`,
    customerNetworkBlock: `ocid1.networkblock.oc1.us-chicago-1.${OCI_TOPOLOGY.block}`,
    customerLocalBlock: `ocid1.localblock.oc1.us-chicago-1.${OCI_TOPOLOGY.local}`,
    customerHostId: `ocid1.computebaremetalhost.oc1.us-chicago-1.${OCI_TOPOLOGY.host}`,
    customerGpuMemoryFabric: `ocid1.computegpumemoryfabric.oc1.us-chicago-1.${OCI_TOPOLOGY.fabric}`,
  },
};
