/**
 * What a cloud's instance metadata service (IMDS) says about this node and
 * its NICs, normalised across clouds: the input of the attribute mapping
 * (attributes.ts) and of the suggested per-NIC config (suggested-config.ts).
 * Each source (gce.ts, aws.ts, azure.ts, oci.ts) fills what its cloud
 * documents and leaves the rest out; docs/cloud.md lists every field's origin.
 */

/** The clouds netclaim reads (the `--cloud-provider` values besides `auto` and `none`). */
export const CLOUD_NAMES = ['gce', 'aws', 'azure', 'oci'] as const;
export type CloudName = (typeof CLOUD_NAMES)[number];

/** Node-wide facts: the same for every device of the node. */
export interface NodeFacts {
  /** Machine type / instance type / VM size / shape: `a3-ultragpu-8g`, `p5.48xlarge`. */
  readonly instanceType?: string;
  /** OCI HPC island (OCID suffix). */
  readonly island?: string;
  /** GCE block; OCI network block (OCID suffix). */
  readonly block?: string;
  /** GCE sub-block; OCI local block (OCID suffix). */
  readonly subBlock?: string;
  /** OCI rack id. */
  readonly rack?: string;
  /** GCE host; OCI host (OCID suffix). */
  readonly host?: string;
  /** OCI GPU memory fabric (GB200/GB300 NVLink domain, OCID suffix). */
  readonly memoryFabric?: string;
  /** Azure interconnect group and subgroup. */
  readonly interconnectGroup?: string;
  readonly interconnectSubgroup?: string;
  /** AWS placement group name; Azure placement group id. */
  readonly placementGroup?: string;
  /** AWS partition number (partition placement groups). */
  readonly partition?: number;
}

/** One NIC as the metadata service lists it. */
export interface NicFacts {
  /** Lower-case colon form, 6 bytes: the only join key the clouds give. */
  readonly mac: string;
  /** Its index: GCE and Azure list position, AWS `device-number`, OCI list position. */
  readonly index: number;
  /** GCE VPC network (last segment of `network`); AWS VPC id. */
  readonly networkName?: string;
  /** GCE: the project number in `network` (DraNet's `networkProjectNumber`). */
  readonly networkProjectNumber?: number;
  /** The IPv4 subnet, CIDR: `10.0.1.0/24`. */
  readonly subnet?: string;
  /** AWS network card index. */
  readonly networkCard?: number;
  /** GCE alias IP ranges. */
  readonly ipAliases?: readonly string[];
  /** The NIC's primary IPv4 addresses as CIDRs (`10.0.1.5/24`), primary first. */
  readonly ipv4?: readonly string[];
  /** The IPv4 gateway of its subnet, as the cloud gives it or documents it. */
  readonly gateway?: string;
  readonly mtu?: number;
}

export interface CloudFacts {
  readonly cloud: CloudName;
  readonly node: NodeFacts;
  readonly nics: readonly NicFacts[];
}

/**
 * A NIC's network settings as its cloud knows them, in the shape of a claim
 * configuration (docs/claim-config.md: `interface.addresses`,
 * `interface.mtu`, `routes[]`, `rules[]`), to be used as the lowest layer of
 * a device's config: class and claim configs still override it.
 */
export interface SuggestedConfig {
  readonly cloud: CloudName;
  readonly interface?: {
    readonly addresses?: readonly string[];
    readonly mtu?: number;
  };
  /** Policy routing for a secondary NIC: its own table with a default route through its subnet's gateway. */
  readonly routes?: readonly SuggestedRoute[];
  readonly rules?: readonly SuggestedRule[];
}

export interface SuggestedRoute {
  readonly destination: string;
  readonly gateway: string;
  readonly table: number;
}

export interface SuggestedRule {
  readonly source: string;
  readonly table: number;
}

/** Reads one cloud's metadata service. A rejection is an attempt that failed: the caller backs off. */
export interface MetadataSource {
  readonly cloud: CloudName;
  fetch(signal: AbortSignal): Promise<CloudFacts>;
}

/** Per-request settings every source takes. */
export interface SourceOptions {
  /** Base URL of the metadata service (default `http://169.254.169.254`; a local fake in tests). */
  readonly endpoint?: string;
  /** Per-request timeout in ms (default 2000). */
  readonly timeoutMs?: number;
}

export const DEFAULT_ENDPOINT = 'http://169.254.169.254';
export const DEFAULT_TIMEOUT_MS = 2000;
