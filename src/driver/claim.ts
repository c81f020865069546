/**
 * A ResourceClaim as the driver reads it: plain data, converted from the API
 * object by the kube surface (surfaces/kube/claim-source.ts), so the driver
 * never sees the client library's types.
 */
import type { ClaimUid } from '../common/ids.ts';
import type { AllocationConfig } from '../config/claim-config/types.ts';
import type { AttachedDevice, ClaimRecord } from './record-model.ts';

/** `status.allocation.devices.results[]` (DeviceRequestAllocationResult). */
export interface AllocationResult {
  /** `request` or `request/subrequest`. */
  readonly request: string;
  readonly driver: string;
  readonly pool: string;
  readonly device: string;
  readonly shareId?: string;
  readonly adminAccess?: boolean;
}

/** `status.reservedFor[]` (ResourceClaimConsumerReference). */
export interface ClaimConsumer {
  readonly apiGroup?: string;
  readonly resource: string;
  readonly name: string;
  readonly uid: string;
}

export interface AllocatedClaim {
  readonly namespace: string;
  readonly name: string;
  readonly uid: ClaimUid;
  readonly reservedFor: readonly ClaimConsumer[];
  /**
   * The DeviceClass of each request, from `spec.devices.requests[]`
   * (`exactly.deviceClassName`; `main/sub` for `firstAvailable[]`), to name
   * the class in messages. Absent when unknown.
   */
  readonly deviceClasses?: Readonly<Record<string, string>>;
  /** The pod spec's name for a claim made from a template (annotation `resource.kubernetes.io/pod-claim-name`). */
  readonly podClaimName?: string;
  /** Absent while the claim is not allocated. */
  readonly allocation?: {
    readonly results: readonly AllocationResult[];
    readonly config: readonly AllocationConfig[];
  };
}

/** Where the driver reads claims from (the API server in production). */
export interface ClaimSource {
  /** The claim by namespace and name; throws NotFoundError when it does not exist. */
  get(namespace: string, name: string): Promise<AllocatedClaim>;
}

/** Where the driver reports what users should see (Kubernetes Events in production). */
export interface EventSink {
  /** A Warning event on the claim (reason in UpperCamelCase, e.g. `ClaimPrepareFailed`). */
  claimWarning(claim: { readonly namespace: string; readonly name: string; readonly uid: string }, reason: string, message: string): void;
}

/** Where attached devices are reported (ResourceClaim `status.devices` in production). */
export interface ClaimStatusSink {
  /**
   * The devices are in the pod and its containers may start next: what a
   * container reads when it starts (the device metadata files) is written
   * now, synchronously and without the API. devicesReady follows, off the
   * pod's path (docs/pods.md, "Off the sandbox path").
   */
  devicesInPlace?(record: ClaimRecord, devices: readonly AttachedDevice[]): void;
  /** The claim's devices are in place (the `attached` journal written): conditions Ready, networkData. */
  devicesReady(record: ClaimRecord, devices: readonly AttachedDevice[]): void;
  /** The claim's devices could not be put in place in its pod (Ready=False with the reason). */
  devicesNotReady(record: ClaimRecord, message: string): void;
}

/** Evicts a pod whose devices cannot be put right (policy `--evict-unreconciled`). */
export interface PodEvictor {
  evict(namespace: string, name: string, reason: string): Promise<void>;
}
