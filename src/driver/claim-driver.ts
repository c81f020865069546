/**
 * The driver behind the kubelet surface: NodePrepareResources and
 * NodeUnprepareResources for network devices (the DriverPort of
 * driver-port.ts, which the kubelet surface consumes).
 *
 * Prepare refuses every claim (PREPARE_NRI_NOT_READY, retryable) while the
 * pod side cannot attach (its NRI plugin not synchronized by the runtime),
 * unless no NRI plugin runs at all (`--no-nri`).
 *
 * Prepare, per claim: if the store already has the claim, answer from it
 * (the kubelet repeats calls after restarts; nothing is planned again), after
 * checking that its CDI specs are there: a node reboot empties the CDI
 * directory (a tmpfs) but not the store, so they are written again from the
 * record, at start and there (claim-cdi-restore.ts). Otherwise fetch the claim, plan its devices (prepare-claim.ts),
 * write the CDI spec, then store the record; the answer goes out only after
 * the record is durable. A crash before that leaves at most a CDI file,
 * which the retried prepare rewrites and an unprepare removes by name.
 * The pod driver then hears of the claims prepared afresh (`prepared`: their
 * devices go down on the host once the answer is out, early-down.ts).
 *
 * Unprepare, per claim: if the claim's journal says its devices are (being)
 * attached to a pod, give them back first (the pod driver, as for a pod that
 * is gone); a device not back on the host and restored (still in the pod,
 * or not yet returned by the kernel) fails the claim's unprepare with
 * UNPREPARE_DEVICES_IN_POD and keeps everything, so the kubelet retries and
 * the host snapshot is never lost (invariant I2, docs/pods.md). After a
 * crash the kubelet may retry NodeUnprepareResources before the NRI plugin
 * has synchronized; this is what keeps that retry from dropping the record
 * of a device still in a pod. A claim that never reached a pod has what the
 * early host-down took down restored from its snapshot (`restoreUnattached`).
 * Then remove the CDI spec, then the record:
 * exactly that claim's, never another claim of the same pod. A claim that
 * was never prepared (or whose unprepare already ran) succeeds.
 *
 * Admin claims (KEP-5018, `adminAccess: true` results): planned by
 * admin-access.ts into their own kind of record, which the store keeps
 * apart from owners' records. Nothing moves or changes for them, the
 * device-conflict check (I3) does not count them and does not stop them, and
 * their unprepare removes only their CDI spec and record (docs/claims.md,
 * "Admin access").
 *
 * One claim's failure never fails another: every claim gets its own answer.
 * Claims are fetched concurrently and planned one after another (the
 * planning is synchronous kernel work, a few milliseconds).
 */
import type { ClaimUid } from '../common/ids.ts';
import { DriverError, errorText } from '../common/errors.ts';
import type { ResolveOptions } from '../config/claim-config/resolve.ts';
import type { NetworkConfig } from '../config/claim-config/types.ts';
import type { Device } from '../inventory/model.ts';
import { cloudDefaultConfig } from './cloud-defaults.ts';
import type { ClaimRef, DriverPort, HealthView, PrepareResult, PreparedDevice, UnprepareResult } from './driver-port.ts';
import { removeClaimCdiSpec, writeClaimCdiSpec } from './cdi/cdi-files.ts';
import { workloadEnv } from './cdi/workload-env.ts';
import type { AllocatedClaim, AllocationResult, ClaimSource, EventSink } from './claim.ts';
import type { AdminRecord, ClaimRecord, DevicePlan, PoolAddress } from './record-model.ts';
import { addressWants } from './ipam/address-wants.ts';
import { allocateClaimAddresses, reconcileAddresses, releaseAddresses } from './ipam/claim-addresses.ts';
import type { IpamPort } from './ipam/ipam-port.ts';
import { isAdminClaim, prepareAdminClaim } from './admin-access.ts';
import { withAdminCdi } from './admin-access-cdi.ts';
import { removeClaimMetadata, withDeviceMetadata } from './claim-metadata.ts';
import { restoreAdminCdi, restoreClaimCdi, storedClaimCdiSpec } from './claim-cdi-restore.ts';
import { ownResults, prepareClaim, type PrepareContext } from './prepare-claim.ts';
import { crashPoint } from './state/crash-points.ts';
import type { ClaimStore } from './state/claim-store.ts';
import { addStep, newSteps, timed, type Steps } from '../observe/steps.ts';
import { prepareSubInterfaces, subInterfacesOf, withSubInterfaces } from './sub-interface/prepare-subs.ts';
import type { SubInterfaces } from './sub-interface/sub-interfaces.ts';
import { deviceForResult, heldName } from './sub-interface/whole-twin.ts';

/** The inventory as the driver uses it (InventoryWatcher implements it). */
export interface InventoryView {
  readonly current: { readonly devices: readonly Device[]; readonly rdmaNetnsMode?: 'shared' | 'exclusive' };
  /** Keep a device listed while its netdev is in a pod. */
  hold(name: string): void;
  release(name: string): void;
}

/** A device that could not be given back to the host yet, and why. */
export interface NotReturned {
  readonly device: string;
  /** Where it is, as a phrase after the device name (`is still in the pod's network namespace (...)`). */
  readonly reason: string;
}

/** Gives a claim's devices back from its pod before its record goes (PodDriver implements it). */
export interface DeviceReturner {
  /**
   * Detaches what the claim's journal says is in a pod and clears the journal
   * when every device is back and restored (or proven gone); returns the
   * devices that are not (their journal stays). Synchronous.
   */
  returnDevices(uid: ClaimUid): readonly NotReturned[];
  /**
   * Claims just prepared, whose answer is on its way to the kubelet: their
   * devices may be made ready for the attach now, off the pod's path (early
   * host-down, early-down.ts). Must not block.
   */
  prepared?(uids: readonly ClaimUid[]): void;
  /**
   * A claim no pod got its devices from is being unprepared: put back on the
   * host what `prepared` changed (its devices' snapshots). Synchronous; what
   * cannot be put back is reported, not thrown.
   */
  restoreUnattached?(uid: ClaimUid): void;
}

/** What the driver reports as it goes (logs, metrics); every method is optional to implement. */
export interface DriverObserver {
  /** `steps`: where the claim's time went (fetch, wants, conflicts, subs, plan, cdi, metadata, store, hold; observe/steps.ts). */
  claimPrepared?(record: ClaimRecord, ms: number, fromStore: boolean, steps?: Readonly<Record<string, number>>): void;
  /** An admin claim (adminAccess) was prepared: nothing moved. */
  adminPrepared?(record: AdminRecord, ms: number, fromStore: boolean): void;
  claimFailed?(ref: ClaimRef, op: 'prepare' | 'unprepare', err: unknown, ms: number): void;
  claimUnprepared?(ref: ClaimRef, existed: boolean): void;
  /** A stored claim's CDI spec or metadata was missing (a node reboot) and written again from its record; or could not be (`err`). */
  cdiRestored?(claimUid: string, paths: readonly string[], err?: unknown): void;
  /** A device's cloud default was left out because the metadata's values are not a valid config. */
  cloudDefaultRefused?(ref: ClaimRef, device: string, problems: readonly string[]): void;
}

export interface ClaimDriverOptions {
  readonly driverName: string;
  readonly poolName: string;
  readonly claims: ClaimSource;
  readonly store: ClaimStore;
  readonly inventory: InventoryView;
  /** Host-side reads: snapshot, character devices. */
  readonly kernel: Pick<PrepareContext, 'snapshot' | 'charDevices'> & Partial<Pick<PrepareContext, 'sysctls'>>;
  readonly cdiDir: string;
  /** Device metadata for containers (KEP-5304; claim-metadata.ts): where its files live. Absent: none written. */
  readonly metadataDir?: string;
  readonly events?: EventSink;
  readonly observer?: DriverObserver;
  readonly resolve?: ResolveOptions;
  /** Use each device's cloud-suggested config as its lowest config layer (docs/cloud.md); default false. */
  readonly cloudDefaults?: boolean;
  readonly health?: () => HealthView;
  readonly now?: () => Date;
  /** Another instance may write the store (rolling update): re-read it at each call (calls already hold the cross-instance lock). */
  readonly sharedStore?: boolean;
  /**
   * Gives devices back from pods at unprepare (the PodDriver). Without it
   * (no NRI plugin), a claim whose journal says its devices are in a pod is
   * not unprepared until a pod hook has given them back.
   */
  readonly pods?: DeviceReturner;
  /**
   * Why pods cannot get their devices now (the PodDriver's runtimeProblem:
   * the container runtime has not synchronized netclaim's NRI plugin, or
   * dropped it). While it gives a reason, every Prepare is refused with the
   * retryable PREPARE_NRI_NOT_READY, so that no claim is acknowledged that
   * no hook would attach (docs/pods.md, I1). Absent (`--no-nri`): never.
   */
  readonly podsNotReady?: () => string | undefined;
  /**
   * Per-claim sub-interfaces of shareable parents (docs/sharing.md):
   * reconciled at construction, created at Prepare, deleted at unprepare.
   * Absent: claims on shareable parents are refused.
   */
  readonly subInterfaces?: SubInterfaces;
  /**
   * Address pools (docs/ipam.md): addresses allocated at Prepare for configs
   * naming `interface.addressPools`, static addresses registered in the pool
   * they lie in, all released at unprepare. Absent: a config naming a pool
   * is refused (PREPARE_UNSUPPORTED) and static addresses are not checked.
   */
  readonly ipam?: { readonly port: IpamPort; readonly node: string };
}

export class ClaimDriver implements DriverPort {
  readonly #o: ClaimDriverOptions;
  readonly health?: () => HealthView;
  /** Claims whose addresses are being allocated now: the reconcile leaves their allocations alone. */
  readonly #allocating = new Set<string>();

  constructor(o: ClaimDriverOptions) {
    this.#o = o;
    if (o.health !== undefined) this.health = o.health;
    // Devices in stored claims stay listed with their last attributes (a shareable parent never leaves the host).
    for (const r of o.store.list()) for (const d of r.devices) if (d.subInterface === undefined) o.inventory.hold(heldName(d.device, o.inventory.current.devices));
    // A crash may have left a sub-interface no record names, or a record naming one: delete or adopt (docs/sharing.md).
    o.subInterfaces?.reconcile(o.store);
    // After a node reboot the CDI directory (a tmpfs) is empty while the store is not: write each stored claim's specs again,
    // so that the pods the kubelet restarts find them (claim-cdi-restore.ts). Not in a rolling update (sharedStore): the
    // specs are there, and the other instance may be unpreparing a claim right now; its Prepare path checks under the lock.
    if (o.sharedStore !== true) {
      for (const r of o.store.list()) this.#restore(r.claim.uid, () => restoreClaimCdi(r, o.cdiDir), false);
      for (const r of o.store.admins()) this.#restore(r.claim.uid, () => restoreAdminCdi(r, o.cdiDir), false);
    }
  }

  /** Runs a restore and reports it; at start a failure is reported only (the claim's next Prepare retries and fails with it). */
  #restore(uid: string, run: () => readonly string[], rethrow: boolean): void {
    try {
      const paths = run();
      if (paths.length > 0) this.#o.observer?.cdiRestored?.(uid, paths);
    } catch (err) {
      this.#o.observer?.cdiRestored?.(uid, [], err);
      if (rethrow) throw err;
    }
  }

  async prepare(claims: readonly ClaimRef[]): Promise<ReadonlyMap<ClaimUid, PrepareResult>> {
    if (this.#o.sharedStore === true) this.#o.store.refresh();
    const out = new Map<ClaimUid, PrepareResult>();
    const notReady = this.#o.podsNotReady?.();
    if (notReady !== undefined) {
      for (const ref of claims) out.set(ref.uid, this.#failed(ref, 'prepare', nriNotReady(ref, notReady), performance.now()));
      return out;
    }
    const fetched = await Promise.all(claims.map(async (ref) => {
      const start = performance.now();
      const steps = newSteps();
      if (this.#o.store.get(ref.uid) !== undefined || this.#o.store.admin(ref.uid) !== undefined) return { ref, start, steps };
      try {
        const claim = await this.#o.claims.get(ref.namespace, ref.name);
        addStep(steps, 'fetch', performance.now() - start);
        return { ref, start, steps, claim };
      } catch (err) {
        return { ref, start, steps, err };
      }
    }));
    const fresh: ClaimUid[] = [];
    for (const f of fetched) {
      const before = this.#o.store.get(f.ref.uid);
      out.set(f.ref.uid, f.err === undefined ? await this.#prepareWithAddresses(f.ref, f.claim, f.start, f.steps) : this.#failed(f.ref, 'prepare', f.err, f.start));
      if (before === undefined && this.#o.store.get(f.ref.uid) !== undefined) fresh.push(f.ref.uid);
    }
    // Prepared now (not answered from the store): their devices can go down on the host once the answer is out.
    if (fresh.length > 0) this.#o.pods?.prepared?.(fresh);
    return out;
  }

  /** Allocates the claim's pool addresses (if any) before planning; a failed prepare gives them back. */
  async #prepareWithAddresses(ref: ClaimRef, claim: AllocatedClaim | undefined, start: number, steps: Steps): Promise<PrepareResult> {
    const o = this.#o;
    if (claim === undefined || claim.uid !== ref.uid || o.store.get(ref.uid) !== undefined || o.store.admin(ref.uid) !== undefined) {
      return this.#prepareOne(ref, claim, start, steps, []);
    }
    const results = ownResults(claim, o);
    if (isAdminClaim(claim, results)) return this.#prepareOne(ref, claim, start, steps, []);
    const wants = timed(steps, 'wants', () => addressWants(claim, results, o.resolve ?? {}));
    if (!wants.some((w) => w.pools.length > 0 || (o.ipam !== undefined && w.statics.length > 0))) return this.#prepareOne(ref, claim, start, steps, []);
    if (o.ipam === undefined) {
      return this.#failed(ref, 'prepare', new DriverError('PREPARE_UNSUPPORTED',
        `claim ${ref.namespace}/${ref.name}: interface.addressPools is set, but this netclaim runs without address pools (no Kubernetes API)`), start);
    }
    const ipam = o.ipam;
    this.#allocating.add(ref.uid);
    try {
      let addresses: readonly PoolAddress[];
      const t0 = performance.now();
      try {
        addresses = await allocateClaimAddresses(wants, { port: ipam.port, node: ipam.node, claim: { uid: claim.uid, namespace: claim.namespace, name: claim.name } });
      } catch (err) {
        return this.#failed(ref, 'prepare', err, start);
      }
      addStep(steps, 'ipam', performance.now() - t0);
      crashPoint('ipam.after-allocate');
      const result = this.#prepareOne(ref, claim, start, steps, addresses);
      // Not prepared: the addresses go back now (a failed release is left to the reconcile).
      if ('error' in result && o.store.get(ref.uid) === undefined) await releaseAddresses(ipam.port, ref.uid, addresses).catch(() => undefined);
      return result;
    } finally {
      this.#allocating.delete(ref.uid);
    }
  }

  /**
   * Deletes this node's address allocations that no stored record names and
   * no Prepare in flight is making (left by a crash between create and
   * store, or by a release that failed). Returns their names. Run after a
   * restart and now and then (docs/ipam.md).
   */
  async reconcileAddresses(graceMs?: number): Promise<string[]> {
    const ipam = this.#o.ipam;
    if (ipam === undefined) return [];
    if (this.#o.sharedStore === true) this.#o.store.refresh();
    return reconcileAddresses(ipam.port, ipam.node, (a) => this.#allocating.has(a.claim.uid)
      || (this.#o.store.get(a.claim.uid as ClaimUid)?.addresses ?? []).some((x) => x.name === a.name), Date.now(), graceMs);
  }

  async unprepare(claims: readonly ClaimRef[]): Promise<ReadonlyMap<ClaimUid, UnprepareResult>> {
    if (this.#o.sharedStore === true) this.#o.store.refresh();
    const out = new Map<ClaimUid, UnprepareResult>();
    for (const ref of claims) {
      const start = performance.now();
      try {
        const record = this.#o.store.get(ref.uid);
        // An admin claim's record: nothing was moved, so nothing is given back; only its CDI spec and record go.
        const admin = this.#o.store.admin(ref.uid);
        if (record?.attachment !== undefined) this.#returnDevices(record);
        // Never in a pod: what the early host-down took down comes back up, restored from its snapshot (early-down.ts).
        else if (record !== undefined) this.#o.pods?.restoreUnattached?.(ref.uid);
        // Addresses go back before the record: a release that fails keeps the record, and the kubelet retries.
        if (record?.addresses !== undefined && record.addresses.length > 0 && this.#o.ipam !== undefined) {
          await releaseAddresses(this.#o.ipam.port, ref.uid, record.addresses);
        }
        // Sub-interfaces are deleted, not restored; their ledger entries go after the record.
        const subs = subInterfacesOf(record);
        if (subs.length > 0) this.#o.subInterfaces?.deleteLinks(subs);
        removeClaimCdiSpec(this.#o.cdiDir, ref.uid);
        if (this.#o.metadataDir !== undefined) removeClaimMetadata({ dir: this.#o.metadataDir, cdiDir: this.#o.cdiDir }, ref.uid);
        crashPoint('unprepare.after-cdi-remove');
        if (record !== undefined || admin !== undefined) this.#o.store.delete(ref.uid);
        if (subs.length > 0) this.#o.subInterfaces?.forget(subs);
        for (const d of record?.devices ?? []) if (d.subInterface === undefined) this.#o.inventory.release(heldName(d.device, this.#o.inventory.current.devices));
        this.#o.observer?.claimUnprepared?.(ref, record !== undefined || admin !== undefined);
        out.set(ref.uid, {});
      } catch (err) {
        out.set(ref.uid, this.#failed(ref, 'unprepare', err, start));
      }
    }
    return out;
  }

  /** Gives the claim's devices back from its pod; throws UNPREPARE_DEVICES_IN_POD (retryable, nothing removed) for any that is not back. */
  #returnDevices(record: ClaimRecord): void {
    const a = record.attachment!;
    const left = this.#o.pods?.returnDevices(record.claim.uid as ClaimUid)
      ?? record.devices.map((d) => ({ device: d.device, reason: 'may be in the pod (no NRI plugin runs in this process to give it back)' }));
    if (left.length === 0) return;
    throw new DriverError('UNPREPARE_DEVICES_IN_POD',
      `claim ${record.claim.namespace}/${record.claim.name} (pod ${record.podName}, network namespace ${a.netns}): ${left.map((d) => `device ${d.device} ${d.reason}`).join('; ')}; ` +
      'its host snapshot and journal are kept until every device is back on the host and restored; the kubelet retries',
      { context: { devices: left, netns: a.netns, journal: a.state } });
  }

  #prepareOne(ref: ClaimRef, claim: AllocatedClaim | undefined, start: number, steps: Steps, addresses: readonly PoolAddress[]): PrepareResult {
    try {
      const stored = this.#o.store.get(ref.uid);
      if (stored !== undefined) {
        // Cheap when nothing is missing (a read and compare per spec file); never answer ids whose spec is gone.
        this.#restore(ref.uid, () => restoreClaimCdi(stored, this.#o.cdiDir), true);
        this.#o.observer?.claimPrepared?.(stored, performance.now() - start, true);
        return { devices: answer(stored) };
      }
      const storedAdmin = this.#o.store.admin(ref.uid);
      if (storedAdmin !== undefined) {
        this.#restore(ref.uid, () => restoreAdminCdi(storedAdmin, this.#o.cdiDir), true);
        this.#o.observer?.adminPrepared?.(storedAdmin, performance.now() - start, true);
        return { devices: answerAdmin(storedAdmin) };
      }
      if (claim === undefined) throw new Error(`claim ${ref.namespace}/${ref.name} was not fetched`);
      if (claim.uid !== ref.uid) throw mismatch(ref, claim);
      const results = ownResults(claim, this.#o);
      if (isAdminClaim(claim, results)) {
        const admin = this.#planAdmin(claim, results);
        this.#o.observer?.adminPrepared?.(admin, performance.now() - start, false);
        return { devices: answerAdmin(admin) };
      }
      const record = this.#plan(claim, steps, addresses);
      this.#o.observer?.claimPrepared?.(record, performance.now() - start, false, steps);
      return { devices: answer(record) };
    } catch (err) {
      return this.#failed(ref, 'prepare', err, start);
    }
  }

  #plan(claim: AllocatedClaim, steps: Steps, addresses: readonly PoolAddress[]): ClaimRecord {
    const o = this.#o;
    const byName = new Map(o.inventory.current.devices.map((d) => [d.name as string, d]));
    // Before planning: a device another claim holds may be in its pod, with nothing on the host to plan from.
    const results = ownResults(claim, o);
    timed(steps, 'conflicts', () => this.#checkConflicts(claim.uid, results));
    // Sub-interfaces of shareable parents are recorded and created first; the claim is planned with them standing in.
    const subs = timed(steps, 'subs', () => prepareSubInterfaces(claim, results, {
      resolve: o.resolve ?? {}, device: (name) => deviceForResult(name, byName), subs: o.subInterfaces, records: o.store.list(),
      ...(o.inventory.current.rdmaNetnsMode === undefined ? {} : { rdmaNetnsMode: o.inventory.current.rdmaNetnsMode }),
    }));
    let record: ClaimRecord;
    try {
      const planned = timed(steps, 'plan', () => prepareClaim(claim, {
        driverName: o.driverName, poolName: o.poolName, resolve: o.resolve ?? {},
        device: (name) => subs.children.get(name) ?? deviceForResult(name, byName), snapshot: o.kernel.snapshot, charDevices: o.kernel.charDevices,
        ...(o.cloudDefaults === true ? { defaultConfig: (d: Device) => this.#cloudDefault(claim, d) } : {}),
        ...(o.kernel.sysctls === undefined ? {} : { sysctls: o.kernel.sysctls }),
        now: o.now ?? (() => new Date()),
        poolAddresses: (request, device) => addresses.filter((a) => a.request === request && a.device === device),
      }));
      crashPoint('prepare.after-plan');
      const withIds = timed(steps, 'cdi', () => withCdi({ ...planned, ...(addresses.length === 0 ? {} : { addresses }), devices: withSubInterfaces(planned.devices, subs) }, o.cdiDir));
      const metadataDir = o.metadataDir;
      record = metadataDir === undefined ? withIds
        : timed(steps, 'metadata', () => withDeviceMetadata(withIds, claim, (n) => subs.children.get(n) ?? deviceForResult(n, byName), { dir: metadataDir, cdiDir: o.cdiDir }));
      crashPoint('prepare.after-cdi');
      timed(steps, 'store', () => o.store.put(record));
    } catch (err) {
      subs.rollback();
      throw err;
    }
    crashPoint('prepare.after-store');
    // Held: listed with these attributes while in the pod (the held-devices cache is saved here, without fsyncs).
    timed(steps, 'hold', () => {
      for (const d of record.devices) if (d.subInterface === undefined) o.inventory.hold(heldName(d.device, o.inventory.current.devices));
    });
    return record;
  }

  /** The device's cloud default as a parsed config; one the schema refuses is left out and reported. */
  #cloudDefault(claim: AllocatedClaim, device: Device): NetworkConfig | undefined {
    if (device.suggestedConfig === undefined) return undefined;
    const d = cloudDefaultConfig(device.suggestedConfig);
    if (d.ok) return d.config;
    this.#o.observer?.cloudDefaultRefused?.({ uid: claim.uid, namespace: claim.namespace, name: claim.name }, device.name, d.problems);
    return undefined;
  }

  /** An admin claim: no conflict check (it takes nothing), no hold (nothing leaves the host), its own record kind. */
  #planAdmin(claim: AllocatedClaim, results: readonly AllocationResult[]): AdminRecord {
    const o = this.#o;
    const inv = o.inventory.current;
    const byName = new Map(inv.devices.map((d) => [d.name as string, d]));
    const planned = prepareAdminClaim(claim, results, {
      driverName: o.driverName, poolName: o.poolName, resolve: o.resolve ?? {},
      device: (name) => deviceForResult(name, byName), charDevices: o.kernel.charDevices,
      ...(inv.rdmaNetnsMode === undefined ? {} : { rdmaNetnsMode: inv.rdmaNetnsMode }),
      ownerNamespace: (device, pool) => o.store.list().find((r) => r.devices.some((d) => d.device === device && d.pool === pool))?.claim.namespace,
      now: o.now ?? (() => new Date()),
    });
    crashPoint('prepare.after-plan');
    const record = withAdminCdi(planned, o.cdiDir);
    crashPoint('prepare.after-cdi');
    o.store.putAdmin(record);
    crashPoint('prepare.after-store');
    return record;
  }

  /** A device moves into one pod only: refuse one another stored claim already has (I3). Admin claims' records are not listed, so they neither count nor are refused. */
  #checkConflicts(uid: string, results: readonly { readonly device: string; readonly pool: string }[]): void {
    for (const other of this.#o.store.list()) {
      if (other.claim.uid === uid) continue;
      // Sub-interfaces of one shareable parent do not conflict: each claim has its own (capacity is checked apart).
      const shared = other.devices.filter((d) => d.subInterface === undefined && results.some((x) => x.device === d.device && x.pool === d.pool));
      if (shared.length > 0) {
        throw driverError('PREPARE_DEVICE_CONFLICT',
          `device ${shared.map((d) => d.device).join(', ')} is already prepared for claim ${other.claim.namespace}/${other.claim.name} (pod ${other.podName})`,
          { device: shared.map((d) => d.device), otherClaim: other.claim.uid });
      }
    }
  }

  #failed(ref: ClaimRef, op: 'prepare' | 'unprepare', err: unknown, start: number): { error: string } {
    this.#o.observer?.claimFailed?.(ref, op, err, performance.now() - start);
    const message = errorText(err);
    this.#o.events?.claimWarning(ref, op === 'prepare' ? 'ClaimPrepareFailed' : 'ClaimUnprepareFailed', message);
    return { error: message };
  }
}

/** Adds workload env and CDI ids to a planned record and writes its CDI spec (if it needs one). */
function withCdi(record: ClaimRecord, cdiDir: string): ClaimRecord {
  const env = workloadEnv(record.devices.filter((d) => d.workloadEnv).map((d) => ({
    ...(d.pod === undefined ? {} : { podIfName: d.pod.name }),
    ...(d.rdma === undefined ? {} : { rdmaDevice: d.rdma.device }),
  })));
  const withEnv: DevicePlan[] = record.devices.map((d) => ({ ...d, env }));
  // Built from the plans as stored, by the function a restart after a reboot rebuilds it with: the same bytes, the same ids.
  const built = storedClaimCdiSpec({ ...record, devices: withEnv });
  if (built === undefined) {
    removeClaimCdiSpec(cdiDir, record.claim.uid);
    return record;
  }
  const path = writeClaimCdiSpec(cdiDir, built);
  const devices: DevicePlan[] = withEnv.map((d) => ({ ...d, cdiDeviceIds: built.deviceIds.get(d.device) ?? [] }));
  return { ...record, devices, cdiSpec: path };
}

function answer(record: ClaimRecord): PreparedDevice[] {
  return record.devices.map((d) => ({
    requestNames: [d.request], poolName: d.pool, deviceName: d.device, cdiDeviceIds: d.cdiDeviceIds,
    ...(d.shareId === undefined ? {} : { shareId: d.shareId }),
  }));
}

function answerAdmin(record: AdminRecord): PreparedDevice[] {
  return record.access.map((d) => ({
    requestNames: [d.request], poolName: d.pool, deviceName: d.device, cdiDeviceIds: d.cdiDeviceIds,
    ...(d.shareId === undefined ? {} : { shareId: d.shareId }),
  }));
}

function nriNotReady(ref: ClaimRef, reason: string): Error {
  return new DriverError('PREPARE_NRI_NOT_READY',
    `claim ${ref.namespace}/${ref.name}: ${reason}; no claim is prepared until it is, so that no pod starts without its devices (the kubelet retries)`,
    { context: { reason } });
}

function mismatch(ref: ClaimRef, claim: AllocatedClaim): Error {
  return driverError('PREPARE_CLAIM_MISMATCH',
    `claim ${ref.namespace}/${ref.name} has UID ${claim.uid} in the API server, not ${ref.uid}: it was deleted and re-created`,
    { expected: ref.uid, actual: claim.uid });
}

function driverError(code: 'PREPARE_DEVICE_CONFLICT' | 'PREPARE_CLAIM_MISMATCH', message: string, context: Record<string, unknown>): Error {
  return new DriverError(code, message, { context });
}
