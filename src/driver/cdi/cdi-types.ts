/**
 * The CDI spec file format (Container Device Interface, SPEC.md; Go types in
 * tags.cncf.io/container-device-interface/specs-go/config.go), as plain JSON
 * data. Only what netclaim writes is produced, but every field that moves the
 * minimum `cdiVersion` is modelled so cdi-version.ts can stamp any spec.
 * Optional fields are left out of the JSON when unset (Go's `omitempty`).
 */

export interface CdiDeviceNode {
  /** Path in the container. */
  readonly path: string;
  /** Path on the host when it differs (CDI >= 0.5.0). */
  readonly hostPath?: string;
  /** `c` char, `b` block, `u` unbuffered char, `p` FIFO. */
  readonly type?: 'c' | 'b' | 'u' | 'p';
  readonly major?: number;
  readonly minor?: number;
  readonly fileMode?: number;
  /** Device cgroup access, letters of `rwm`; the runtime's default is `rwm`. */
  readonly permissions?: string;
  readonly uid?: number;
  readonly gid?: number;
}

export interface CdiMount {
  readonly hostPath: string;
  readonly containerPath: string;
  /** CDI >= 0.4.0. */
  readonly type?: string;
  readonly options?: readonly string[];
}

export interface CdiHook {
  readonly hookName: string;
  readonly path: string;
  readonly args?: readonly string[];
  readonly env?: readonly string[];
  readonly timeout?: number;
}

/** CDI >= 0.7.0; `schemata` and `enableMonitoring` need >= 1.1.0. */
export interface CdiIntelRdt {
  readonly closID?: string;
  readonly l3CacheSchema?: string;
  readonly memBwSchema?: string;
  readonly schemata?: readonly string[];
  readonly enableCMT?: boolean;
  readonly enableMBM?: boolean;
  readonly enableMonitoring?: boolean;
}

/** A host interface the runtime moves into the container's netns (CDI >= 1.1.0, OCI `linux.netDevices`). */
export interface CdiNetDevice {
  readonly hostInterfaceName: string;
  readonly name: string;
}

export interface CdiContainerEdits {
  /** `KEY=VALUE`; a key already in the container's environment is replaced. */
  readonly env?: readonly string[];
  readonly deviceNodes?: readonly CdiDeviceNode[];
  readonly mounts?: readonly CdiMount[];
  readonly hooks?: readonly CdiHook[];
  readonly intelRdt?: CdiIntelRdt;
  /** CDI >= 0.7.0. */
  readonly additionalGids?: readonly number[];
  /** CDI >= 1.1.0. */
  readonly netDevices?: readonly CdiNetDevice[];
}

export interface CdiDevice {
  readonly name: string;
  /** CDI >= 0.6.0. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Must not be empty for a device. */
  readonly containerEdits: CdiContainerEdits;
}

export interface CdiSpec {
  readonly cdiVersion: string;
  /** `vendor/class`. */
  readonly kind: string;
  /** CDI >= 0.6.0. */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly devices: readonly CdiDevice[];
  /** Applied once when any device of the spec is injected. */
  readonly containerEdits?: CdiContainerEdits;
}
