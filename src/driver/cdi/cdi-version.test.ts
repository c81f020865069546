import { describe, expect, it } from 'vitest';
import type { CdiContainerEdits, CdiDevice, CdiSpec } from './cdi-types.ts';
import { CDI_VERSIONS, compareCdiVersions, isCdiVersion, minimumCdiVersion } from './cdi-version.ts';

const node = { path: '/dev/infiniband/uverbs0', type: 'c', major: 231, minor: 192 } as const;

function spec(edits: CdiContainerEdits, more: Partial<CdiSpec> = {}, device: Partial<CdiDevice> = {}): CdiSpec {
  return { cdiVersion: '', kind: 'netclaim.dev/net', devices: [{ name: 'dev', containerEdits: edits, ...device }], ...more };
}

// Cases from specs-go/version.go requiresV* (CDI 1.1.0), each at device and at spec level where both apply.
describe('minimumCdiVersion', () => {
  it.each([
    ['device nodes and env', spec({ deviceNodes: [node], env: ['A=1'] }), '0.3.0'],
    ['a mount without type', spec({ mounts: [{ hostPath: '/a', containerPath: '/b' }] }), '0.3.0'],
    ['a mount type', spec({ mounts: [{ hostPath: '/a', containerPath: '/b', type: 'bind' }] }), '0.4.0'],
    ['a mount type at spec level', spec({ env: ['A=1'] }, { containerEdits: { mounts: [{ hostPath: '/a', containerPath: '/b', type: 'bind' }] } }), '0.4.0'],
    ['a device node hostPath', spec({ deviceNodes: [{ ...node, hostPath: '/dev/x' }] }), '0.5.0'],
    ['a device name starting with a digit', spec({ env: ['A=1'] }, {}, { name: '0dev' }), '0.5.0'],
    ['spec annotations', spec({ env: ['A=1'] }, { annotations: { 'a.b/c': 'd' } }), '0.6.0'],
    ['empty annotations', spec({ env: ['A=1'] }, { annotations: {} }), '0.3.0'],
    ['device annotations', spec({ env: ['A=1'] }, {}, { annotations: { k: 'v' } }), '0.6.0'],
    ['a dot in the class', spec({ env: ['A=1'] }, { kind: 'netclaim.dev/net.rdma' }), '0.6.0'],
    ['a dot only in the vendor', spec({ env: ['A=1'] }, { kind: 'a.b.c/net' }), '0.3.0'],
    ['additionalGids', spec({ additionalGids: [44] }), '0.7.0'],
    ['intelRdt', spec({ intelRdt: { closID: 'x' } }), '0.7.0'],
    ['intelRdt schemata', spec({ intelRdt: { schemata: ['L3:0=f'] } }), '1.1.0'],
    ['intelRdt enableMonitoring', spec({ env: ['A=1'] }, { containerEdits: { intelRdt: { enableMonitoring: true } } }), '1.1.0'],
    ['netDevices', spec({ netDevices: [{ hostInterfaceName: 'eth1', name: 'net0' }] }), '1.1.0'],
    ['netDevices at spec level, plus 0.5.0 content', spec({ deviceNodes: [{ ...node, hostPath: '/x' }] }, { containerEdits: { netDevices: [{ hostInterfaceName: 'a', name: 'b' }] } }), '1.1.0'],
  ] as const)('%s → %s', (_what, s, want) => {
    expect(minimumCdiVersion(s)).toBe(want);
  });

  it('orders the released versions', () => {
    expect(compareCdiVersions('0.5.0', '0.3.0')).toBeGreaterThan(0);
    expect(compareCdiVersions('1.0.0', '1.1.0')).toBeLessThan(0);
    expect(CDI_VERSIONS.at(-1)).toBe('1.1.0');
    expect(isCdiVersion('0.9.0')).toBe(false);
    expect(isCdiVersion('0.8.0')).toBe(true);
  });
});
