/**
 * The parsed shapes of a claim configuration, derived from the definition in
 * fields.ts so they cannot drift from what the parser returns. Values are
 * normalised: addresses in canonical text, route and rule prefixes with host
 * bits cleared, MACs in lower-case colon form, scopes and tables as numbers.
 * docs/claim-config.md describes every field.
 */
import type { CHANNELS, COALESCE, ETHTOOL, INTERFACE, NEIGHBOR, NETWORK_CONFIG, RDMA, RINGS, ROUTE, RULE, VRF } from './fields.ts';
import type { Out } from './nodes.ts';
import { DRIVER_NAME } from '../../common/driver.ts';

export type NetworkConfig = Out<typeof NETWORK_CONFIG>;
export type InterfaceConfig = Out<typeof INTERFACE>;
export type VrfConfig = Out<typeof VRF>;
export type RouteConfig = Out<typeof ROUTE>;
export type RuleConfig = Out<typeof RULE>;
export type NeighborConfig = Out<typeof NEIGHBOR>;
export type EthtoolConfig = Out<typeof ETHTOOL>;
export type EthtoolRingsConfig = Out<typeof RINGS>;
export type EthtoolChannelsConfig = Out<typeof CHANNELS>;
export type EthtoolCoalesceConfig = Out<typeof COALESCE>;
export type RdmaConfig = Out<typeof RDMA>;
export type InterfaceSysctls = NonNullable<InterfaceConfig['sysctls']>;

/** The drivers whose opaque configs netclaim reads: its own, and DraNet's in compatibility. */
export const NETCLAIM_DRIVER = DRIVER_NAME;
export const DRANET_DRIVER = 'dra.net';

/** `status.allocation.devices.config[]` (DeviceAllocationConfiguration), as much of it as netclaim reads. */
export interface AllocationConfig {
  readonly source?: 'FromClass' | 'FromClaim' | string;
  readonly requests?: readonly string[];
  readonly opaque?: { readonly driver?: string; readonly parameters?: unknown };
}
