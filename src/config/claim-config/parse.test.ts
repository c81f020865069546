import { describe, expect, it } from 'vitest';
import { allFields, acceptedEdges, embed, pathText, refused, sample } from '../../../test/fixtures/claim-config/fields.ts';
import { NETWORK_CONFIG } from './fields.ts';
import type { ConfigIssue } from './issues.ts';
import { OPAQUE_PARAMETERS_MAX_BYTES, parseNetworkConfig, parseNetworkConfigJson } from './parse.ts';

const issuesOf = (v: unknown): readonly ConfigIssue[] => {
  const r = parseNetworkConfig(v);
  return r.ok ? [] : r.issues;
};
const lines = (v: unknown): string[] => issuesOf(v).map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`));
const config = (v: unknown): unknown => {
  const r = parseNetworkConfig(v);
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config;
};

const fields = allFields();

describe('every field of the definition', () => {
  it('covers the whole definition', () => {
    const paths = fields.map((f) => pathText(f.path));
    for (const p of ['interface.mtu', 'interface.vrf.table', 'interface.sysctls[ipv6.accept_ra]', 'routes[0].scope',
      'rules[0].priority', 'neighbors[0].hardwareAddr', 'ethtool.features[rx-gro]', 'ethtool.coalesce.rxUsecs',
      'ethtool.rings.tcpDataSplit', 'rdma.charDevices[0]', 'interface.addresses[0]', 'apiVersion']) {
      expect(paths).toContain(p);
    }
  });

  for (const { path, node } of fields) {
    const at = pathText(path);
    it(`${at}: accepts ${node.kind} values at the edges of its bounds`, () => {
      for (const v of acceptedEdges(node)) {
        expect(issuesOf(embed(path, v)).filter((i) => i.path === at || i.path.startsWith(`${at}.`) || i.path.startsWith(`${at}[`)), `${at} = ${JSON.stringify(v)}`).toEqual([]);
      }
    });
    it(`${at}: refuses wrong types and out-of-bounds values, naming the path`, () => {
      for (const v of refused(node)) {
        const found = issuesOf(embed(path, v)).map((i) => i.path);
        expect(found.some((p) => p === at || p.startsWith(`${at}[`)), `${at} = ${JSON.stringify(v).slice(0, 60)} gave ${JSON.stringify(found)}`).toBe(true);
      }
    });
    if (node.kind === 'object') {
      it(`${at}: refuses an unknown field inside it`, () => {
        const inner = node.keyedPaths ? `${at}[zzUnknown]` : `${at}.zzUnknown`;
        expect(lines(embed(path, { ...(sample(node) as object), zzUnknown: 1 }))).toContain(`${inner}: unknown field`);
      });
    }
    if (node.required) {
      it(`${at}: is required`, () => {
        const parent = path.slice(0, -1);
        const name = path[path.length - 1] as string;
        const without = Object.fromEntries(Object.entries(sample(parentNode(parent)) as object).filter(([k]) => k !== name));
        expect(lines(embed(parent, without))).toContain(`${at}: required`);
      });
    }
  }

  it('refuses an unknown field at the top level', () => {
    expect(lines({ mtu: 9000 })).toEqual(['mtu: unknown field']);
  });
});

function parentNode(path: readonly unknown[]): Parameters<typeof sample>[0] {
  return path.length === 0 ? NETWORK_CONFIG : fields.find((f) => pathText(f.path) === pathText(path as never))!.node;
}

describe('parse', () => {
  it('accepts an empty config, and null for any optional field', () => {
    expect(config({})).toEqual({});
    expect(config({ interface: null, routes: null, ethtool: { features: { 'rx-gro': null } } })).toEqual({ ethtool: { features: {} } });
  });

  it('reports malformed JSON with its position', () => {
    expect(parseNetworkConfigJson('{"interface": {"mtu": 9000,}}')).toEqual({
      ok: false,
      issues: [{ path: '', message: expect.stringMatching(/^malformed JSON: .*(position 27|line 1 column 28)/) as unknown as string }],
    });
    expect(parseNetworkConfigJson(Buffer.from('{"interface":{"mtu":9000}}'))).toEqual({ ok: true, config: { interface: { mtu: 9000 } } });
    expect(lines(JSON.parse('[1, 2]'))).toEqual(['must be an object, got a list']);
  });

  it('prefixes every path with the base it is given', () => {
    const r = parseNetworkConfigJson('{"interface": {"mtu": 1}}', ['spec', 'devices', 'config', 0, 'opaque', 'parameters']);
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['spec.devices.config[0].opaque.parameters.interface.mtu']);
  });

  it('reports every problem, not just the first', () => {
    expect(lines({
      interface: { mtuu: 1, name: 'a/b', addresses: ['10.0.0.1', '10.0.0.2/24', '10.0.0.2/24'], arpIgnore: 5, vrf: { table: 254 } },
      routes: [{ destination: '10.0.0.0/8', table: 'mian' }],
      neighbors: [{ ipAddress: '192.0.2.1', hardwareAddr: '00:11:22:33:44:55' }],
      ethtool: { features: { TSO: true, 'rx-gro': 'on' } },
      Interface: {},
    })).toEqual([
      'Interface: unknown field (did you mean "interface"?)',
      'interface.mtuu: unknown field (did you mean "mtu"?)',
      'interface.name: "a/b" contains "/"; interface names cannot contain \'/\', \':\', \'%\', whitespace or control characters',
      'interface.addresses[0]: "10.0.0.1" has no prefix length; write it as a CIDR (host routes use /32 or /128)',
      'interface.addresses[2]: duplicate of item 1',
      'interface.arpIgnore: must be one of 0, 1, 2, 3, 8, got 5',
      'interface.vrf.name: required',
      'interface.vrf.table: 254 is the main table and cannot be used',
      'routes[0].table: unknown name "mian" (known: default, main, local, or a number)',
      'routes[0].gateway: required for a universe-scope route (set scope: link for a route without a gateway)',
      'neighbors[0].ipAddress: unknown field (DraNet\'s user guide calls it ipAddress, but the field is destination)',
      'neighbors[0].destination: required',
      'ethtool.features[TSO]: "TSO" is not a valid feature name (^[a-z0-9][a-z0-9_-]*$, at most 31 bytes)',
      'ethtool.features[rx-gro]: must be true or false, got string "on"',
    ]);
  });

  it('normalises addresses, prefixes, MACs, scopes and tables', () => {
    expect(config({
      interface: { addresses: ['2001:DB8:0:0::1/64', '192.0.2.7/24'], hardwareAddr: '02-AB-CD-00-00-01' },
      routes: [{ destination: '10.1.2.3/8', gateway: '10.0.0.1', table: 'main' }, { destination: '2001:db8:1::5/48', scope: 'link' }],
      rules: [{ source: '192.0.2.77/26', table: 'local' }],
      neighbors: [{ destination: '2001:0db8::0001', hardwareAddr: '0011.2233.4455' }],
    })).toEqual({
      interface: { addresses: ['2001:db8::1/64', '192.0.2.7/24'], hardwareAddr: '02:ab:cd:00:00:01' },
      routes: [{ destination: '10.0.0.0/8', gateway: '10.0.0.1', table: 254 }, { destination: '2001:db8:1::/48', scope: 253 }],
      rules: [{ source: '192.0.2.64/26', table: 255 }],
      neighbors: [{ destination: '2001:db8::1', hardwareAddr: '00:11:22:33:44:55' }],
    });
  });

  it('refuses parameters over the API limit of 10 KiB', () => {
    const big = { interface: { addresses: Array.from({ length: 60 }, (_, i) => `2001:db8:ffff:ffff:ffff:ffff:ffff:${i.toString(16)}/64`) }, profile: 'p'.repeat(200) };
    const huge = { ...big, ethtool: { privateFlags: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`flag-number-${i}-with-a-long-name`.slice(0, 31), true])) } };
    expect(JSON.stringify(huge).length).toBeGreaterThan(OPAQUE_PARAMETERS_MAX_BYTES - 6000);
    const r = parseNetworkConfig({ ...huge, routes: Array.from({ length: 120 }, (_, i) => ({ destination: `10.${i}.0.0/16`, gateway: '10.255.255.254' })) });
    expect(r.ok ? [] : r.issues[0]).toEqual({ path: '', message: expect.stringMatching(/bytes as JSON; the API allows at most 10240$/) as unknown as string });
  });

  it('refuses a value that cannot be JSON (a cycle from YAML aliases)', () => {
    const cyclic: Record<string, unknown> = { interface: {} };
    (cyclic.interface as Record<string, unknown>).self = cyclic;
    expect(lines(cyclic)).toEqual([expect.stringMatching(/^cannot be represented as JSON: /)]);
  });

  it('keeps a map key like __proto__ as data', () => {
    const c = config({ ethtool: { privateFlags: JSON.parse('{"__proto__": true}') as unknown } }) as { ethtool: { privateFlags: Record<string, boolean> } };
    expect(Object.keys(c.ethtool.privateFlags)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(c.ethtool.privateFlags)).toBe(Object.prototype);
    expect(lines({ interface: JSON.parse('{"__proto__": {"mtu": 1}}') as unknown })).toEqual(['interface.__proto__: unknown field']);
  });
});

describe('checks between fields', () => {
  it('refuses dhcp with addresses', () => {
    expect(lines({ interface: { dhcp: true, addresses: ['192.0.2.1/24'] } })).toEqual(['interface.dhcp: cannot be combined with addresses: choose static addresses or DHCP']);
    expect(lines({ interface: { dhcp: false, addresses: ['192.0.2.1/24'] } })).toEqual([]);
  });

  it('wants an MTU of at least 1280 with IPv6, and ipv6.mtu within it', () => {
    expect(lines({ interface: { mtu: 1200, addresses: ['192.0.2.1/24', '2001:db8::1/64'] } }))
      .toEqual(['interface.mtu: must be at least 1280 for IPv6, got 1200 (addresses[1] is IPv6)']);
    expect(lines({ interface: { mtu: 1200, addresses: ['192.0.2.1/24'] } })).toEqual([]);
    expect(lines({ interface: { mtu: 1500, sysctls: { 'ipv6.mtu': 9000 } } })).toEqual(['interface.sysctls[ipv6.mtu]: 9000 is above the interface mtu 1500']);
  });

  it('refuses rules under a VRF, and route tables other than the VRF\'s', () => {
    expect(lines({
      interface: { vrf: { name: 'blue', table: 100 } },
      rules: [{ table: 100 }],
      routes: [{ destination: '0.0.0.0/0', gateway: '192.0.2.1', table: 200 }, { destination: '10.0.0.0/8', gateway: '192.0.2.1', table: 100 }],
    })).toEqual([
      'rules: not allowed together with interface.vrf: traffic in a VRF is routed by the VRF table',
      'routes[0].table: 200 cannot be used under interface.vrf: routes go to the VRF table 100; leave table unset',
    ]);
    // without a table, the VRF's is derived from its name
    expect(lines({ interface: { vrf: { name: 'blue' } }, routes: [{ destination: '0.0.0.0/0', gateway: '192.0.2.1', table: 254 }] }))
      .toEqual([expect.stringMatching(/^routes\[0\]\.table: 254 cannot be used under interface\.vrf: routes go to the VRF table 1\d{3}; leave table unset$/)]);
  });

  it('refuses a VRF named like the interface', () => {
    expect(lines({ interface: { name: 'blue', vrf: { name: 'blue' } } })).toEqual(['interface.vrf.name: must differ from the interface name "blue"']);
  });

  it('runs a check only when the fields it relates are valid on their own', () => {
    // interface has a problem of its own, so the VRF-versus-rules check waits for it to be fixed
    expect(lines({ interface: { mtu: 1, vrf: { name: 'blue' } }, rules: [{ table: 100 }] })).toEqual(['interface.mtu: must be at least 68, got 1']);
  });

  it('checks route gateways, sources and scopes', () => {
    expect(lines({
      routes: [
        { destination: '10.0.0.0/8' },
        { destination: '10.1.0.0/16', gateway: '2001:db8::1' },
        { destination: '10.2.0.0/16', scope: 'link', gateway: '10.0.0.1' },
        { destination: '2001:db8::/32', scope: 'link', source: '10.0.0.1' },
        { destination: '10.3.0.0/16', scope: 'link' },
        { destination: '2001:db8:1::/48', gateway: 'fe80::1', scope: 253 },
      ],
    })).toEqual([
      'routes[0].gateway: required for a universe-scope route (set scope: link for a route without a gateway)',
      'routes[1].gateway: is IPv6 but destination is IPv4',
      'routes[2].gateway: not allowed on a link- or host-scope IPv4 route; the kernel refuses it',
      'routes[3].source: is IPv4 but destination is IPv6',
    ]);
  });

  it('refuses two routes with the same destination and table', () => {
    expect(lines({
      routes: [
        { destination: '10.3.0.0/16', scope: 'link' },
        { destination: '10.3.0.0/16', scope: 'link', table: 100 },
        { destination: '10.3.0.7/16', scope: 253, table: 'main' },
      ],
    })).toEqual(['routes[2]: same destination and table as routes[0]']);
  });

  it('refuses rules mixing families, and duplicate neighbours', () => {
    expect(lines({
      rules: [{ source: '10.0.0.0/8', destination: '2001:db8::/32' }],
      neighbors: [{ destination: '192.0.2.1', hardwareAddr: '00:11:22:33:44:55' }, { destination: '192.0.2.1', hardwareAddr: '00:11:22:33:44:66' }],
    })).toEqual([
      'rules[0].destination: is IPv6 but source is IPv4',
      'neighbors[1]: same destination as neighbors[0]',
    ]);
  });

  it('wants apiVersion and kind together', () => {
    expect(lines({ apiVersion: 'netclaim.dev/v1alpha1' })).toEqual(['kind: required when apiVersion is given']);
    expect(lines({ kind: 'NetworkConfig' })).toEqual(['apiVersion: required when kind is given']);
    expect(lines({ kind: 'NetworkConfig', apiVersion: 'netclaim.dev/v1' })).toEqual(['apiVersion: must be "netclaim.dev/v1alpha1", got "netclaim.dev/v1"']);
  });

  it('skips a check whose fields failed on their own', () => {
    expect(lines({ routes: [{ destination: '10.0.0.0/8', gateway: 'not-an-ip' }] })).toEqual(['routes[0].gateway: "not-an-ip" is not an IPv4 or IPv6 address']);
  });

  it('names the typed field for a sysctl DraNet already has, and later DraNet fields', () => {
    // subInterface is netclaim's own now (docs/sharing.md): an empty one parses.
    expect(lines({ interface: { sysctls: { 'ipv4.forwarding': 1 }, acceptRA: 0 }, subInterface: {} })).toEqual([
      'interface.acceptRA: unknown field (a later DraNet field; use interface.sysctls[ipv6.accept_ra])',
      'interface.sysctls[ipv4.forwarding]: unknown field (set by interface.forwarding; use that field instead)',
    ]);
  });
});
