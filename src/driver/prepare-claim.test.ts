import { describe, expect, it } from 'vitest';
import type { ClaimUid, DeviceName } from '../common/ids.ts';
import type { Device } from '../inventory/model.ts';
import type { AllocatedClaim } from './claim.ts';
import type { HostSnapshot } from './plan/plan-types.ts';
import { prepareClaim, type PrepareContext } from './prepare-claim.ts';

const UVERBS = { path: '/dev/infiniband/uverbs0', type: 'c' as const, major: 231, minor: 192, kind: 'uverbs' };

const HOST: HostSnapshot = {
  ifName: 'ens1f0', ifIndex: 7, mtu: 1500, up: true, addresses: [], routes: [], rules: [], neighbors: [], ethtool: {}, sysctls: {},
  ebpf: { xdp: false, tc: 0, tcx: 0 },
};

const base = { charDevices: [], netdevPresent: true, attributes: {}, dropped: [] };
const DEVICES: Record<string, Device> = {
  nic: { ...base, name: 'pci-0000-3b-00-0' as DeviceName, kind: 'pci', ifName: 'ens1f0', ifIndex: 7 },
  // A PCI function whose netdev is not on the host and that has no RDMA device: nothing to give.
  bare: { ...base, name: 'pci-0000-3b-00-1' as DeviceName, kind: 'pci', netdevPresent: false },
  hca: { ...base, name: 'pci-0000-5e-00-0' as DeviceName, kind: 'rdma', rdmaDevice: 'mlx5_0', charDevices: ['uverbs0'] },
  hcaNoChar: { ...base, name: 'pci-0000-5e-00-1' as DeviceName, kind: 'rdma', rdmaDevice: 'mlx5_1' },
  // Listed from its last attributes while its netdev is in a pod (its claim's record lost, say).
  away: { ...base, name: 'pci-0000-3b-00-2' as DeviceName, kind: 'pci', ifName: 'ens1f2', ifIndex: 9, netdevPresent: false },
};

const ctx: PrepareContext = {
  driverName: 'netclaim.dev', poolName: 'node-a', resolve: {},
  device: (name) => Object.values(DEVICES).find((d) => d.name === name),
  snapshot: () => HOST,
  charDevices: (rdma) => (rdma === 'mlx5_0' ? [UVERBS] : []),
  now: () => new Date('2026-01-01T00:00:00Z'),
};

function claim(...devices: Device[]): AllocatedClaim {
  return {
    namespace: 'team', name: 'c', uid: '0000000a-0000-4000-8000-000000000001' as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'p', uid: 'pod-1' }],
    allocation: { results: devices.map((d, i) => ({ request: `r${i}`, driver: 'netclaim.dev', pool: 'node-a', device: d.name })), config: [] },
  };
}

describe('prepareClaim', () => {
  it('refuses a device with nothing to give the pod (no netdev on the host to move, no RDMA character devices): PREPARE_DEVICE_EMPTY naming it', () => {
    for (const d of [DEVICES['bare']!, DEVICES['hcaNoChar']!, DEVICES['away']!]) {
      expect(() => prepareClaim(claim(DEVICES['nic']!, d), ctx)).toThrow(expect.objectContaining({
        code: 'PREPARE_DEVICE_EMPTY',
        message: expect.stringMatching(new RegExp(`^claim team/c: nothing to give the pod for request r1 \\(device ${d.name}\\)`)),
      }));
    }
  });

  it('prepares a netdev and an RDMA device with character devices, recording each inventory kind in its identity', () => {
    const r = prepareClaim(claim(DEVICES['nic']!, DEVICES['hca']!), ctx);
    expect(r.devices.map((d) => ({ kind: d.identity.kind, pod: d.pod?.name, rdma: d.rdma?.device }))).toEqual([
      { kind: 'pci', pod: 'ens1f0', rdma: undefined },
      { kind: 'rdma', pod: undefined, rdma: 'mlx5_0' },
    ]);
  });
});

describe('prepareClaim, with a DeviceClass policy', () => {
  const withConfig = (claimParameters: unknown, classParameters: unknown = {}): AllocatedClaim => {
    const c = claim(DEVICES['nic']!);
    return {
      ...c,
      deviceClasses: { r0: 'fast-nic' },
      allocation: {
        results: c.allocation!.results,
        config: [
          { source: 'FromClass', opaque: { driver: 'netclaim.dev', parameters: classParameters } },
          { source: 'FromClaim', requests: ['r0'], opaque: { driver: 'netclaim.dev', parameters: claimParameters } },
        ],
      },
    };
  };

  it('fails Prepare with CONFIG_CLAIM_INVALID naming the request, the field and the DeviceClass', () => {
    expect(() => prepareClaim(withConfig({ interface: { disableEbpfPrograms: true } }), ctx)).toThrow(expect.objectContaining({
      code: 'CONFIG_CLAIM_INVALID',
      message: `invalid configuration for claim team/c: request r0 (device ${DEVICES['nic']!.name}): config[1].opaque.parameters.interface.disableEbpfPrograms: `
        + 'claims of DeviceClass "fast-nic" may not set this field: only a DeviceClass config may, unless the class allows interface.disableEbpfPrograms (policy.allowFields)',
    }));
  });

  it('prepares the same claim once the class allows the field, and a class config setting it itself', () => {
    const allowed = prepareClaim(withConfig({ interface: { disableEbpfPrograms: true } }, { policy: { allowFields: ['interface.disableEbpfPrograms'] } }), ctx);
    expect(allowed.devices).toHaveLength(1);
    expect(prepareClaim(withConfig({}, { interface: { hardwareAddr: '00:11:22:33:44:55' } }), ctx).devices).toHaveLength(1);
  });
});

describe('prepareClaim, with a cloud default under the configs', () => {
  const cloudNic: Device = {
    ...DEVICES['nic']!,
    suggestedConfig: {
      cloud: 'gce', interface: { addresses: ['10.128.1.7/24'], mtu: 8896 },
      routes: [{ destination: '0.0.0.0/0', gateway: '10.128.1.1', table: 101 }], rules: [{ source: '10.128.1.7/32', table: 101 }],
    },
  };
  const withCloud: PrepareContext = {
    ...ctx,
    device: (name) => (name === cloudNic.name ? cloudNic : ctx.device(name)),
    defaultConfig: (d) => (d.suggestedConfig ? { interface: { ...d.suggestedConfig.interface } } : undefined),
  };
  const configured = (classParameters: unknown, claimParameters?: unknown): AllocatedClaim => {
    const c = claim(cloudNic);
    return {
      ...c,
      deviceClasses: { r0: 'cloud-nic' },
      allocation: {
        results: c.allocation!.results,
        config: [
          { source: 'FromClass', opaque: { driver: 'netclaim.dev', parameters: classParameters } },
          ...(claimParameters === undefined ? [] : [{ source: 'FromClaim' as const, requests: ['r0'], opaque: { driver: 'netclaim.dev', parameters: claimParameters } }]),
        ],
      },
    };
  };

  it('applies the cloud MTU and addresses where nobody set them', () => {
    const r = prepareClaim(configured({}, { interface: { name: 'net1' } }), withCloud);
    expect(r.devices[0]!.pod).toMatchObject({ name: 'net1', mtu: 8896 });
    expect(r.devices[0]!.pod?.addresses).toEqual(['10.128.1.7/24']);
  });

  it('lets the class and the claim override it, and a class policy still binds the claim, not the cloud', () => {
    const policy = { policy: { denyFields: ['interface.mtu'] } };
    expect(prepareClaim(configured(policy), withCloud).devices[0]!.pod).toMatchObject({ mtu: 8896 });
    expect(prepareClaim(configured({ interface: { mtu: 9000 } }), withCloud).devices[0]!.pod).toMatchObject({ mtu: 9000 });
    expect(() => prepareClaim(configured(policy, { interface: { mtu: 9000 } }), withCloud)).toThrow(expect.objectContaining({ code: 'CONFIG_CLAIM_INVALID' }));
  });

  it('is not used without a defaultConfig in the context (--no-cloud-config)', () => {
    const off: PrepareContext = { ...withCloud, defaultConfig: undefined as never };
    delete (off as { defaultConfig?: unknown }).defaultConfig;
    expect(prepareClaim(configured({}), off).devices[0]!.pod?.mtu).toBeUndefined();
  });
});
