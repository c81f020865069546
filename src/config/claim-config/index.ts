/**
 * The claim configuration API: the opaque parameters of netclaim.dev (and,
 * in compatibility, dra.net) device configs. docs/claim-config.md documents
 * it; schema/claim-config.schema.json publishes it.
 */
export { API_VERSION, KIND, NETWORK_CONFIG } from './fields.ts';
export type {
  AllocationConfig, EthtoolChannelsConfig, EthtoolCoalesceConfig, EthtoolConfig, EthtoolRingsConfig, InterfaceConfig,
  InterfaceSysctls, NeighborConfig, NetworkConfig, RdmaConfig, RouteConfig, RuleConfig, VrfConfig,
} from './types.ts';
export { DRANET_DRIVER, NETCLAIM_DRIVER } from './types.ts';
export { OPAQUE_PARAMETERS_MAX_BYTES, parseNetworkConfig, parseNetworkConfigJson, recheckNetworkConfig, type ParseResult } from './parse.ts';
export { claimConfigError, issueError, type ConfigIssue } from './issues.ts';
export { mergeNetworkConfigs } from './merge.ts';
export { RT_TABLE_MAIN, vrfTableFor, withDefaults } from './defaults.ts';
export { applicableConfigs, requestMatches } from './requests.ts';
export { configDrivers, resolveDeviceConfig, type DeviceConfigResult, type ResolveOptions } from './resolve.ts';
export { rdmaOnlyProblems } from './rdma-only.ts';
export { checkDocument, documentKind, type DocumentKind, type DocumentReport } from './documents.ts';
export { claimConfigJsonSchema } from './json-schema.ts';
export { claimAgainstClasses, classPolicies } from './class-check.ts';
export { DEFAULT_CLAIM_SYSCTLS, DEFAULT_DENIED_FIELDS, claimPolicyIssues, combinePolicies, type ClassPolicy } from './policy.ts';
