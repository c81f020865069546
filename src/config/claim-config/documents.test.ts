import { describe, expect, it } from 'vitest';
import { checkDocument, documentKind } from './documents.ts';

const drivers = new Set(['netclaim.dev', 'dra.net']);
const opaque = (parameters: unknown, driver = 'netclaim.dev'): unknown => ({ opaque: { driver, parameters } });
const claim = (devices: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'c' }, spec: { devices }, ...extra });

describe('documentKind', () => {
  it('tells configs, claims, templates, classes and lists from other objects', () => {
    expect(documentKind({ interface: {} })).toBe('NetworkConfig');
    expect(documentKind({ apiVersion: 'netclaim.dev/v1alpha1', kind: 'NetworkConfig' })).toBe('NetworkConfig');
    expect(documentKind({ kind: 'NetworkConfig' })).toBe('NetworkConfig');
    expect(documentKind('text')).toBe('NetworkConfig');
    expect(documentKind({ apiVersion: 'resource.k8s.io/v1beta2', kind: 'ResourceClaimTemplate' })).toBe('ResourceClaimTemplate');
    expect(documentKind({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass' })).toBe('DeviceClass');
    expect(documentKind({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice' })).toBe('other');
    expect(documentKind({ apiVersion: 'v1', kind: 'List', items: [] })).toBe('List');
    expect(documentKind({ apiVersion: 'v1', kind: 'Pod' })).toBe('other');
    expect(documentKind({ apiVersion: 'netclaim.dev/v2', kind: 'NetworkConfig' })).toBe('other');
  });
});

describe('checkDocument', () => {
  it('checks a bare config', () => {
    expect(checkDocument({ interface: { mtu: 1 } }, drivers)).toEqual({
      kind: 'NetworkConfig', title: 'NetworkConfig', checked: { 'netclaim.dev': 1 },
      issues: [{ path: 'interface.mtu', message: 'must be at least 68, got 1' }],
    });
  });

  it('checks the configs of a claim, its allocation too, and ignores other drivers', () => {
    const r = checkDocument(claim(
      { requests: [{ name: 'nic' }], config: [opaque({ interface: { mtu: 1 } }), opaque({ anything: 1 }, 'gpu.example.com'), opaque({ interface: { name: 'a/b' } }, 'dra.net')] },
      { status: { allocation: { devices: { config: [{ source: 'FromClass', ...(opaque({ bogus: 1 }) as object) }] } } } },
    ), drivers);
    expect(r.title).toBe('ResourceClaim/c');
    expect(r.checked).toEqual({ 'netclaim.dev': 2, 'dra.net': 1 });
    expect(r.issues.map((i) => i.path)).toEqual([
      'spec.devices.config[0].opaque.parameters.interface.mtu',
      'spec.devices.config[2].opaque.parameters.interface.name',
      'status.allocation.devices.config[0].opaque.parameters.bogus',
    ]);
    expect(checkDocument(claim({ config: [opaque({ interface: { name: 'a/b' } }, 'dra.net')] }), new Set(['netclaim.dev'])).issues).toEqual([]);
  });

  it('lets a claim config for an adminAccess request set only rdma, naming each other field (Prepare refuses them too)', () => {
    const devices = {
      requests: [{ name: 'owner' }, { name: 'look', exactly: { deviceClassName: 'netclaim', adminAccess: true } }],
      config: [
        { requests: ['look'], ...(opaque({ rdma: { charDevices: ['uverbs'] } }) as object) },
        { requests: ['look'], ...(opaque({ interface: { name: 'net1', mtu: 9000, disableEbpfPrograms: true } }) as object) },
        { requests: ['owner'], ...(opaque({ interface: { name: 'net1' } }) as object) },
        opaque({ interface: { mtu: 1400 } }), // no requests: every request, the admin one too
      ],
    };
    const r = checkDocument(claim(devices), drivers);
    expect(r.issues).toEqual([
      { path: 'spec.devices.config[1].opaque.parameters.interface.name', message: expect.stringMatching(/^an adminAccess request may not change a device it does not own: only rdma/) },
      { path: 'spec.devices.config[1].opaque.parameters.interface.mtu', message: expect.any(String) },
      { path: 'spec.devices.config[1].opaque.parameters.interface.disableEbpfPrograms', message: expect.any(String) },
      { path: 'spec.devices.config[3].opaque.parameters.interface.mtu', message: expect.any(String) },
    ]);
  });

  it('wants requests to name requests of the claim, subrequests included', () => {
    const devices = {
      requests: [{ name: 'gpu' }, { name: 'nic', firstAvailable: [{ name: 'big' }, { name: 'small' }] }],
      config: [{ requests: ['nic', 'nic/big', 'nic/huge', 'nics'], ...(opaque({}) as object) }],
    };
    expect(checkDocument(claim(devices), drivers).issues).toEqual([
      { path: 'spec.devices.config[0].requests[2]', message: '"nic/huge" is not a request of this claim (requests: gpu, nic, nic/big, nic/small)' },
      { path: 'spec.devices.config[0].requests[3]', message: '"nics" is not a request of this claim (requests: gpu, nic, nic/big, nic/small)' },
    ]);
  });

  it('checks the configs that apply to the same request once merged', () => {
    const devices = {
      requests: [{ name: 'a' }, { name: 'b' }],
      config: [
        opaque({ interface: { vrf: { name: 'red' } } }),
        { requests: ['a'], ...(opaque({ rules: [{ table: 100 }] }) as object) },
        { requests: ['b'], ...(opaque({ routes: [{ destination: '10.0.0.0/8', gateway: '10.0.0.1' }] }) as object) },
      ],
    };
    expect(checkDocument(claim(devices), drivers).issues).toEqual([{
      path: 'spec.devices.config',
      message: 'rules: not allowed together with interface.vrf: traffic in a VRF is routed by the VRF table (after merging [0] and [1] for request "a")',
    }]);
  });

  it('finds configs in templates, device classes and lists', () => {
    const template = { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 't' }, spec: { spec: { devices: { config: [opaque({ mtu: 1 })] } } } };
    const cls = { apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'k' }, spec: { config: [opaque({ interface: { mtu: 70000 } })] } };
    expect(checkDocument(template, drivers).issues).toEqual([{ path: 'spec.spec.devices.config[0].opaque.parameters.mtu', message: 'unknown field' }]);
    expect(checkDocument(cls, drivers).issues).toEqual([{ path: 'spec.config[0].opaque.parameters.interface.mtu', message: 'must be at most 65535, got 70000' }]);
    const list = checkDocument({ apiVersion: 'v1', kind: 'List', items: [template, { apiVersion: 'v1', kind: 'Pod' }, cls] }, drivers);
    expect(list.checked).toEqual({ 'netclaim.dev': 2 });
    expect(list.issues.map((i) => i.path)).toEqual(['items[0].spec.spec.devices.config[0].opaque.parameters.mtu', 'items[2].spec.config[0].opaque.parameters.interface.mtu']);
  });

  it('wants parameters in an opaque config, and skips other objects', () => {
    expect(checkDocument(claim({ config: [{ opaque: { driver: 'netclaim.dev' } }] }), drivers).issues)
      .toEqual([{ path: 'spec.devices.config[0].opaque.parameters', message: 'required' }]);
    expect(checkDocument({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }, drivers)).toEqual({ kind: 'other', title: 'Deployment/d', checked: {}, issues: [] });
  });
});
