import { describe, expect, it } from 'vitest';
import { vrfTableFor, withDefaults } from './defaults.ts';

describe('defaults', () => {
  it('derives a VRF table from its name as DraNet does (FNV-1a-32 mod 1000, plus 1000)', () => {
    // FNV-1a-32("a") = 0xe40c292c (the published test vector); ("test-vrf") = 0x6e92fd6a
    expect(vrfTableFor('a')).toBe(1000 + (0xe40c292c % 1000));
    expect(vrfTableFor('test-vrf')).toBe(1890);
    expect(vrfTableFor('')).toBe(1000 + (0x811c9dc5 % 1000));
    for (const n of ['a', 'blue', 'vrf-é']) {
      expect(vrfTableFor(n)).toBeGreaterThanOrEqual(1000);
      expect(vrfTableFor(n)).toBeLessThan(2000);
    }
  });

  it('fills route scope and table (the VRF table under a VRF), rule tables, and the constant switches', () => {
    expect(withDefaults({
      interface: { vrf: { name: 'test-vrf' } },
      routes: [{ destination: '0.0.0.0/0', gateway: '192.0.2.1' }, { destination: '192.0.2.0/24', scope: 253, table: 0 }],
    })).toEqual({
      interface: { dhcp: false, disableEbpfPrograms: false, vrf: { name: 'test-vrf', table: vrfTableFor('test-vrf') } },
      routes: [
        { destination: '0.0.0.0/0', gateway: '192.0.2.1', scope: 0, table: vrfTableFor('test-vrf') },
        { destination: '192.0.2.0/24', scope: 253, table: vrfTableFor('test-vrf') },
      ],
      rdma: { required: false, workloadEnv: true },
    });
    expect(withDefaults({ rules: [{ table: 0 }, { table: 100 }, {}], routes: [{ destination: '10.0.0.0/8', gateway: '10.0.0.1', table: 7 }], rdma: { workloadEnv: false } })).toEqual({
      interface: { dhcp: false, disableEbpfPrograms: false },
      rules: [{ table: 254 }, { table: 100 }, { table: 254 }],
      routes: [{ destination: '10.0.0.0/8', gateway: '10.0.0.1', scope: 0, table: 7 }],
      rdma: { required: false, workloadEnv: false },
    });
  });

  it('keeps what was set', () => {
    expect(withDefaults({ interface: { dhcp: true, disableEbpfPrograms: true, vrf: { name: 'x', table: 42 } } }).interface)
      .toEqual({ dhcp: true, disableEbpfPrograms: true, vrf: { name: 'x', table: 42 } });
  });
});
