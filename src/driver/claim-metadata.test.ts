import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceName } from '../common/ids.ts';
import type { Device } from '../inventory/model.ts';
import { cdiSpecProblems } from './cdi/cdi-validate.ts';
import type { CdiSpec } from './cdi/cdi-types.ts';
import { metadataStatusSink, removeClaimMetadata, sweepClaimMetadata, withDeviceMetadata } from './claim-metadata.ts';
import type { ClaimRecord, DevicePlan } from './record-model.ts';

const UID = '6f1c2a44-8b0e-4f5e-9c1d-1234567890ab';
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function setup(): { dir: string; cdiDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'nc-metadata-'));
  dirs.push(root);
  return { dir: join(root, 'metadata'), cdiDir: join(root, 'cdi') };
}

// A RoCE NIC as the inventory publishes it (attribute names: docs/attributes.md).
const nic: Device = {
  name: 'pci-0000-3b-00-0' as DeviceName, kind: 'pci', ifName: 'ens1f0', charDevices: [], netdevPresent: true, dropped: [],
  attributes: {
    'netclaim.dev/ifName': { string: 'ens1f0' }, 'netclaim.dev/pciAddress': { string: '0000:3b:00.0' }, 'netclaim.dev/mac': { string: '0c:42:a1:00:00:01' },
    'netclaim.dev/rdmaDevice': { string: 'mlx5_0' }, 'resource.kubernetes.io/numaNode': { int: 1 }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:3a' },
  },
};

const plan = (over: Partial<DevicePlan> = {}): DevicePlan => ({ ...base(), ...over });
const base = (): DevicePlan => ({
  request: 'nic', pool: 'node-1', device: nic.name, identity: { pciAddress: '0000:3b:00.0' }, workloadEnv: false, env: [], cdiDeviceIds: [],
  pod: { name: 'net1', addresses: ['10.0.0.5/24'], routes: [], rules: [], neighbors: [], sysctls: {} } as unknown as NonNullable<DevicePlan['pod']>,
  rdma: { device: 'mlx5_0', charDevices: [{ path: '/dev/infiniband/uverbs0', type: 'c', major: 231, minor: 192 }, { path: '/dev/infiniband/rdma_cm', type: 'c', major: 10, minor: 58 }] },
});

const record = (devices: DevicePlan[]): ClaimRecord => ({
  version: 1, claim: { uid: UID, namespace: 'team', name: 'job-0-nic-x7k2p' }, podUid: 'p', podName: 'job-0', preparedAt: '2026-01-01T00:00:00Z', devices,
});

const stream = (path: string): Array<Record<string, unknown>> => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('device metadata (KEP-5304)', () => {
  it('writes one file per request (v1beta1 then v1alpha1) and a CDI device that mounts it read-only, with the env fallback', () => {
    const d = setup();
    const out = withDeviceMetadata(record([plan()]), { podClaimName: 'nic' }, () => nic, d);
    expect(out.devices[0]!.cdiDeviceIds).toEqual([`netclaim.dev/metadata=${UID}_nic`]);
    const file = join(d.dir, UID, 'nic', 'metadata.json');
    const objs = stream(file);
    expect(objs.map((o) => o['apiVersion'])).toEqual(['metadata.resource.k8s.io/v1beta1', 'metadata.resource.k8s.io/v1alpha1']);
    expect(objs[0]).toMatchObject({
      kind: 'DeviceMetadata', metadata: { name: 'job-0-nic-x7k2p', namespace: 'team', uid: UID, generation: 1 }, podClaimName: 'nic',
      requests: [{ name: 'nic', devices: [{
        driver: 'netclaim.dev', pool: 'node-1', name: nic.name,
        attributes: expect.objectContaining({ 'netclaim.dev/pciAddress': { string: '0000:3b:00.0' }, 'netclaim.dev/charDevices': { strings: ['/dev/infiniband/uverbs0', '/dev/infiniband/rdma_cm'] } }),
        networkData: { interfaceName: 'net1', ips: ['10.0.0.5/24'] },
      }] }],
    });
    const spec = JSON.parse(readFileSync(join(d.cdiDir, `netclaim.dev-metadata_${UID}.json`), 'utf8')) as CdiSpec;
    expect(cdiSpecProblems(spec)).toEqual([]);
    expect(spec.kind).toBe('netclaim.dev/metadata');
    const edits = spec.devices[0]!.containerEdits;
    // A template's claim: under the pod spec's claim name, which the workload knows.
    expect(edits.mounts).toEqual([{ hostPath: file, containerPath: '/var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/nic/nic/netclaim.dev-metadata.json', options: ['ro', 'bind'] }]);
    expect(edits.env).toEqual([
      'NETCLAIM_NIC_METADATA=/var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/nic/nic/netclaim.dev-metadata.json',
      'NETCLAIM_NIC_IFNAME=net1', 'NETCLAIM_NIC_PCI_BUS_ID=0000:3b:00.0', 'NETCLAIM_NIC_MAC=0c:42:a1:00:00:01', 'NETCLAIM_NIC_IPS=10.0.0.5/24',
      'NETCLAIM_NIC_RDMA_DEVICE=mlx5_0', 'NETCLAIM_NIC_CHAR_DEVICES=/dev/infiniband/uverbs0;/dev/infiniband/rdma_cm', 'NETCLAIM_NIC_NUMA_NODE=1', 'NETCLAIM_NIC_PCIE_ROOT=pci0000:3a',
    ]);
  });

  it('a claim by name: under resourceclaims/<claimName>; two devices of one request share a file, env lists line up; sub-requests count as their request', () => {
    const d = setup();
    const other: Device = { ...nic, name: 'pci-0000-3b-00-1' as DeviceName, attributes: { 'netclaim.dev/pciAddress': { string: '0000:3b:00.1' } } };
    const { pod: _pod, rdma: _rdma, ...bare } = plan({ request: 'nics/roce', device: other.name });
    const out = withDeviceMetadata(record([plan({ request: 'nics/roce' }), bare]),
      {}, (n) => (n === nic.name ? nic : other), d);
    expect(new Set(out.devices.flatMap((x) => x.cdiDeviceIds))).toEqual(new Set([`netclaim.dev/metadata=${UID}_nics`]));
    const spec = JSON.parse(readFileSync(join(d.cdiDir, `netclaim.dev-metadata_${UID}.json`), 'utf8')) as CdiSpec;
    expect(spec.devices[0]!.containerEdits.mounts![0]!.containerPath).toBe('/var/run/kubernetes.io/dra-device-attributes/resourceclaims/job-0-nic-x7k2p/nics/netclaim.dev-metadata.json');
    expect(spec.devices[0]!.containerEdits.env).toContain('NETCLAIM_NICS_PCI_BUS_ID=0000:3b:00.0,0000:3b:00.1');
    expect(spec.devices[0]!.containerEdits.env).toContain('NETCLAIM_NICS_IFNAME=net1,');
  });

  it('after attach: the network data as attached (generation 2), in place; unprepare removes everything', () => {
    const d = setup();
    const r = withDeviceMetadata(record([plan()]), {}, () => nic, d);
    const file = join(d.dir, UID, 'nic', 'metadata.json');
    const inode = statSync(file).ino;
    const seen: string[] = [];
    const sink = metadataStatusSink({ devicesReady: (x) => seen.push(x.claim.uid), devicesNotReady: () => {} }, d.dir, (err) => { throw err; });
    sink.devicesReady(r, [{ device: nic.name, ifIndex: 7, name: 'net1', mac: '0c:42:a1:00:00:01', ips: ['10.0.0.5/24'] }]);
    expect(seen).toEqual([UID]);
    expect(statSync(file).ino).toBe(inode);
    const objs = stream(file);
    expect(objs.map((o) => (o['metadata'] as { generation: number }).generation)).toEqual([2, 2]);
    expect((objs[1]!['requests'] as Array<{ devices: Array<{ networkData: unknown }> }>)[0]!.devices[0]!.networkData)
      .toEqual({ interfaceName: 'net1', ips: ['10.0.0.5/24'], hardwareAddress: '0c:42:a1:00:00:01' });
    removeClaimMetadata(d, UID);
    expect(existsSync(join(d.dir, UID))).toBe(false);
    expect(existsSync(join(d.cdiDir, `netclaim.dev-metadata_${UID}.json`))).toBe(false);
    removeClaimMetadata(d, UID); // idempotent
  });

  it('devicesInPlace (before the container gate) writes the network data; the devicesReady that follows with the same devices does not write it again', () => {
    const d = setup();
    const r = withDeviceMetadata(record([plan()]), {}, () => nic, d);
    const file = join(d.dir, UID, 'nic', 'metadata.json');
    const seen: string[] = [];
    const sink = metadataStatusSink({ devicesReady: (x) => seen.push(x.claim.uid), devicesNotReady: () => {} }, d.dir, (err) => { throw err; });
    const attached = [{ device: nic.name, ifIndex: 7, name: 'net1', mac: '0c:42:a1:00:00:01', ips: ['10.0.0.5/24'] }];
    sink.devicesInPlace!(r, attached);
    expect(seen).toEqual([]); // no API write before the gate
    const generation = (): number[] => stream(file).map((o) => (o['metadata'] as { generation: number }).generation);
    expect(generation()).toEqual([2, 2]);
    expect((stream(file)[1]!['requests'] as Array<{ devices: Array<{ networkData: unknown }> }>)[0]!.devices[0]!.networkData)
      .toEqual({ interfaceName: 'net1', ips: ['10.0.0.5/24'], hardwareAddress: '0c:42:a1:00:00:01' });
    sink.devicesReady(r, attached);
    expect(seen).toEqual([UID]);
    expect(generation()).toEqual([2, 2]);
    sink.devicesReady(r, attached); // a later statement (Synchronize) writes it again
    expect(generation()).toEqual([3, 3]);
  });

  it('at start-up, the metadata of claims the store does not have is swept; the others stay', () => {
    const d = setup();
    const other = '7a2c0000-0000-4000-8000-000000000001';
    withDeviceMetadata(record([plan()]), {}, () => nic, d);
    withDeviceMetadata({ ...record([plan()]), claim: { uid: other, namespace: 'team', name: 'gone' } }, {}, () => nic, d);
    expect(sweepClaimMetadata(d, new Set([UID]))).toEqual([other]);
    expect(existsSync(join(d.dir, other))).toBe(false);
    expect(existsSync(join(d.cdiDir, `netclaim.dev-metadata_${other}.json`))).toBe(false);
    expect(existsSync(join(d.dir, UID, 'nic', 'metadata.json'))).toBe(true);
    expect(sweepClaimMetadata({ dir: join(d.dir, 'none'), cdiDir: join(d.cdiDir, 'none') }, new Set())).toEqual([]);
  });
});
