import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { AF_INET, AF_INET6 } from '../../common/ip.ts';
import { allocationName } from './allocation-name.ts';
import { parsePool, rangesAt, rangesSize, subtract } from './pool-spec.ts';

const refusal = (name: string, spec: unknown): string => {
  try {
    parsePool(name, spec);
  } catch (err) {
    if (isDriverError(err) && err.code === 'PREPARE_POOL_INVALID') return err.message;
    throw err;
  }
  throw new Error('accepted');
};

describe('parsePool', () => {
  it('an IPv4 /24 holds 254 addresses less the gateway and the excluded ones', () => {
    const p = parsePool('rail0', { subnet: '10.1.0.7/24', gateway: '10.1.0.1', exclude: ['10.1.0.240/28', '10.1.0.2-10.1.0.9'] });
    expect(p.family).toBe(AF_INET);
    expect(p.subnet).toBe('10.1.0.0/24');
    expect(rangesSize(p.usable('n1'))).toBe(254n - 1n - 16n + 1n - 8n); // .240/28 holds .255, already out
    const all = Array.from({ length: Number(rangesSize(p.usable('n1'))) }, (_, i) => p.address(rangesAt(p.usable('n1'), BigInt(i))));
    for (const never of ['10.1.0.0', '10.1.0.1', '10.1.0.2', '10.1.0.9', '10.1.0.240', '10.1.0.255']) expect(all).not.toContain(never);
    expect(all).toContain('10.1.0.10');
    expect(all).toContain('10.1.0.239');
  });

  it('routes take the pool gateway unless they name their own', () => {
    const p = parsePool('r', { subnet: '10.1.0.0/24', gateway: '10.1.0.1', routes: [{ destination: '10.0.0.0/8' }, { destination: '192.0.2.0/24', gateway: '10.1.0.254' }] });
    expect(p.routes).toEqual([{ destination: '10.0.0.0/8', gateway: '10.1.0.1' }, { destination: '192.0.2.0/24', gateway: '10.1.0.254' }]);
  });

  it('IPv6: sizes beyond 2^53, the subnet-router anycast is never handed out', () => {
    const p = parsePool('v6', { subnet: 'fd00:1::/64' });
    expect(p.family).toBe(AF_INET6);
    expect(rangesSize(p.usable('x'))).toBe((1n << 64n) - 1n);
    expect(p.address(rangesAt(p.usable('x'), 0n))).toBe('fd00:1::1');
    expect(p.address(rangesAt(p.usable('x'), (1n << 64n) - 2n))).toBe('fd00:1::ffff:ffff:ffff:ffff');
  });

  it('per-node ranges: a node allocates only inside its own, a node not named has none', () => {
    const p = parsePool('r', { subnet: '10.2.0.0/16', nodes: [{ nodeName: 'n1', ranges: ['10.2.1.0/24'] }, { nodeName: 'n2', ranges: ['10.2.2.10-10.2.2.19'] }] });
    expect(rangesSize(p.usable('n1'))).toBe(256n);
    expect(rangesSize(p.usable('n2'))).toBe(10n);
    expect(rangesSize(p.usable('n3'))).toBe(0n);
    expect(p.perNode).toBe(true);
  });

  it('refuses a bad spec naming the field', () => {
    expect(refusal('r', {})).toContain('spec.subnet is required');
    expect(refusal('r', { subnet: '10.0.0.0' })).toContain('spec.subnet needs a prefix length');
    expect(refusal('r', { subnet: 'x/24' })).toContain('spec.subnet');
    expect(refusal('r', { subnet: '10.0.0.0/24', gateway: '10.0.1.1' })).toContain('spec.gateway 10.0.1.1 is outside the subnet');
    expect(refusal('r', { subnet: '10.0.0.0/24', gateway: 'fd00::1' })).toContain('spec.gateway fd00::1 is not of the subnet\'s family');
    expect(refusal('r', { subnet: '10.0.0.0/24', exclude: ['10.0.0.9-10.0.0.3'] })).toContain('spec.exclude[0]');
    expect(refusal('r', { subnet: '10.0.0.0/24', exclude: ['10.0.0.0/16'] })).toContain('spec.exclude[0]');
    expect(refusal('r', { subnet: '10.0.0.0/24', routes: [{ destination: '0.0.0.0/0' }] })).toContain('spec.routes[0].gateway is required');
    expect(refusal('r', { subnet: '10.0.0.0/24', nodes: [{ ranges: [] }] })).toContain('spec.nodes[0].nodeName');
    expect(refusal('r', { subnet: '10.0.0.0/32' })).toContain('leaves no address');
    expect(refusal('Bad_Name', { subnet: '10.0.0.0/24' })).toContain('metadata.name');
  });
});

describe('subtract', () => {
  it('cuts ranges at their edges and inside', () => {
    expect(subtract([{ first: 0n, last: 10n }], [{ first: 0n, last: 0n }, { first: 4n, last: 5n }, { first: 10n, last: 20n }]))
      .toEqual([{ first: 1n, last: 3n }, { first: 6n, last: 9n }]);
  });
});

describe('allocationName', () => {
  it('is one name per address, DNS-subdomain safe, for both families', () => {
    expect(allocationName('rail0', '10.1.0.5')).toBe('rail0.v4-10-1-0-5');
    expect(allocationName('rail0', 'fd00::1')).toBe('rail0.v6-fd000000000000000000000000000001');
    expect(allocationName('rail0', 'fd00:0::1')).toBe(allocationName('rail0', 'fd00::1'));
    expect(allocationName('rail0', 'fd00::')).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});
