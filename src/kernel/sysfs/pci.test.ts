import { readlinkSync, realpathSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, NotFoundError } from '../../common/errors.ts';
import { buildSysfsTree, SYSFS_TREES } from '../../../test/fixtures/sysfs/trees.ts';
import { tempSysfs, writeNetdev, writePciFunction, writeSlot } from '../../../test/fixtures/sysfs/sysfs-writer.ts';
import { isPciAddress, pciAddress, pcieRootFromPath, PCI_ADDRESS_RE } from './pci-address.ts';
import { chainPciIds, pciIdsFile, SHIPPED_PCI_IDS } from './pci-ids.ts';
import { listPciFunctions, pciAddressOfNetdev, readPciFunction } from './pci.ts';
import type { PciFunction } from './sysfs-types.ts';

// names from the shipped subset only, so the expectations do not depend on the host's pci.ids
const names = chainPciIds([pciIdsFile(SHIPPED_PCI_IDS)]);
let tree: ReturnType<typeof buildSysfsTree>;
const read = (address: string): PciFunction => readPciFunction(tree.root, address, { names });

beforeAll(() => {
  tree = buildSysfsTree();
});
afterAll(() => tree.dispose());

const MELLANOX = { vendorId: '15b3', vendorName: 'Mellanox Technologies', subsystemVendorId: '15b3' } as const;
const INTEL = { vendorId: '8086', vendorName: 'Intel Corporation', subsystemVendorId: '8086' } as const;

describe('readPciFunction: (a) ConnectX-7 Ethernet PF with two VFs', () => {
  it('reads the PF: ids, names, class, driver, NUMA, root, SR-IOV, netdev, RDMA device, slot', () => {
    expect(read('0000:17:00.0')).toEqual({
      address: '0000:17:00.0',
      ...MELLANOX,
      deviceId: '1021',
      deviceName: 'MT2910 Family [ConnectX-7]',
      subsystemDeviceId: '0041',
      classCode: '020000',
      driver: 'mlx5_core',
      numaNode: 0,
      pcieRoot: 'pci0000:16',
      sriov: {
        totalVfs: 16,
        numVfs: 2,
        vfs: [
          { index: 0, address: '0000:17:00.2' },
          { index: 1, address: '0000:17:00.3' },
        ],
      },
      netdevs: ['ens1f0np0'],
      rdmaDevices: ['mlx5_0'],
      slot: '1',
    });
  });

  it.each([
    ['0000:17:00.2', 0, 'ens1f0v0', 'mlx5_2'],
    ['0000:17:00.3', 1, 'ens1f0v1', 'mlx5_3'],
  ])('reads VF %s: physfn and vfIndex %i, netdev %s, RDMA device %s', (address, vfIndex, netdev, rdma) => {
    expect(read(address)).toEqual({
      address,
      ...MELLANOX,
      deviceId: '101e',
      deviceName: 'ConnectX Family mlx5Gen Virtual Function',
      subsystemDeviceId: '0041',
      classCode: '020000',
      driver: 'mlx5_core',
      numaNode: 0,
      pcieRoot: 'pci0000:16',
      physfn: { address: '0000:17:00.0', vfIndex },
      netdevs: [netdev],
      rdmaDevices: [rdma],
      slot: '1',
    });
  });
});

describe('readPciFunction: (b) ConnectX-6 in InfiniBand mode', () => {
  it('reads class 0207, the IPoIB netdev, mlx5_1 and the firmware label', () => {
    expect(read('0000:3b:00.0')).toEqual({
      address: '0000:3b:00.0',
      ...MELLANOX,
      deviceId: '101b',
      deviceName: 'MT28908 Family [ConnectX-6]',
      subsystemDeviceId: '0007',
      classCode: '020700',
      driver: 'mlx5_core',
      numaNode: 0,
      pcieRoot: 'pci0000:3a',
      netdevs: ['ibp59s0'],
      rdmaDevices: ['mlx5_1'],
      label: 'Mezzanine 1',
    });
  });
});

describe('readPciFunction: (c) Alibaba eRDMA', () => {
  it('reads an RDMA-only function (class 00ff00, no netdev, NUMA -1 left out)', () => {
    expect(read('0000:00:06.0')).toEqual({
      address: '0000:00:06.0',
      vendorId: '1ded',
      vendorName: 'Alibaba (China) Co., Ltd.',
      deviceId: '107f',
      deviceName: 'Elastic RDMA Adapter',
      subsystemVendorId: '1ded',
      subsystemDeviceId: '5007',
      classCode: '00ff00',
      driver: 'erdma',
      pcieRoot: 'pci0000:00',
      netdevs: [],
      rdmaDevices: ['erdma_0'],
    });
  });
});

describe('readPciFunction: (d) Intel E810 with two iavf VFs', () => {
  it('reads the PF with its subsystem name, NUMA 1 and slot 2', () => {
    expect(read('0000:81:00.0')).toEqual({
      address: '0000:81:00.0',
      ...INTEL,
      deviceId: '159b',
      deviceName: 'Ethernet Controller E810-XXV for SFP',
      subsystemDeviceId: '0003',
      subsystemName: 'Ethernet Network Adapter E810-XXV-2',
      classCode: '020000',
      driver: 'ice',
      numaNode: 1,
      pcieRoot: 'pci0000:80',
      sriov: {
        totalVfs: 128,
        numVfs: 2,
        vfs: [
          { index: 0, address: '0000:81:01.0' },
          { index: 1, address: '0000:81:01.1' },
        ],
      },
      netdevs: ['ens2f0np0'],
      rdmaDevices: [],
      slot: '2',
    });
  });

  it.each([
    ['0000:81:01.0', 0],
    ['0000:81:01.1', 1],
  ])('reads VF %s (vfIndex %i); it inherits the PF slot though its device number differs', (address, vfIndex) => {
    expect(read(address)).toEqual({
      address,
      ...INTEL,
      deviceId: '1889',
      deviceName: 'Ethernet Adaptive Virtual Function',
      subsystemDeviceId: '0000',
      classCode: '020000',
      driver: 'iavf',
      numaNode: 1,
      pcieRoot: 'pci0000:80',
      physfn: { address: '0000:81:00.0', vfIndex },
      netdevs: [`ens2f0v${vfIndex}`],
      rdmaDevices: [],
      slot: '2',
    });
  });
});

describe('readPciFunction: (e) virtio NIC and host bridge', () => {
  it('finds the netdev under virtio2/net, not under the PCI function', () => {
    expect(read('0000:00:03.0')).toEqual({
      address: '0000:00:03.0',
      vendorId: '1af4',
      vendorName: 'Red Hat, Inc.',
      deviceId: '1041',
      deviceName: 'Virtio 1.0 network device',
      subsystemVendorId: '1af4',
      subsystemDeviceId: '1100',
      classCode: '020000',
      driver: 'virtio-pci',
      pcieRoot: 'pci0000:00',
      netdevs: ['eth0'],
      rdmaDevices: [],
    });
  });

  it('reads an unbound bridge on the root bus; the shipped subset has its vendor but not its device name', () => {
    expect(read('0000:00:00.0')).toEqual({
      address: '0000:00:00.0',
      ...INTEL,
      deviceId: '1237',
      subsystemVendorId: '1af4',
      subsystemDeviceId: '1100',
      classCode: '060000',
      pcieRoot: 'pci0000:00',
      netdevs: [],
      rdmaDevices: [],
    });
  });
});

describe('readPciFunction: (f) vfio-pci and unbound functions', () => {
  const x710 = {
    ...INTEL,
    deviceId: '1572',
    deviceName: 'Ethernet Controller X710 for 10GbE SFP+',
    subsystemDeviceId: '0007',
    subsystemName: 'Ethernet Converged Network Adapter X710-2',
    classCode: '020000',
    numaNode: 1,
    pcieRoot: 'pci0000:ae',
    netdevs: [],
    rdmaDevices: [],
  } as const;

  it('reports vfio-pci as the driver', () => {
    expect(read('0000:af:00.0')).toEqual({ address: '0000:af:00.0', ...x710, driver: 'vfio-pci', label: 'NIC3' });
  });

  it('leaves the driver out when unbound', () => {
    expect(read('0000:af:00.1')).toEqual({ address: '0000:af:00.1', ...x710 });
  });
});

describe('listPciFunctions', () => {
  it('lists every function of the tree in address order', () => {
    expect(listPciFunctions(tree.root, {}, { names }).map((f) => f.address)).toEqual([
      '0000:00:00.0',
      '0000:00:03.0',
      '0000:00:06.0',
      '0000:16:02.0',
      '0000:17:00.0',
      '0000:17:00.2',
      '0000:17:00.3',
      '0000:3a:00.0',
      '0000:3b:00.0',
      '0000:80:01.0',
      '0000:81:00.0',
      '0000:81:01.0',
      '0000:81:01.1',
      '0000:ae:02.0',
      '0000:af:00.0',
      '0000:af:00.1',
    ]);
  });

  it('filters by class prefix: 02 network, 0207 InfiniBand, 0604 PCI bridges', () => {
    const of = (classPrefix: string): string[] =>
      listPciFunctions(tree.root, { classPrefix }, { names: false }).map((f) => f.address);
    expect(of('02')).toEqual([
      '0000:00:03.0',
      '0000:17:00.0',
      '0000:17:00.2',
      '0000:17:00.3',
      '0000:3b:00.0',
      '0000:81:00.0',
      '0000:81:01.0',
      '0000:81:01.1',
      '0000:af:00.0',
      '0000:af:00.1',
    ]);
    expect(of('0207')).toEqual(['0000:3b:00.0']);
    expect(of('0604')).toEqual(['0000:16:02.0', '0000:3a:00.0', '0000:80:01.0', '0000:ae:02.0']);
    expect(of('0x00ff')).toEqual(['0000:00:06.0']);
  });

  it('gives the same records as readPciFunction', () => {
    for (const f of listPciFunctions(tree.root, {}, { names })) expect(read(f.address)).toEqual(f);
  });

  it('leaves names out with names: false', () => {
    const f = listPciFunctions(tree.root, { classPrefix: '0207' }, { names: false })[0]!;
    expect(f.vendorName).toBeUndefined();
    expect(f.deviceName).toBeUndefined();
    expect(f.vendorId).toBe('15b3');
  });

  it('is empty for a tree with no PCI bus, and throws NotFoundError for a missing root', () => {
    const w = tempSysfs();
    try {
      w.dir('class/net');
      expect(listPciFunctions(w.root)).toEqual([]);
      expect(() => listPciFunctions(join(w.root, 'nope'))).toThrow(NotFoundError);
    } finally {
      w.dispose();
    }
  });

  it('skips entries that are not BDFs and functions that vanished mid-scan', () => {
    const w = tempSysfs();
    try {
      SYSFS_TREES.vfioAndUnbound(w);
      w.dir('bus/pci/devices/not-a-bdf');
      w.link('bus/pci/devices/0000:af:00.7', 'devices/pci0000:ae/gone'); // dangling: hot-unplugged
      expect(listPciFunctions(w.root, {}, { names: false }).map((f) => f.address)).toEqual([
        '0000:ae:02.0',
        '0000:af:00.0',
        '0000:af:00.1',
      ]);
    } finally {
      w.dispose();
    }
  });
});

describe('readPciFunction: errors and missing optional files', () => {
  it.each(['', '0000:3B:00.0', '3b:00.0', '0000:3b:00.8', '0000:3b:00', '00000:3b:00.0', '../../../etc'])(
    'rejects the malformed address %j with ConfigError',
    (address) => {
      expect(() => readPciFunction(tree.root, address)).toThrow(ConfigError);
    },
  );

  it('throws NotFoundError naming the address for a missing function', () => {
    expect(() => readPciFunction(tree.root, '0000:99:00.0')).toThrow(NotFoundError);
    expect(() => readPciFunction(tree.root, '0000:99:00.0')).toThrow(/0000:99:00\.0 not found/);
  });

  it('leaves out every optional field whose file is missing', () => {
    const w = tempSysfs();
    try {
      const dev = 'devices/platform/soc/0000:01:00.0';
      w.file(`${dev}/vendor`, '0x1d0f');
      w.file(`${dev}/device`, '0xefa1');
      w.file(`${dev}/class`, '0x020000');
      w.link('bus/pci/devices/0000:01:00.0', dev);
      expect(readPciFunction(w.root, '0000:01:00.0', { names: false })).toEqual({
        address: '0000:01:00.0',
        vendorId: '1d0f',
        deviceId: 'efa1',
        classCode: '020000',
        netdevs: [],
        rdmaDevices: [],
      });
    } finally {
      w.dispose();
    }
  });

  it('reads a PF whose sriov_totalvfs is missing (numVfs from the file) and a VF whose PF lacks the back link', () => {
    const w = tempSysfs();
    try {
      const base = { parent: 'devices/pci0000:00', vendor: '15b3', subVendor: '15b3', subDevice: '0001', classCode: '020000', numaNode: 0 };
      const pf = writePciFunction(w, { ...base, address: '0000:00:04.0', device: '1021' });
      const vf = writePciFunction(w, { ...base, address: '0000:00:04.1', device: '101e' });
      w.file(`${pf}/sriov_numvfs`, 1);
      w.link(`${vf}/physfn`, pf);
      expect(readPciFunction(w.root, '0000:00:04.0', { names: false }).sriov).toEqual({ numVfs: 1, vfs: [] });
      expect(readPciFunction(w.root, '0000:00:04.1', { names: false }).physfn).toEqual({ address: '0000:00:04.0' });
    } finally {
      w.dispose();
    }
  });

  it('matches a bus-level slot address (dddd:bb) when no device-level one exists', () => {
    const w = tempSysfs();
    try {
      writePciFunction(w, { address: '0000:05:00.0', parent: 'devices/pci0000:00', vendor: '8086', device: '1572', subVendor: '8086', subDevice: '0000', classCode: '020000', numaNode: 0 });
      w.file('bus/pci/slots/7/address', '0000:05');
      expect(readPciFunction(w.root, '0000:05:00.0', { names: false }).slot).toBe('7');
      writeSlot(w, '3', '0000:05:00.0');
      expect(readPciFunction(w.root, '0000:05:00.0', { names: false }).slot).toBe('3');
    } finally {
      w.dispose();
    }
  });

  it('has no pcieRoot when the device is not under devices/pciDDDD:BB', () => {
    const w = tempSysfs();
    try {
      writePciFunction(w, { address: '0000:00:01.0', parent: 'devices/platform/host-bridge', vendor: '1af4', device: '1041', subVendor: '1af4', subDevice: '1100', classCode: '020000', numaNode: -1 });
      expect(readPciFunction(w.root, '0000:00:01.0', { names: false }).pcieRoot).toBeUndefined();
    } finally {
      w.dispose();
    }
  });
});

describe('pciAddressOfNetdev', () => {
  it.each([
    ['ens1f0np0', '0000:17:00.0'],
    ['ens1f0v0', '0000:17:00.2'],
    ['ens1f0v1', '0000:17:00.3'],
    ['ibp59s0', '0000:3b:00.0'],
    ['ens2f0np0', '0000:81:00.0'],
    ['ens2f0v0', '0000:81:01.0'],
    ['ens2f0v1', '0000:81:01.1'],
    ['eth0', '0000:00:03.0'],
  ])('%s → %s', (ifname, address) => {
    expect(pciAddressOfNetdev(tree.root, ifname)).toBe(address);
  });

  it('is undefined for a virtual netdev and for a netdev on a non-PCI bus (USB)', () => {
    const w = tempSysfs();
    try {
      w.file('devices/virtual/net/lo/type', 772);
      w.link('class/net/lo', 'devices/virtual/net/lo');
      writeNetdev(w, 'devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0', { name: 'enx001122334455', ifindex: 3, type: 1, address: '00:11:22:33:44:55' });
      expect(pciAddressOfNetdev(w.root, 'lo')).toBeUndefined();
      expect(pciAddressOfNetdev(w.root, 'enx001122334455')).toBeUndefined();
    } finally {
      w.dispose();
    }
  });

  it.each(['nope0', '', '..', 'a/b'])('throws NotFoundError for %j', (ifname) => {
    expect(() => pciAddressOfNetdev(tree.root, ifname)).toThrow(NotFoundError);
  });
});

describe('pcieRoot derivation (property)', () => {
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  const bdf = fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: 7 }))
    .map(([d, b, s, f]) => `${hex(d, 4)}:${hex(b, 2)}:${hex(s, 2)}.${f}`);
  const segment = fc.stringMatching(/^[a-z0-9_.-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
  const rootPath = fc.array(segment, { minLength: 0, maxLength: 4 }).map((parts) => sep + parts.join(sep));
  const bridges = fc.array(bdf, { maxLength: 3 });

  it('generated BDFs are valid addresses', () => {
    fc.assert(fc.property(bdf, (a) => isPciAddress(a) && pciAddress(a) === a && PCI_ADDRESS_RE.test(a)));
  });

  it('is pciDDDD:BB of the first component under <root>/devices, for any root and any bridge chain', () => {
    fc.assert(
      fc.property(rootPath, bdf, bridges, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }), (root, addr, chain, d, b) => {
        const pcieRoot = `pci${hex(d, 4)}:${hex(b, 2)}`;
        const path = join(root, 'devices', pcieRoot, ...chain, addr);
        expect(pcieRootFromPath(root, path, pciAddress(addr))).toBe(pcieRoot);
        // not under <root>/devices, not ending with the address, or no pciDDDD:BB first: none
        expect(pcieRootFromPath(join(root, 'other'), path, pciAddress(addr))).toBeUndefined();
        expect(pcieRootFromPath(root, join(root, 'devices', 'platform', ...chain, addr), pciAddress(addr))).toBeUndefined();
        expect(pcieRootFromPath(root, join(root, 'devices', pcieRoot, addr, 'net'), pciAddress(addr))).toBeUndefined();
      }),
    );
  });

  it('readPciFunction derives it through real relative symlinks in a fixture tree', () => {
    fc.assert(
      fc.property(bdf, bridges, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }), (addr, chain, d, b) => {
        const w = tempSysfs();
        try {
          const pcieRoot = `pci${hex(d, 4)}:${hex(b, 2)}`;
          const parent = ['devices', pcieRoot, ...chain.filter((c) => c !== addr)].join('/');
          writePciFunction(w, { address: addr, parent, vendor: '15b3', device: '1021', subVendor: '15b3', subDevice: '0001', classCode: '020000', numaNode: 0 });
          expect(readPciFunction(w.root, addr, { names: false }).pcieRoot).toBe(pcieRoot);
        } finally {
          w.dispose();
        }
      }),
      { numRuns: 40 },
    );
  });
});

// Read-only checks against this machine's /sys (the CI VM has a virtio NIC as eth0).
const ETH0 = '/sys/class/net/eth0';
const eth0Pci = ((): string | undefined => {
  if (!existsSync(join(ETH0, 'device'))) return undefined;
  const dev = realpathSync(join(ETH0, 'device'));
  if (isPciAddress(basename(dev))) return basename(dev);
  return isPciAddress(basename(dirname(dev))) ? basename(dirname(dev)) : undefined;
})();

describe('real /sys (read-only)', () => {
  it('lists PCI functions', () => {
    const all = listPciFunctions('/sys');
    expect(all.length).toBeGreaterThan(0);
    for (const f of all) {
      expect(f.address).toMatch(PCI_ADDRESS_RE);
      expect(f.classCode).toMatch(/^[0-9a-f]{6}$/);
    }
  });

  it.skipIf(eth0Pci === undefined)('finds the PCI function of eth0 with its driver and pcieRoot (checked against realpath)', () => {
    const address = pciAddressOfNetdev('/sys', 'eth0')!;
    expect(address).toBe(eth0Pci);
    const f = listPciFunctions('/sys', { classPrefix: '02' }).find((x) => x.address === address)!;
    expect(f).toBeDefined();
    expect(f.netdevs).toContain('eth0');
    const devDir = join('/sys/bus/pci/devices', address);
    expect(f.driver).toBe(basename(readlinkSync(join(devDir, 'driver'))));
    if (/^virtio\d+$/.test(basename(realpathSync(join(ETH0, 'device'))))) expect(f.driver).toBe('virtio-pci');
    const real = realpathSync(devDir); // readlink -f
    expect(f.pcieRoot).toBe(relative('/sys/devices', real).split(sep)[0]);
    expect(f.pcieRoot).toMatch(/^pci[0-9a-f]{4}:[0-9a-f]{2}$/);
    expect(readPciFunction('/sys', address)).toEqual(f);
  });
});
