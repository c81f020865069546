/**
 * Attribute values as DraNet (kubernetes-sigs/dranet) publishes them, for the
 * `dranet` naming, so DeviceClass selectors written for DraNet select the same
 * devices. Each value follows the peer's pkg/inventory/db.go (addLinkAttributes,
 * addPCIAttributes, addRDMAAttributes) and the libraries it reads through:
 * vishvananda/netlink for links, jaypipes/ghw for PCI. What still differs is
 * listed in docs/migrate-from-dranet.md.
 */
import { AF_INET, AF_INET6, ipToBytes } from '../../common/ip.ts';
import type { OperState } from '../../kernel/netlink/route/link-constants.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { DeviceFacts } from './facts.ts';
import { type AttributeValue, fitList, fitText } from './limits.ts';
import type { DranetAttribute } from './names.ts';

export type DranetValues = Record<DranetAttribute, AttributeValue | undefined>;

/** DraNet sets these in addLinkAttributes only: a device whose netdev is not here has none of them. */
type LinkAttribute = Exclude<DranetAttribute, 'pciAddress' | 'numaNode' | 'pciVendor' | 'pciDevice' | 'pciSubsystem' | 'rdma' | 'rdmaDevice'>;

/** ghw's name for an id pci.ids does not know (pkg/util UNKNOWN, via findPCIVendor/findPCIProduct). */
const UNKNOWN = 'unknown';

/** vishvananda/netlink link.go LinkOperState.String(). */
const OPER_STATE: Readonly<Record<OperState, string>> = {
  UNKNOWN: 'unknown', NOTPRESENT: 'not-present', DOWN: 'down', LOWERLAYERDOWN: 'lower-layer-down',
  TESTING: 'testing', DORMANT: 'dormant', UP: 'up',
};

/** vishvananda/netlink nl/nl_linux.go IfInfomsg.EncapType(): ARPHRD_* → name; any other is `unknown<N>`. */
const ENCAPSULATION: Readonly<Record<number, string>> = {
  0: 'generic', 1: 'ether', 2: 'eether', 3: 'ax25', 4: 'pronet', 5: 'chaos', 6: 'ieee802', 7: 'arcnet', 8: 'atalk',
  15: 'dlci', 19: 'atm', 23: 'metricom', 24: 'ieee1394', 32: 'infiniband',
  256: 'slip', 257: 'cslip', 258: 'slip6', 259: 'cslip6', 260: 'rsrvd', 264: 'adapt', 270: 'rose', 271: 'x25', 272: 'hwx25',
  512: 'ppp', 513: 'hdlc', 516: 'lapb', 517: 'ddcmp', 518: 'rawhdlc',
  768: 'ipip', 769: 'tunnel6', 770: 'frad', 771: 'skip', 772: 'loopback', 773: 'ltalk', 774: 'fddi', 775: 'bif', 776: 'sit',
  777: 'ip/ddp', 778: 'gre', 779: 'pimreg', 780: 'hippi', 781: 'ash', 782: 'econet', 783: 'irda', 784: 'fcpp', 785: 'fcal',
  786: 'fcpl', ...Object.fromEntries(Array.from({ length: 13 }, (_, i) => [787 + i, `fcfb${i}`])),
  800: 'tr', 801: 'ieee802.11', 802: 'ieee802.11/prism', 803: 'ieee802.11/radiotap', 804: 'ieee802.15.4',
  65534: 'none', 65535: 'void',
};

// Unlike netclaim's, an empty string is a value: DraNet publishes `alias: ""` and `mac: ""`.
const str = (s: string | undefined): AttributeValue | undefined => (s === undefined ? undefined : { string: s });
const int = (n: number | undefined): AttributeValue | undefined => (n === undefined ? undefined : { int: n });
const bool = (b: boolean): AttributeValue => ({ bool: b });

/** DraNet's attribute values, unqualified, before limits (undefined = not published). */
export function dranetAttributeValues(f: DeviceFacts): DranetValues {
  const { pci } = f;
  const known = (name: string | undefined): AttributeValue | undefined => (pci ? str(fitText(name ?? UNKNOWN)) : undefined);
  return {
    ...linkValues(f),
    pciAddress: str(pci?.address),
    // ghw fills PCIDevice.Node only when the host has more than one NUMA node (pkg/pci/pci.go New, pci_linux.go GetDevice).
    numaNode: int(f.hostNumaNodes !== undefined && f.hostNumaNodes < 2 ? undefined : pci?.numaNode),
    pciVendor: known(pci?.vendorName),
    pciDevice: known(pci?.deviceName),
    // ghw Subsystem.ID: the subsystem device id alone, 4 lower-case hex digits from the modalias (`sd` field).
    pciSubsystem: str(pci?.subsystemDeviceId),
    rdma: bool(f.rdmaName !== undefined),
    rdmaDevice: str(f.rdmaName),
  };
}

function linkValues(f: DeviceFacts): Record<LinkAttribute, AttributeValue | undefined> {
  const { link, pci, ebpf } = f;
  if (!link) {
    return {
      ifName: undefined, mac: undefined, mtu: undefined, encapsulation: undefined, alias: undefined, state: undefined,
      type: undefined, ipv4: undefined, ipv6: undefined, tcFilterNames: undefined, tcxProgramNames: undefined,
      ebpf: undefined, sriov: undefined, sriovVfs: undefined, sriovVf: undefined, virtual: undefined,
    };
  }
  const tc = ebpf?.tcFilters ?? [];
  const tcx = ebpf?.tcx ?? [];
  const totalVfs = pci?.sriov?.totalVfs ?? 0;
  return {
    ifName: str(link.name),
    mac: str(hardwareAddr(link.mac)),
    mtu: int(link.mtu),
    encapsulation: str(ENCAPSULATION[link.type] ?? `unknown${link.type}`),
    alias: str(fitText(link.alias ?? '')),
    state: str(OPER_STATE[link.operState]),
    type: str(linkType(link)),
    ipv4: str(ipList(f, AF_INET)),
    ipv6: str(ipList(f, AF_INET6)),
    // net.go getTcFilters/getTcxFilters: present once a program is attached, even if no name fits.
    tcFilterNames: tc.length ? str(fitList(uniqueSorted(tc.map((t) => t.name))) ?? '') : undefined,
    tcxProgramNames: tcx.length ? str(fitList(uniqueSorted(tcx.map((t) => t.name))) ?? '') : undefined,
    ebpf: bool(tc.length + tcx.length > 0), // tc and tcx only: XDP does not count
    sriov: bool(totalVfs > 0), // <netdev>/device/sriov_totalvfs > 0
    sriovVfs: totalVfs > 0 ? int(pci!.sriov!.numVfs) : undefined,
    sriovVf: f.kind === 'vf' || pci?.physfn !== undefined ? bool(true) : undefined, // only when true
    // The netdev's sysfs path is under /sys/devices/virtual: it has no parent device.
    virtual: bool(f.kind === 'virtual' && link.parentDevBusName === undefined),
  };
}

/** vishvananda/netlink: the Go type's Type(); links without IFLA_INFO_KIND are `device`, `tun` is `tuntap`. */
function linkType(link: Link): string {
  if (link.kind === undefined) return 'device';
  return link.kind === 'tun' ? 'tuntap' : link.kind;
}

/** net.HardwareAddr.String(); LinkDeserialize keeps IFLA_ADDRESS only when a byte is non-zero. */
function hardwareAddr(mac: string | undefined): string {
  return mac !== undefined && /[1-9a-f]/.test(mac) ? mac : '';
}

/** Go's net.IP.IsGlobalUnicast (not the address scope): no unspecified, loopback, multicast, link-local or broadcast. */
function isGlobalUnicast(address: string, family: number): boolean {
  const b = ipToBytes(address);
  if (family === AF_INET) {
    const v4 = b.readUInt32BE(0);
    return v4 !== 0 && v4 !== 0xffffffff && b[0] !== 127 && (b[0]! & 0xf0) !== 0xe0 && !(b[0] === 169 && b[1] === 254);
  }
  const unspecified = b.every((x) => x === 0);
  const loopback = b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
  return !unspecified && !loopback && b[0] !== 0xff && !(b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
}

/** addLinkAttributes: global unicast CIDRs of one family, sorted, cut on whole addresses to 64 bytes. */
function ipList(f: DeviceFacts, family: number): string | undefined {
  const cidrs = f.addrs.filter((a) => a.family === family && isGlobalUnicast(a.address, family)).map((a) => `${a.address}/${a.prefixLen}`);
  return fitList([...new Set(cidrs)].sort());
}

/** DraNet joins a Go set in map order; netclaim sorts, so the value is stable and one of DraNet's. */
function uniqueSorted(names: readonly (string | undefined)[]): string[] {
  return [...new Set(names.filter((n): n is string => !!n))].sort();
}
