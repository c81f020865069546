import { describe, expect, it } from 'vitest';
import type { CdiSpec } from './cdi-types.ts';
import { cdiSpecProblems } from './cdi-validate.ts';

const ok: CdiSpec = {
  cdiVersion: '0.3.0',
  kind: 'netclaim.dev/net',
  devices: [{ name: 'dev', containerEdits: { deviceNodes: [{ path: '/dev/x', type: 'c', major: 1, minor: 2, permissions: 'rw' }] } }],
};

describe('cdiSpecProblems', () => {
  it('accepts a minimal valid spec', () => {
    expect(cdiSpecProblems(ok)).toEqual([]);
  });

  it.each([
    ['an unknown version', { ...ok, cdiVersion: '0.9.0' }, /not a released CDI version/],
    ['a version below the content', { ...ok, devices: [{ name: '0dev', containerEdits: { env: ['A=1'] } }] }, /below 0.5.0/],
    ['a bad kind', { ...ok, kind: 'netclaim' }, /not vendor\/class/],
    ['no devices', { ...ok, devices: [] }, /at least one device/],
    ['a duplicate device', { ...ok, devices: [...ok.devices, ...ok.devices] }, /duplicate device/],
    ['a bad device name', { ...ok, devices: [{ name: 'd:', containerEdits: { env: ['A=1'] } }] }, /devices\[0\]\.name/],
    ['empty device edits', { ...ok, devices: [{ name: 'd', containerEdits: {} }] }, /at least one edit/],
    ['env without =', { ...ok, containerEdits: { env: ['NOVALUE'] } }, /containerEdits\.env\[0\]/],
    ['env with an empty key', { ...ok, containerEdits: { env: ['=x'] } }, /not KEY=VALUE/],
    ['a bad node type', { ...ok, devices: [{ name: 'd', containerEdits: { deviceNodes: [{ path: '/dev/x', type: 'x' as 'c' }] } }] }, /type/],
    ['a negative minor', { ...ok, devices: [{ name: 'd', containerEdits: { deviceNodes: [{ path: '/dev/x', minor: -1 }] } }] }, /minor/],
    ['bad permissions', { ...ok, devices: [{ name: 'd', containerEdits: { deviceNodes: [{ path: '/dev/x', permissions: 'rwx' }] } }] }, /permissions/],
    ['an empty node path', { ...ok, devices: [{ name: 'd', containerEdits: { deviceNodes: [{ path: '' }] } }] }, /path: empty/],
    ['an unknown hook', { ...ok, containerEdits: { hooks: [{ hookName: 'preStart', path: '/bin/x' }] } }, /not an OCI hook/],
    ['an empty mount path', { ...ok, containerEdits: { mounts: [{ hostPath: '', containerPath: '/x' }] } }, /mounts\[0\]/],
  ] as const)('flags %s', (_what, spec, re) => {
    const problems = cdiSpecProblems(spec as CdiSpec);
    expect(problems.join('\n')).toMatch(re);
  });
});
