/**
 * Prepare for an admin claim (KEP-5018, DRAAdminAccess): a claim whose
 * allocation results carry `adminAccess: true`. The API server lets only
 * namespaces labelled `resource.kubernetes.io/admin-access: "true"` create
 * such claims, and the scheduler allocates them a device even while another
 * claim holds it; the kubelet then calls Prepare for both. An admin claim is
 * for looking at a device (diagnostics), so here:
 *
 * - the device never moves and is never changed, in use or not: nothing is
 *   snapshotted, planned or journaled, and the pod side never sees the
 *   record (state/claim-store.ts keeps admin records apart);
 * - the pod gets what can be had without moving the netdev: the RDMA
 *   character devices of the device's RDMA device when the RDMA subsystem
 *   shares devices across namespaces (netns mode `shared`; in `exclusive`
 *   mode they only work in the namespace holding the device), and
 *   environment describing the device (admin-access-env.ts);
 * - a claim config that would change the device (anything but `rdma`, which
 *   only chooses what the pod gets) is refused: PREPARE_ADMIN_ACCESS_CONFIG,
 *   naming each field. DeviceClass configs are the owners' settings and are
 *   not applied (only their `rdma` part counts);
 * - a claim mixing admin and ordinary requests for this driver is refused
 *   (PREPARE_ADMIN_ACCESS_MIXED): one claim, one kind of record.
 *
 * Pure apart from the reads in the context; nothing is written here.
 */
import { DriverError } from '../common/errors.ts';
import { DRIVER_NAME } from '../common/driver.ts';
import { claimConfigError, type ConfigIssue } from '../config/claim-config/issues.ts';
import { configDrivers, resolveDeviceConfig } from '../config/claim-config/resolve.ts';
import { adminDeniedPaths } from '../config/claim-config/admin-access.ts';
import { applicableConfigs } from '../config/claim-config/requests.ts';
import type { AllocationConfig } from '../config/claim-config/types.ts';
import type { Device } from '../inventory/model.ts';
import { adminAccessEnv } from './admin-access-env.ts';
import type { AllocatedClaim, AllocationResult } from './claim.ts';
import type { PrepareContext } from './prepare-claim.ts';
import type { CharDevice } from './plan/plan-types.ts';
import type { AdminDevice, AdminRecord } from './record-model.ts';

export { ADMIN_CONFIG_FIELDS } from '../config/claim-config/admin-access.ts';

export interface AdminPrepareContext extends Pick<PrepareContext, 'driverName' | 'poolName' | 'resolve' | 'device' | 'charDevices' | 'now'> {
  /** The node's RDMA netns mode (absent: no RDMA subsystem, or unknown). */
  readonly rdmaNetnsMode?: 'shared' | 'exclusive';
  /** The namespace of the owner's claim that holds the device now, if one does. */
  ownerNamespace(device: string, pool: string): string | undefined;
}

/** Whether these (own) results make an admin claim; throws PREPARE_ADMIN_ACCESS_MIXED for a mix. */
export function isAdminClaim(claim: AllocatedClaim, results: readonly AllocationResult[]): boolean {
  const admin = results.filter((r) => r.adminAccess === true);
  if (admin.length === 0) return false;
  if (admin.length === results.length) return true;
  const plain = results.filter((r) => r.adminAccess !== true);
  throw new DriverError('PREPARE_ADMIN_ACCESS_MIXED',
    `claim ${claim.namespace}/${claim.name} mixes admin-access requests (${names(admin)}) with ordinary ones (${names(plain)}) for ${DRIVER_NAME}: ` +
    'put the admin-access requests in a claim of their own',
    { context: { admin: admin.map((r) => r.request), plain: plain.map((r) => r.request) } });
}

/** The record to store for an admin claim (without CDI ids, which the caller adds with the spec). */
export function prepareAdminClaim(claim: AllocatedClaim, results: readonly AllocationResult[], ctx: AdminPrepareContext): AdminRecord {
  const what = `admin claim ${claim.namespace}/${claim.name}`;
  if (claim.reservedFor.length === 0) {
    throw new DriverError('PREPARE_RESERVATION', `${what} is not reserved for any pod yet (status.reservedFor is empty)`);
  }
  const configs = claim.allocation?.config ?? [];
  const configIssues: ConfigIssue[] = [];
  const denied: string[] = [];
  const issues: ConfigIssue[] = [];
  const missing: string[] = [];
  const planned: { result: AllocationResult; device: Device; chars: readonly CharDevice[]; workloadEnv: boolean }[] = [];
  for (const result of results) {
    const at = (path: string): string => `request ${result.request} (device ${result.device})${path === '' ? '' : `: ${path}`}`;
    // Before parsing: that the field may not be set at all is the first thing to say (not the class policy's view of its value).
    const deniedHere = deniedFields(configs, result.request, ctx).map((p) => at(p));
    denied.push(...deniedHere);
    if (deniedHere.length > 0) continue;
    const cfg = resolveDeviceConfig(result.request, configs, ctx.resolve, claim.deviceClasses?.[result.request]);
    if (!cfg.ok) {
      for (const x of (cfg.error.context['issues'] as ConfigIssue[] | undefined) ?? []) configIssues.push({ path: at(x.path), message: x.message });
      continue;
    }
    const device = ctx.device(result.device);
    if (device === undefined) {
      missing.push(result.device);
      continue;
    }
    const rdma = cfg.config.rdma ?? {};
    const chars = charDevicesFor(device, ctx, rdma.charDevices, (path, message) => issues.push({ path: at(path), message }));
    if (rdma.required === true && chars.length === 0) issues.push({ path: at('rdma.required'), message: noCharsReason(device, ctx) });
    planned.push({ result, device, chars, workloadEnv: rdma.workloadEnv !== false });
  }
  if (denied.length > 0) {
    throw new DriverError('PREPARE_ADMIN_ACCESS_CONFIG',
      `${what}: ${denied.join('; ')}: an admin-access claim may not change a device it does not own; only rdma (what its pod gets) may be set`,
      { context: { fields: denied } });
  }
  if (missing.length > 0) {
    throw new DriverError('PREPARE_DEVICE_NOT_FOUND',
      `${what}: device${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found on this node (gone, renamed or filtered out since it was published)`,
      { context: { devices: missing } });
  }
  if (configIssues.length > 0) throw claimConfigError(what, configIssues);
  if (issues.length > 0) {
    const err = claimConfigError(what, issues);
    throw new DriverError('PREPARE_DEVICE_CONFLICT', err.message, { cause: err, context: { issues } });
  }
  return {
    version: 1, kind: 'admin',
    claim: { uid: claim.uid, namespace: claim.namespace, name: claim.name },
    pods: claim.reservedFor.filter((c) => c.resource === 'pods' && (c.apiGroup ?? '') === '').map((c) => ({ uid: c.uid, name: c.name })),
    preparedAt: ctx.now().toISOString(),
    access: withEnv(planned.map((p) => adminDevice(p.result, p.device, p.chars, ctx)), planned.map((p) => p.workloadEnv), ctx.rdmaNetnsMode),
  };
}

/** `config[i].opaque.parameters.<field>` of each claim entry for the request that sets a field an admin claim may not. */
function deniedFields(configs: readonly AllocationConfig[], request: string, ctx: Pick<AdminPrepareContext, 'resolve'>): string[] {
  const out: string[] = [];
  for (const i of applicableConfigs(configs, request, configDrivers(ctx.resolve))) {
    if (configs[i]!.source === 'FromClass') continue; // the owners' settings: not applied to an admin claim
    out.push(...adminDeniedPaths(configs[i]!.opaque?.parameters, `config[${i}].opaque.parameters`));
  }
  return out;
}

/** The RDMA character devices the admin's pod can use: only where RDMA devices are shared across namespaces. */
function charDevicesFor(
  device: Device, ctx: AdminPrepareContext, wanted: readonly string[] | undefined, issue: (path: string, message: string) => void,
): CharDevice[] {
  if (device.rdmaDevice === undefined || ctx.rdmaNetnsMode === 'exclusive') return [];
  const all = ctx.charDevices(device.rdmaDevice);
  for (const kind of wanted ?? []) {
    if (!all.some((c) => c.kind === kind)) issue('rdma.charDevices', `device ${device.name} (${device.rdmaDevice}) has no ${kind} character device`);
  }
  return all.filter((c) => wanted === undefined || wanted.includes(c.kind)).map(({ path, type, major, minor }) => ({ path, type, major, minor }));
}

function noCharsReason(device: Device, ctx: AdminPrepareContext): string {
  if (device.rdmaDevice === undefined) return `device ${device.name} has no RDMA device`;
  if (ctx.rdmaNetnsMode === 'exclusive') {
    return `RDMA netns mode is exclusive on this node: ${device.rdmaDevice}'s character devices work only in the namespace that holds it, and an admin claim never moves it`;
  }
  return `RDMA device ${device.rdmaDevice} has no character devices`;
}

function adminDevice(result: AllocationResult, device: Device, chars: readonly CharDevice[], ctx: AdminPrepareContext): AdminDevice {
  const owner = ctx.ownerNamespace(result.device, result.pool);
  const mac = device.attributes[`${DRIVER_NAME}/mac`] ?? device.attributes['dra.net/mac'];
  return {
    request: result.request, pool: result.pool, device: result.device,
    ...(result.shareId === undefined ? {} : { shareId: result.shareId }),
    identity: {
      kind: device.kind,
      ...(device.ifName === undefined ? {} : { ifName: device.ifName }),
      ...(device.ifIndex === undefined ? {} : { ifIndex: device.ifIndex }),
      ...(device.pciAddress === undefined ? {} : { pciAddress: device.pciAddress }),
      ...(device.rdmaDevice === undefined ? {} : { rdmaDevice: device.rdmaDevice }),
    },
    ...(mac !== undefined && 'string' in mac ? { mac: mac.string } : {}),
    ...(owner === undefined ? {} : { ownerNamespace: owner }),
    charDevices: chars, env: [], cdiDeviceIds: [],
  };
}

function withEnv(devices: readonly AdminDevice[], workload: readonly boolean[], mode: string | undefined): AdminDevice[] {
  const env = adminAccessEnv(devices.map((d, i) => ({
    device: d.device, charDevices: d.charDevices.length > 0, workloadEnv: workload[i]!,
    ...(d.identity.ifName === undefined ? {} : { ifName: d.identity.ifName }),
    ...(d.identity.ifIndex === undefined ? {} : { ifIndex: d.identity.ifIndex }),
    ...(d.mac === undefined ? {} : { mac: d.mac }),
    ...(d.identity.pciAddress === undefined ? {} : { pciAddress: d.identity.pciAddress }),
    ...(d.identity.rdmaDevice === undefined ? {} : { rdmaDevice: d.identity.rdmaDevice }),
    ...(d.ownerNamespace === undefined ? {} : { ownerNamespace: d.ownerNamespace }),
  })), mode);
  return devices.map((d) => ({ ...d, env }));
}

const names = (rs: readonly AllocationResult[]): string => [...new Set(rs.map((r) => r.request))].join(', ');
