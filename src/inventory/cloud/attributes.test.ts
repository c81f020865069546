/**
 * The join and the mapping on their own: when a device gets a NIC's facts
 * (node-topologies.md §11: MAC joins are hints), values that cannot be
 * published, both namings' priority order, and the suggested config.
 */
import { describe, expect, it } from 'vitest';
import { CLOUD_ATTRIBUTES, DRANET_CLOUD_ATTRIBUTES } from '../attributes/names.ts';
import { isQualifiedName } from '../attributes/limits.ts';
import type { DeviceIdentity } from '../model.ts';
import { cloudAttributes, nicOf } from './attributes.ts';
import { suggestedConfig } from './suggested-config.ts';
import { CLOUD_NAMES, type CloudFacts } from './types.ts';

const id = (kind: DeviceIdentity['kind'], mac?: string, permMac?: string): DeviceIdentity =>
  ({ name: 'dev' as DeviceIdentity['name'], kind, ...(mac ? { mac } : {}), ...(permMac ? { permMac } : {}) });

const FACTS: CloudFacts = {
  cloud: 'gce',
  node: { block: 'b', subBlock: 's', host: 'h', instanceType: 'a4-highgpu-8g' },
  nics: [
    { mac: '42:01:c0:a8:01:02', index: 2, networkName: 'rdma', subnet: '192.168.1.0/24', ipv4: ['192.168.1.2/24'], gateway: '192.168.1.1', mtu: 8896 },
    { mac: '42:01:c0:a8:02:02', index: 3, networkName: 'rdma', subnet: '192.168.2.0/24', ipv4: ['192.168.2.2/24'], mtu: 8896 },
  ],
};

describe('joining a device to a NIC of the metadata', () => {
  it('by the netdev\'s MAC, in any case or separator the cloud writes it', () => {
    expect(nicOf(FACTS, id('pci', '42:01:C0:A8:01:02'))?.index).toBe(2);
    expect(nicOf({ ...FACTS, nics: [{ ...FACTS.nics[0]!, mac: '42:01:c0:a8:01:02' }] }, id('vf', '42-01-c0-a8-01-02'))?.index).toBe(2);
  });

  it('by the permanent MAC when the current one was changed', () => {
    expect(nicOf(FACTS, id('pci', '02:00:00:00:00:01', '42:01:c0:a8:02:02'))?.index).toBe(3);
  });

  it('never a virtual device (a VLAN or macvlan with its lower\'s MAC), nor an RDMA-only one', () => {
    expect(nicOf(FACTS, id('virtual', '42:01:c0:a8:01:02'))).toBeUndefined();
    expect(nicOf(FACTS, id('rdma'))).toBeUndefined();
  });

  it('never an IPoIB address (20 bytes), even one ending in a NIC\'s MAC', () => {
    expect(nicOf(FACTS, id('pci', '00:00:10:49:fe:80:00:00:00:00:00:00:42:01:c0:a8:01:02:00:01'))).toBeUndefined();
  });

  it('not at all when two NICs of the metadata have the MAC: no join rather than a wrong one', () => {
    const twice: CloudFacts = { ...FACTS, nics: [FACTS.nics[0]!, { ...FACTS.nics[1]!, mac: FACTS.nics[0]!.mac }] };
    expect(nicOf(twice, id('pci', FACTS.nics[0]!.mac))).toBeUndefined();
    expect(Object.keys(cloudAttributes(twice, id('pci', FACTS.nics[0]!.mac), 'netclaim'))).toEqual([
      'netclaim.dev/block', 'netclaim.dev/subBlock', 'netclaim.dev/host', 'netclaim.dev/instanceType',
    ]);
  });
});

describe('cloud attribute values', () => {
  it('leaves out, never cuts, a value over 64 bytes', () => {
    const long: CloudFacts = { ...FACTS, node: { ...FACTS.node, block: 'x'.repeat(65) } };
    expect(cloudAttributes(long, id('rdma'), 'netclaim')['netclaim.dev/block']).toBeUndefined();
  });

  it('publishes in the priority order of names.ts, in both namings, with valid qualified names', () => {
    const order = Object.keys(cloudAttributes(FACTS, id('pci', FACTS.nics[0]!.mac), 'netclaim')).map((k) => k.split('/')[1]);
    expect(order).toEqual(CLOUD_ATTRIBUTES.filter((n) => order.includes(n)));
    for (const n of CLOUD_ATTRIBUTES) expect(isQualifiedName(`netclaim.dev/${n}`), n).toBe(true);
    for (const c of CLOUD_NAMES) for (const n of DRANET_CLOUD_ATTRIBUTES[c]) expect(isQualifiedName(n), n).toBe(true);
    const dranet = Object.keys(cloudAttributes(FACTS, id('pci', FACTS.nics[0]!.mac), 'dranet'));
    expect(dranet).toEqual(DRANET_CLOUD_ATTRIBUTES.gce.filter((n) => dranet.includes(n)));
  });

  it('gives every device the node\'s facts, the same whatever device asks', () => {
    const a = cloudAttributes(FACTS, id('rdma'), 'netclaim');
    const b = cloudAttributes(FACTS, id('virtual', '02:11:22:33:44:55'), 'netclaim');
    expect(a).toEqual(b);
  });
});

describe('suggested config', () => {
  it('addresses, MTU, and policy routing through the gateway in table 100 + the NIC\'s index', () => {
    expect(suggestedConfig(FACTS, id('pci', FACTS.nics[0]!.mac))).toEqual({
      cloud: 'gce', interface: { addresses: ['192.168.1.2/24'], mtu: 8896 },
      routes: [{ destination: '0.0.0.0/0', gateway: '192.168.1.1', table: 102 }],
      rules: [{ source: '192.168.1.2/32', table: 102 }],
    });
  });

  it('no routes without a gateway, and nothing for a device no NIC joins', () => {
    expect(suggestedConfig(FACTS, id('pci', FACTS.nics[1]!.mac))).toEqual({ cloud: 'gce', interface: { addresses: ['192.168.2.2/24'], mtu: 8896 } });
    expect(suggestedConfig(FACTS, id('rdma'))).toBeUndefined();
    expect(suggestedConfig({ ...FACTS, nics: [{ mac: '42:01:00:00:00:01', index: 0 }] }, id('pci', '42:01:00:00:00:01'))).toBeUndefined();
  });
});
