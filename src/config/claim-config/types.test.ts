import { describe, expectTypeOf, it } from 'vitest';
import type { InterfaceConfig, NetworkConfig, RdmaConfig, RouteConfig, VrfConfig } from './types.ts';

// Type-level checks, enforced by `npm run typecheck`: the parsed types derived
// from fields.ts have the right required fields, enums and value types.
describe('parsed types', () => {
  it('mark required fields, enums and numbers', () => {
    expectTypeOf<RouteConfig['destination']>().toEqualTypeOf<string>();
    expectTypeOf<RouteConfig['scope']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<VrfConfig['name']>().toEqualTypeOf<string>();
    expectTypeOf<NetworkConfig['apiVersion']>().toEqualTypeOf<'netclaim.dev/v1alpha1' | undefined>();
    expectTypeOf<NonNullable<RdmaConfig['charDevices']>>().toEqualTypeOf<readonly ('uverbs' | 'rdma_cm' | 'umad' | 'issm')[]>();
    expectTypeOf<NonNullable<InterfaceConfig['addresses']>>().toEqualTypeOf<readonly string[]>();
    // @ts-expect-error destination is required
    const route: RouteConfig = { gateway: '192.0.2.1' };
    // @ts-expect-error no such field
    const iface: InterfaceConfig = { mtuu: 1 };
    void route; void iface;
  });
});
