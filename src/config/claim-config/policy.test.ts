import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbValidConfig } from '../../../test/fixtures/claim-config/fields.ts';
import { isDriverError } from '../../common/errors.ts';
import { parseNetworkConfig } from './parse.ts';
import { DEFAULT_CLAIM_SYSCTLS } from './policy.ts';
import { resolveDeviceConfig } from './resolve.ts';
import { INTERFACE_SYSCTLS } from './sysctls.ts';
import type { AllocationConfig } from './types.ts';

const cls = (parameters: unknown, requests?: string[]): AllocationConfig =>
  ({ source: 'FromClass', ...(requests ? { requests } : {}), opaque: { driver: 'netclaim.dev', parameters } });
const claim = (parameters: unknown): AllocationConfig => ({ source: 'FromClaim', opaque: { driver: 'netclaim.dev', parameters } });

/** The problems of resolving `configs` for request nic of DeviceClass fast-nic, as `path: message` lines ([] when it resolves). */
function problems(...configs: AllocationConfig[]): string[] {
  const r = resolveDeviceConfig('nic', configs, {}, 'fast-nic');
  if (r.ok) return [];
  expect(isDriverError(r.error) && r.error.code).toBe('CONFIG_CLAIM_INVALID');
  return (r.error.context['issues'] as { path: string; message: string }[]).map((x) => `${x.path}: ${x.message}`);
}

const P = 'config[1].opaque.parameters';

describe('class policy: what claims may not set by default', () => {
  it('refuses interface.disableEbpfPrograms, naming the field and the class', () => {
    expect(problems(cls({}), claim({ interface: { disableEbpfPrograms: true } }))).toEqual([
      `${P}.interface.disableEbpfPrograms: claims of DeviceClass "fast-nic" may not set this field: only a DeviceClass config may, `
        + 'unless the class allows interface.disableEbpfPrograms (policy.allowFields)',
    ]);
    // false too: the field is the class's, whatever the value
    expect(problems(cls({}), claim({ interface: { disableEbpfPrograms: false } }))).toHaveLength(1);
  });

  it('refuses ethtool.privateFlags', () => {
    expect(problems(cls({}), claim({ ethtool: { privateFlags: { rx_striding_rq: true } } }))).toEqual([
      `${P}.ethtool.privateFlags: claims of DeviceClass "fast-nic" may not set this field: only a DeviceClass config may, `
        + 'unless the class allows ethtool.privateFlags (policy.allowFields)',
    ]);
  });

  it('refuses a MAC when the class allows no range', () => {
    expect(problems(cls({}), claim({ interface: { hardwareAddr: '02:00:00:00:00:01' } }))).toEqual([
      `${P}.interface.hardwareAddr: claims of DeviceClass "fast-nic" may not set this MAC: the class allows no MAC range (policy.hardwareAddrRanges)`,
    ]);
  });

  it('refuses a sysctl outside the default list, and takes one inside it', () => {
    expect(problems(cls({}), claim({ interface: { sysctls: { 'ipv4.proxy_arp': 1, 'ipv6.accept_ra': 2 } } }))).toEqual([
      `${P}.interface.sysctls[ipv4.proxy_arp]: claims of DeviceClass "fast-nic" may not set this sysctl: `
        + 'it is not in the default list and the class does not allow it (policy.sysctls)',
    ]);
    for (const key of DEFAULT_CLAIM_SYSCTLS) expect(key in INTERFACE_SYSCTLS, key).toBe(true);
  });

  it('docs/claim-config.md lists the default sysctls exactly', () => {
    const doc = readFileSync(new URL('../../../docs/claim-config.md', import.meta.url), 'utf8');
    const para = /\*\*Default sysctls\*\* a claim may set: (.*?)\. Each changes/.exec(doc.replace(/\n/g, ' '))?.[1] ?? '';
    expect([...para.matchAll(/`([^`]+)`/g)].map((m) => m[1])).toEqual(DEFAULT_CLAIM_SYSCTLS);
  });

  it('takes everything else from a claim: name, addresses, MTU, routes, offloads, rings, RDMA', () => {
    expect(problems(cls({}), claim({
      interface: { name: 'net1', addresses: ['192.0.2.10/24'], mtu: 9000, forwarding: true },
      routes: [{ destination: '10.0.0.0/8', gateway: '192.0.2.1' }],
      ethtool: { features: { 'rx-gro': false }, rings: { rx: 4096 }, channels: { combined: 8 } },
      rdma: { required: true },
    }))).toEqual([]);
  });

  it('names the class as unknown when the request\'s class is not known', () => {
    const r = resolveDeviceConfig('nic', [claim({ interface: { disableEbpfPrograms: true } })]);
    expect(r.ok ? '' : r.error.message).toContain('claims of the DeviceClass may not set this field');
  });

  it('counts an entry without source FromClass as the claim\'s', () => {
    const forged: AllocationConfig = { opaque: { driver: 'netclaim.dev', parameters: { interface: { disableEbpfPrograms: true } } } };
    expect(problems(forged)).toHaveLength(1);
  });

  it('lets a class config set anything itself', () => {
    const r = resolveDeviceConfig('nic', [cls({
      interface: { disableEbpfPrograms: true, hardwareAddr: '00:11:22:33:44:55', sysctls: { 'ipv4.proxy_arp': 1 } },
      ethtool: { privateFlags: { rx_striding_rq: true } },
    })], {}, 'fast-nic');
    expect(r.ok && r.config.interface).toMatchObject({ disableEbpfPrograms: true, hardwareAddr: '00:11:22:33:44:55' });
  });

  it('refuses a policy in a claim config, and leaves the policy out of the device\'s config', () => {
    expect(problems(cls({}), claim({ policy: { allowFields: ['interface.disableEbpfPrograms'] }, interface: { disableEbpfPrograms: true } }))).toEqual([
      `${P}.policy: a policy can only be set in a DeviceClass config (source FromClass), not in a claim`,
      `${P}.interface.disableEbpfPrograms: claims of DeviceClass "fast-nic" may not set this field: only a DeviceClass config may, `
        + 'unless the class allows interface.disableEbpfPrograms (policy.allowFields)',
    ]);
    const r = resolveDeviceConfig('nic', [cls({ policy: { sysctls: ['ipv4.proxy_arp'] } })]);
    expect(r.ok && r.config).not.toHaveProperty('policy');
  });
});

describe('class policy: widening and narrowing', () => {
  it('allowFields lets claims set a default-denied field, and everything under the path named', () => {
    expect(problems(cls({ policy: { allowFields: ['interface.disableEbpfPrograms'] } }), claim({ interface: { disableEbpfPrograms: true } }))).toEqual([]);
    expect(problems(cls({ policy: { allowFields: ['ethtool'] } }), claim({ ethtool: { privateFlags: { x: true } } }))).toEqual([]);
    expect(problems(cls({ policy: { allowFields: ['interface.hardwareAddr'] } }), claim({ interface: { hardwareAddr: '00:11:22:33:44:55' } }))).toEqual([]);
    expect(problems(cls({ policy: { allowFields: ['interface.sysctls'] } }), claim({ interface: { sysctls: { 'ipv4.route_localnet': 1 } } }))).toEqual([]);
  });

  it('hardwareAddrRanges lets claims take a MAC in a range and no other', () => {
    const c = cls({ policy: { hardwareAddrRanges: ['02:42:AC:11:00:00/24', '0a:00:00:00:00:00/8'] } });
    expect(problems(c, claim({ interface: { hardwareAddr: '02:42:ac:ff:00:01' } }))).toEqual([]);
    expect(problems(c, claim({ interface: { hardwareAddr: '0a:99:00:00:00:01' } }))).toEqual([]);
    expect(problems(c, claim({ interface: { hardwareAddr: '02:42:ad:00:00:01' } }))).toEqual([
      `${P}.interface.hardwareAddr: claims of DeviceClass "fast-nic" may not set this MAC: 02:42:ad:00:00:01 is outside the class's ranges `
        + '(02:42:ac:00:00:00/24, 0a:00:00:00:00:00/8)',
    ]);
  });

  it('policy.sysctls widens the default list', () => {
    expect(problems(cls({ policy: { sysctls: ['ipv4.proxy_arp'] } }), claim({ interface: { sysctls: { 'ipv4.proxy_arp': 1 } } }))).toEqual([]);
    expect(problems(cls({ policy: { sysctls: ['ipv4.proxy_arp'] } }), claim({ interface: { sysctls: { 'ipv6.proxy_ndp': 1 } } }))).toHaveLength(1);
  });

  it('denyFields locks fields claims may set by default, and wins over allowFields', () => {
    const c = cls({ policy: { denyFields: ['interface.addresses', 'routes'], allowFields: ['interface'] } });
    expect(problems(c, claim({ interface: { addresses: ['192.0.2.9/24'], mtu: 1400 }, routes: [] }))).toEqual([
      `${P}.interface.addresses: claims of DeviceClass "fast-nic" may not set this field: the class denies interface.addresses (policy.denyFields)`,
      `${P}.routes: claims of DeviceClass "fast-nic" may not set this field: the class denies routes (policy.denyFields)`,
    ]);
  });

  it('adds up the policies of several class configs, in any order, a deny from one beating an allow from another', () => {
    const a = cls({ policy: { allowFields: ['interface.disableEbpfPrograms'] } });
    const b = cls({ policy: { hardwareAddrRanges: ['02:00:00:00:00:00/8'], denyFields: ['interface.mtu'] } });
    const wants = claim({ interface: { disableEbpfPrograms: true, hardwareAddr: '02:01:02:03:04:05' } });
    expect(problems(a, b, wants)).toEqual([]);
    expect(problems(b, a, wants)).toEqual([]);
    expect(problems(a, cls({}), wants)).toHaveLength(1); // no range from either
    const c = cls({ policy: { allowFields: ['interface.mtu'] } });
    expect(problems(c, b, claim({ interface: { mtu: 1400 } }))).toHaveLength(1);
  });

  it('reads the policy only of class configs that apply to the request', () => {
    const other = cls({ policy: { allowFields: ['interface.disableEbpfPrograms'] } }, ['other']);
    expect(problems(other, claim({ interface: { disableEbpfPrograms: true } }))).toHaveLength(1);
  });

  it('refuses policy values that name nothing', () => {
    const r = parseNetworkConfig({ policy: {
      allowFields: ['interface.mtuu', 'policy', 'ethtool.features.tso', 'interface.sysctls.x'],
      hardwareAddrRanges: ['02:00:00:00:00:00/49', '02:00/8'], sysctls: ['net.ipv4.ip_forward'],
    } });
    expect(r.ok ? [] : r.issues.map((x) => x.path)).toEqual([
      'policy.allowFields[0]', 'policy.allowFields[1]', 'policy.allowFields[2]', 'policy.allowFields[3]',
      'policy.hardwareAddrRanges[0]', 'policy.hardwareAddrRanges[1]', 'policy.sysctls[0]',
    ]);
  });
});

describe('class policy, for any claim config', () => {
  const macs = fc.constantFrom('02:00:00:00:00:01', '02:42:ac:00:00:07', '00:11:22:33:44:55', '0e:00:00:00:00:01');
  const sysctlKey = fc.constantFrom(...Object.keys(INTERFACE_SYSCTLS));
  const denied = fc.record({
    disableEbpfPrograms: fc.option(fc.boolean(), { nil: undefined, freq: 2 }),
    hardwareAddr: fc.option(macs, { nil: undefined, freq: 2 }),
    sysctls: fc.option(fc.dictionary(sysctlKey, fc.constantFrom(0, 1)), { nil: undefined, freq: 2 }),
    privateFlags: fc.option(fc.dictionary(fc.constantFrom('a', 'b'), fc.boolean()), { nil: undefined, freq: 2 }),
  });
  const classConfig = {
    interface: { sysctls: { 'ipv4.send_redirects': 0 } },
    ethtool: { privateFlags: { admin: true } },
    policy: { hardwareAddrRanges: ['02:42:ac:00:00:00/24'], sysctls: ['ipv4.arp_accept'] },
  };
  const allowedSysctls = new Set([...DEFAULT_CLAIM_SYSCTLS, 'ipv4.arp_accept', 'ipv4.send_redirects']);

  it('never sets a denied field, whatever the claim layer holds', () => {
    let resolved = 0;
    fc.assert(fc.property(arbValidConfig(), denied, fc.integer({ min: 0, max: 3 }), (base, d, policyDie) => {
      // the random config without the denied fields, which `d` then sets (or not)
      const layer = structuredClone(base) as Record<string, Record<string, unknown> | undefined>;
      if (policyDie > 0) delete layer['policy'];
      const iface = { ...layer['interface'] };
      for (const k of ['disableEbpfPrograms', 'hardwareAddr', 'sysctls']) delete iface[k];
      if (layer['ethtool'] !== undefined) delete layer['ethtool']['privateFlags'];
      // Denied by default too (a VLAN is the admin's choice), and not what this property is about.
      if (layer['subInterface'] !== undefined) delete layer['subInterface']['vlanId'];
      if (d.disableEbpfPrograms !== undefined) iface['disableEbpfPrograms'] = d.disableEbpfPrograms;
      if (d.hardwareAddr !== undefined) iface['hardwareAddr'] = d.hardwareAddr;
      if (d.sysctls !== undefined) iface['sysctls'] = d.sysctls;
      layer['interface'] = iface;
      if (d.privateFlags !== undefined) layer['ethtool'] = { ...layer['ethtool'], privateFlags: d.privateFlags };
      const r = resolveDeviceConfig('nic', [cls(classConfig), claim(layer)], {}, 'fast-nic');
      if (!r.ok) return;
      resolved++;
      expect(r.config.interface?.disableEbpfPrograms).toBe(false);
      expect(r.config.ethtool?.privateFlags).toEqual({ admin: true });
      const mac = r.config.interface?.hardwareAddr;
      if (mac !== undefined) expect(mac.startsWith('02:42:ac:')).toBe(true);
      for (const key of Object.keys(r.config.interface?.sysctls ?? {})) expect(allowedSysctls.has(key), key).toBe(true);
      expect(r.config).not.toHaveProperty('policy');
    }), { numRuns: 400 });
    expect(resolved).toBeGreaterThan(10); // the property was tested on configs that resolve, not only refused ones
  });
});
