import { describe, expect, it } from 'vitest';
import { ifIndex } from '../../common/ids.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import { contradicts, isDevice } from './find-device.ts';

const link = (over: Partial<Link>): Link => ({
  index: ifIndex(7), name: 'net1', type: 1, flags: 0, up: false, operState: 'DOWN', mtu: 1500, altNames: [], ...over,
});

describe('device identity', () => {
  it('a permanent MAC or PCI address decides, whatever the name and ifindex', () => {
    const id = { ifIndex: 3, ifName: 'ens1f0', permMac: '0C:42:A1:00:00:01' };
    expect(isDevice(link({ permMac: '0c:42:a1:00:00:01' }), id)).toBe(true);
    expect(isDevice(link({ index: ifIndex(3), permMac: '0c:42:a1:00:00:02' }), id)).toBe(false);
    expect(contradicts(link({ permMac: '0c:42:a1:00:00:02' }), id)).toBe(true);
    const pci = { ifIndex: 3, pciAddress: '0000:3b:00.0' };
    expect(isDevice(link({ parentDevBusName: 'pci', parentDevName: '0000:3b:00.0' }), pci)).toBe(true);
    expect(isDevice(link({ index: ifIndex(3), parentDevBusName: 'pci', parentDevName: '0000:3b:00.1' }), pci)).toBe(false);
  });

  it('all-zero permanent MACs (virtual devices) are no identity', () => {
    const id = { ifIndex: 7, permMac: '00:00:00:00:00:00' };
    expect(contradicts(link({ permMac: '0c:42:a1:00:00:02' }), id)).toBe(false);
    expect(isDevice(link({}), id)).toBe(true);
  });

  it('without stable identity: one of the expected MACs, else the ifindex (another veth may hold the same ifindex in a pod)', () => {
    const id = { ifIndex: 7, ifName: 'nca1' };
    expect(isDevice(link({ mac: '02:AA:00:00:00:01' }), id, ['02:aa:00:00:00:01', undefined])).toBe(true);
    expect(isDevice(link({ mac: '02:aa:00:00:00:09' }), id, ['02:aa:00:00:00:01'])).toBe(false);
    expect(isDevice(link({}), id)).toBe(true);
    expect(isDevice(link({ index: ifIndex(8) }), id)).toBe(false);
  });
});
