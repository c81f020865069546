/**
 * `--cloud-provider auto|none|gce|aws|azure|oci` → the provider to run, or
 * none. `auto` (the default) reads DMI (dmi.ts): outside a cloud it returns
 * none without a single network request; a cloud named by DMI or by the flag
 * gets its metadata source. The provider is returned unstarted.
 */
import { ConfigError } from '../../common/errors.ts';
import { DEFAULT_SYSFS_ROOT } from '../../kernel/sysfs/sysfs-files.ts';
import { awsSource } from './aws.ts';
import { azureSource } from './azure.ts';
import { detectCloud } from './dmi.ts';
import { gceSource } from './gce.ts';
import { ociSource } from './oci.ts';
import { CloudProvider, type CloudProviderOptions } from './provider.ts';
import { CLOUD_NAMES, type CloudName, type MetadataSource, type SourceOptions } from './types.ts';

export const CLOUD_PROVIDER_VALUES = ['auto', 'none', ...CLOUD_NAMES] as const;
export type CloudProviderValue = (typeof CLOUD_PROVIDER_VALUES)[number];

export interface CloudSelectOptions extends CloudProviderOptions, SourceOptions {
  /** Where DMI is read for `auto` (the inventory's `--sysfs-root`; default `/sys`). */
  readonly sysfsRoot?: string;
  /** The flag named in a ConfigError (default `--cloud-provider`). */
  readonly field?: string;
}

export function metadataSource(cloud: CloudName, o: SourceOptions = {}): MetadataSource {
  switch (cloud) {
    case 'gce': return gceSource(o);
    case 'aws': return awsSource(o);
    case 'azure': return azureSource(o);
    case 'oci': return ociSource(o);
  }
}

/** The provider the flag asks for; undefined for `none`, and for `auto` outside a cloud netclaim reads. */
export function cloudProviderFromFlag(value: string, o: CloudSelectOptions = {}): CloudProvider | undefined {
  const field = o.field ?? '--cloud-provider';
  const v = value.trim().toLowerCase();
  if (!(CLOUD_PROVIDER_VALUES as readonly string[]).includes(v)) {
    throw new ConfigError(`${field}: "${value}" is not one of ${CLOUD_PROVIDER_VALUES.join(', ')}`, { context: { field, value } });
  }
  if (v === 'none') return undefined;
  const { sysfsRoot, field: _field, endpoint, timeoutMs, ...provider } = o;
  const source = { ...(endpoint !== undefined ? { endpoint } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
  if (v === 'auto') {
    const found = detectCloud(sysfsRoot ?? DEFAULT_SYSFS_ROOT);
    return found ? new CloudProvider(metadataSource(found.cloud, source), { origin: `detected from DMI ${found.because}`, ...provider }) : undefined;
  }
  return new CloudProvider(metadataSource(v as CloudName, source), { origin: `${field} ${v}`, ...provider });
}
