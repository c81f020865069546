import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { applicableConfigs, requestMatches } from './requests.ts';
import { resolveDeviceConfig } from './resolve.ts';
import type { AllocationConfig } from './types.ts';

const opaque = (driver: string, parameters: unknown): NonNullable<AllocationConfig['opaque']> => ({ driver, parameters });

describe('requestMatches', () => {
  it('applies an entry with no requests to every request', () => {
    expect(requestMatches(undefined, 'nic')).toBe(true);
    expect(requestMatches([], 'nic/big')).toBe(true);
  });

  it('matches a subrequest by its own name or by its main request', () => {
    expect(requestMatches(['nic'], 'nic/big')).toBe(true);
    expect(requestMatches(['nic/big'], 'nic/big')).toBe(true);
    expect(requestMatches(['nic/small'], 'nic/big')).toBe(false);
    expect(requestMatches(['nic/big'], 'nic')).toBe(false);
    expect(requestMatches(['ni'], 'nic/big')).toBe(false);
    expect(requestMatches(['gpu', 'nic'], 'nic')).toBe(true);
  });

  it('holds for any names', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
    fc.assert(fc.property(name, name, name, (main, sub, other) => {
      fc.pre(other !== main && other !== `${main}/${sub}`);
      const request = `${main}/${sub}`;
      expect(requestMatches([main], request)).toBe(true);
      expect(requestMatches([request], request)).toBe(true);
      expect(requestMatches([other], request)).toBe(false);
      expect(requestMatches([other], main)).toBe(false);
    }));
  });
});

describe('applicableConfigs', () => {
  it('picks our drivers only, orders class configs first and keeps the order within each source', () => {
    const configs: AllocationConfig[] = [
      { source: 'FromClaim', requests: [], opaque: opaque('netclaim.dev', {}) },
      { source: 'FromClass', requests: ['nic'], opaque: opaque('gpu.example.com', {}) },
      { source: 'FromClass', requests: ['nic'], opaque: opaque('dra.net', {}) },
      { source: 'FromClaim', requests: ['gpu'], opaque: opaque('netclaim.dev', {}) },
      { source: 'FromClaim', requests: ['nic/big'], opaque: opaque('netclaim.dev', {}) },
      { source: 'FromClass', requests: ['nic'], opaque: opaque('netclaim.dev', {}) },
    ];
    const drivers = new Set(['netclaim.dev', 'dra.net']);
    expect(applicableConfigs(configs, 'nic/big', drivers)).toEqual([2, 5, 0, 4]);
    expect(applicableConfigs(configs, 'nic/small', drivers)).toEqual([2, 5, 0]);
    expect(applicableConfigs(configs, 'gpu', drivers)).toEqual([0, 3]);
    expect(applicableConfigs(configs, 'nic/big', new Set(['netclaim.dev']))).toEqual([5, 0, 4]);
  });
});

describe('resolveDeviceConfig', () => {
  const configs: AllocationConfig[] = [
    { source: 'FromClaim', requests: ['nic'], opaque: opaque('netclaim.dev', { interface: { name: 'net1', mtu: 4200 } }) },
    { source: 'FromClass', requests: ['nic'], opaque: opaque('netclaim.dev', { interface: { mtu: 9000, disableEbpfPrograms: true }, ethtool: { features: { 'rx-gro-hw': true } } }) },
    { source: 'FromClaim', requests: ['nic/big'], opaque: opaque('netclaim.dev', { routes: [{ destination: '10.0.0.0/8', gateway: '192.0.2.1' }] }) },
  ];

  it('merges class then claim configs, claim winning, and applies the defaults', () => {
    const r = resolveDeviceConfig('nic/big', configs);
    expect(r).toEqual({
      ok: true,
      sources: [1, 0, 2],
      config: {
        interface: { dhcp: false, disableEbpfPrograms: true, name: 'net1', mtu: 4200 },
        ethtool: { features: { 'rx-gro-hw': true } },
        routes: [{ destination: '10.0.0.0/8', gateway: '192.0.2.1', scope: 0, table: 254 }],
        rdma: { required: false, workloadEnv: true },
      },
    });
    expect(resolveDeviceConfig('nic/small', configs).ok && resolveDeviceConfig('nic/small', configs)).toMatchObject({ sources: [1, 0] });
  });

  it('gives the defaults alone when no config applies', () => {
    expect(resolveDeviceConfig('other', configs)).toEqual({
      ok: true, sources: [], config: { interface: { dhcp: false, disableEbpfPrograms: false }, rdma: { required: false, workloadEnv: true } },
    });
  });

  it('reads dra.net configs unless compatibility is off', () => {
    const dranet: AllocationConfig[] = [{ source: 'FromClaim', opaque: opaque('dra.net', { interface: { name: 'eth99' } }) }];
    expect(resolveDeviceConfig('req', dranet)).toMatchObject({ ok: true, config: { interface: { name: 'eth99' } } });
    expect(resolveDeviceConfig('req', dranet, { dranetCompat: false })).toMatchObject({ ok: true, sources: [] });
  });

  it('reports the problems of every applicable config in one CONFIG_CLAIM_INVALID error', () => {
    const bad: AllocationConfig[] = [
      { source: 'FromClass', opaque: opaque('netclaim.dev', { interface: { mtu: 1 } }) },
      { source: 'FromClaim', opaque: opaque('netclaim.dev', { interface: { mtuu: 9000 } }) },
    ];
    const r = resolveDeviceConfig('nic', bad);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(isDriverError(r.error) && r.error.code).toBe('CONFIG_CLAIM_INVALID');
    expect(r.error.context.issues).toEqual([
      { path: 'config[0].opaque.parameters.interface.mtu', message: 'must be at least 68, got 1' },
      { path: 'config[1].opaque.parameters.interface.mtuu', message: 'unknown field (did you mean "mtu"?)' },
    ]);
    expect(r.error.message).toBe('invalid configuration for request "nic": config[0].opaque.parameters.interface.mtu: must be at least 68, got 1; '
      + 'config[1].opaque.parameters.interface.mtuu: unknown field (did you mean "mtu"?)');
    expect((r.error.cause as AggregateError).errors.map((e: Error) => e.message)).toHaveLength(2);
  });

  it('checks the merged config again: a class VRF and claim rules conflict', () => {
    const r = resolveDeviceConfig('nic', [
      { source: 'FromClass', opaque: opaque('netclaim.dev', { interface: { vrf: { name: 'red' } } }) },
      { source: 'FromClaim', opaque: opaque('netclaim.dev', { rules: [{ source: '10.0.0.0/8', table: 100 }] }) },
    ]);
    expect(r.ok ? undefined : r.error.context.issues).toEqual([
      { path: 'rules', message: 'not allowed together with interface.vrf: traffic in a VRF is routed by the VRF table (after merging config[0], config[1])' },
    ]);
  });

  it('takes a missing parameters object as empty', () => {
    expect(resolveDeviceConfig('nic', [{ source: 'FromClaim', opaque: { driver: 'netclaim.dev' } }])).toMatchObject({ ok: true, sources: [0] });
  });
});
