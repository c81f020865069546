/**
 * `--cloud-provider`: the values it takes, the error that names the flag, and
 * `auto` deciding from DMI fixture trees (testdata/dmi-trees.ts) without a
 * network request.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { CLOUD_PROVIDER_VALUES, cloudProviderFromFlag } from './select.ts';
import { DMI_TREES, writeDmiTree } from './testdata/dmi-trees.ts';

const roots: string[] = [];
afterAll(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });
const tree = (name: string): string => {
  const root = writeDmiTree(DMI_TREES.find((t) => t.name === name)!);
  roots.push(root);
  return root;
};

describe('cloudProviderFromFlag', () => {
  it('none: no provider', () => {
    expect(cloudProviderFromFlag('none')).toBeUndefined();
  });

  it.each(['gce', 'aws', 'azure', 'oci', 'GCE'])('%s: that cloud\'s provider, unstarted', (v) => {
    const p = cloudProviderFromFlag(v, { sysfsRoot: tree('kvm') })!;
    expect(p.cloud).toBe(v.toLowerCase());
    expect(p.status.state).toBe('pending');
    expect(p.origin).toBe(`--cloud-provider ${v.toLowerCase()}`);
    p.close();
  });

  it('auto: the cloud DMI names, or none outside a cloud', () => {
    const p = cloudProviderFromFlag('auto', { sysfsRoot: tree('azure') })!;
    expect(p.cloud).toBe('azure');
    expect(p.origin).toBe('detected from DMI chassis_asset_tag=7783-7084-3265-9085-8269-3286-77');
    p.close();
    expect(cloudProviderFromFlag('auto', { sysfsRoot: tree('kvm') })).toBeUndefined();
    expect(cloudProviderFromFlag('auto', { sysfsRoot: tree('hyperv') })).toBeUndefined();
  });

  it('anything else is a ConfigError naming the flag and the values it takes', () => {
    let err: unknown;
    try { cloudProviderFromFlag('alibaba', { field: 'cloudProvider' }); } catch (e) { err = e; }
    expect(isDriverError(err) && err.code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toBe(`cloudProvider: "alibaba" is not one of ${CLOUD_PROVIDER_VALUES.join(', ')}`);
    expect(() => cloudProviderFromFlag('')).toThrow(/^--cloud-provider: "" is not one of auto, none, gce, aws, azure, oci$/);
  });
});
