import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IfIndex, PciAddress } from '../../common/ids.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { DeviceKind } from '../model.ts';
import { deviceAttributes, type DeviceFacts } from './build.ts';
import { attributeProblems, attributeValueCount, fitList, fitText, isQualifiedName, MAX_ATTRIBUTES_PER_DEVICE, valueProblem } from './limits.ts';

describe('API limits', () => {
  it('validates qualified names as the API does', () => {
    for (const ok of ['ifName', 'netclaim.dev/ifName', 'resource.kubernetes.io/pcieRoot', 'a/_x1', 'x'.repeat(32)]) expect(isQualifiedName(ok), ok).toBe(true);
    for (const bad of ['', '1abc', 'a/b/c', 'Netclaim.io/x', 'netclaim.dev/', '/x', 'x'.repeat(33), 'netclaim.dev/if-name']) expect(isQualifiedName(bad), bad).toBe(false);
  });

  it('cuts lists on whole items and text on characters, to 64 bytes', () => {
    const items = Array.from({ length: 10 }, (_, i) => `10.0.0.${i}/24`);
    const s = fitList(items)!;
    expect(s.length).toBeLessThanOrEqual(64);
    expect(items.join(',').startsWith(s)).toBe(true);
    expect(s.endsWith('/24')).toBe(true);
    expect(fitList(['x'.repeat(65)])).toBeUndefined();
    // The API counts bytes (Go len()): 64 'é' are 128 bytes and were refused by kube-apiserver.
    expect(fitText('é'.repeat(70))).toBe('é'.repeat(32));
    expect(fitText(`a${'é'.repeat(40)}`)).toBe(`a${'é'.repeat(31)}`); // never half a character
    expect(fitList(['é'.repeat(20), 'é'.repeat(20)])).toBe('é'.repeat(20));
    expect(attributeProblems({ s: { string: 'é'.repeat(33) } })).toEqual(['s: string longer than 64 bytes']);
  });

  it('reports every kind of problem', () => {
    expect(attributeProblems({ 'bad name': { int: 1 }, 'a/s': { string: 'y'.repeat(65) }, v: { version: 'one' } })).toHaveLength(3);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`a${i}`, { bool: true }]));
    expect(attributeProblems(many)[0]).toMatch(/33 attributes/);
  });
});

const arbText = fc.string({ maxLength: 120 });
const arbFacts: fc.Arbitrary<DeviceFacts> = fc.record({
  kind: fc.constantFrom<DeviceKind>('pci', 'vf', 'virtual', 'rdma', 'synthetic'),
  name: fc.string({ minLength: 1, maxLength: 15 }),
  alias: fc.option(arbText, { nil: undefined }),
  mtu: fc.integer({ min: 68, max: 65535 }),
  ips: fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 30 }),
  names: fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 10 }),
  vendor: fc.option(arbText, { nil: undefined }),
  totalVfs: fc.integer({ min: 0, max: 256 }),
  speed: fc.option(fc.integer({ min: 10, max: 800_000 }), { nil: undefined }),
}).map((r): DeviceFacts => ({
  kind: r.kind,
  link: { index: 5 as IfIndex, name: r.name, type: 32, flags: 0x1043, up: true, operState: 'UP', mtu: r.mtu, mac: 'a0:00:02:20:fe:80:00:00:00:00:00:00:00:00:00:00:00:00:00:01', altNames: [], kind: 'ipoib', ...(r.alias !== undefined ? { alias: r.alias } : {}) } as Link,
  addrs: r.ips.map((ip) => ({ index: 5, family: ip.includes(':') ? 10 : 2, address: ip, prefixLen: 24, scope: 'global', flags: [], rawFlags: 0 }) as never),
  pci: {
    address: '0000:3b:00.0' as PciAddress, vendorId: '15b3', deviceId: '1021', classCode: '020000', driver: 'mlx5_core', numaNode: 1, pcieRoot: 'pci0000:3a',
    netdevs: [], rdmaDevices: [], ...(r.vendor !== undefined ? { vendorName: r.vendor, deviceName: r.vendor } : {}),
    sriov: { totalVfs: r.totalVfs, numVfs: 0, vfs: [] }, physfn: { address: '0000:3b:00.1' as PciAddress, vfIndex: 3 },
    subsystemVendorId: '15b3', subsystemDeviceId: '0051',
  },
  rdmaName: 'mlx5_0',
  ib: { name: 'mlx5_0', ports: [{ port: 1, state: 'ACTIVE', linkLayer: 'InfiniBand' }], charDevices: [] },
  ethtool: { ...(r.speed !== undefined ? { speed: r.speed } : {}), duplex: 'full' },
  ebpf: {
    tcFilters: r.names.map((n, i) => ({ direction: 'ingress', prio: i, handle: 1, protocol: 'all', name: n })),
    tcx: r.names.map((n, i) => ({ direction: 'egress', progId: i + 1, name: n })),
    xdp: r.names.slice(0, 1).map((n) => ({ mode: 'generic', progId: 9, name: n })),
  },
}));

describe('deviceAttributes', () => {
  it('any device yields attributes within the API limits, in both namings (property)', () => {
    fc.assert(fc.property(arbFacts, fc.constantFrom('netclaim' as const, 'dranet' as const), (f, naming) => {
      const { attributes, dropped } = deviceAttributes(f, naming);
      expect(attributeProblems(attributes)).toEqual([]);
      expect(Object.keys(attributes).length).toBeLessThanOrEqual(MAX_ATTRIBUTES_PER_DEVICE);
      // Priority: identity attributes are never the ones dropped; DraNet's 23 and the 3 standard ones always fit.
      expect(dropped).not.toContain('netclaim.dev/ifName');
      if (naming === 'dranet') expect(dropped).toEqual([]);
    }), { numRuns: 500 });
  });

  it('--list-attributes: numaNode as a list only for a function local to several nodes; the values count toward 48', () => {
    const f = fc.sample(arbFacts, { numRuns: 1, seed: 3 })[0]!;
    const several = { ...f, numaNodes: [0, 1] };
    expect(deviceAttributes(several, 'netclaim', true).attributes['resource.kubernetes.io/numaNode']).toEqual({ ints: [0, 1] });
    expect(deviceAttributes(several, 'netclaim').attributes['resource.kubernetes.io/numaNode']).toEqual(deviceAttributes(f, 'netclaim').attributes['resource.kubernetes.io/numaNode']);
    expect(deviceAttributes({ ...f, numaNodes: [1] }, 'netclaim', true).attributes['resource.kubernetes.io/numaNode']).toEqual(deviceAttributes(f, 'netclaim').attributes['resource.kubernetes.io/numaNode']);
    expect(attributeValueCount({ a: { int: 1 }, b: { ints: [0, 1, 2] } })).toBe(4);
    const many = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`netclaim.dev/a${i}`, { int: i }]));
    expect(attributeProblems({ ...many, 'resource.kubernetes.io/numaNode': { ints: Array.from({ length: 17 }, (_, i) => i) } })).toEqual([]);
    expect(attributeProblems({ ...many, 'resource.kubernetes.io/numaNode': { ints: Array.from({ length: 18 }, (_, i) => i) } })).toEqual(['49 attribute values, more than 48']);
    expect(valueProblem({ ints: [] })).toBe('an empty list');
  });

  it('drops the lowest-priority attributes first when more than 32 would be published', () => {
    const f = fc.sample(arbFacts, { numRuns: 1, seed: 7 })[0]!;
    const full: DeviceFacts = { ...f, link: { ...f.link!, alias: 'uplink to spine', permMac: '02:00:00:00:00:99' }, addrs: [{ index: 5, family: 2, address: '10.0.0.1', prefixLen: 24, scope: 'global', flags: [], rawFlags: 0 } as never, { index: 5, family: 10, address: 'fd00::1', prefixLen: 64, scope: 'global', flags: [], rawFlags: 0 } as never], ebpf: { tcFilters: [{ direction: 'ingress', prio: 1, handle: 1, protocol: 'all', name: 'f' }], tcx: [{ direction: 'egress', progId: 1, name: 't' }], xdp: [{ mode: 'generic', progId: 2, name: 'x' }] }, ethtool: { speed: 100000, duplex: 'full' } };
    const { attributes, dropped } = deviceAttributes(full, 'netclaim');
    expect(Object.keys(attributes)).toHaveLength(32);
    // The three standard attributes come first and are never the ones dropped.
    expect(Object.keys(attributes).slice(0, 3)).toEqual(['resource.kubernetes.io/pcieRoot', 'resource.kubernetes.io/pciBusID', 'resource.kubernetes.io/numaNode']);
    expect(dropped).toEqual(['netclaim.dev/tcxProgramNames', 'netclaim.dev/xdpProgramName', 'netclaim.dev/alias', 'netclaim.dev/permMac', 'netclaim.dev/duplex']);
  });
});
