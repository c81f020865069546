/**
 * The claim configuration, field by field: the one definition of the opaque
 * parameters of a `netclaim.dev` (or, in compatibility, `dra.net`) device
 * config. DraNet's `NetworkConfig` fields keep their names and shapes so its
 * claims parse unchanged; netclaim's additions are marked `origin: 'netclaim'`.
 * docs/claim-config.md and schema/claim-config.schema.json follow from here.
 */
import { checkInterface, checkNetworkConfig, checkRoute, checkRule } from './cross-field.ts';
import {
  ETH_GSTRING_MAX, poolNameProblem, canonicalIp, canonicalMac, canonicalPrefix, interfaceMacProblem, ifNameProblem, ipProblem,
  macProblem, networkPrefix, prefixProblem,
} from './net-values.ts';
import { boolean, integer, list, map, object, required, string, stringEnum, type IntegerNode } from './nodes.ts';
import { canonicalMacRange, fieldPathProblem, macRangeProblem } from './policy-values.ts';
import { INTERFACE_SYSCTLS, SYSCTLS } from './sysctls.ts';

export const API_VERSION = 'netclaim.dev/v1alpha1' as const;
export const KIND = 'NetworkConfig' as const;

const U32_MAX = 0xffff_ffff;
/** GSO_MAX_SIZE and GRO_MAX_SIZE (include/linux/netdevice.h): 8 * 65535. */
export const GSO_GRO_MAX = 524_280;
/** The smallest MTU an IPv4 interface may have (RFC 791); IPv6 needs 1280 (cross-field.ts). */
export const MTU_MIN = 68;
/** ETH_MAX_MTU. */
export const MTU_MAX = 65_535;

const IFNAME_PATTERN = '^(?!\\.\\.?$)[^/:%\\s\\u0000-\\u001f\\u007f]{1,15}$';
const CIDR_PATTERN = '^[0-9A-Fa-f:.]+/[0-9]{1,3}$';
const IP_PATTERN = '^[0-9A-Fa-f:.]+$';
const MAC_PATTERN = '^([0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2})+|[0-9A-Fa-f]{4}(\\.[0-9A-Fa-f]{4})+)$';

const ifName = (description: string, defaultText?: string): ReturnType<typeof string> => string({
  description, origin: 'dranet', pattern: IFNAME_PATTERN, check: ifNameProblem, examples: ['eth1', 'net0'],
  format: 'interface name: 1 to 15 bytes; no `/`, `:`, `%`, whitespace or control characters; not `.` or `..`',
  ...(defaultText === undefined ? {} : { defaultText }),
});

const ip = (description: string, origin: 'dranet' | 'netclaim' = 'dranet'): ReturnType<typeof string> => string({
  description, origin, pattern: IP_PATTERN, check: ipProblem, normalize: canonicalIp, examples: ['192.0.2.1', '2001:db8::1'],
  format: 'IPv4 or IPv6 address, no zone',
});

const networkCidr = (description: string): ReturnType<typeof string> => string({
  description, origin: 'dranet', pattern: CIDR_PATTERN, check: prefixProblem, normalize: networkPrefix,
  format: 'CIDR `address/length`; host bits are cleared',
  examples: ['0.0.0.0/0', '10.0.0.0/8', '2001:db8::/32'],
});

const u32 = (description: string, min = 0): IntegerNode => integer({ description, origin: 'netclaim', minimum: min, maximum: U32_MAX });

const TABLE_NAMES = { default: 253, main: 254, local: 255 } as const;

const table = (description: string): IntegerNode => integer({
  description, origin: 'dranet', minimum: 0, maximum: U32_MAX, names: TABLE_NAMES, defaultText: 'main (254)',
});

const gsoGro = (description: string): IntegerNode => integer({ description, origin: 'dranet', minimum: 1, maximum: GSO_GRO_MAX });

export const VRF = object({
  name: required(ifName('Name of the VRF device in the pod; created if missing and shared by the interfaces that name it.')),
  table: integer({
    description: 'Routing table of the VRF. Every route of the interface goes to it.',
    origin: 'dranet', minimum: 1, maximum: U32_MAX,
    refused: { 253: 'is the default table', 254: 'is the main table', 255: 'is the local table' },
    defaultText: '1000 + FNV-1a-32(name) mod 1000, as DraNet derives it',
  }),
}, { description: 'Enslave the interface to a VRF device in the pod netns.', origin: 'dranet', mergeWhole: true });

export const INTERFACE = object({
  name: ifName('Interface name inside the pod.', 'the name on the host'),
  addresses: list(string({
    description: 'An address with its prefix length.', origin: 'dranet', pattern: CIDR_PATTERN,
    check: prefixProblem, normalize: canonicalPrefix, examples: ['192.0.2.10/24', '2001:db8::10/64'],
    format: 'CIDR `address/length` (the length is required)',
  }), {
    description: 'Addresses set in the pod, in CIDR form. Cannot be combined with dhcp.',
    origin: 'dranet', maxItems: 64, unique: true, defaultText: 'the global addresses the device has on the host',
  }),
  dhcp: boolean({ description: 'Get one IPv4 address by DHCP in the pod when it starts, keep it renewed, release it when the pod stops (docs/dhcp.md).', origin: 'dranet', defaultText: 'false' }),
  dhcpTimeoutSeconds: integer({ description: 'How long the DHCP exchange at attach may take before the attach fails and is rolled back; used only with dhcp.', origin: 'netclaim', minimum: 1, maximum: 60, defaultText: '5' }),
  addressPools: list(string({
    description: 'The name of an IPPool (a cluster-scoped netclaim.dev resource).', origin: 'netclaim',
    pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', check: poolNameProblem, examples: ['rail0-v4', 'rail0-v6'],
    format: 'DNS label: 1 to 63 lower-case letters, digits or `-`',
  }), {
    description: 'Pools to take addresses from at Prepare, one address per pool, unique across the cluster (docs/ipam.md). At most one pool per family; a family given a pool may not also have static addresses.',
    origin: 'netclaim', maxItems: 2, unique: true, defaultText: 'none',
  }),
  mtu: integer({ description: 'MTU (IFLA_MTU), applied while moving the device; at least 1280 when an IPv6 address is configured.', origin: 'dranet', minimum: MTU_MIN, maximum: MTU_MAX }),
  hardwareAddr: string({
    description: 'MAC address (IFLA_ADDRESS); a 6-byte address must be unicast and not all zeros.',
    origin: 'dranet', pattern: MAC_PATTERN, check: interfaceMacProblem, normalize: canonicalMac, examples: ['02:00:00:00:00:01'],
    format: 'MAC of 6, 8 or 20 bytes as `aa:bb:..`, `aa-bb-..` or `aabb.ccdd..`; 6 bytes: unicast, not zero',
  }),
  gsoMaxSize: gsoGro('IFLA_GSO_MAX_SIZE, the largest GSO packet for IPv6 (BIG TCP).'),
  groMaxSize: gsoGro('IFLA_GRO_MAX_SIZE, the largest GRO packet for IPv6 (BIG TCP).'),
  gsoIPv4MaxSize: gsoGro('IFLA_GSO_IPV4_MAX_SIZE, the largest GSO packet for IPv4.'),
  groIPv4MaxSize: gsoGro('IFLA_GRO_IPV4_MAX_SIZE, the largest GRO packet for IPv4.'),
  disableEbpfPrograms: boolean({ description: 'Detach the eBPF programs (tc, tcx, XDP) attached to the device.', origin: 'dranet', defaultText: 'false' }),
  forwarding: boolean({ description: 'net.ipv4.conf.<ifname>.forwarding and net.ipv6.conf.<ifname>.forwarding in the pod.', origin: 'dranet' }),
  arpIgnore: integer({ description: 'net.ipv4.conf.<ifname>.arp_ignore in the pod.', origin: 'dranet', minimum: 0, maximum: 8, values: [0, 1, 2, 3, 8] }),
  arpAnnounce: integer({ description: 'net.ipv4.conf.<ifname>.arp_announce in the pod.', origin: 'dranet', minimum: 0, maximum: 2 }),
  vrf: VRF,
  sysctls: SYSCTLS,
}, {
  description: 'Link-level settings of the device in the pod.',
  origin: 'dranet',
  refine: checkInterface,
  exclusive: [['addresses', 'dhcp']],
  unknownHints: {
    acceptRA: 'a later DraNet field; use interface.sysctls[ipv6.accept_ra]',
    ipvlan: 'a later DraNet field (IPvlan sub-interfaces); netclaim does not support it yet',
  },
});

export const ROUTE = object({
  destination: required(networkCidr('Destination network in CIDR form; host bits are cleared.')),
  gateway: ip('Next hop; required for universe-scope routes, not allowed on link-scope IPv4 routes.'),
  source: ip('Preferred source address (RTA_PREFSRC).'),
  scope: integer({
    description: 'Route scope: 0 or "universe"/"global", 253 or "link", 254 or "host".',
    origin: 'dranet', minimum: 0, maximum: 254, values: [0, 253, 254],
    names: { universe: 0, global: 0, link: 253, host: 254 }, defaultText: 'universe (0)',
  }),
  table: table('Routing table, by number or as "main", "local" or "default"; 0 means main. Under a VRF, routes go to the VRF table.'),
}, { description: 'A static route on the interface in the pod.', origin: 'dranet', refine: checkRoute });

export const RULE = object({
  priority: integer({ description: 'Rule priority; lower runs first.', origin: 'dranet', minimum: 0, maximum: 32_767, defaultText: 'chosen by the kernel' }),
  source: networkCidr('Source prefix to match.'),
  destination: networkCidr('Destination prefix to match.'),
  table: table('Table to look up, by number or name; 0 means main.'),
}, { description: 'A policy-routing rule in the pod. Not allowed together with interface.vrf.', origin: 'dranet', refine: checkRule });

export const NEIGHBOR = object({
  destination: required(ip('The neighbour\'s IP address.')),
  hardwareAddr: required(string({
    description: 'The neighbour\'s MAC address.', origin: 'dranet', pattern: MAC_PATTERN, check: macProblem,
    normalize: canonicalMac, examples: ['00:11:22:33:44:55'],
    format: 'MAC of 6, 8 or 20 bytes as `aa:bb:..`, `aa-bb-..` or `aabb.ccdd..`',
  })),
}, {
  description: 'A permanent neighbour (ARP/NDP) entry on the interface in the pod.',
  origin: 'dranet',
  unknownHints: { ipAddress: 'DraNet\'s user guide calls it ipAddress, but the field is destination' },
});

const onOff = (description: string): ReturnType<typeof boolean> => boolean({ description, origin: 'dranet' });

export const RINGS = object({
  rx: u32('RX ring entries.', 1),
  rxMini: u32('RX mini ring entries.', 1),
  rxJumbo: u32('RX jumbo ring entries.', 1),
  tx: u32('TX ring entries.', 1),
  rxBufLen: u32('RX buffer length in bytes.', 1),
  cqeSize: u32('Completion queue entry size in bytes.', 1),
  txPush: boolean({ description: 'TX push mode.', origin: 'netclaim' }),
  rxPush: boolean({ description: 'RX push mode.', origin: 'netclaim' }),
  tcpDataSplit: stringEnum(['auto', 'enabled', 'disabled'] as const, { description: 'TCP header/data split.', origin: 'netclaim' }),
}, { description: 'Ring sizes (ethtool -G); each is checked against the device\'s maximum when the claim is prepared.', origin: 'netclaim' });

export const CHANNELS = object({
  rx: u32('RX-only channels.'),
  tx: u32('TX-only channels.'),
  other: u32('Other channels.'),
  combined: u32('Combined RX/TX channels.'),
}, { description: 'Channel (queue) counts (ethtool -L); checked against the device\'s maximum when the claim is prepared.', origin: 'netclaim' });

const COALESCE_U32 = [
  'rxUsecs', 'rxMaxFrames', 'rxUsecsIrq', 'rxMaxFramesIrq', 'txUsecs', 'txMaxFrames', 'txUsecsIrq', 'txMaxFramesIrq',
  'statsBlockUsecs', 'pktRateLow', 'rxUsecsLow', 'rxMaxFramesLow', 'txUsecsLow', 'txMaxFramesLow', 'pktRateHigh',
  'rxUsecsHigh', 'rxMaxFramesHigh', 'txUsecsHigh', 'txMaxFramesHigh', 'rateSampleInterval', 'txAggrMaxBytes',
  'txAggrMaxFrames', 'txAggrTimeUsecs',
] as const;
const COALESCE_BOOL = ['useAdaptiveRx', 'useAdaptiveTx', 'useCqeModeRx', 'useCqeModeTx'] as const;

export const COALESCE = object({
  ...Object.fromEntries(COALESCE_U32.map((k) => [k, u32(`ETHTOOL_A_COALESCE_${snake(k)}.`)])) as Record<(typeof COALESCE_U32)[number], IntegerNode>,
  ...Object.fromEntries(COALESCE_BOOL.map((k) => [k, boolean({ description: `ETHTOOL_A_COALESCE_${snake(k)}.`, origin: 'netclaim' })])) as
    Record<(typeof COALESCE_BOOL)[number], ReturnType<typeof boolean>>,
}, { description: 'Interrupt coalescing (ethtool -C); only the parameters the driver supports may be set.', origin: 'netclaim' });

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

export const ETHTOOL = object({
  features: map(onOff('On or off.'), {
    description: 'Offload features by name, as ethtool -k prints them or by their legacy names (tso, gro...). '
      + 'Names are resolved against the device when the claim is prepared.',
    origin: 'dranet', maxProperties: 256,
    keys: { description: 'feature name', pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: ETH_GSTRING_MAX, examples: ['rx-gro', 'tcp-segmentation-offload'] },
  }),
  privateFlags: map(onOff('On or off.'), {
    description: 'Driver private flags by name (ethtool --set-priv-flags).', origin: 'dranet', maxProperties: 64,
    keys: { description: 'private flag name', pattern: '^[!-~]+$', maxLength: ETH_GSTRING_MAX, examples: ['rx_striding_rq'] },
  }),
  rings: RINGS,
  channels: CHANNELS,
  coalesce: COALESCE,
}, { description: 'ethtool settings applied in the pod.', origin: 'dranet' });

export const RDMA_CHAR_DEVICES = ['uverbs', 'rdma_cm', 'umad', 'issm'] as const;

export const RDMA = object({
  required: boolean({ description: 'Fail the claim when the device has no RDMA device.', origin: 'netclaim', defaultText: 'false' }),
  charDevices: list(stringEnum(RDMA_CHAR_DEVICES, { description: 'A /dev/infiniband character device kind.', origin: 'netclaim' }), {
    description: 'Which RDMA character devices to give the containers.', origin: 'netclaim', maxItems: RDMA_CHAR_DEVICES.length,
    unique: true, defaultText: 'every kind the device has',
  }),
  workloadEnv: boolean({
    description: 'Give the containers workload hints (NCCL_IB_HCA, NCCL_SOCKET_IFNAME, UCX_NET_DEVICES) through CDI.',
    origin: 'netclaim', defaultText: 'true',
  }),
}, { description: 'RDMA handling of the device.', origin: 'netclaim' });

export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export const IPVLAN_MODES = ['l2', 'l3', 'l3s'] as const;
export const IPVLAN_FLAGS = ['bridge', 'private', 'vepa'] as const;

/**
 * A per-claim sub-interface of a shareable parent (docs/sharing.md). Each
 * field stands alone here, so layers merge field by field (a class may set
 * `type`, a claim `mode`); that `mode`, `flags` and `vlanId` fit the merged
 * `type` is checked at Prepare (sub-interface/sub-spec.ts).
 */
export const SUB_INTERFACE = object({
  type: stringEnum(['macvlan', 'ipvlan', 'vlan'] as const, {
    description: 'The kind of sub-interface created on the shareable parent for this claim.', origin: 'netclaim', defaultText: 'macvlan',
  }),
  mode: stringEnum([...new Set([...MACVLAN_MODES, ...IPVLAN_MODES])], {
    description: 'macvlan: bridge, private, vepa or passthru; ipvlan: l2, l3 or l3s. Not for vlan.', origin: 'netclaim',
    defaultText: 'macvlan: bridge; ipvlan: l2',
  }),
  flags: stringEnum(IPVLAN_FLAGS, { description: 'ipvlan only: bridge, private or vepa.', origin: 'netclaim', defaultText: 'bridge' }),
  vlanId: integer({ description: 'vlan only (required there): the 802.1Q VLAN id.', origin: 'netclaim', minimum: 1, maximum: 4094 }),
}, {
  description: 'Create a sub-interface of the allocated shareable parent for this claim and move that into the pod instead (docs/sharing.md).',
  origin: 'netclaim',
});

const fieldPath = (description: string): ReturnType<typeof string> => string({
  description, origin: 'netclaim', pattern: '^[A-Za-z]+(\\.[A-Za-z]+)*$',
  // NETWORK_CONFIG is read when a value is checked, after this module has loaded
  check: (v) => fieldPathProblem(NETWORK_CONFIG, v),
  examples: ['interface.disableEbpfPrograms', 'ethtool.privateFlags', 'interface.mtu'],
  format: 'a field path through objects, like `interface.mtu` or `ethtool.features`',
});

export const POLICY = object({
  allowFields: list(fieldPath('A field claims may set although claims may not by default; allows everything under it.'), {
    description: 'Fields claims may set beyond the defaults (interface.disableEbpfPrograms, interface.hardwareAddr with any MAC, '
      + 'ethtool.privateFlags, interface.sysctls with any listed key).',
    origin: 'netclaim', maxItems: 64, defaultText: 'none',
  }),
  denyFields: list(fieldPath('A field claims may not set; denies everything under it, and wins over allowFields.'), {
    description: 'Fields claims may not set, beyond the defaults (for example interface.addresses, routes, ethtool).',
    origin: 'netclaim', maxItems: 64, defaultText: 'none',
  }),
  hardwareAddrRanges: list(string({
    description: 'A range of 6-byte MACs: a MAC, "/" and the prefix length in bits.', origin: 'netclaim',
    pattern: '^[0-9A-Fa-f:.-]+/[0-9]{1,2}$', check: macRangeProblem, normalize: canonicalMacRange,
    examples: ['02:42:ac:00:00:00/24'], format: 'MAC/length, length 0 to 48; host bits are cleared',
  }), {
    description: 'MAC ranges a claim\'s interface.hardwareAddr must fall in; without a range, claims may not set a MAC.',
    origin: 'netclaim', maxItems: 64, defaultText: 'none: claims may not set a MAC',
  }),
  sysctls: list(stringEnum(Object.keys(INTERFACE_SYSCTLS), { description: 'An interface.sysctls key.', origin: 'netclaim' }), {
    description: 'interface.sysctls keys claims may set beyond the default list (docs/claim-config.md, "Policy").',
    origin: 'netclaim', maxItems: 64, defaultText: 'none',
  }),
}, {
  description: 'What claims may set on devices of this DeviceClass. Only valid in a DeviceClass config (source FromClass); '
    + 'a class\'s own configs may set anything. Policies of several class configs add up.',
  origin: 'netclaim',
});

export const NETWORK_CONFIG = object({
  apiVersion: stringEnum([API_VERSION] as const, { description: 'Optional; when given, kind must be given too.', origin: 'netclaim' }),
  kind: stringEnum([KIND] as const, { description: 'Optional; when given, apiVersion must be given too.', origin: 'netclaim' }),
  profile: string({
    description: 'Profile name handed to a profile provider (DraNet compatibility); Prepare fails when no provider is configured.',
    origin: 'dranet', minLength: 1, maxLength: 253, pattern: '^\\S+$', examples: ['example.com/whereabouts'],
    format: '1 to 253 characters, no whitespace (`domain/name` suggested)',
  }),
  interface: INTERFACE,
  routes: list(ROUTE, { description: 'Static routes in the pod.', origin: 'dranet', maxItems: 256 }),
  rules: list(RULE, { description: 'Policy-routing rules in the pod.', origin: 'dranet', maxItems: 256 }),
  neighbors: list(NEIGHBOR, { description: 'Permanent neighbour entries in the pod.', origin: 'dranet', maxItems: 256 }),
  ethtool: ETHTOOL,
  rdma: RDMA,
  policy: POLICY,
  subInterface: SUB_INTERFACE,
}, {
  description: `Opaque parameters of a netclaim.dev device config (${API_VERSION} ${KIND}); DraNet's NetworkConfig parses unchanged.`,
  origin: 'netclaim',
  refine: checkNetworkConfig,
});
