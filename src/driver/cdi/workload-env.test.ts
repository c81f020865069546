import { describe, expect, it } from 'vitest';
import { workloadEnv } from './workload-env.ts';

describe('workloadEnv', () => {
  it('names RDMA devices exactly for NCCL, with port 1 for UCX, and interfaces for sockets', () => {
    expect(workloadEnv([
      { podIfName: 'net0', rdmaDevice: 'mlx5_1' },
      { podIfName: 'net1', rdmaDevice: 'mlx5_0' },
    ])).toEqual([
      'NCCL_IB_HCA==mlx5_1,mlx5_0',
      'NCCL_SOCKET_IFNAME==net0,net1',
      'UCX_NET_DEVICES=mlx5_1:1,mlx5_0:1',
    ]);
  });

  it('sets no NCCL_IB_HCA without RDMA devices, and lists interfaces for UCX', () => {
    expect(workloadEnv([{ podIfName: 'eth1' }, { podIfName: 'eth2' }])).toEqual([
      'NCCL_SOCKET_IFNAME==eth1,eth2',
      'UCX_NET_DEVICES=eth1,eth2',
    ]);
  });

  it('handles an RDMA device without a netdev in the pod, and mixed claims', () => {
    expect(workloadEnv([{ rdmaDevice: 'mlx5_4' }, { podIfName: 'net9' }])).toEqual([
      'NCCL_IB_HCA==mlx5_4',
      'NCCL_SOCKET_IFNAME==net9',
      'UCX_NET_DEVICES=mlx5_4:1,net9',
    ]);
  });

  it('is empty when there is nothing to point at, drops repeats and names a list cannot hold', () => {
    expect(workloadEnv([])).toEqual([]);
    expect(workloadEnv([{}, { podIfName: '' }, { podIfName: 'a,b' }])).toEqual([]);
    expect(workloadEnv([{ podIfName: 'x', rdmaDevice: 'r' }, { podIfName: 'x', rdmaDevice: 'r' }])).toEqual([
      'NCCL_IB_HCA==r', 'NCCL_SOCKET_IFNAME==x', 'UCX_NET_DEVICES=r:1',
    ]);
  });

  it('never sets NCCL_IB_DISABLE', () => {
    expect(workloadEnv([{ podIfName: 'a' }, { rdmaDevice: 'b' }]).some((e) => e.startsWith('NCCL_IB_DISABLE='))).toBe(false);
  });
});
