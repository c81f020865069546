import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isClaimSubInterfaceName } from '../../inventory/shareable.ts';
import { ipvlanFlags, subInterfaceName, subInterfaceSpec } from './sub-spec.ts';

describe('subInterfaceSpec', () => {
  it('defaults: a macvlan in bridge mode; ipvlan l2 bridge', () => {
    expect(subInterfaceSpec({})).toEqual({ ok: true, spec: { type: 'macvlan', mode: 'bridge' } });
    expect(subInterfaceSpec({ subInterface: { type: 'ipvlan' } })).toEqual({ ok: true, spec: { type: 'ipvlan', mode: 'l2', flags: 'bridge' } });
    expect(subInterfaceSpec({ subInterface: { type: 'vlan', vlanId: 7 } })).toEqual({ ok: true, spec: { type: 'vlan', vlanId: 7 } });
  });

  it('every misfit names its field', () => {
    const paths = (c: Parameters<typeof subInterfaceSpec>[0]): string[] => {
      const r = subInterfaceSpec(c);
      return r.ok ? [] : r.issues.map((x) => x.path);
    };
    expect(paths({ subInterface: { type: 'vlan' } })).toEqual(['subInterface.vlanId']);
    expect(paths({ subInterface: { type: 'vlan', vlanId: 3, mode: 'bridge', flags: 'vepa' } })).toEqual(['subInterface.mode', 'subInterface.flags']);
    expect(paths({ subInterface: { mode: 'l3s', vlanId: 3 } })).toEqual(['subInterface.mode', 'subInterface.vlanId']);
    expect(paths({ subInterface: { type: 'ipvlan', mode: 'passthru' } })).toEqual(['subInterface.mode']);
  });

  it('ipvlan flags are the kernel bits (IPVLAN_F_PRIVATE 1, IPVLAN_F_VEPA 2; bridge 0)', () => {
    expect([ipvlanFlags('bridge'), ipvlanFlags('private'), ipvlanFlags('vepa')]).toEqual([0, 1, 2]);
  });
});

describe('subInterfaceName', () => {
  it('is a valid, reserved, 15-byte interface name, stable for a claim/request/device and different across them', () => {
    fc.assert(fc.property(fc.uuid(), fc.string({ minLength: 1, maxLength: 63 }), fc.string({ minLength: 1, maxLength: 63 }), (uid, request, device) => {
      const n = subInterfaceName(uid, request, device);
      expect(n).toHaveLength(15);
      expect(isClaimSubInterfaceName(n)).toBe(true);
      expect(subInterfaceName(uid, request, device)).toBe(n);
      expect(subInterfaceName(uid, `${request}x`, device)).not.toBe(n);
    }));
  });
});
