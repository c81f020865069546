import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbValidConfig } from '../../../test/fixtures/claim-config/fields.ts';
import { mergeNetworkConfigs } from './merge.ts';
import { parseNetworkConfig } from './parse.ts';
import type { NetworkConfig } from './types.ts';

const parsed = (v: unknown): NetworkConfig => {
  const r = parseNetworkConfig(v);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
};
const arbParsed = arbValidConfig().map(parsed);

describe('mergeNetworkConfigs: class configs first, claim configs after, later wins field by field', () => {
  const cls = parsed({
    interface: { mtu: 9000, disableEbpfPrograms: true, addresses: ['192.0.2.1/24'], vrf: { name: 'red', table: 100 }, sysctls: { 'ipv4.rp_filter': 1, 'ipv6.accept_ra': 0 } },
    routes: [{ destination: '10.0.0.0/8', gateway: '192.0.2.254' }],
    ethtool: { features: { 'rx-gro-hw': true, 'rx-lro': false }, rings: { rx: 4096, tx: 4096 } },
    rdma: { charDevices: ['uverbs', 'rdma_cm'], workloadEnv: false },
  });
  const claim = parsed({
    interface: { name: 'net1', mtu: 4200, addresses: ['198.51.100.7/24'], vrf: { name: 'blue' }, sysctls: { 'ipv4.rp_filter': 2 } },
    routes: [{ destination: '172.16.0.0/12', gateway: '198.51.100.1' }],
    ethtool: { features: { 'rx-lro': true }, rings: { rx: 8192 } },
    rdma: { charDevices: ['uverbs'] },
  });

  it('replaces scalars, replaces lists whole, merges maps and objects by key, and replaces a VRF whole', () => {
    expect(mergeNetworkConfigs([cls, claim])).toEqual({
      interface: {
        name: 'net1', mtu: 4200, disableEbpfPrograms: true, addresses: ['198.51.100.7/24'], dhcp: false,
        vrf: { name: 'blue' }, // not { name: 'blue', table: 100 }: red's table is not blue's
        sysctls: { 'ipv4.rp_filter': 2, 'ipv6.accept_ra': 0 },
      },
      routes: [{ destination: '172.16.0.0/12', gateway: '198.51.100.1' }],
      ethtool: { features: { 'rx-gro-hw': true, 'rx-lro': true }, rings: { rx: 8192, tx: 4096 } },
      rdma: { charDevices: ['uverbs'], workloadEnv: false },
    });
  });

  it('keeps what a later config leaves out, and lets order decide', () => {
    expect(mergeNetworkConfigs([cls, parsed({})])).toEqual(mergeNetworkConfigs([cls]));
    expect(mergeNetworkConfigs([cls]).interface).toEqual({ ...cls.interface, dhcp: false }); // the choice of static addresses, made explicit
    expect(mergeNetworkConfigs([claim, cls]).interface?.mtu).toBe(9000);
    expect(mergeNetworkConfigs([])).toEqual({});
  });

  it('treats addresses and dhcp as one choice', () => {
    const dhcp = parsed({ interface: { dhcp: true } });
    const addrs = parsed({ interface: { addresses: ['192.0.2.1/24'] } });
    expect(mergeNetworkConfigs([addrs, dhcp]).interface).toEqual({ addresses: [], dhcp: true });
    expect(mergeNetworkConfigs([addrs, dhcp, parsed({ interface: { dhcp: false } })]).interface).toEqual({ addresses: [], dhcp: false });
    expect(mergeNetworkConfigs([dhcp, addrs]).interface).toEqual({ addresses: ['192.0.2.1/24'], dhcp: false });
    // dhcp: false and an empty list choose nothing, so they change nothing
    expect(mergeNetworkConfigs([addrs, parsed({ interface: { dhcp: false } })]).interface).toEqual({ addresses: ['192.0.2.1/24'], dhcp: false });
    expect(mergeNetworkConfigs([dhcp, parsed({ interface: { addresses: [] } })]).interface).toEqual({ dhcp: true, addresses: [] });
    expect(mergeNetworkConfigs([parsed({ interface: { dhcp: false } }), addrs]).interface).toEqual({ addresses: ['192.0.2.1/24'], dhcp: false });
  });

  it('keeps a map key like __proto__ as data', () => {
    const a = parsed({ ethtool: { privateFlags: JSON.parse('{"__proto__": true}') as unknown } });
    const m = mergeNetworkConfigs([a, parsed({ ethtool: { privateFlags: { other: false } } })]);
    expect(Object.keys(m.ethtool!.privateFlags!)).toEqual(['__proto__', 'other']);
  });
});

describe('mergeNetworkConfigs, for any configs', () => {
  it('changes one config only by making its address choice explicit, and repeats change nothing', () => {
    fc.assert(fc.property(arbParsed, (a) => {
      const one = mergeNetworkConfigs([a]);
      const { addresses: _a, dhcp: _d, ...rest } = (one.interface ?? {}) as Record<string, unknown>;
      const { addresses: _a2, dhcp: _d2, ...restA } = (a.interface ?? {}) as Record<string, unknown>;
      expect({ ...one, interface: rest }).toEqual({ ...a, interface: restA });
      expect(mergeNetworkConfigs([a, a])).toEqual(one);
      expect(mergeNetworkConfigs([one])).toEqual(one);
    }), { numRuns: 200 });
  });

  it('is associative: merging in steps gives the same result', () => {
    fc.assert(fc.property(arbParsed, arbParsed, arbParsed, (a, b, c) => {
      expect(mergeNetworkConfigs([mergeNetworkConfigs([a, b]), c])).toEqual(mergeNetworkConfigs([a, mergeNetworkConfigs([b, c])]));
      expect(mergeNetworkConfigs([a, b, c])).toEqual(mergeNetworkConfigs([mergeNetworkConfigs([a, b]), c]));
    }), { numRuns: 1000 });
  });

  it('lets every scalar and list the later config sets win, and keeps the earlier elsewhere', () => {
    fc.assert(fc.property(arbParsed, arbParsed, (a, b) => {
      const m = mergeNetworkConfigs([a, b]) as Record<string, unknown>;
      for (const [k, v] of Object.entries(b)) {
        if (typeof v !== 'object' || Array.isArray(v)) expect(m[k]).toEqual(v);
      }
      const aa = mergeNetworkConfigs([a]) as Record<string, unknown>;
      for (const k of Object.keys(a)) if (!(k in b)) expect(m[k]).toEqual(aa[k]);
      const ai = (a.interface ?? {}) as Record<string, unknown>;
      const bi = (b.interface ?? {}) as Record<string, unknown>;
      const mi = (m.interface ?? {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(bi)) if (k !== 'sysctls') expect(mi[k]).toEqual(v);
      for (const k of ['mtu', 'name', 'hardwareAddr', 'vrf'] as const) if (!(k in bi) && k in ai) expect(mi[k]).toEqual(ai[k]);
    }), { numRuns: 300 });
  });
});
