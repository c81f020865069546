/**
 * What the kubelet surface needs from the driver, as plain data. The gRPC
 * server (surfaces/kubelet/plugin-server.ts) consumes this port and never sees the driver's
 * internals; the driver never sees protobuf. Tests stand a fake behind it.
 */
import type { ClaimUid } from '../common/ids.ts';

/** One ResourceClaim as the kubelet names it in NodePrepare/NodeUnprepareResources. */
export interface ClaimRef {
  readonly namespace: string;
  readonly uid: ClaimUid;
  readonly name: string;
}

/** One allocated device of a prepared claim, as the kubelet hands it to the runtime. */
export interface PreparedDevice {
  /**
   * Requests of the claim this device serves; empty means all of them. A
   * `request/subrequest` name is accepted: the server strips the sub-request,
   * since the kubelet matches against the pod's main request names.
   */
  readonly requestNames: readonly string[];
  readonly poolName: string;
  readonly deviceName: string;
  /** Fully qualified CDI device names (`vendor/class=name`); none is valid. */
  readonly cdiDeviceIds: readonly string[];
  /** Consumable-capacity share; sent over v1 only (v1beta1 has no such field). */
  readonly shareId?: string;
}

export type PrepareResult =
  | { readonly devices: readonly PreparedDevice[] }
  | { readonly error: string };

export interface UnprepareResult {
  readonly error?: string;
}

export type HealthState = 'unknown' | 'healthy' | 'unhealthy';

export interface DeviceHealth {
  readonly poolName: string;
  readonly deviceName: string;
  readonly health: HealthState;
  /** When the state was last determined, in Unix seconds. */
  readonly lastUpdatedTime: number;
  /** How long the kubelet trusts this entry before it calls the device Unknown (0: its default, 30 s). */
  readonly healthCheckTimeoutSeconds?: number;
  /** Detail for humans; the kubelet truncates past 1024 characters. */
  readonly message?: string;
}

/** A live view of device health: the complete current list plus change notification. */
export interface HealthView {
  /** The complete list for this driver; devices missing from it turn Unknown after their timeout. */
  readonly devices: readonly DeviceHealth[];
  /** Calls `cb` after every change of `devices`; returns the unsubscribe function. */
  onChange(cb: () => void): () => void;
}

export interface DriverPort {
  /**
   * Prepares every claim and answers for each uid. A per-claim `error` fails
   * that claim only; a missing uid counts as an error for that claim; a throw
   * fails every claim of the call with the thrown message. Must be idempotent:
   * the kubelet re-sends claims after restarts and failures.
   */
  prepare(claims: readonly ClaimRef[]): Promise<ReadonlyMap<ClaimUid, PrepareResult>>;
  /** The reverse of `prepare`, with the same rules; must accept claims that were never prepared. */
  unprepare(claims: readonly ClaimRef[]): Promise<ReadonlyMap<ClaimUid, UnprepareResult>>;
  /** Optional: without it the health service is neither served nor advertised. */
  health?(): HealthView;
  /**
   * Optional: settles when calls may go to the driver (the daemon's start: the
   * container runtime's first NRI Synchronize; start-gate.ts). The kubelet
   * surface awaits it before a call queues for the call lock, so a waiting call
   * never holds the lock the pod hooks take. Never rejects; once `signal`
   * aborts it settles at once.
   */
  ready?(signal?: AbortSignal): Promise<void>;
}
