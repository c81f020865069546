import { describe, expect, it } from 'vitest';
import { AF_INET, AF_INET6 } from '../../common/ip.ts';
import type { DeviceName } from '../../common/ids.ts';
import { resolveDeviceConfig } from '../../config/claim-config/resolve.ts';
import type { NetworkConfig } from '../../config/claim-config/types.ts';
import type { Device } from '../../inventory/model.ts';
import type { AllocationResult } from '../claim.ts';
import { planDevice, type DevicePlanInput } from './plan-device.ts';
import type { HostSnapshot } from './plan-types.ts';

const result: AllocationResult = { request: 'nic', driver: 'netclaim.dev', pool: 'node-1', device: 'pci-0000-3b-00-0' };

const device = (over: Partial<Device> = {}): Device => ({
  name: 'pci-0000-3b-00-0' as DeviceName, kind: 'pci', ifName: 'ens1f0', ifIndex: 7, charDevices: [], netdevPresent: true,
  attributes: {}, dropped: [], ...over,
});

const host = (over: Partial<HostSnapshot> = {}): HostSnapshot => ({
  ifName: 'ens1f0', ifIndex: 7, mtu: 1500, mac: '02:00:00:00:00:01', permMac: '02:00:00:00:00:01', up: true, maxMtu: 9216,
  addresses: [
    { cidr: '10.1.0.5/24', family: AF_INET, scope: 0, flags: ['permanent'] },
    { cidr: 'fe80::1/64', family: AF_INET6, scope: 253, flags: ['permanent'] },
    { cidr: '2001:db8::5/64', family: AF_INET6, scope: 0, flags: ['permanent'] },
  ],
  routes: [
    { family: AF_INET, destination: '10.1.0.0/24', scope: 253, table: 254, protocol: 2, type: 1, source: '10.1.0.5' },
    { family: AF_INET, destination: '10.2.0.0/16', gateway: '10.1.0.1', scope: 0, table: 254, protocol: 4, type: 1 },
    { family: AF_INET, destination: 'default', gateway: '10.1.0.1', scope: 0, table: 254, protocol: 4, type: 1 },
    { family: AF_INET, destination: 'default', gateway: '10.1.0.1', scope: 0, table: 100, protocol: 4, type: 1 },
  ],
  rules: [{ family: AF_INET, priority: 1000, table: 100, source: '10.1.0.0/24' }],
  neighbors: [{ family: AF_INET, destination: '10.1.0.9', hardwareAddr: '02:00:00:00:00:09' }],
  ethtool: {
    features: { 'rx-gro': true, 'tx-tcp-segmentation': true, 'tx-tcp6-segmentation': true },
    knownFeatures: ['rx-gro', 'tx-tcp-segmentation', 'tx-tcp6-segmentation', 'tx-tcp-ecn-segmentation', 'rx-checksum'],
    privateFlags: { 'rx-striding-rq': false },
    rings: { rx: 1024, tx: 1024 }, ringsMax: { rx: 8192, tx: 8192 },
    channels: { combined: 8 }, channelsMax: { combined: 63 },
  },
  sysctls: { 'ipv4.arp_ignore': '0' },
  ebpf: { xdp: false, tc: 0, tcx: 0 },
  ...over,
});

function config(parameters: unknown): NetworkConfig {
  // As the DeviceClass's config, which may set anything: the planner's tests are not about the class policy (policy.test.ts).
  const r = resolveDeviceConfig('nic', [{ source: 'FromClass', opaque: { driver: 'netclaim.dev', parameters } }]);
  if (!r.ok) throw r.error;
  return r.config;
}

const input = (parameters: unknown, over: Partial<DevicePlanInput> = {}): DevicePlanInput =>
  ({ result, config: config(parameters), device: device(), host: host(), charDevices: [], ...over });

describe('planDevice', () => {
  it('with no config: the host name, global addresses, copied routes, rules and neighbours', () => {
    const r = planDevice(input({}));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.identity).toEqual({ ifName: 'ens1f0', ifIndex: 7, permMac: '02:00:00:00:00:01' });
    expect(r.plan.host?.ifName).toBe('ens1f0');
    expect(r.plan.pod).toEqual({
      name: 'ens1f0',
      addresses: ['10.1.0.5/24', '2001:db8::5/64'],
      // The kernel's own prefix route and the main table's default route are not copied.
      routes: [
        { destination: '10.2.0.0/16', gateway: '10.1.0.1', scope: 0, table: 254 },
        { destination: '0.0.0.0/0', gateway: '10.1.0.1', scope: 0, table: 100 },
      ],
      rules: [{ priority: 1000, source: '10.1.0.0/24', table: 100 }],
      neighbors: [{ destination: '10.1.0.9', hardwareAddr: '02:00:00:00:00:09' }],
      sysctls: {},
      disableEbpfPrograms: false,
    });
  });

  it('the config wins: name, addresses, MTU, MAC, a route replacing a copied one, sysctls from typed fields', () => {
    const r = planDevice(input({
      interface: { name: 'net1', addresses: ['192.168.5.2/24'], mtu: 9000, hardwareAddr: '02:AA:00:00:00:01', arpIgnore: 1, forwarding: true,
        sysctls: { 'ipv4.rp_filter': 2 }, gsoMaxSize: 65536 },
      routes: [{ destination: '10.2.0.0/16', gateway: '192.168.5.1' }],
      neighbors: [{ destination: '10.1.0.9', hardwareAddr: '02:00:00:00:00:aa' }],
    }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.pod).toMatchObject({
      name: 'net1', addresses: ['192.168.5.2/24'], mtu: 9000, mac: '02:aa:00:00:00:01', gsoMaxSize: 65536,
      // The host's default route in table 100 goes via 10.1.0.1, which 192.168.5.2/24 cannot reach.
      routes: [{ destination: '10.2.0.0/16', gateway: '192.168.5.1', scope: 0, table: 254 }],
      neighbors: [{ destination: '10.1.0.9', hardwareAddr: '02:00:00:00:00:aa' }],
      sysctls: { 'ipv4.rp_filter': '2', 'ipv4.arp_ignore': '1', 'ipv4.forwarding': '1', 'ipv6.forwarding': '1' },
    });
  });

  it('configured addresses in another subnet: host routes via gateways they cannot reach, and their rules, are not copied', () => {
    const r = planDevice(input({ interface: { addresses: ['192.168.7.2/24'] } }));
    expect(r.ok && r.plan.pod?.routes).toEqual([]);
    expect(r.ok && r.plan.pod?.rules).toEqual([]);
    const same = planDevice(input({ interface: { addresses: ['10.1.0.77/24'] } }));
    expect(same.ok && same.plan.pod?.routes.length).toBe(2);
  });

  it('under a VRF: copied routes go to the VRF table and host rules are not copied', () => {
    const r = planDevice(input({ interface: { vrf: { name: 'blue', table: 1100 } } }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.pod?.routes.map((x) => x.table)).toEqual([1100, 1100]);
    expect(r.plan.pod?.rules).toEqual([]);
    expect(r.plan.pod?.vrf).toEqual({ name: 'blue', table: 1100 });
  });

  it('resolves ethtool legacy names against the device and keeps rings within its limits', () => {
    const r = planDevice(input({ ethtool: { features: { tso: false, 'rx-gro': true }, privateFlags: { 'rx-striding-rq': true }, rings: { rx: 4096 } } }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.pod?.ethtool).toEqual({
      features: { 'tx-tcp-segmentation': false, 'tx-tcp6-segmentation': false, 'tx-tcp-ecn-segmentation': false, 'rx-gro': true },
      privateFlags: { 'rx-striding-rq': true },
      rings: { rx: 4096 },
    });
  });

  it('reports every device mismatch with its field path', () => {
    const r = planDevice(input({
      interface: { mtu: 9500 },
      ethtool: { features: { 'rx-bogus': true }, privateFlags: { nope: true }, rings: { rx: 10_000 }, channels: { combined: 64 }, coalesce: { rxUsecs: 8 } },
      rdma: { required: true },
    }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((x) => x.path).sort()).toEqual([
      'ethtool.channels.combined', 'ethtool.coalesce', 'ethtool.features[rx-bogus]', 'ethtool.privateFlags[nope]',
      'ethtool.rings.rx', 'interface.mtu', 'rdma.required',
    ]);
    expect(r.issues.find((x) => x.path === 'interface.mtu')?.message).toContain('9216');
  });

  it("a VF's MTU may not exceed its PF's", () => {
    const r = planDevice(input({ interface: { mtu: 9000 } }, { host: host({ pfMtu: 1500 }) }));
    expect(r).toMatchObject({ ok: false, issues: [{ path: 'interface.mtu', message: expect.stringContaining('physical function') }] });
    expect(planDevice(input({ interface: { mtu: 1500 } }, { host: host({ pfMtu: 1500 }) })).ok).toBe(true);
  });

  it('dhcp: no host address is copied, the lease comes at attach within the timeout (default 5 s)', () => {
    const d = planDevice(input({ interface: { dhcp: true } }));
    expect(d).toMatchObject({ ok: true, plan: { pod: { addresses: [], dhcp: { timeoutMs: 5000 } } } });
    const t = planDevice(input({ interface: { dhcp: true, dhcpTimeoutSeconds: 12 } }));
    expect(t).toMatchObject({ ok: true, plan: { pod: { dhcp: { timeoutMs: 12_000 } } } });
    expect(planDevice(input({ interface: { dhcpTimeoutSeconds: 12 } }))).not.toMatchObject({ plan: { pod: { dhcp: expect.anything() } } });
  });

  it('profile is reported as unsupported, not as invalid', () => {
    const p = planDevice(input({ profile: 'example.com/fast' }));
    expect(p).toMatchObject({ ok: false, unsupported: true, issues: [{ path: 'profile' }] });
  });

  it('an RDMA NIC: the RDMA device and the character devices the config asks for', () => {
    const charDevices = [
      { path: '/dev/infiniband/uverbs0', type: 'c' as const, major: 231, minor: 192, kind: 'uverbs' },
      { path: '/dev/infiniband/umad0', type: 'c' as const, major: 231, minor: 0, kind: 'umad' },
      { path: '/dev/infiniband/rdma_cm', type: 'c' as const, major: 10, minor: 58, kind: 'rdma_cm' },
    ];
    const all = planDevice(input({}, { device: device({ rdmaDevice: 'mlx5_0' }), charDevices }));
    expect(all.ok && all.plan.rdma).toEqual({ device: 'mlx5_0', charDevices: charDevices.map(({ kind: _, ...c }) => c) });
    const some = planDevice(input({ rdma: { charDevices: ['uverbs', 'rdma_cm', 'issm'] } }, { device: device({ rdmaDevice: 'mlx5_0' }), charDevices }));
    expect(some).toMatchObject({ ok: false, issues: [{ path: 'rdma.charDevices', message: expect.stringContaining('issm') }] });
  });

  it('an InfiniBand-only port accepts only rdma settings', () => {
    const { ifName: _a, ifIndex: _b, ...ibDevice } = device({ kind: 'rdma', rdmaDevice: 'mlx5_1' });
    const { host: _h, ...noHost } = input({ rdma: { workloadEnv: false } });
    const ok = planDevice({ ...noHost, device: ibDevice as Device });
    expect(ok).toMatchObject({ ok: true, plan: { rdma: { device: 'mlx5_1' }, identity: { rdmaDevice: 'mlx5_1' } } });
    if (ok.ok) expect(ok.plan.pod).toBeUndefined();
    const bad = planDevice({ ...input({ interface: { mtu: 2000 } }), device: ibDevice as Device, charDevices: [] });
    expect(bad).toMatchObject({ ok: false, issues: [{ path: 'interface' }] });
  });
});
