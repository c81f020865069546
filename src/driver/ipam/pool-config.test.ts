import { describe, expect, it } from 'vitest';
import type { PoolAddress } from '../record-model.ts';
import { withPoolAddresses } from './pool-config.ts';

const pooled = (address: string, prefixLength: number, routes: PoolAddress['routes'] = [], extra: Partial<PoolAddress> = {}): PoolAddress =>
  ({ request: 'nic', device: 'd', pool: 'p', name: `p.${address}`, uid: 'u', address, prefixLength, routes, ...extra });

describe('withPoolAddresses', () => {
  it('adds each pooled address with the pool prefix, and pool routes the config does not have', () => {
    const c = withPoolAddresses({ interface: { name: 'net1', addresses: ['2001:db8::5/64'] }, routes: [{ destination: '10.0.0.0/8', gateway: '10.1.0.254' }] },
      [pooled('10.1.0.7', 24, [{ destination: '10.0.0.0/8', gateway: '10.1.0.1' }, { destination: '192.0.2.0/24', gateway: '10.1.0.1' }])]);
    expect(c.interface).toEqual({ name: 'net1', addresses: ['2001:db8::5/64', '10.1.0.7/24'] });
    expect(c.routes).toEqual([{ destination: '10.0.0.0/8', gateway: '10.1.0.254' }, { destination: '192.0.2.0/24', gateway: '10.1.0.1' }]);
  });

  it('changes nothing for none or only static registrations (their address is already in the config)', () => {
    const cfg = { interface: { addresses: ['10.1.0.5/24'] } };
    expect(withPoolAddresses(cfg, [])).toBe(cfg);
    expect(withPoolAddresses(cfg, [pooled('10.1.0.5', 24, [], { static: true })])).toBe(cfg);
  });
});
