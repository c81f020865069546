import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterPciIds } from '../../../scripts/gen-pci-ids.ts';
import {
  chainPciIds,
  defaultPciIdsSources,
  devicesOf,
  HOST_PCI_IDS,
  lookupInTable,
  parsePciIds,
  pciIds,
  pciIdsFile,
  resetPciIds,
  SHIPPED_PCI_IDS,
  type PciIdsTable,
} from './pci-ids.ts';

const SAMPLE = [
  '#',
  '#\tList of PCI ID\'s',
  '#',
  '#\tVersion: 2099.01.02',
  '#',
  '',
  '# Syntax:',
  '# vendor  vendor_name',
  '',
  '1028  Dell',
  '15b3  Mellanox Technologies',
  '# a comment inside a vendor',
  '\t1021  MT2910 Family [ConnectX-7]',
  '\t\t15b3 0041  ConnectX-7 HHHL adapter card',
  '\t\t1028 2184  ConnectX-7 for Dell\r',
  '\t101e  ConnectX Family mlx5Gen Virtual Function',
  'this line is garbage',
  '\t\tnot a subsystem',
  '8086  Intel Corporation',
  '\t1237  440FX - 82441FX PMC [Natoma]',
  '\t159B  Ethernet Controller E810-XXV for SFP',
  '\t\t8086 0003  Ethernet Network Adapter E810-XXV-2',
  '',
  '# List of known device classes, subclasses and programming interfaces',
  '',
  'C 02  Network controller',
  '\t00  Ethernet controller',
  '\t07  Infiniband controller',
  'C 0c  Serial bus controller',
  '\t03  USB controller',
  '\t\t30  XHCI',
  '',
].join('\n');

describe('parsePciIds', () => {
  const t = parsePciIds(SAMPLE);

  it('reads the version, vendors, devices, subsystems and classes', () => {
    expect(t.version).toBe('2099.01.02');
    expect([...t.vendors.keys()]).toEqual(['1028', '15b3', '8086']);
    expect(lookupInTable(t, '15b3', '1021', '1028', '2184')).toEqual({
      vendorName: 'Mellanox Technologies',
      deviceName: 'MT2910 Family [ConnectX-7]',
      subsystemName: 'ConnectX-7 for Dell',
      subsystemVendorName: 'Dell',
    });
    expect(lookupInTable(t, '15b3', '101e')).toEqual({
      vendorName: 'Mellanox Technologies',
      deviceName: 'ConnectX Family mlx5Gen Virtual Function',
    });
    expect(t.classes.get('02')).toBe('Network controller');
    expect(t.classes.get('0207')).toBe('Infiniband controller');
    expect(t.classes.get('0c0330')).toBe('XHCI');
  });

  it('is case-insensitive in ids (files and callers)', () => {
    expect(lookupInTable(t, '8086', '159b', '8086', '0003').deviceName).toBe('Ethernet Controller E810-XXV for SFP');
    expect(lookupInTable(t, '15B3', '1021', '15B3', '0041').subsystemName).toBe('ConnectX-7 HHHL adapter card');
  });

  it('merges a vendor listed twice: the first name, the devices of both, the subsystem lines of a device listed again', () => {
    const twice = parsePciIds('15b3  First\r\n\t1021  CX7\r\n\t\t15b3 0041  A\r\n8086  Intel\r\n\t1572  X710\r\n15b3  Second\r\n\t101e  VF\r\n\t1021  CX7 again\r\n\t\t1028 2184  B\r\nC 02  Network controller\r\n\t1021  not a device: a subclass line\r\n');
    expect(lookupInTable(twice, '15b3', '1021', '15b3', '0041')).toEqual({ vendorName: 'First', deviceName: 'CX7', subsystemName: 'A', subsystemVendorName: 'First' });
    expect(lookupInTable(twice, '15b3', '1021', '1028', '2184').subsystemName).toBe('B');
    expect(lookupInTable(twice, '15b3', '101e').deviceName).toBe('VF');
    expect([...devicesOf(twice, twice.vendors.get('8086')!).keys()]).toEqual(['1572']);
    expect(devicesOf(twice, twice.vendors.get('15b3')!)).toBe(devicesOf(twice, twice.vendors.get('15b3')!)); // parsed once, kept
  });

  it('leaves unknown names out', () => {
    expect(lookupInTable(t, 'ffff', '0001')).toEqual({});
    expect(lookupInTable(t, '15b3', 'ffff', '1028', 'ffff')).toEqual({
      vendorName: 'Mellanox Technologies',
      subsystemVendorName: 'Dell',
    });
  });

  it('never throws, whatever the text (random lines of ids, tabs and junk)', () => {
    const line = fc.oneof(
      fc.string(),
      fc.tuple(fc.constantFrom('', '\t', '\t\t', 'C ', '#'), fc.stringMatching(/^[0-9a-fA-F]{0,5}$/), fc.constantFrom(' ', '  ', '\t', ''), fc.string()).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        const parsed = parsePciIds(lines.join('\n'));
        for (const [v, e] of parsed.vendors) for (const d of devicesOf(parsed, e).keys()) lookupInTable(parsed, v, d, v, d);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips a random table written in pci.ids syntax', () => {
    const id = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16).padStart(4, '0'));
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ()[\]/.,+-]{0,30}[A-Za-z0-9)\]]$/);
    const device = fc.record({ id, name, subs: fc.uniqueArray(fc.tuple(id, id, name), { maxLength: 3, selector: ([a, b]) => a + b }) });
    const vendor = fc.record({ id, name, devices: fc.uniqueArray(device, { maxLength: 4, selector: (d) => d.id }) });
    fc.assert(
      fc.property(fc.uniqueArray(vendor, { minLength: 1, maxLength: 5, selector: (v) => v.id }), (vendors) => {
        const text = vendors
          .flatMap((v) => [`${v.id}  ${v.name}`, ...v.devices.flatMap((d) => [`\t${d.id}  ${d.name}`, ...d.subs.map(([sv, sd, n]) => `\t\t${sv} ${sd}  ${n}`)])])
          .join('\n');
        const t2 = parsePciIds(text);
        for (const v of vendors) {
          expect(t2.vendors.get(v.id)?.name).toBe(v.name);
          for (const d of v.devices) {
            expect(lookupInTable(t2, v.id, d.id).deviceName).toBe(d.name);
            for (const [sv, sd, n] of d.subs) expect(lookupInTable(t2, v.id, d.id, sv, sd).subsystemName).toBe(n);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('chainPciIds', () => {
  const first = parsePciIds('15b3  Mellanox Technologies\n\t1021  CX7 (first)\n');
  const second = parsePciIds('15b3  Mellanox (second)\n\t1021  CX7 (second)\n\t\t15b3 0041  Board\n\t101e  VF (second)\n8086  Intel\n');

  it('takes each name from the first source knowing it, and loads later sources only while vendor or device is unknown', () => {
    let loads = 0;
    const lazySecond = (): PciIdsTable => {
      loads++;
      return second;
    };
    const ids = chainPciIds([() => first, lazySecond]);
    // vendor + device known in the first source: the second is not loaded just for the subsystem name
    expect(ids.lookup('15b3', '1021', '15b3', '0041')).toEqual({
      vendorName: 'Mellanox Technologies',
      deviceName: 'CX7 (first)',
      subsystemVendorName: 'Mellanox Technologies',
    });
    expect(loads).toBe(0);
    // device unknown in the first: the second is loaded (once), and then consulted for subsystem names too
    expect(ids.lookup('15b3', '101e')).toEqual({ vendorName: 'Mellanox Technologies', deviceName: 'VF (second)' });
    expect(ids.lookup('15b3', '1021', '15b3', '0041').subsystemName).toBe('Board');
    expect(ids.lookup('8086', '0000')).toEqual({ vendorName: 'Intel' });
    expect(loads).toBe(1);
  });

  it('skips sources that cannot be read', () => {
    const ids = chainPciIds([pciIdsFile('/nonexistent/pci.ids'), () => second]);
    expect(ids.lookup('15b3', '101e').deviceName).toBe('VF (second)');
    expect(chainPciIds([]).lookup('15b3', '1021')).toEqual({});
  });

  it('names classes from the most specific code known', () => {
    const ids = chainPciIds([() => parsePciIds(SAMPLE)]);
    expect(ids.className('020000')).toBe('Ethernet controller');
    expect(ids.className('020700')).toBe('Infiniband controller');
    expect(ids.className('0x0c0330')).toBe('XHCI');
    expect(ids.className('0c0320')).toBe('USB controller');
    expect(ids.className('028000')).toBe('Network controller');
    expect(ids.className('ff0000')).toBeUndefined();
  });
});

describe('the shipped network subset (data/pci.ids.network)', () => {
  const text = readFileSync(SHIPPED_PCI_IDS, 'utf8');
  const shipped = parsePciIds(text);
  const ids = chainPciIds([() => shipped]);

  it('is small and keeps the header: version, dual licence, the BSD choice', () => {
    expect(statSync(SHIPPED_PCI_IDS).size).toBeLessThan(1024 * 1024);
    expect(shipped.version).toMatch(/^\d{4}\.\d{2}\.\d{2}$/);
    expect(text).toContain('3-clause BSD License');
    expect(text).toContain('netclaim redistributes it under the 3-clause BSD License');
    expect(text).toContain('THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS');
  });

  it.each([
    ['15b3', '1021', 'Mellanox Technologies', 'MT2910 Family [ConnectX-7]'],
    ['15b3', '101e', 'Mellanox Technologies', 'ConnectX Family mlx5Gen Virtual Function'],
    ['15b3', '101b', 'Mellanox Technologies', 'MT28908 Family [ConnectX-6]'],
    ['1ded', '107f', 'Alibaba (China) Co., Ltd.', 'Elastic RDMA Adapter'],
    ['8086', '159b', 'Intel Corporation', 'Ethernet Controller E810-XXV for SFP'],
    ['8086', '1889', 'Intel Corporation', 'Ethernet Adaptive Virtual Function'],
    ['8086', '1572', 'Intel Corporation', 'Ethernet Controller X710 for 10GbE SFP+'],
    ['1af4', '1041', 'Red Hat, Inc.', 'Virtio 1.0 network device'],
    ['1d0f', 'ec20', 'Amazon.com, Inc.', 'Elastic Network Adapter (ENA)'],
    ['1ae0', '0042', 'Google, Inc.', 'Compute Engine Virtual Ethernet [gVNIC]'],
  ])('names %s:%s', (v, d, vendorName, deviceName) => {
    expect(ids.lookup(v, d)).toEqual({ vendorName, deviceName });
  });

  it('keeps every vendor line but only network devices of Intel', () => {
    expect(ids.lookup('1028', '0000').vendorName).toBe('Dell');
    expect(ids.lookup('8086', '1237')).toEqual({ vendorName: 'Intel Corporation' }); // 440FX host bridge
    expect(ids.lookup('8086', '0442')).toEqual({ vendorName: 'Intel Corporation' }); // QAT VF: "Virtual Function" but not a NIC
    expect(ids.lookup('10de', '2330')).toEqual({ vendorName: 'NVIDIA Corporation' }); // H100 GPU
    expect(ids.lookup('8086', '159b', '8086', '0003').subsystemName).toBe('Ethernet Network Adapter E810-XXV-2');
  });

  it('costs the daemon little memory: its text and the vendors, device lines parsed only when looked up', () => {
    // In a fresh process (gc exposed): heap kept by the parsed file. Every device parsed into maps was 2.2 MB; now 0.85.
    const script = `import { readFileSync } from 'node:fs';
      const { parsePciIds, SHIPPED_PCI_IDS } = await import(${JSON.stringify(new URL('./pci-ids.ts', import.meta.url).href)});
      const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
      const before = heap();
      globalThis.kept = parsePciIds(readFileSync(SHIPPED_PCI_IDS, 'utf8'));
      process.stdout.write(String(heap() - before));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(Number(r.stdout) / (1024 * 1024)).toBeLessThan(1.2);
  });

  it('keeps the class list', () => {
    expect(ids.className('020700')).toBe('Infiniband controller');
    expect(ids.className('060400')).toBe('Normal decode');
  });

  const host = HOST_PCI_IDS.find((p) => existsSync(p));
  const sameVersion = host !== undefined && parsePciIds(readFileSync(host, 'utf8')).version === shipped.version;
  it.skipIf(!sameVersion)('is exactly what scripts/gen-pci-ids.ts makes from the host pci.ids of the same version', () => {
    expect(filterPciIds(readFileSync(host!, 'utf8'))).toBe(text);
  });
});

describe('filterPciIds (the generator)', () => {
  it('keeps the header, every vendor, NIC-vendor devices, Intel network devices, other network-named devices and the classes', () => {
    const full = [
      '#',
      '#\tVersion: 2099.01.02',
      '#',
      '',
      '# Syntax:',
      '1022  Advanced Micro Devices, Inc. [AMD]',
      '\t1480  Starship/Matisse Root Complex',
      '\t2000  79c970 [PCnet32 LANCE]',
      '\t7901  FCH SATA Controller [AHCI mode]',
      '10ec  Realtek Semiconductor Co., Ltd.',
      '\t8168  RTL8111/8168/8211/8411 PCI Express Gigabit Ethernet Controller',
      '\t\t1043 8677  P8P67 Motherboard',
      '\t5229  RTS5229 PCI Express Card Reader',
      '15b3  Mellanox Technologies',
      '# note',
      '\ta2dc  BlueField-3 integrated ConnectX-7 network controller',
      '\tc2d5  ConnectX-5 Ex [Storage mode]',
      '\t\t15b3 0001  Board',
      '8086  Intel Corporation',
      '\t0442  DH89XXCC Series QAT Virtual Function',
      '\t1237  440FX - 82441FX PMC [Natoma]',
      '\t1889  Ethernet Adaptive Virtual Function',
      '\t24f0  Omni-Path HFI Silicon 100 Series [discrete]',
      '',
      '# List of known device classes, subclasses and programming interfaces',
      '',
      'C 02  Network controller',
      '\t00  Ethernet controller',
      '',
    ].join('\n');
    const out = filterPciIds(full);
    const body = out.slice(out.indexOf('# Syntax:'));
    expect(out.startsWith('#\n#\tVersion: 2099.01.02\n#\n#\tnetclaim: network subset')).toBe(true);
    expect(body).toBe(
      [
        '# Syntax:',
        '1022  Advanced Micro Devices, Inc. [AMD]',
        '10ec  Realtek Semiconductor Co., Ltd.',
        '\t8168  RTL8111/8168/8211/8411 PCI Express Gigabit Ethernet Controller',
        '\t\t1043 8677  P8P67 Motherboard',
        '15b3  Mellanox Technologies',
        '\ta2dc  BlueField-3 integrated ConnectX-7 network controller',
        '\tc2d5  ConnectX-5 Ex [Storage mode]',
        '\t\t15b3 0001  Board',
        '8086  Intel Corporation',
        '\t1889  Ethernet Adaptive Virtual Function',
        '\t24f0  Omni-Path HFI Silicon 100 Series [discrete]',
        '',
        '# List of known device classes, subclasses and programming interfaces',
        '',
        'C 02  Network controller',
        '\t00  Ethernet controller',
        '',
      ].join('\n'),
    );
  });
});

describe('the process-wide database', () => {
  it('orders sources: NETCLAIM_PCI_IDS, the shipped subset, then the host files', () => {
    expect(defaultPciIdsSources({})).toEqual([SHIPPED_PCI_IDS, ...HOST_PCI_IDS]);
    expect(defaultPciIdsSources({ NETCLAIM_PCI_IDS: '/etc/pci.ids' })).toEqual(['/etc/pci.ids', SHIPPED_PCI_IDS, ...HOST_PCI_IDS]);
  });

  it('prefers the file named by NETCLAIM_PCI_IDS and falls back to the shipped subset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netclaim-pciids-'));
    const saved = process.env.NETCLAIM_PCI_IDS;
    try {
      writeFileSync(join(dir, 'pci.ids'), '15b3  Custom Vendor\n\t1021  Custom CX7\n');
      process.env.NETCLAIM_PCI_IDS = join(dir, 'pci.ids');
      resetPciIds();
      expect(pciIds().lookup('15b3', '1021')).toEqual({ vendorName: 'Custom Vendor', deviceName: 'Custom CX7' });
      expect(pciIds().lookup('15b3', '101b')).toEqual({ vendorName: 'Custom Vendor', deviceName: 'MT28908 Family [ConnectX-6]' });
    } finally {
      if (saved === undefined) delete process.env.NETCLAIM_PCI_IDS;
      else process.env.NETCLAIM_PCI_IDS = saved;
      resetPciIds();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(pciIds().lookup('15b3', '1021').deviceName).toBe('MT2910 Family [ConnectX-7]');
  });

  it.skipIf(!HOST_PCI_IDS.some((p) => existsSync(p)))('falls back to the host pci.ids for devices outside the subset', () => {
    expect(pciIds().lookup('8086', '1237').deviceName).toBe('440FX - 82441FX PMC [Natoma]');
  });
});
