import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbValidConfig } from '../../../test/fixtures/claim-config/fields.ts';
import { mergeNetworkConfigs } from './merge.ts';
import { parseNetworkConfig, recheckNetworkConfig } from './parse.ts';
import type { NetworkConfig } from './types.ts';
import { underlay } from './underlay.ts';

const parsed = (v: unknown): NetworkConfig => {
  const r = parseNetworkConfig(v);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
};

// A cloud default of the shapes src/inventory/cloud/suggested-config.ts makes: addresses, MTU, and
// policy routing through the subnet's gateway in table 100 + the NIC's index.
const arbCloudDefault = (): fc.Arbitrary<NetworkConfig> =>
  fc.record({
    octet: fc.integer({ min: 1, max: 250 }),
    index: fc.integer({ min: 0, max: 15 }),
    mtu: fc.option(fc.constantFrom(1460, 1500, 8244, 8896, 9001), { nil: undefined }),
    addresses: fc.integer({ min: 0, max: 2 }),
    routed: fc.boolean(),
  }).map(({ octet, index, mtu, addresses, routed }) => {
    const addrs = Array.from({ length: addresses }, (_, i) => `10.${octet}.0.${10 + i}/24`);
    const table = 100 + index;
    return parsed({
      interface: { ...(addrs.length ? { addresses: addrs } : {}), ...(mtu !== undefined ? { mtu } : {}) },
      ...(routed && addrs.length ? {
        routes: [{ destination: '0.0.0.0/0', gateway: `10.${octet}.0.1`, table }],
        rules: addrs.map((a) => ({ source: `${a.split('/')[0]}/32`, table })),
      } : {}),
    });
  });

describe('underlay: a node default under the layers someone wrote', () => {
  it('never makes a valid config invalid, and every field the layers above set wins', () => {
    fc.assert(fc.property(arbValidConfig(), arbCloudDefault(), (raw, base) => {
      const over = parsed(raw);
      const { config, used } = underlay(base, over);
      expect(recheckNetworkConfig(config).ok).toBe(true);
      // Applying the layers above again changes nothing: nothing of theirs was overridden.
      // (Merging makes exclusive choices explicit, `dhcp: true` → `addresses: []`; compare merged forms.)
      expect(mergeNetworkConfigs([config, over])).toEqual(mergeNetworkConfigs([config]));
      if (used === 'none') expect(config).toEqual(over);
      const routing = over.routes !== undefined || over.rules !== undefined || over.interface?.vrf !== undefined;
      // Routing is one unit: the default's rules never survive without its routes, or next to the claim's.
      if (routing) {
        expect(config.routes).toEqual(over.routes);
        expect(config.rules).toEqual(over.rules);
      } else if (used === 'whole') {
        expect(config.routes).toEqual(base.routes);
        expect(config.rules).toEqual(base.rules);
      }
    }), { numRuns: 400 });
  });

  const BASE = parsed({
    interface: { addresses: ['10.1.0.5/24'], mtu: 8896 },
    routes: [{ destination: '0.0.0.0/0', gateway: '10.1.0.1', table: 101 }],
    rules: [{ source: '10.1.0.5/32', table: 101 }],
  });

  it('is the whole config when nobody wrote one', () => {
    expect(underlay(BASE, {})).toEqual({ config: mergeNetworkConfigs([BASE]), used: 'whole' });
  });

  it('gives way field by field: a claim MTU and name win, the cloud addresses and routing stay', () => {
    const { config, used } = underlay(BASE, parsed({ interface: { name: 'net1', mtu: 9000 } }));
    expect(used).toBe('whole');
    expect(config.interface).toEqual({ name: 'net1', mtu: 9000, addresses: ['10.1.0.5/24'], dhcp: false });
    expect(config.routes).toEqual(BASE.routes);
  });

  it('gives way to DHCP: the cloud addresses are one choice with it', () => {
    const { config } = underlay(BASE, parsed({ interface: { dhcp: true } }));
    expect(config.interface?.dhcp).toBe(true);
    expect(config.interface?.addresses ?? []).toEqual([]);
  });

  it('leaves its routing out whole when the claim routes, or uses a VRF (which refuses rules)', () => {
    const routed = underlay(BASE, parsed({ routes: [{ destination: '192.168.0.0/16', gateway: '10.1.0.254' }] }));
    expect(routed.used).toBe('without-routing');
    expect(routed.config.rules).toBeUndefined();
    expect(routed.config.interface?.mtu).toBe(8896);
    const vrf = underlay(BASE, parsed({ interface: { vrf: { name: 'blue', table: 10 } } }));
    expect(vrf.used).toBe('without-routing');
    expect(recheckNetworkConfig(vrf.config).ok).toBe(true);
    expect(vrf.config.routes).toBeUndefined();
  });

  it('is left out entirely when what remains conflicts with the layers above', () => {
    // An IPv6 address needs MTU ≥ 1280; a cloud MTU under that cannot sit under it.
    const low = parsed({ interface: { mtu: 1200 } });
    const over = parsed({ interface: { addresses: ['2001:db8::5/64'] } });
    expect(underlay(low, over)).toEqual({ config: over, used: 'none' });
  });
});
