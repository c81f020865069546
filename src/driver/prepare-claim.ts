/**
 * Prepare for one claim, up to the record that will be stored: check that
 * the claim is the one the kubelet named, allocated and reserved for exactly
 * one pod; take this driver's results; resolve each device's configuration;
 * snapshot and plan each device. Nothing is written here: the caller stores
 * the record and the CDI spec (claim-driver.ts), so a failure anywhere in
 * this function changes nothing.
 *
 * Every problem of every device is collected, so the user sees them all at
 * once, each naming its request and field: an invalid configuration is a
 * CONFIG_CLAIM_INVALID error, a valid one that does not fit the device
 * (an ethtool name it lacks, an MTU above its maximum) PREPARE_DEVICE_CONFLICT.
 * A device that would give the pod nothing (no netdev to move, no RDMA
 * device with character devices to hand over) is PREPARE_DEVICE_EMPTY: its
 * claim would otherwise "attach" with nothing and its containers start
 * without the device. Where /proc/sys is read-only, a device whose attach or
 * restore needs a sysctl only /proc/sys can write is
 * PREPARE_SYSCTLS_READ_ONLY (plan/sysctl-writes.ts).
 */
import { DriverError } from '../common/errors.ts';
import { claimConfigError } from '../config/claim-config/issues.ts';
import { resolveDeviceConfig, type ResolveOptions } from '../config/claim-config/resolve.ts';
import type { NetworkConfig } from '../config/claim-config/types.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim, AllocationResult } from './claim.ts';
import { planDevice } from './plan/plan-device.ts';
import { procOnlyHostKeys, procOnlySysctlWrites } from './plan/sysctl-writes.ts';
import type { CharDevice, HostSnapshot } from './plan/plan-types.ts';
import type { ClaimRecord, DevicePlan, PoolAddress } from './record-model.ts';
import { withPoolAddresses } from './ipam/pool-config.ts';

export interface PrepareContext {
  /** Driver name in allocation results (`netclaim.dev`). */
  readonly driverName: string;
  /** This node's pool (the node name). */
  readonly poolName: string;
  readonly resolve: ResolveOptions;
  /** The device by its published name, or undefined when the inventory does not have it. */
  device(name: string): Device | undefined;
  /**
   * The node's default configuration for a device (its cloud's suggested config), under the class's
   * and the claim's layers (config/claim-config/underlay.ts); absent or undefined: none.
   */
  defaultConfig?(device: Device): NetworkConfig | undefined;
  /** Host-side snapshot of a netdev (kernel reads). */
  snapshot(device: Device, config: NetworkConfig): HostSnapshot;
  /** RDMA character devices of an RDMA device, with their kinds and numbers. */
  charDevices(rdmaDevice: string): readonly (CharDevice & { readonly kind: string })[];
  /**
   * How sysctls can be written on this node: absent or `procWritable()`
   * true, every way is open; false (/proc/sys read-only), only IPv4
   * per-interface ones (over rtnetlink), and claims needing others are
   * refused (PREPARE_SYSCTLS_READ_ONLY).
   */
  readonly sysctls?: SysctlAccess;
  /** Addresses allocated from pools for a request's device (claim-driver.ts, before planning); absent: none. */
  poolAddresses?(request: string, device: string): readonly PoolAddress[];
  now(): Date;
}

export interface SysctlAccess {
  procWritable(): boolean;
  /** `net.FAMILY.conf.default.NAME` of the host namespace for `ipv4.NAME` / `ipv6.NAME` keys (missing ones left out). */
  hostDefaults(keys: readonly string[]): Readonly<Record<string, string>>;
}

/** This driver's results in the claim for this node's pool. */
export function ownResults(claim: AllocatedClaim, ctx: Pick<PrepareContext, 'driverName' | 'poolName'>): AllocationResult[] {
  return (claim.allocation?.results ?? []).filter((r) => r.driver === ctx.driverName && r.pool === ctx.poolName);
}

/** The pod the claim is reserved for; a network device moves into one pod only. */
export function reservedPod(claim: AllocatedClaim): { uid: string; name: string } {
  const pods = claim.reservedFor.filter((c) => c.resource === 'pods' && (c.apiGroup ?? '') === '');
  const what = `claim ${claim.namespace}/${claim.name}`;
  if (claim.reservedFor.length === 0) {
    throw new DriverError('PREPARE_RESERVATION', `${what} is not reserved for any pod yet (status.reservedFor is empty)`);
  }
  if (pods.length !== claim.reservedFor.length) {
    const other = claim.reservedFor.find((c) => !pods.includes(c))!;
    throw new DriverError('PREPARE_RESERVATION', `${what} is reserved for ${other.resource} ${other.name}; netclaim devices can only be given to pods`);
  }
  if (pods.length > 1) {
    throw new DriverError('PREPARE_RESERVATION',
      `${what} is reserved for ${pods.length} pods (${pods.map((p) => p.name).join(', ')}); a network device can be moved into one pod only`,
      { context: { pods: pods.map((p) => p.uid) } });
  }
  return { uid: pods[0]!.uid, name: pods[0]!.name };
}

/** A plan that would move nothing into the pod and hand nothing over: no netdev, no RDMA device with character devices. */
function nothingToGive(plan: Pick<DevicePlan, 'pod' | 'rdma'>): boolean {
  return plan.pod === undefined && (plan.rdma === undefined || plan.rdma.charDevices.length === 0);
}

/** The record to store for a claim (without CDI ids and env, which claim-driver.ts adds). */
export function prepareClaim(claim: AllocatedClaim, ctx: PrepareContext): ClaimRecord {
  const what = `claim ${claim.namespace}/${claim.name}`;
  if (claim.allocation === undefined) throw new DriverError('PREPARE_NOT_ALLOCATED', `${what} is not allocated`);
  const results = ownResults(claim, ctx);
  if (results.length === 0) {
    throw new DriverError('PREPARE_NOT_ALLOCATED', `${what} has no device of driver ${ctx.driverName} in pool ${ctx.poolName}`);
  }
  const pod = reservedPod(claim);
  const configIssues: { path: string; message: string }[] = [];
  const issues: { path: string; message: string }[] = [];
  const missing: string[] = [];
  const unsupported: string[] = [];
  const empty: string[] = [];
  const readOnly: string[] = [];
  const procWritable = ctx.sysctls === undefined || ctx.sysctls.procWritable();
  const devices: DevicePlan[] = [];
  for (const result of results) {
    const at = (path: string): string => `request ${result.request} (device ${result.device})${path === '' ? '' : `: ${path}`}`;
    const device = ctx.device(result.device);
    const base = device === undefined ? undefined : ctx.defaultConfig?.(device);
    const cfg = resolveDeviceConfig(result.request, claim.allocation.config, ctx.resolve, claim.deviceClasses?.[result.request], base);
    if (!cfg.ok) {
      for (const x of (cfg.error.context['issues'] as { path: string; message: string }[] | undefined) ?? []) configIssues.push({ path: at(x.path), message: x.message });
      continue;
    }
    const config = withPoolAddresses(cfg.config, ctx.poolAddresses?.(result.request, result.device) ?? []);
    if (device === undefined) {
      missing.push(result.device);
      continue;
    }
    if (device.ifName !== undefined && !device.netdevPresent) {
      // Listed from its last known attributes while its netdev is elsewhere (a pod): nothing here to snapshot or move.
      empty.push(`${at('')}: its netdev ${device.ifName} is not in the host namespace`);
      continue;
    }
    const host = device.ifName === undefined ? undefined : ctx.snapshot(device, config);
    const planned = planDevice({
      result, config, device, ...(host === undefined ? {} : { host }),
      charDevices: device.rdmaDevice === undefined ? [] : ctx.charDevices(device.rdmaDevice),
    });
    if (!planned.ok) {
      if (planned.unsupported === true) unsupported.push(...planned.issues.map((x) => `${at(x.path)}: ${x.message}`));
      else issues.push(...planned.issues.map((x) => ({ path: at(x.path), message: x.message })));
      continue;
    }
    if (nothingToGive(planned.plan)) {
      empty.push(at(''));
      continue;
    }
    if (!procWritable) {
      const defaults = ctx.sysctls!.hostDefaults(procOnlyHostKeys(planned.plan.host));
      readOnly.push(...procOnlySysctlWrites(planned.plan, defaults).map((x) => `${at(x.field)} ${x.message}`));
    }
    devices.push({ ...planned.plan, identity: { kind: device.kind, ...planned.plan.identity }, env: [], cdiDeviceIds: [] });
  }
  if (missing.length > 0) {
    throw new DriverError('PREPARE_DEVICE_NOT_FOUND',
      `${what}: device${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found on this node (gone, renamed or filtered out since it was published)`,
      { context: { devices: missing } });
  }
  if (empty.length > 0) {
    throw new DriverError('PREPARE_DEVICE_EMPTY',
      `${what}: nothing to give the pod for ${empty.join('; ')}: a device needs a network interface on the host to move, or an RDMA device with character devices to hand over`,
      { context: { devices: empty } });
  }
  if (unsupported.length > 0) throw new DriverError('PREPARE_UNSUPPORTED', `${what}: ${unsupported.join('; ')}`);
  if (configIssues.length > 0) throw claimConfigError(what, [...configIssues, ...issues]);
  if (issues.length > 0) {
    const err = claimConfigError(what, issues);
    throw new DriverError('PREPARE_DEVICE_CONFLICT', err.message, { cause: err, context: { issues } });
  }
  if (readOnly.length > 0) {
    throw new DriverError('PREPARE_SYSCTLS_READ_ONLY',
      `${what}: /proc/sys is read-only for netclaim (its DaemonSet is not privileged), and ${readOnly.join('; ')}; run netclaim privileged or drop the field`,
      { context: { fields: readOnly } });
  }
  return {
    version: 1,
    claim: { uid: claim.uid, namespace: claim.namespace, name: claim.name },
    podUid: pod.uid, podName: pod.name,
    preparedAt: ctx.now().toISOString(),
    devices,
  };
}
