import { describe, expect, test } from 'vitest';
import { compileDeviceFilter } from './filter-cel.ts';
import { isClaimSubInterfaceName, sharingOf, shareableByLink, type ShareableOptions } from './shareable.ts';
import { shareableOptionsFromFlags } from '../surfaces/cli/shareable-flags.ts';

const opts = (o: Partial<ShareableOptions>): ShareableOptions => ({ kinds: [], names: [], maxSubInterfaces: 8, ...o });

describe('shareable parents', () => {
  test('by kind, by inventory kind, by name glob', () => {
    expect(shareableByLink({ name: 'bond0', kind: 'bond' }, opts({ kinds: ['bond'] }))).toBe(true);
    expect(shareableByLink({ name: 'ens1f0' }, opts({ kinds: ['pci'] }), 'pci')).toBe(true);
    expect(shareableByLink({ name: 'ens1f0' }, opts({ names: ['ens1*'] }))).toBe(true);
    expect(shareableByLink({ name: 'ens2f0' }, opts({ names: ['ens1*'] }))).toBe(false);
    expect(shareableByLink({ name: 'bond0', kind: 'bond' }, undefined)).toBe(false);
  });

  test('CEL narrows a kind/name match, or selects alone', () => {
    const f = compileDeviceFilter('device.attributes["netclaim.dev"].mtu == 9000');
    const big = { 'netclaim.dev/mtu': { int: 9000 } };
    const small = { 'netclaim.dev/mtu': { int: 1500 } };
    expect(sharingOf({ name: 'eth1', kind: 'veth' }, 'virtual', big, opts({ kinds: ['veth'], filter: f }))).toEqual({ maxSubInterfaces: 8 });
    expect(sharingOf({ name: 'eth1', kind: 'veth' }, 'virtual', small, opts({ kinds: ['veth'], filter: f }))).toBeUndefined();
    expect(sharingOf({ name: 'eth9' }, 'pci', big, opts({ filter: f }))).toEqual({ maxSubInterfaces: 8 });
  });

  test('no room for the capacity beside 32 attributes, no netdev, or one of our own sub-interfaces: not shareable', () => {
    const full = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`netclaim.dev/a${i}`, { int: i }]));
    expect(sharingOf({ name: 'eth1', kind: 'veth' }, 'virtual', full, opts({ kinds: ['veth'] }))).toBeUndefined();
    expect(sharingOf(undefined, 'rdma', {}, opts({ kinds: ['rdma'] }))).toBeUndefined();
    expect(isClaimSubInterfaceName('ncsub012345678')).toBe(false);
    expect(isClaimSubInterfaceName('ncsub0123456789')).toBe(true);
    expect(sharingOf({ name: 'ncsubabcdef0123', kind: 'macvlan' }, 'virtual', {}, opts({ kinds: ['macvlan'] }))).toBeUndefined();
  });

  test('flags: parsed, bounded, and refused with the flag named', () => {
    const compile = compileDeviceFilter;
    expect(shareableOptionsFromFlags({}, compile)).toBeUndefined();
    expect(shareableOptionsFromFlags({ 'shareable-kind': ['bond,veth', 'bond'], 'max-sub-interfaces': '4' }, compile))
      .toEqual({ kinds: ['bond', 'veth'], names: [], maxSubInterfaces: 4 });
    expect(() => shareableOptionsFromFlags({ 'shareable-kind': ['Bond!'] }, compile)).toThrow(/--shareable-kind/);
    expect(() => shareableOptionsFromFlags({ 'shareable-name': ['x'], 'max-sub-interfaces': '0' }, compile)).toThrow(/--max-sub-interfaces/);
    expect(() => shareableOptionsFromFlags({ 'max-sub-interfaces': '4' }, compile)).toThrow(/no shareable parent/);
    expect(() => shareableOptionsFromFlags({ 'shareable-filter': '1 +' }, compile)).toThrow(/--shareable-filter/);
  });
});
