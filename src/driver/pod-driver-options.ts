/**
 * What a PodDriver is built with (pod-driver.ts): the store, the host's
 * namespace, the sinks it reports to, and the policies the daemon chooses.
 */
import type { Libc } from '../kernel/libc/libc.ts';
import type { NetnsHandle } from '../kernel/netns/handle.ts';
import type { ClaimStatusSink, EventSink, PodEvictor } from './claim.ts';
import type { NetnsPins } from './netns-pins.ts';
import type { PodObserver } from './pod-reports.ts';
import type { ClaimStore } from './state/claim-store.ts';
import type { GidLookup } from './sub-interface/sub-rdma.ts';

export interface PodDriverOptions {
  readonly store: ClaimStore;
  readonly host: NetnsHandle;
  readonly libc: Libc;
  /** RDMA devices move with the netdev (RDMA netns mode `exclusive`). */
  readonly rdmaExclusive: () => boolean;
  /**
   * Reads RoCE GID entries of the parents' RDMA devices, for the GID index
   * hints of sub-interfaces with RDMA (sub-interface/sub-rdma.ts) added at
   * CreateContainer. Default: the host's sysfs.
   */
  readonly gidLookup?: GidLookup;
  /** Claim status (`status.devices` conditions and networkData). */
  readonly status?: ClaimStatusSink;
  /** Warnings for users (Kubernetes Events on the claim). */
  readonly events?: EventSink;
  /** Present: evict a running pod whose devices cannot be put right (policy `--evict-unreconciled`). */
  readonly evictor?: PodEvictor;
  /** Pod namespaces held while a device is in them; absent: not pinned (a host that cannot mount). */
  readonly pins?: NetnsPins;
  readonly observer?: PodObserver;
  /**
   * Another daemon instance may share the store (rolling update): each hook
   * then holds this cross-process lock and re-reads the store first, so two
   * instances handling the same pod run one after the other and the second
   * converges.
   */
  readonly shared?: { lock(): Promise<void>; unlock(): void };
  /**
   * RunPodSandbox answers the runtime at once and the attach runs right after,
   * first in the hook queue, overlapping what the runtime does between the
   * sandbox and the first container (docs/pods.md, "Off the sandbox path").
   * CreateContainer waits for it in the queue and stays the gate (I1): it
   * attaches again what is missing, and fails the container otherwise. A
   * failed attach then fails the container, not the sandbox; the kubelet
   * retries either. Default false: the attach inside RunPodSandbox.
   */
  readonly attachAfterAnswer?: boolean;
  /**
   * Whether the runtime reports each new sandbox ahead of RunPodSandbox now
   * (the early attach's watch is connected; docs/pods.md, "Early attach"):
   * the early attach then takes the devices down itself, beside containerd's
   * start of the sandbox, and the host-down after Prepare is left out, since
   * it holds the RTNL lock while containerd makes the pod's network namespace.
   * Read at each Prepare. Default: never.
   */
  readonly earlySandboxNews?: () => boolean;
  /** Fault injection for tests: called before each device's attach. */
  readonly fault?: (step: string) => void;
  readonly now?: () => Date;
  /**
   * How long a physical device may take to come back to the host after its
   * pod's namespace died before that is reported (default 30 s). Its journal
   * stays either way.
   */
  readonly returnTimeoutMs?: number;
  /** How often the host is checked for such a device meanwhile (default 250 ms). */
  readonly returnPollMs?: number;
  /** How long one DHCP renew or rebind attempt waits for the server (default 2 s). */
  readonly dhcpAttemptMs?: number;
}
