import { describe, expect, it } from 'vitest';
import {
  CDI_KIND, cdiDeviceId, cdiDeviceNameProblem, cdiKindProblem, claimCdiSpecFileName, claimUidOfCdiSpecFile,
} from './cdi-names.ts';

const UID = '8d3c1f0e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';

describe('CDI names', () => {
  it('name the kind, device ids and spec files after the driver', () => {
    expect(CDI_KIND).toBe('netclaim.dev/net');
    expect(cdiKindProblem(CDI_KIND)).toBeUndefined();
    expect(cdiDeviceId(UID, 'pci-0000-3b-00-2')).toBe(`netclaim.dev/net=${UID}-pci-0000-3b-00-2`);
    expect(claimCdiSpecFileName(UID)).toBe(`netclaim.dev-net_${UID}.json`);
    expect(claimUidOfCdiSpecFile(`netclaim.dev-net_${UID}.json`)).toBe(UID);
  });

  it.each(['netclaim.dev-net_.json', `netclaim.dev-net_${UID}.yaml`, `other-net_${UID}.json`, 'netclaim.dev-net_A.json', `.netclaim.dev-net_${UID}.json.tmp-1-1`])(
    'recognises %s as not a spec file of ours', (name) => {
      expect(claimUidOfCdiSpecFile(name)).toBeUndefined();
    });

  it.each(['a', '0', 'a-b_c.d', `${UID}-eth0`, 'A9'])('accepts device name %s', (n) => {
    expect(cdiDeviceNameProblem(n)).toBeUndefined();
  });

  it.each(['', '-a', 'a-', 'a.', '_a', 'a b', 'a/b', 'a=b', 'a:b', 'ä'])('refuses device name %j', (n) => {
    expect(cdiDeviceNameProblem(n)).toMatch(/CDI device name/);
  });

  it.each(['vendor.com/class', 'a/b', 'a-b_c.d/x.y'])('accepts kind %s', (k) => {
    expect(cdiKindProblem(k)).toBeUndefined();
  });

  it.each(['', 'nokind', '/class', 'vendor/', '1vendor/class', 'vendor/1class', 'vendor-/class', 'a/b/c', 'a/b='])('refuses kind %j', (k) => {
    expect(cdiKindProblem(k)).toBeDefined();
  });
});
