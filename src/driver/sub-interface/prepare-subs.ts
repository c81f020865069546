/**
 * Prepare's sub-interface step (docs/sharing.md), before the claim is
 * planned: for each result on a shareable parent, check the merged
 * `subInterface` config and the parent's capacity, then record and create
 * the claim's sub-interface on the host. The claim is then planned as usual,
 * with the sub-interface standing in for the parent (its identity, host
 * snapshot and pod plan), so the attach engine moves and configures it like
 * any virtual netdev.
 *
 * Everything is checked before anything is created: a refused claim
 * (PREPARE_SUB_INTERFACE, PREPARE_CAPACITY_EXCEEDED) changes nothing.
 * Capacity is enforced here whatever the scheduler allocated: the stored
 * records and the ledger (in-flight intents) are counted.
 *
 * RDMA over a shared parent (docs/sharing.md): in RDMA netns mode `shared`
 * the sub-interface stands in with the parent's RDMA device, so the plan
 * hands the pod its character devices (CDI) and the NCCL/UCX hints name it;
 * the GID index is resolved once the child has its address in the pod
 * (sub-rdma.ts). In mode `exclusive` the parent's RDMA device cannot be
 * shared: a claim asking for RDMA (`rdma.required`, `rdma.charDevices`) is
 * refused (PREPARE_SUB_INTERFACE_RDMA), one that does not gets a plain
 * sub-interface.
 *
 * Not done: one claim with two requests on the same parent (refused).
 */
import { DriverError } from '../../common/errors.ts';
import { resolveDeviceConfig, type ResolveOptions } from '../../config/claim-config/resolve.ts';
import type { Device } from '../../inventory/model.ts';
import type { AllocatedClaim, AllocationResult } from '../claim.ts';
import type { ClaimRecord, DevicePlan, SubInterfaceRecord } from '../record-model.ts';
import type { SubInterfaces } from './sub-interfaces.ts';
import { subInterfaceName, subInterfaceSpec, type SubInterfaceSpec } from './sub-spec.ts';

export interface PreparedSubInterfaces {
  /** Stand-ins for the parents, by the parent's device name. */
  readonly children: ReadonlyMap<string, Device>;
  readonly records: ReadonlyMap<string, SubInterfaceRecord>;
  /** Undoes the creation (a later Prepare step failed). */
  rollback(): void;
}

export interface SubPrepareContext {
  readonly resolve: ResolveOptions;
  device(name: string): Device | undefined;
  /** Absent: the driver runs without sub-interface support (then shareable parents are refused). */
  readonly subs: SubInterfaces | undefined;
  readonly records: readonly ClaimRecord[];
  /** The node's RDMA netns mode (absent: no RDMA subsystem, or unknown; taken as `shared`). */
  readonly rdmaNetnsMode?: 'shared' | 'exclusive';
}

const NONE: PreparedSubInterfaces = { children: new Map(), records: new Map(), rollback: () => {} };

export function prepareSubInterfaces(claim: AllocatedClaim, results: readonly AllocationResult[], ctx: SubPrepareContext): PreparedSubInterfaces {
  const what = `claim ${claim.namespace}/${claim.name}`;
  const problems: string[] = [];
  const full: string[] = [];
  const rdmaRefused: string[] = [];
  const todo: { result: AllocationResult; parent: Device; spec: SubInterfaceSpec }[] = [];
  for (const result of results) {
    const at = `request ${result.request} (device ${result.device})`;
    const parent = ctx.device(result.device);
    if (parent === undefined || claim.allocation === undefined) continue; // prepareClaim reports it
    const cfg = resolveDeviceConfig(result.request, claim.allocation.config, ctx.resolve, claim.deviceClasses?.[result.request]);
    if (!cfg.ok) continue; // prepareClaim reports it, with every other problem
    if (parent.sharing === undefined) {
      if (cfg.config.subInterface !== undefined) problems.push(`${at}: subInterface: the device is not a shareable parent (docs/sharing.md)`);
      continue;
    }
    if (ctx.subs === undefined) {
      problems.push(`${at}: the device is a shareable parent, and this driver runs without sub-interface support`);
      continue;
    }
    const spec = subInterfaceSpec(cfg.config);
    if (!spec.ok) {
      problems.push(...spec.issues.map((x) => `${at}: ${x.path} ${x.message}`));
      continue;
    }
    if (parent.ifName === undefined || parent.ifIndex === undefined || !parent.netdevPresent) {
      problems.push(`${at}: the parent has no network interface in the host namespace`);
      continue;
    }
    if (todo.some((t) => t.result.device === result.device)) {
      problems.push(`${at}: this claim already has a sub-interface of the device (one per device and claim)`);
      continue;
    }
    const wantsRdma = cfg.config.rdma?.required === true || cfg.config.rdma?.charDevices !== undefined;
    if (wantsRdma && parent.rdmaDevice !== undefined && ctx.rdmaNetnsMode === 'exclusive') {
      rdmaRefused.push(`${at}: rdma: RDMA netns mode is exclusive on this node, so ${parent.rdmaDevice} works only in the namespace holding it and cannot be shared by sub-interfaces`);
      continue;
    }
    const used = ctx.subs.used(ctx.records, result.device, result.pool, claim.uid);
    if (used >= parent.sharing.maxSubInterfaces) {
      full.push(`${at}: ${parent.ifName} has ${used} of ${parent.sharing.maxSubInterfaces} sub-interfaces in use`);
      continue;
    }
    todo.push({ result, parent, spec: spec.spec });
  }
  if (rdmaRefused.length > 0) {
    throw new DriverError('PREPARE_SUB_INTERFACE_RDMA',
      `${what}: ${rdmaRefused.join('; ')}; nothing was created (set the node's RDMA netns mode to shared, or claim the device whole)`,
      { context: { devices: rdmaRefused } });
  }
  if (problems.length > 0) throw new DriverError('PREPARE_SUB_INTERFACE', `${what}: ${problems.join('; ')}`, { context: { problems } });
  if (full.length > 0) {
    throw new DriverError('PREPARE_CAPACITY_EXCEEDED', `${what}: ${full.join('; ')}; nothing was created (the kubelet retries)`, { context: { devices: full } });
  }
  if (todo.length === 0) return NONE;
  return createAll(claim, todo, ctx.subs!, ctx.rdmaNetnsMode !== 'exclusive');
}

function createAll(
  claim: AllocatedClaim, todo: readonly { result: AllocationResult; parent: Device; spec: SubInterfaceSpec }[], subs: SubInterfaces, rdmaShared: boolean,
): PreparedSubInterfaces {
  const children = new Map<string, Device>();
  const records = new Map<string, SubInterfaceRecord>();
  const created: string[] = [];
  const rollback = (): void => subs.rollback(created);
  try {
    for (const { result, parent, spec } of todo) {
      const name = subInterfaceName(claim.uid, result.request, result.device);
      const record: SubInterfaceRecord = { name, type: spec.type, parent: parent.ifName!, parentIfIndex: parent.ifIndex! };
      created.push(name);
      const ifIndex = subs.create({ ...record, claimUid: claim.uid, request: result.request, device: result.device, pool: result.pool }, spec);
      records.set(result.device, record);
      // In shared RDMA mode the child uses the parent's RDMA device: planning then hands its character devices over.
      children.set(result.device, {
        name: parent.name, kind: 'virtual', ifName: name, ifIndex, charDevices: [], netdevPresent: true,
        attributes: parent.attributes, dropped: [],
        ...(rdmaShared && parent.rdmaDevice !== undefined ? { rdmaDevice: parent.rdmaDevice } : {}),
      });
    }
  } catch (err) {
    rollback();
    throw err;
  }
  return { children, records, rollback };
}

/** The planned devices with their sub-interface records. */
export function withSubInterfaces(devices: readonly DevicePlan[], subs: PreparedSubInterfaces): DevicePlan[] {
  return devices.map((d) => {
    const s = subs.records.get(d.device);
    return s === undefined ? d : { ...d, subInterface: s };
  });
}

/** The sub-interfaces a record names. */
export function subInterfacesOf(record: ClaimRecord | undefined): SubInterfaceRecord[] {
  return (record?.devices ?? []).flatMap((d) => (d.subInterface === undefined ? [] : [d.subInterface]));
}
