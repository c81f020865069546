/**
 * The attach engine's vocabulary: the steps of an attach in the order they
 * run, what the caller hands in (the two namespaces and the FFI backend) and
 * what comes back. Plain data; the pipeline is attach-device.ts.
 */
import type { DhcpLease } from '../../kernel/dhcp/dhcp-types.ts';
import type { Libc } from '../../kernel/libc/libc.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { Steps } from '../../observe/steps.ts';

/**
 * The steps of attachDevice, in order. A step that does not apply to a plan
 * (no VRF, no eBPF detach, no RDMA in exclusive mode) is skipped, but the
 * fault hook still sees it.
 */
export const ATTACH_STEPS = [
  'find', 'host-down', 'ebpf-detach', 'move', 'host-routes', 'sysctls', 'vrf', 'addresses', 'up', 'dhcp', 'routes', 'rules', 'neighbors', 'ethtool', 'rdma',
] as const;

export type AttachStep = (typeof ATTACH_STEPS)[number];

export interface AttachContext {
  /** The driver's (host) namespace, where the device is before the attach. */
  readonly host: NetnsHandle;
  /** The pod's namespace. */
  readonly pod: NetnsHandle;
  readonly libc: Libc;
  /** RDMA devices move with their netdev (the RDMA subsystem's netns mode is `exclusive`). */
  readonly rdmaExclusive?: boolean;
  /** Fault injection for tests: called before every step of ATTACH_STEPS, applicable or not; a throw fails that step. */
  readonly fault?: (step: AttachStep) => void;
  /**
   * Each step that ran adds its duration here as `attach.<step>` (summed over
   * devices), so the pod hook's log and the e2e bench show where an attach's
   * time goes (docs/benchmarks.md, "e2e").
   */
  readonly steps?: Steps;
}

export interface AttachResult {
  /** The interface's ifindex in the pod. */
  readonly ifIndex: number;
  /** Its name in the pod. */
  readonly name: string;
  readonly mac: string;
  /** The addresses configured, canonical CIDRs (the leased one included). */
  readonly ips: readonly string[];
  /** The DHCP lease acquired by step `dhcp` (plan `pod.dhcp`). */
  readonly lease?: DhcpLease;
  /** The steps that ran, in order. */
  readonly steps: readonly AttachStep[];
  /** True when the device was already in the pod: only the idempotent steps ran again. */
  readonly converged: boolean;
}

export interface DetachContext {
  readonly host: NetnsHandle;
  /** Absent when the pod's namespace is already gone. */
  readonly pod?: NetnsHandle;
  readonly libc: Libc;
  readonly rdmaExclusive?: boolean;
}

/** What detach and restore could not do; they go on after each. */
export interface DetachProblem {
  /** `rdma`, `find`, `move`, `name`, `link`, `ethtool`, `sysctls`, `addresses`, `up`, `routes`, `rules`, `neighbors`. */
  readonly step: string;
  readonly message: string;
}

export interface DetachResult {
  /**
   * Where the netdev (for an RDMA-only plan, the RDMA device) was found: in
   * the pod (moved back, unless the move failed), already on the host (e.g.
   * returned by the kernel when the pod's namespace died, possibly renamed
   * `devN`), `gone` (a virtual netdev, destroyed with its namespace), or
   * `pending`: a physical device in neither namespace, which the kernel has
   * not returned yet.
   */
  readonly found: 'pod' | 'host' | 'gone' | 'pending';
  /** The same for the RDMA device of a netdev plan, when it moved with it (exclusive mode). */
  readonly rdmaFound?: 'pod' | 'host' | 'gone' | 'pending';
  /**
   * Nothing more to do for this device: back on the host with its snapshot
   * applied field by field (what the kernel refused is in `problems`), or
   * proven gone. False while it is still in the pod (the move failed), could
   * not be searched for, or is `pending`: its journal and snapshot must stay.
   */
  readonly settled: boolean;
  /** What was put back (`rdma`, `move`, `name`, `mtu`, `addresses`...); empty when the host already matched. */
  readonly restored: readonly string[];
  readonly problems: readonly DetachProblem[];
}

/** What restoreHost changed, and what it could not. */
export interface RestoreResult {
  readonly restored: readonly string[];
  readonly problems: readonly DetachProblem[];
}
