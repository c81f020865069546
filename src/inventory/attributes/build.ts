/**
 * A device's published attributes from everything discovery knows about it,
 * within the API limits by construction: values are typed, lists are cut on
 * whole items, free text is cut to 64 UTF-8 bytes on a character boundary,
 * and when more than 32 attributes would result the lowest-priority ones are
 * dropped (and listed). The standard attributes come first; netclaim's own
 * values are here, DraNet's (the `dranet` naming) in dranet.ts.
 */
import type { PciFunction } from '../../kernel/sysfs/sysfs-types.ts';
import { dranetAttributeValues } from './dranet.ts';
import type { DeviceFacts } from './facts.ts';
import { type Attributes, type AttributeValue, fitList, fitText, MAX_ATTRIBUTES_PER_DEVICE } from './limits.ts';
import { ATTRIBUTES, type AttributeName, type AttributeNaming, qualifiedName, STANDARD } from './names.ts';

export type { DeviceFacts } from './facts.ts';

/** ARPHRD_* → the encapsulation names iproute2 prints. */
const ENCAPSULATION: Readonly<Record<number, string>> = {
  1: 'ether', 32: 'infiniband', 256: 'slip', 512: 'ppp', 768: 'ipip', 769: 'tunnel6', 772: 'loopback',
  776: 'sit', 778: 'gre', 823: 'ip6gre', 65534: 'none',
};

const str = (s: string | undefined): AttributeValue | undefined => (s === undefined || s === '' ? undefined : { string: s });
const int = (n: number | undefined): AttributeValue | undefined => (n === undefined ? undefined : { int: n });
const bool = (b: boolean | undefined): AttributeValue | undefined => (b === undefined ? undefined : { bool: b });

/** netclaim's attribute values, unqualified, before limits (undefined = not published). */
export function attributeValues(f: DeviceFacts): Record<AttributeName, AttributeValue | undefined> {
  const { link, pci, ib, rdmaPort, ebpf } = f;
  const port = ib?.ports.find((p) => p.port === (rdmaPort?.port ?? 1)) ?? ib?.ports[0];
  const globalCidrs = (family: number): string[] =>
    f.addrs.filter((a) => a.family === family && a.scope === 'global').map((a) => `${a.address}/${a.prefixLen}`).sort();
  const tcNames = uniqueSorted(ebpf?.tcFilters.map((t) => t.name));
  const tcxNames = uniqueSorted(ebpf?.tcx.map((t) => t.name));
  const xdpNames = uniqueSorted(ebpf?.xdp.map((x) => x.name));
  const hasEbpf = ebpf ? ebpf.tcFilters.length + ebpf.tcx.length + ebpf.xdp.length > 0 : undefined;
  return {
    ifName: str(link?.name),
    pciAddress: str(pci?.address),
    rdma: bool(f.rdmaName !== undefined),
    rdmaDevice: str(f.rdmaName),
    kind: str(f.kind),
    virtual: bool(f.kind === 'virtual'),
    sriovVf: bool(f.kind === 'vf'),
    // SR-IOV from the PCI function; for non-PCI PFs (netdevsim) from the link's VF count.
    sriov: bool((pci?.sriov?.totalVfs ?? 0) > 0 || (link?.numVf ?? 0) > 0),
    mac: str(link?.mac),
    mtu: int(link?.mtu),
    state: str(link?.operState.toLowerCase()),
    type: str(link ? (link.kind ?? (link.type === 32 ? 'ipoib' : 'device')) : undefined),
    encapsulation: str(link ? (ENCAPSULATION[link.type] ?? String(link.type)) : undefined),
    speed: int(f.ethtool?.speed),
    driver: str(pci?.driver),
    numaNode: int(pci?.numaNode),
    pciVendorId: str(pci?.vendorId),
    pciDeviceId: str(pci?.deviceId),
    pciVendor: str(pci?.vendorName && fitText(pci.vendorName)),
    pciDevice: str(pci?.deviceName && fitText(pci.deviceName)),
    pciSubsystem: str(pci?.subsystemVendorId && pci.subsystemDeviceId ? `${pci.subsystemVendorId}:${pci.subsystemDeviceId}` : undefined),
    sriovTotalVfs: int(pci?.sriov?.totalVfs),
    sriovVfs: int(pci?.sriov && (pci.sriov.totalVfs ?? 0) > 0 ? pci.sriov.numVfs : (link?.numVf ?? 0) > 0 ? link!.numVf : undefined),
    sriovPf: str(pci?.physfn?.address),
    vfIndex: int(pci?.physfn?.vfIndex),
    rdmaLinkLayer: str(port?.linkLayer?.toLowerCase()),
    rdmaPortState: str((rdmaPort?.state ?? port?.state)?.toLowerCase()),
    ipv4: str(fitList(globalCidrs(2))),
    ipv6: str(fitList(globalCidrs(10))),
    ebpf: bool(hasEbpf),
    tcFilterNames: str(fitList(tcNames)),
    tcxProgramNames: str(fitList(tcxNames)),
    xdpProgramName: str(fitList(xdpNames)),
    alias: str(link?.alias && fitText(link.alias)),
    permMac: str(link?.permMac && link.permMac !== link.mac ? link.permMac : undefined),
    duplex: str(f.ethtool?.duplex),
  };
}

function uniqueSorted(names: readonly (string | undefined)[] | undefined): string[] {
  return [...new Set((names ?? []).filter((n): n is string => !!n))].sort();
}

/**
 * `resource.kubernetes.io/pciBusID`: the PCI address in extended BDF notation
 * (`0000:17:00.0`), only in the form upstream's GetPCIBusIDAttribute accepts
 * (k8s.io/dynamic-resource-allocation/deviceattribute pci.go verifyPCIBDFFormat),
 * so it equals what a GPU driver publishes for the same function.
 */
export function pciBusId(pci: PciFunction | undefined): string | undefined {
  return pci && /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/.test(pci.address) ? pci.address : undefined;
}

/** The published attribute map (standard ones first), and what was dropped to fit. */
/**
 * `listAttributes` (--list-attributes, KEP-5491): a function local to several
 * NUMA nodes publishes `resource.kubernetes.io/numaNode` as their list
 * (`ints`); every other device keeps the scalar.
 */
export function deviceAttributes(f: DeviceFacts, naming: AttributeNaming, listAttributes = false): { attributes: Attributes; dropped: string[] } {
  const out: Record<string, AttributeValue> = {};
  const dropped: string[] = [];
  const put = (name: string, v: AttributeValue | undefined): void => {
    if (v === undefined) return;
    if (Object.keys(out).length >= MAX_ATTRIBUTES_PER_DEVICE) dropped.push(name);
    else out[name] = v;
  };
  put(STANDARD.pcieRoot, str(f.pci?.pcieRoot));
  put(STANDARD.pciBusID, str(pciBusId(f.pci)));
  put(STANDARD.numaNode, listAttributes && f.numaNodes !== undefined && f.numaNodes.length > 1 ? { ints: [...f.numaNodes] } : int(f.pci?.numaNode));
  const values: Partial<Record<AttributeName, AttributeValue | undefined>> = naming === 'dranet' ? dranetAttributeValues(f) : attributeValues(f);
  for (const name of ATTRIBUTES) {
    const q = qualifiedName(name, naming);
    if (q !== undefined) put(q, values[name]);
  }
  return { attributes: out, dropped };
}
