/**
 * Cloud detection from DMI, on sysfs-like fixture trees written from the
 * sources listed in testdata/dmi-trees.ts (and dmi.ts).
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudFromDmi, detectCloud, readDmi } from './dmi.ts';
import { DMI_TREES, writeDmiTree } from './testdata/dmi-trees.ts';

const roots: string[] = [];
afterAll(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });

describe('detectCloud', () => {
  it.each(DMI_TREES.map((t) => [t.name, t] as const))('%s', (_name, t) => {
    const root = writeDmiTree(t);
    roots.push(root);
    expect(detectCloud(root)?.cloud).toBe(t.expect);
  });

  it('says which DMI value named the cloud', () => {
    const root = writeDmiTree(DMI_TREES.find((t) => t.name === 'oci')!);
    roots.push(root);
    expect(detectCloud(root)).toEqual({ cloud: 'oci', because: 'chassis_asset_tag=OracleCloud.com' });
  });

  it('finds no cloud where there is no DMI at all (a container without /sys/class/dmi)', () => {
    expect(detectCloud('/nonexistent-sysfs-root')).toBeUndefined();
    expect(readDmi('/nonexistent-sysfs-root')).toEqual({});
  });

  it('does not take Microsoft\'s vendor string alone for Azure, nor an EC2-looking UUID in the wrong place', () => {
    expect(cloudFromDmi({ sysVendor: 'Microsoft Corporation', productName: 'Virtual Machine' })).toBeUndefined();
    expect(cloudFromDmi({ productSerial: 'ec2-not-a-uuid-field' })).toBeUndefined();
    expect(cloudFromDmi({ boardAssetTag: 'i-am-not-an-instance' })).toBeUndefined();
  });

  it('prefers the asset tags, the most specific values', () => {
    expect(cloudFromDmi({ chassisAssetTag: 'OracleCloud.com', sysVendor: 'Google' })?.cloud).toBe('oci');
  });
});
