/**
 * Compute Engine metadata answers for an a3-ultragpu-8g VM (the node of
 * test/fixtures/topologies/gce-a3-ultra.ts: two gVNICs, eight RDMA NICs).
 *
 * Sources:
 * - cloud.google.com/compute/docs/metadata/querying-metadata: base
 *   `/computeMetadata/v1/`, the `Metadata-Flavor: Google` request header
 *   (and the same header on every answer), `?recursive=true&alt=json`.
 * - cloud.google.com/compute/docs/metadata/predefined-metadata-keys:
 *   `instance/machine-type` is `projects/PROJECT_NUMBER/machineTypes/MACHINE_TYPE`;
 *   `network-interfaces/` keys `mac`, `network`, `ip`, `subnetmask`, `gateway`,
 *   `mtu`, `ip-aliases` (camelCase in the JSON form: `ipAliases`, `dnsServers`…).
 * - kubernetes-sigs/dranet pkg/cloudprovider/gce/gce.go: a recorded
 *   `network-interfaces/?recursive=true` answer (the field set and JSON shape
 *   copied here, values changed), and `instance/attributes/physical_host`
 *   as `/BLOCK/SUBBLOCK/HOST`.
 * - cloud.google.com/compute/docs/instances/view-instance-topology: which VMs
 *   have a physical topology (A4, A3 Ultra…) — others get a 404 for the key.
 * - The RDMA NICs in one HPC VPC, one subnet per NIC, MTU 8896: the
 *   `GPUDirect-RDMA` note in the peer's gce.go, and node-topologies.md §2.
 */

export const GCE_FLAVOR = { 'Metadata-Flavor': 'Google' } as const;
export const GCE_PROJECT = '628944397724';

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** The vNICs in NIC order: nic0 and nic1 gVNICs, nic2–nic9 the RDMA NICs gpu0rdma0…gpu7rdma0. */
export const GCE_NICS = [
  {
    accessConfigs: [{ externalIp: '34.123.45.67', type: 'ONE_TO_ONE_NAT' }], dnsServers: ['169.254.169.254'], forwardedIps: [],
    gateway: '10.128.0.1', ip: '10.128.0.5', ipAliases: ['10.24.3.0/24'], mac: '42:01:0a:80:00:05', mtu: 1460,
    network: `projects/${GCE_PROJECT}/networks/default`, subnetmask: '255.255.240.0', targetInstanceIps: [],
  },
  {
    accessConfigs: [], dnsServers: ['169.254.169.254'], forwardedIps: [], gateway: '10.129.0.1', ip: '10.129.0.5', ipAliases: [],
    mac: '42:01:0a:81:00:05', mtu: 8244, network: `projects/${GCE_PROJECT}/networks/gvnic-2`, subnetmask: '255.255.240.0', targetInstanceIps: [],
  },
  ...Array.from({ length: 8 }, (_, i) => ({
    accessConfigs: [], dnsServers: ['169.254.169.254'], forwardedIps: [], gateway: `192.168.${i + 1}.1`, ip: `192.168.${i + 1}.2`,
    ipAliases: [], mac: `42:01:c0:a8:${hex2(i + 1)}:02`, mtu: 8896, network: `projects/${GCE_PROJECT}/networks/a3u-rdma`,
    subnetmask: '255.255.255.0', targetInstanceIps: [],
  })),
];

export const GCE_PHYSICAL_HOST = '/c4a3f1d2e5b6a7c8/9b8a7c6d5e4f/0a1b2c3d4e5f6a7b';

/** The answers by path, as the fake server serves them. */
export const GCE_ANSWERS = {
  '/computeMetadata/v1/instance/machine-type': `projects/${GCE_PROJECT}/machineTypes/a3-ultragpu-8g`,
  '/computeMetadata/v1/instance/network-interfaces/?recursive=true&alt=json': JSON.stringify(GCE_NICS),
  '/computeMetadata/v1/instance/attributes/physical_host': GCE_PHYSICAL_HOST,
} as const;
