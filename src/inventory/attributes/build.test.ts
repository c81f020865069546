/**
 * The standard attributes, in both namings: `resource.kubernetes.io/pciBusID`
 * as k8s.io/dynamic-resource-allocation/deviceattribute defines it
 * (attribute.go StandardDeviceAttributePCIBusID; pci.go GetPCIBusIDAttribute),
 * the value GPU drivers publish for the same PCI function.
 */
import { describe, expect, it } from 'vitest';
import { link, pciFn } from '../../../test/inventory/snapshot-builders.ts';
import { deviceAttributes, type DeviceFacts } from './build.ts';

const facts = (f: Partial<DeviceFacts>): DeviceFacts => ({ kind: 'pci', addrs: [], ...f });
const PCI_BUS_ID = 'resource.kubernetes.io/pciBusID';

describe('resource.kubernetes.io/pciBusID', () => {
  it.each(['netclaim', 'dranet'] as const)('%s naming: the PCI address in extended BDF form, beside pcieRoot', (naming) => {
    const { attributes } = deviceAttributes(facts({ link: link(4, 'ens1f0np0'), pci: pciFn('0000:17:00.0', { pcieRoot: 'pci0000:16' }) }), naming);
    expect(attributes[PCI_BUS_ID]).toEqual({ string: '0000:17:00.0' });
    expect(Object.keys(attributes).slice(0, 3)).toEqual(['resource.kubernetes.io/pcieRoot', PCI_BUS_ID, 'resource.kubernetes.io/numaNode']);
  });

  it('is on every device with a PCI function: a VF in a pod, an RDMA-only HCA', () => {
    const vf = pciFn('0000:81:01.1', { physfn: { address: '0000:81:00.0' as never, vfIndex: 1 } });
    expect(deviceAttributes(facts({ kind: 'vf', pci: vf }), 'netclaim').attributes[PCI_BUS_ID]).toEqual({ string: '0000:81:01.1' });
    const hca = pciFn('0000:c1:00.0', { classCode: '020700' });
    expect(deviceAttributes(facts({ kind: 'rdma', pci: hca, rdmaName: 'mlx5_4' }), 'dranet').attributes[PCI_BUS_ID]).toEqual({ string: '0000:c1:00.0' });
  });

  it('is absent without a PCI function, and for an address upstream would refuse (a VMD domain)', () => {
    expect(deviceAttributes(facts({ kind: 'virtual', link: link(7, 'veth1', { kind: 'veth' }) }), 'netclaim').attributes[PCI_BUS_ID]).toBeUndefined();
    expect(deviceAttributes(facts({ kind: 'synthetic', link: link(3, 'eth1') }), 'dranet').attributes[PCI_BUS_ID]).toBeUndefined();
    // verifyPCIBDFFormat: ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$; Intel VMD puts devices in domain 10000.
    expect(deviceAttributes(facts({ pci: pciFn('10000:01:00.0') }), 'netclaim').attributes[PCI_BUS_ID]).toBeUndefined();
  });
});
