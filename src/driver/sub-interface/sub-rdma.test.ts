import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipFromBytes } from '../../common/ip.ts';
import type { GidEntry } from '../../kernel/sysfs/rdma-gids.ts';
import type { ClaimRecord, DevicePlan } from '../record-model.ts';
import { chooseGidIndex, gidAddresses, gidIndexEnv, gidOfAddress, subInterfaceGids } from './sub-rdma.ts';

describe('gidOfAddress', () => {
  it('maps IPv4 into ::ffff:0:0/96 and prints eight 4-digit groups, as sysfs gids/N does (ibv_devinfo -v on a RoCE v2 port)', () => {
    expect(gidOfAddress('192.0.2.10/24')).toBe('0000:0000:0000:0000:0000:ffff:c000:020a');
    expect(gidOfAddress('2001:db8::1/64')).toBe('2001:0db8:0000:0000:0000:0000:0000:0001');
  });
  it('round-trips through the bytes of the GID (property)', () => {
    fc.assert(fc.property(fc.ipV4(), (a) => {
      const bytes = Buffer.from(gidOfAddress(`${a}/32`).split(':').join(''), 'hex');
      expect(ipFromBytes(bytes, 12, 4)).toBe(a);
      expect(bytes.subarray(0, 12).toString('hex')).toBe('00000000000000000000ffff');
    }));
  });
});

const e = (index: number, type: string, ndev?: string): GidEntry => ({ index, gid: 'g', type, ...(ndev ? { ndev } : {}) });

describe('chooseGidIndex', () => {
  it('takes the RoCE v2 entry of the address, not its v1 twin', () => {
    expect(chooseGidIndex([e(2, 'IB/RoCE v1', 'net1'), e(3, 'RoCE v2', 'net1')], 'net1')).toBe(3);
  });
  it('narrows two matches by the pod-side name, and gives none when still ambiguous or absent', () => {
    expect(chooseGidIndex([e(3, 'RoCE v2', 'net1'), e(5, 'RoCE v2', 'data0')], 'data0')).toBe(5);
    expect(chooseGidIndex([e(3, 'RoCE v2', 'net1'), e(5, 'RoCE v2', 'net1')], 'net1')).toBeUndefined();
    expect(chooseGidIndex([e(3, 'IB/RoCE v1', 'net1')], 'net1')).toBeUndefined();
    expect(chooseGidIndex([], 'net1')).toBeUndefined();
  });
});

describe('gidAddresses', () => {
  it('IPv4 first, link-local IPv6 left out', () => {
    expect(gidAddresses(['fe80::1/64', '2001:db8::5/64', '10.0.0.5/24'])).toEqual(['10.0.0.5/24', '2001:db8::5/64']);
  });
});

function recordWith(devices: { plan: Partial<DevicePlan>; ips: string[]; name: string }[]): ClaimRecord {
  return {
    version: 1, claim: { uid: 'u', namespace: 'n', name: 'c' }, podUid: 'p', podName: 'p', preparedAt: '',
    devices: devices.map((d, i) => ({
      request: `r${i}`, pool: 'node', device: `d${i}`, identity: { kind: 'virtual' }, workloadEnv: true, env: [], cdiDeviceIds: [], ...d.plan,
    } as DevicePlan)),
    attachment: { state: 'attached', sandboxId: 's', netns: '/x', at: '', devices: devices.map((d, i) => ({ device: `d${i}`, ifIndex: 5 + i, name: d.name, mac: '', ips: d.ips })) },
  };
}
const sub = { subInterface: { name: 'ncsub0', type: 'macvlan' as const, parent: 'p0', parentIfIndex: 2 }, rdma: { device: 'rxe0', charDevices: [] } };

describe('subInterfaceGids and gidIndexEnv', () => {
  it('finds the entry of the child\'s IPv4 address under its pod-side name and hints it for NCCL and UCX', () => {
    const table: Record<string, GidEntry[]> = { [gidOfAddress('10.9.0.5/24')]: [e(1, 'IB/RoCE v1', 'net1'), e(2, 'RoCE v2', 'net1')] };
    const gids = subInterfaceGids([recordWith([{ plan: sub, ips: ['10.9.0.5/24'], name: 'net1' }])], (_d, port, gid) => (port === 1 ? table[gid] ?? [] : []));
    expect(gids).toEqual([{ device: 'd0', rdmaDevice: 'rxe0', index: 2, addressed: true }]);
    expect(gidIndexEnv(gids)).toEqual([{ key: 'NCCL_IB_GID_INDEX', value: '2' }, { key: 'UCX_IB_GID_INDEX', value: '2' }]);
  });
  it('no hint when a device is unresolved, when two devices disagree, or for devices that are not sub-interfaces with RDMA', () => {
    expect(gidIndexEnv([{ device: 'a', rdmaDevice: 'x', index: 2, addressed: true }, { device: 'b', rdmaDevice: 'y', index: 4, addressed: true }])).toEqual([]);
    expect(gidIndexEnv([{ device: 'a', rdmaDevice: 'x', index: undefined, addressed: true }])).toEqual([]);
    const plain = recordWith([{ plan: { rdma: { device: 'mlx5_0', charDevices: [] } }, ips: ['10.0.0.1/24'], name: 'eth1' }]);
    expect(subInterfaceGids([plain], () => [e(1, 'RoCE v2')])).toEqual([]);
    const noAddr = subInterfaceGids([recordWith([{ plan: sub, ips: [], name: 'net1' }])], () => []);
    expect(noAddr).toEqual([{ device: 'd0', rdmaDevice: 'rxe0', index: undefined, addressed: false }]);
  });
});
