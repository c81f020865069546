/**
 * Cloud and fabric topology for the inventory (docs/cloud.md): what the
 * daemon and the CLI wire. `cloudProviderFromFlag` picks the provider,
 * `start()` begins the background reads, the InventoryWatcher takes it as
 * `provider`, and the driver may ask it for a NIC's `suggestedConfig`.
 */
export { cloudAttributes, nicOf } from './attributes.ts';
export { cloudFromDmi, detectCloud, readDmi, type DetectedCloud, type DmiFacts } from './dmi.ts';
export { backoffDelay, CloudProvider, timerScheduler, type CloudProviderEvent, type CloudProviderOptions, type CloudProviderStatus, type Scheduler } from './provider.ts';
export { CLOUD_PROVIDER_VALUES, cloudProviderFromFlag, metadataSource, type CloudProviderValue, type CloudSelectOptions } from './select.ts';
export { suggestedConfig } from './suggested-config.ts';
export { CLOUD_NAMES, type CloudFacts, type CloudName, type MetadataSource, type NicFacts, type NodeFacts, type SuggestedConfig, type SuggestedRoute, type SuggestedRule } from './types.ts';
