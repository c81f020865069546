import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../common/errors.ts';
import { buildSysfsTree, SYSFS_TREES } from '../../../test/fixtures/sysfs/trees.ts';
import { tempSysfs, writeIbDevice, writePciFunction } from '../../../test/fixtures/sysfs/sysfs-writer.ts';
import { pciAddress } from './pci-address.ts';
import { ibDeviceNetdevs, listIbDevices, rdmaCmCharDevice, rdmaCmPresent, readIbDevice } from './infiniband.ts';
import type { IbDevice } from './sysfs-types.ts';

let tree: ReturnType<typeof buildSysfsTree>;
beforeAll(() => {
  tree = buildSysfsTree();
});
afterAll(() => tree.dispose());

const uverbs = (n: number) => ({ path: `/dev/infiniband/uverbs${n}`, kind: 'uverbs', major: 231, minor: 192 + n }) as const;
const umad = (n: number) => ({ path: `/dev/infiniband/umad${n}`, kind: 'umad', major: 231, minor: n }) as const;
const issm = (n: number) => ({ path: `/dev/infiniband/issm${n}`, kind: 'issm', major: 231, minor: 64 + n }) as const;
const ethPort = { port: 1, state: 'ACTIVE', physState: 'LinkUp', linkLayer: 'Ethernet' } as const;

const EXPECTED: Record<string, IbDevice> = {
  erdma_0: {
    name: 'erdma_0',
    nodeType: 'RNIC',
    nodeGuid: '0216:3eff:fe0c:1a2b',
    sysImageGuid: '0216:3eff:fe0c:1a2b',
    fwVersion: '0.2.0',
    pciAddress: pciAddress('0000:00:06.0'),
    ports: [{ ...ethPort, rate: '25 Gb/sec (1X EDR)' }],
    charDevices: [uverbs(4)],
  },
  mlx5_0: {
    name: 'mlx5_0',
    nodeType: 'CA',
    nodeGuid: 'a088:c203:00b1:2c3e',
    sysImageGuid: 'a088:c203:00b1:2c3e',
    fwVersion: '28.39.1002',
    pciAddress: pciAddress('0000:17:00.0'),
    ports: [{ ...ethPort, rate: '400 Gb/sec (4X NDR)' }],
    charDevices: [uverbs(0), umad(0), issm(0)],
  },
  mlx5_1: {
    name: 'mlx5_1',
    nodeType: 'CA',
    nodeGuid: 'b83f:d203:00a1:b2c4',
    sysImageGuid: 'b83f:d203:00a1:b2c4',
    fwVersion: '20.38.1002',
    pciAddress: pciAddress('0000:3b:00.0'),
    ports: [{ port: 1, state: 'ACTIVE', physState: 'LinkUp', linkLayer: 'InfiniBand', rate: '200 Gb/sec (4X HDR)' }],
    charDevices: [uverbs(1), umad(1), issm(1)],
  },
  mlx5_2: {
    name: 'mlx5_2',
    nodeType: 'CA',
    nodeGuid: '0000:0000:0000:0001',
    sysImageGuid: 'a088:c203:00b1:2c3e',
    fwVersion: '28.39.1002',
    pciAddress: pciAddress('0000:17:00.2'),
    ports: [{ ...ethPort, rate: '400 Gb/sec (4X NDR)' }],
    charDevices: [uverbs(2), umad(2), issm(2)],
  },
  mlx5_3: {
    name: 'mlx5_3',
    nodeType: 'CA',
    nodeGuid: '0000:0000:0000:0002',
    sysImageGuid: 'a088:c203:00b1:2c3e',
    fwVersion: '28.39.1002',
    pciAddress: pciAddress('0000:17:00.3'),
    ports: [{ ...ethPort, rate: '400 Gb/sec (4X NDR)' }],
    charDevices: [uverbs(3), umad(3), issm(3)],
  },
};

describe('listIbDevices / readIbDevice on the fixture trees', () => {
  it('lists every RDMA device in name order with all its fields', () => {
    expect(listIbDevices(tree.root)).toEqual(Object.values(EXPECTED));
  });

  it.each(Object.keys(EXPECTED))('readIbDevice(%s) matches the listing', (name) => {
    expect(readIbDevice(tree.root, name)).toEqual(EXPECTED[name]);
  });

  it.each(['mlx5_9', '', '..', 'a/b'])('readIbDevice(%j) throws NotFoundError', (name) => {
    expect(() => readIbDevice(tree.root, name)).toThrow(NotFoundError);
  });

  it('is empty for a tree without RDMA (E810 only) and for an empty tree', () => {
    const w = tempSysfs();
    try {
      expect(listIbDevices(w.root)).toEqual([]);
      SYSFS_TREES.e810Sriov(w);
      expect(listIbDevices(w.root)).toEqual([]);
      expect(rdmaCmPresent(w.root)).toBe(false);
      expect(rdmaCmCharDevice(w.root)).toBeUndefined();
    } finally {
      w.dispose();
    }
  });
});

describe('ibDeviceNetdevs', () => {
  it.each([
    ['mlx5_0', ['ens1f0np0']],
    ['mlx5_2', ['ens1f0v0']],
    ['mlx5_3', ['ens1f0v1']],
    ['mlx5_1', []], // InfiniBand: no netdev behind the GIDs (IPoIB is found through the PCI function)
    ['erdma_0', []],
  ])('%s → %j (unused GIDs that fail to read are skipped)', (name, netdevs) => {
    expect(ibDeviceNetdevs(tree.root, name)).toEqual(netdevs);
  });

  it('collects netdevs over several ports in port then GID order, without duplicates', () => {
    const w = tempSysfs();
    try {
      const dev = writePciFunction(w, { address: '0000:01:00.0', parent: 'devices/pci0000:00', vendor: '15b3', device: '1017', subVendor: '15b3', subDevice: '0001', classCode: '020000', numaNode: 0 });
      const port = { state: '4: ACTIVE', physState: '5: LinkUp', linkLayer: 'Ethernet', rate: '25 Gb/sec (1X EDR)' };
      writeIbDevice(w, dev, {
        name: 'mlx5_bond_0',
        nodeType: '1: CA',
        nodeGuid: '0000:0000:0000:0000',
        sysImageGuid: '0000:0000:0000:0000',
        fwVer: '16.35.2000',
        ports: [
          { ...port, ndevs: ['', 'bond0', 'bond0.100', '', 'bond0'] },
          { ...port, ndevs: ['', 'bond0', 'vlan7'] },
        ],
      });
      // GID 10 sorts after GID 2 (natural order)
      w.file('devices/pci0000:00/0000:01:00.0/infiniband/mlx5_bond_0/ports/1/gid_attrs/ndevs/10', 'late0');
      expect(ibDeviceNetdevs(w.root, 'mlx5_bond_0')).toEqual(['bond0', 'bond0.100', 'late0', 'vlan7']);
      expect(() => ibDeviceNetdevs(w.root, 'mlx5_9')).toThrow(NotFoundError);
    } finally {
      w.dispose();
    }
  });
});

describe('rdma_cm', () => {
  it('is present with its device numbers on the RDMA trees', () => {
    expect(rdmaCmPresent(tree.root)).toBe(true);
    expect(rdmaCmCharDevice(tree.root)).toEqual({ path: '/dev/infiniband/rdma_cm', kind: 'rdma_cm', major: 10, minor: 58 });
  });
});

describe('edge cases', () => {
  it('software devices (no device link), sub-functions (auxiliary parent) and odd attribute values', () => {
    const w = tempSysfs();
    try {
      // soft-RoCE: a virtual device with no parent
      w.file('devices/virtual/infiniband/rxe0/node_type', '1: CA');
      w.file('devices/virtual/infiniband/rxe0/ports/1/state', '1: DOWN');
      w.file('devices/virtual/infiniband/rxe0/ports/1/phys_state', '3: Disabled');
      w.file('devices/virtual/infiniband/rxe0/ports/1/link_layer', 'Ethernet');
      w.file('devices/virtual/infiniband/rxe0/ports/notaport/state', 'x');
      w.link('class/infiniband/rxe0', 'devices/virtual/infiniband/rxe0');
      // an mlx5 sub-function: the device link points at the auxiliary device, not a PCI function
      const sf = 'devices/pci0000:00/0000:00:07.0/mlx5_core.sf.2';
      w.file(`${sf}/sfnum`, 88);
      w.file(`${sf}/infiniband/mlx5_10/node_type`, '1: CA');
      w.link(`${sf}/infiniband/mlx5_10/device`, sf);
      w.link('class/infiniband/mlx5_10', `${sf}/infiniband/mlx5_10`);
      w.file(`${sf}/infiniband/mlx5_10/ports/1/state`, '4: ACTIVE');
      w.file(`${sf}/infiniband/mlx5_10/ports/2/state`, '4: ACTIVE');
      w.file(`${sf}/infiniband/mlx5_10/ports/10/state`, '');
      // legacy ucm, a uverbs without ibdev, and a stray entry
      w.file('devices/virtual/infiniband_cm/ucm0/ibdev', 'rxe0');
      w.link('class/infiniband_cm/ucm0', 'devices/virtual/infiniband_cm/ucm0');
      w.dir('class/infiniband_verbs/uverbs7');
      w.file('class/infiniband_verbs/abi_version', 6);
      w.file('class/infiniband_verbs/uverbs8/ibdev', 'rxe0');
      w.file('class/infiniband_verbs/uverbs8/dev', 'garbage');
      expect(listIbDevices(w.root)).toEqual([
        {
          name: 'mlx5_10',
          nodeType: 'CA',
          ports: [
            { port: 1, state: 'ACTIVE' },
            { port: 2, state: 'ACTIVE' },
            { port: 10 },
          ],
          charDevices: [],
        },
        {
          name: 'rxe0',
          nodeType: 'CA',
          ports: [{ port: 1, state: 'DOWN', physState: 'Disabled', linkLayer: 'Ethernet' }],
          charDevices: [
            { path: '/dev/infiniband/uverbs8', kind: 'uverbs' },
            { path: '/dev/infiniband/ucm0', kind: 'ucm' },
          ],
        },
      ]);
    } finally {
      w.dispose();
    }
  });

  it('sorts device names naturally (mlx5_2 before mlx5_10)', () => {
    const w = tempSysfs();
    try {
      for (const n of ['mlx5_10', 'mlx5_2', 'mlx5_1']) w.file(`devices/virtual/infiniband/${n}/node_type`, '1: CA');
      for (const n of ['mlx5_10', 'mlx5_2', 'mlx5_1']) w.link(`class/infiniband/${n}`, `devices/virtual/infiniband/${n}`);
      expect(listIbDevices(w.root).map((d) => d.name)).toEqual(['mlx5_1', 'mlx5_2', 'mlx5_10']);
    } finally {
      w.dispose();
    }
  });
});

describe('real /sys (read-only)', () => {
  it('reads whatever RDMA devices exist without throwing', () => {
    const names = existsSync('/sys/class/infiniband') ? readdirSync('/sys/class/infiniband') : [];
    expect(listIbDevices('/sys').map((d) => d.name).sort()).toEqual(names.sort());
    expect(rdmaCmPresent('/sys')).toBe(existsSync('/sys/class/misc/rdma_cm'));
  });
});
