/**
 * Cloud facts → a device's attributes, in either naming. Node-wide facts go
 * on every device; a NIC's facts only on the device whose netdev has the
 * NIC's MAC, and only when exactly one NIC has it. The join is by MAC because
 * that is all the clouds give, and it is a hint, not a key
 * (node-topologies.md §11): a virtual device (a VLAN or macvlan sharing its
 * lower's MAC) is never joined, and devices without an Ethernet MAC here —
 * EFA, InfiniBand-only HCAs, IPoIB's 20-byte addresses — get the node's
 * facts only. A Hyper-V NIC and its VF share one MAC, but netclaim publishes
 * them as one `synthetic` device, so the join stays unambiguous.
 *
 * Values that do not fit an attribute (over 64 bytes) are left out, never cut:
 * they are identifiers, and a cut one would match the wrong thing.
 */
import { type Attributes, type AttributeValue, fitList, MAX_VALUE_LENGTH } from '../attributes/limits.ts';
import { type AttributeNaming, CLOUD_ATTRIBUTES, type CloudAttributeName, DRANET_CLOUD_ATTRIBUTES, DRIVER_NAME } from '../attributes/names.ts';
import type { DeviceIdentity } from '../model.ts';
import { normalizeMac } from './mac.ts';
import type { CloudFacts, NicFacts } from './types.ts';

const str = (s: string | undefined): AttributeValue | undefined =>
  s === undefined || s === '' || Buffer.byteLength(s, 'utf8') > MAX_VALUE_LENGTH ? undefined : { string: s };
const int = (n: number | undefined): AttributeValue | undefined => (n === undefined || !Number.isSafeInteger(n) ? undefined : { int: n });

/** The NIC of the metadata that is this device, when exactly one has its MAC (or, failing that, its permanent MAC). */
export function nicOf(facts: CloudFacts, device: DeviceIdentity): NicFacts | undefined {
  if (device.kind === 'virtual' || device.kind === 'rdma') return undefined;
  for (const raw of [device.mac, device.permMac]) {
    const mac = normalizeMac(raw);
    if (mac === undefined) continue;
    const hits = facts.nics.filter((n) => n.mac === mac);
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) return undefined; // two NICs with one MAC: no join rather than a wrong one
  }
  return undefined;
}

/** netclaim's cloud attribute values, unqualified (undefined = not published). */
export function cloudValues(facts: CloudFacts, nic: NicFacts | undefined): Record<CloudAttributeName, AttributeValue | undefined> {
  const n = facts.node;
  return {
    island: str(n.island), block: str(n.block), subBlock: str(n.subBlock), rack: str(n.rack), host: str(n.host),
    memoryFabric: str(n.memoryFabric), interconnectGroup: str(n.interconnectGroup), interconnectSubgroup: str(n.interconnectSubgroup),
    placementGroup: str(n.placementGroup), partition: int(n.partition),
    subnet: str(nic?.subnet), networkName: str(nic?.networkName), networkCard: int(nic?.networkCard), nicIndex: int(nic?.index),
    instanceType: str(n.instanceType), ipAliases: str(fitList(nic?.ipAliases ?? [])),
  };
}

type DranetName<C extends keyof typeof DRANET_CLOUD_ATTRIBUTES> = (typeof DRANET_CLOUD_ATTRIBUTES)[C][number];

/** The peer's values (its pkg/cloudprovider/*): the same facts under its names, per cloud. */
export function dranetCloudValues(facts: CloudFacts, nic: NicFacts | undefined): Record<string, AttributeValue | undefined> {
  const n = facts.node;
  switch (facts.cloud) {
    case 'gce': return {
      'gce.dra.net/block': str(n.block), 'gce.dra.net/subBlock': str(n.subBlock), 'gce.dra.net/host': str(n.host),
      'dra.net/cloudNetwork': str(nic?.networkName), 'gce.dra.net/networkName': str(nic?.networkName),
      'gce.dra.net/networkProjectNumber': int(nic?.networkProjectNumber), 'gce.dra.net/machineType': str(n.instanceType),
      'gce.dra.net/ipAliases': str(fitList(nic?.ipAliases ?? [])),
    } satisfies Record<DranetName<'gce'>, AttributeValue | undefined>;
    case 'azure': return {
      'azure.dra.net/placementGroupId': str(n.placementGroup), 'azure.dra.net/interconnectGroupId': str(n.interconnectGroup),
      'azure.dra.net/interconnectSubgroupId': str(n.interconnectSubgroup), 'azure.dra.net/subnet': str(nic?.subnet),
      'azure.dra.net/vmSize': str(n.instanceType),
    } satisfies Record<DranetName<'azure'>, AttributeValue | undefined>;
    case 'oci': return {
      'oke.dra.net/hpcIslandId': str(n.island), 'oke.dra.net/networkBlockId': str(n.block), 'oke.dra.net/localBlockId': str(n.subBlock),
      'oke.dra.net/rackId': str(n.rack), 'oke.dra.net/gpuMemoryFabricId': str(n.memoryFabric),
    } satisfies Record<DranetName<'oci'>, AttributeValue | undefined>;
    case 'aws': return {};
  }
}

/** A device's cloud attributes, qualified, in publishing priority order. */
export function cloudAttributes(facts: CloudFacts, device: DeviceIdentity, naming: AttributeNaming): Attributes {
  const nic = nicOf(facts, device);
  const out: Record<string, AttributeValue> = {};
  if (naming === 'dranet') {
    const values = dranetCloudValues(facts, nic);
    for (const name of DRANET_CLOUD_ATTRIBUTES[facts.cloud]) if (values[name] !== undefined) out[name] = values[name];
    return out;
  }
  const values = cloudValues(facts, nic);
  for (const name of CLOUD_ATTRIBUTES) if (values[name] !== undefined) out[`${DRIVER_NAME}/${name}`] = values[name];
  return out;
}
