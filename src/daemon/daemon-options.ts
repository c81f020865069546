/**
 * What a Daemon is built with (daemon.ts): the node, the API, the kubelet's
 * and the runtime's sockets, and the policies `netclaim run` chooses.
 */
import type { InventoryOptions } from '../inventory/options.ts';
import type { Libc } from '../kernel/libc/libc.ts';
import type { Logger } from '../observe/logger.ts';
import type { TlsFilePaths } from '../observe/tls-files.ts';
import type { KubeApi } from '../surfaces/kube/kube-api.ts';
import type { WriteBudgetOptions } from '../surfaces/kube/write-budget.ts';

export interface DaemonOptions {
  readonly kubeConfig: KubeApi;
  readonly nodeName: string;
  readonly driverName: string;
  readonly kubeletRootDir: string;
  readonly stateDir: string;
  readonly cdiDir: string;
  readonly sysfsRoot: string;
  readonly inventory: InventoryOptions;
  /** `--cloud-provider`: auto (from DMI), none, gce, aws, azure or oci; absent: none. */
  readonly cloudProvider?: string;
  /** `--no-cloud-config` unset: a cloud's suggested config is each device's lowest config layer (default true). */
  readonly cloudDefaults?: boolean;
  /** Attribute domain the inventory publishes (for health): the driver name, or `dra.net` in DraNet naming. */
  readonly attributeDomain: string;
  /** Read `dra.net` opaque configs too. */
  readonly dranetConfigs: boolean;
  readonly taintUnhealthy: boolean;
  /** Taint unhealthy devices in pods NoExecute, so pods not tolerating it are evicted (implies taintUnhealthy; docs/observability.md). */
  readonly taintUnhealthyNoExecute?: boolean;
  /** `--slice-write-rate`/`--slice-write-burst`: the publisher's write budget (absent: its default). */
  readonly sliceWriteBudget?: WriteBudgetOptions;
  /** Rolling-update instance suffix (pod UID); undefined: plain socket names. */
  readonly instance?: string;
  readonly metricsAddress: string;
  /** HTTPS on the metrics address, with this certificate and key (docs/observability.md, "Secure scraping"). */
  readonly metricsTls?: TlsFilePaths;
  /** /metrics only for a bearer token the API server authorizes to get /metrics (TokenReview + SubjectAccessReview). */
  readonly metricsAuth?: boolean;
  /** The runtime's NRI socket; undefined: no NRI plugin (devices are then never moved into pods). */
  readonly nriSocket?: string;
  /** NRI plugin index (two digits): the runtime calls plugins in index order. */
  readonly nriPluginIndex?: string;
  /** Where the container gate sits (`--container-gate`; docs/pods.md): default `create`. */
  readonly containerGate?: 'create' | 'start';
  /** containerd's API socket (`--containerd-socket`): its sandbox events start a pod's attach early (docs/pods.md, "Early attach"). */
  readonly containerdSocket?: string;
  /** Evict a running pod whose devices cannot be put right after a restart (else: report only). */
  readonly evictUnreconciled?: boolean;
  /**
   * Device metadata files for containers (KEP-5304, docs/claims.md); default true. Off: no
   * metadata files and no metadata CDI device, so a plain netdev claim gives the runtime no
   * CDI device to resolve and mount at CreateContainer (docs/benchmarks.md, "Side by side").
   */
  readonly deviceMetadata?: boolean;
  /** How long a physical device may take to come back from a dead pod namespace before that is reported (default: the pod driver's, 30 s). */
  readonly deviceReturnTimeoutMs?: number;
  /** A network namespace to treat as the host's (tests); default the daemon's own. */
  readonly hostNetns?: string;
  readonly libc: Libc;
  readonly log: Logger;
}
