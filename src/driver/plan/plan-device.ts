/**
 * The plan for one allocated device: pure, from the device's resolved claim
 * configuration, its inventory entry and its host-side snapshot. Everything
 * that depends on the device is checked here, before anything changes: the
 * ethtool names it has, its MTU and ring/channel limits, and that an
 * InfiniBand-only port is asked for nothing but RDMA.
 *
 * What the pod gets beyond the config, as DraNet does: the host's global
 * addresses when the config names none, the host's routes on the device
 * (except the ones the kernel makes by itself, the main table's default
 * route, which would collide with the pod's own, and routes whose gateway
 * the pod's addresses cannot reach), the rules that look up those routes'
 * tables (not under a VRF), and the permanent neighbours.
 * User entries win over copied ones with the same key.
 */
import { AF_INET, cidrContains } from '../../common/ip.ts';
import type { ConfigIssue } from '../../config/claim-config/issues.ts';
import { RT_TABLE_MAIN } from '../../config/claim-config/defaults.ts';
import type { NeighborConfig, NetworkConfig, RouteConfig, RuleConfig } from '../../config/claim-config/types.ts';
import { rdmaOnlyProblems } from '../../config/claim-config/rdma-only.ts';
import type { Device } from '../../inventory/model.ts';
import type { AllocationResult } from '../claim.ts';
import { resolveFeatureNames, resolvePrivateFlags } from './ethtool-names.ts';
import type { CharDevice, HostSnapshot, PodInterfacePlan, RdmaPlan, SnapshotRoute } from './plan-types.ts';
import type { DevicePlan } from '../record-model.ts';

const RTPROT_KERNEL = 2;
const RT_SCOPE_UNIVERSE = 0;

export interface DevicePlanInput {
  readonly result: AllocationResult;
  readonly config: NetworkConfig;
  readonly device: Device;
  /** The host-side snapshot; required when the device has a netdev. */
  readonly host?: HostSnapshot;
  /** The RDMA character devices the device has, with their numbers (read from sysfs by the caller). */
  readonly charDevices: readonly (CharDevice & { readonly kind: string })[];
}

export type DevicePlanResult =
  | { readonly ok: true; readonly plan: Omit<DevicePlan, 'env' | 'cdiDeviceIds'> }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[]; readonly unsupported?: boolean };

export function planDevice(input: DevicePlanInput): DevicePlanResult {
  const { result, config, device, host } = input;
  const issues: ConfigIssue[] = [];
  if (config.profile !== undefined) {
    return { ok: false, unsupported: true, issues: [{ path: 'profile', message: 'profiles need a profile provider, which netclaim does not have yet' }] };
  }
  const rdma = planRdma(input, issues);
  const base = {
    request: result.request, pool: result.pool, device: result.device, workloadEnv: config.rdma?.workloadEnv !== false,
    ...(result.shareId === undefined ? {} : { shareId: result.shareId }),
    identity: {
      ...(device.ifName === undefined ? {} : { ifName: device.ifName }),
      ...(device.ifIndex === undefined ? {} : { ifIndex: device.ifIndex }),
      ...(device.pciAddress === undefined ? {} : { pciAddress: device.pciAddress }),
      ...(host?.permMac === undefined ? {} : { permMac: host.permMac }),
      ...(device.rdmaDevice === undefined ? {} : { rdmaDevice: device.rdmaDevice }),
    },
  };
  if (device.ifName === undefined) {
    issues.push(...rdmaOnlyProblems(config));
    return issues.length > 0 ? { ok: false, issues } : { ok: true, plan: { ...base, ...(rdma ? { rdma } : {}) } };
  }
  if (host === undefined) throw new Error(`planDevice: no host snapshot for ${device.name}`);
  const pod = planInterface(config, host, issues);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, plan: { ...base, host, pod, ...(rdma ? { rdma } : {}) } };
}

function planRdma(input: DevicePlanInput, issues: ConfigIssue[]): RdmaPlan | undefined {
  const { device, config } = input;
  if (device.rdmaDevice === undefined) {
    if (config.rdma?.required === true) issues.push({ path: 'rdma.required', message: `device ${device.name} has no RDMA device` });
    return undefined;
  }
  const wanted = config.rdma?.charDevices;
  const charDevices = input.charDevices
    .filter((c) => wanted === undefined || (wanted as readonly string[]).includes(c.kind))
    .map(({ path, type, major, minor }) => ({ path, type, major, minor }));
  for (const kind of wanted ?? []) {
    if (!input.charDevices.some((c) => c.kind === kind)) {
      issues.push({ path: 'rdma.charDevices', message: `device ${device.name} (${device.rdmaDevice}) has no ${kind} character device` });
    }
  }
  return { device: device.rdmaDevice, charDevices };
}

/** `interface.dhcpTimeoutSeconds` when unset (docs/dhcp.md). */
export const DHCP_TIMEOUT_DEFAULT_S = 5;

function planInterface(config: NetworkConfig, host: HostSnapshot, issues: ConfigIssue[]): PodInterfacePlan {
  const i = config.interface ?? {};
  if (i.mtu !== undefined && host.maxMtu !== undefined && host.maxMtu > 0 && i.mtu > host.maxMtu) {
    issues.push({ path: 'interface.mtu', message: `${i.mtu} is above the device's maximum MTU ${host.maxMtu}` });
  } else if (i.mtu !== undefined && host.pfMtu !== undefined && i.mtu > host.pfMtu) {
    issues.push({ path: 'interface.mtu', message: `${i.mtu} is above the MTU ${host.pfMtu} of the VF's physical function; raise the PF's MTU first` });
  }
  const vrfTable = i.vrf?.table;
  // DHCP chooses the address in the pod (attach step `dhcp`): the host's are not copied.
  const addresses = i.dhcp === true ? [] : i.addresses ?? host.addresses.filter((a) => a.scope === RT_SCOPE_UNIVERSE).map((a) => a.cidr);
  // A host route is worth copying only if its gateway is reachable from the pod's addresses
  // (configured addresses may put the device in another subnet), and a host rule only if it
  // looks up a table that still gets a copied route.
  const reachable = copiedRoutes(host.routes, vrfTable).filter((r) => r.gateway === undefined || addresses.some((a) => cidrContains(a, r.gateway!)));
  const routes = mergeBy(config.routes ?? [], reachable, routeKey);
  const tables = new Set(reachable.map((r) => r.table));
  const copiedRules = host.rules.map(ruleOf).filter((r) => tables.has(r.table));
  const rules = i.vrf === undefined ? mergeBy(config.rules ?? [], copiedRules, ruleKey) : (config.rules ?? []);
  const neighbors = mergeBy(config.neighbors ?? [], host.neighbors.map((n) => ({ destination: n.destination, hardwareAddr: n.hardwareAddr })),
    (n: NeighborConfig) => n.destination);
  const ethtool = planEthtool(config, host, issues);
  return {
    name: i.name ?? host.ifName,
    ...pick(i, ['mtu', 'gsoMaxSize', 'groMaxSize', 'gsoIPv4MaxSize', 'groIPv4MaxSize'] as const),
    ...(i.hardwareAddr === undefined ? {} : { mac: i.hardwareAddr }),
    addresses, routes, rules, neighbors,
    sysctls: podSysctls(config),
    ...(i.vrf === undefined ? {} : { vrf: i.vrf }),
    ...(ethtool === undefined ? {} : { ethtool }),
    disableEbpfPrograms: i.disableEbpfPrograms === true,
    ...(i.dhcp === true ? { dhcp: { timeoutMs: (i.dhcpTimeoutSeconds ?? DHCP_TIMEOUT_DEFAULT_S) * 1000 } } : {}),
  };
}

/** Host routes worth carrying into the pod, as route configs. */
function copiedRoutes(routes: readonly SnapshotRoute[], vrfTable: number | undefined): RouteConfig[] {
  return routes
    .filter((r) => r.protocol !== RTPROT_KERNEL && !(r.destination === 'default' && r.table === RT_TABLE_MAIN))
    .map((r) => ({
      destination: r.destination === 'default' ? (r.family === AF_INET ? '0.0.0.0/0' : '::/0') : r.destination,
      ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
      ...(r.source === undefined ? {} : { source: r.source }),
      scope: r.scope,
      table: vrfTable ?? r.table,
    }));
}

const ruleOf = (r: HostSnapshot['rules'][number]): RuleConfig => ({
  ...(r.priority === undefined ? {} : { priority: r.priority }),
  ...(r.source === undefined ? {} : { source: r.source }),
  ...(r.destination === undefined ? {} : { destination: r.destination }),
  table: r.table,
});

const routeKey = (r: RouteConfig): string => `${r.destination}|${r.table ?? RT_TABLE_MAIN}`;
const ruleKey = (r: RuleConfig): string => `${r.priority ?? ''}|${r.source ?? ''}|${r.destination ?? ''}|${r.table ?? RT_TABLE_MAIN}`;

/** The user's entries, then the copied ones whose key the user did not use. */
function mergeBy<T>(user: readonly T[], copied: readonly T[], key: (t: T) => string): T[] {
  const seen = new Set(user.map(key));
  return [...user, ...copied.filter((c) => !seen.has(key(c)))];
}

function podSysctls(config: NetworkConfig): Record<string, string> {
  const i = config.interface ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(i.sysctls ?? {})) if (v !== undefined) out[k] = String(v);
  if (i.arpIgnore !== undefined) out['ipv4.arp_ignore'] = String(i.arpIgnore);
  if (i.arpAnnounce !== undefined) out['ipv4.arp_announce'] = String(i.arpAnnounce);
  if (i.forwarding !== undefined) {
    out['ipv4.forwarding'] = i.forwarding ? '1' : '0';
    out['ipv6.forwarding'] = i.forwarding ? '1' : '0';
  }
  return out;
}

function planEthtool(config: NetworkConfig, host: HostSnapshot, issues: ConfigIssue[]): PodInterfacePlan['ethtool'] {
  const e = config.ethtool;
  if (e === undefined) return undefined;
  const have = host.ethtool;
  let features: Record<string, boolean> = {};
  if (e.features !== undefined && Object.keys(e.features).length > 0) {
    if (have.knownFeatures === undefined) issues.push({ path: 'ethtool.features', message: 'the device does not report ethtool features' });
    else {
      const r = resolveFeatureNames(e.features, have.knownFeatures);
      if (r.ok) features = { ...r.features };
      else issues.push(...r.issues);
    }
  }
  let privateFlags: Record<string, boolean> = {};
  if (e.privateFlags !== undefined && Object.keys(e.privateFlags).length > 0) {
    const r = resolvePrivateFlags(e.privateFlags, Object.keys(have.privateFlags ?? {}));
    if (r.ok) privateFlags = { ...r.flags };
    else issues.push(...r.issues);
  }
  checkLimits('ethtool.rings', e.rings, have.rings, have.ringsMax, issues);
  checkLimits('ethtool.channels', e.channels, have.channels, have.channelsMax, issues);
  if (e.coalesce !== undefined && have.coalesce === undefined) {
    issues.push({ path: 'ethtool.coalesce', message: 'the device does not support interrupt coalescing settings' });
  } else if (e.coalesce !== undefined) {
    for (const k of Object.keys(e.coalesce)) {
      if (!(k in have.coalesce!)) issues.push({ path: `ethtool.coalesce.${k}`, message: 'the device does not support this coalescing parameter' });
    }
  }
  return {
    features, privateFlags,
    ...(e.rings === undefined ? {} : { rings: e.rings }),
    ...(e.channels === undefined ? {} : { channels: e.channels }),
    ...(e.coalesce === undefined ? {} : { coalesce: e.coalesce }),
  };
}

/** Sizes within the device's maximums (`rx` checked against `rxMax` or a `max` map keyed like the config). */
function checkLimits(
  path: string, wanted: Readonly<Record<string, unknown>> | undefined, current: Readonly<Record<string, unknown>> | undefined,
  max: Readonly<Record<string, number>> | undefined, issues: ConfigIssue[],
): void {
  if (wanted === undefined) return;
  if (current === undefined) {
    issues.push({ path, message: `the device does not support ${path.split('.')[1]} settings` });
    return;
  }
  for (const [k, v] of Object.entries(wanted)) {
    if (typeof v !== 'number') continue;
    const limit = max?.[k] ?? max?.[`${k}Max`];
    if (limit !== undefined && v > limit) issues.push({ path: `${path}.${k}`, message: `${v} is above the device's maximum ${limit}` });
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
