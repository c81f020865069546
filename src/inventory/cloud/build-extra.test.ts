/**
 * Cloud attributes through buildInventory (its `extra` hook) on the node
 * shapes of test/fixtures/topologies, with metadata answers shaped as each
 * cloud documents them (testdata/): joined to the right devices, after every
 * kernel attribute and within the API's 32 (the rest listed in `dropped`),
 * seen by the admin's CEL filter, and independent of the order the kernel
 * or the metadata service list things in.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotOf } from '../../../test/fixtures/topologies/corpus.ts';
import { awsEnaEfa } from '../../../test/fixtures/topologies/aws-ena-efa.ts';
import { azureAccelnet } from '../../../test/fixtures/topologies/azure-accelnet.ts';
import { azureNdIpoib } from '../../../test/fixtures/topologies/azure-nd-ipoib.ts';
import { gceA3Ultra } from '../../../test/fixtures/topologies/gce-a3-ultra.ts';
import type { Topology } from '../../../test/fixtures/topologies/topology.ts';
import { MAX_ATTRIBUTES_PER_DEVICE } from '../attributes/limits.ts';
import type { AttributeNaming } from '../attributes/names.ts';
import { buildInventory } from '../build.ts';
import { compileDeviceFilter } from '../filter-cel.ts';
import type { Device, ExtraAttributes, Inventory, InventorySnapshot } from '../model.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from '../options.ts';
import { cloudAttributes } from './attributes.ts';
import { parseAwsNode } from './aws.ts';
import { parseAzure } from './azure.ts';
import { parseGce } from './gce.ts';
import { AWS_MACS } from './testdata/aws-responses.ts';
import { AZURE_INSTANCE } from './testdata/azure-responses.ts';
import { GCE_NICS, GCE_PHYSICAL_HOST, GCE_PROJECT } from './testdata/gce-responses.ts';
import type { CloudFacts } from './types.ts';

const GCE = parseGce(`projects/${GCE_PROJECT}/machineTypes/a3-ultragpu-8g`, GCE_NICS, GCE_PHYSICAL_HOST);
const AZURE = parseAzure(AZURE_INSTANCE);
const AWS = parseAwsNode('p5.48xlarge', 'train-cluster-pg', undefined, [
  { mac: AWS_MACS.secondary, index: 1, networkCard: 1, subnet: '10.0.16.0/20', networkName: 'vpc-0e1f2a3b4c5d6e7f8' },
]);

/** Each shape's snapshot, read once (writing a sysfs tree is the slow part). */
const snapshots = new Map<Topology, { snapshot: InventorySnapshot; dispose(): void }>();
afterAll(() => { for (const s of snapshots.values()) s.dispose(); });
function snapshot(t: Topology): InventorySnapshot {
  if (!snapshots.has(t)) snapshots.set(t, snapshotOf(t));
  return snapshots.get(t)!.snapshot;
}

function inventory(t: Topology, facts: CloudFacts | undefined, o: Partial<InventoryOptions> = {}, shuffle = false): Inventory {
  const s = shuffle ? reversed(snapshot(t)) : snapshot(t);
  const naming: AttributeNaming = o.naming ?? 'netclaim';
  const extra: ExtraAttributes | undefined = facts ? (d) => cloudAttributes(facts, d, naming) : undefined;
  return buildInventory(s, { ...DEFAULT_OPTIONS, nodeIps: t.nodeIps ?? [], includeKinds: t.includeKinds ?? [], ...o }, [], extra);
}

/** The same snapshot with every list in the other order. */
function reversed(s: InventorySnapshot): InventorySnapshot {
  return {
    ...s, links: [...s.links].reverse(), addrs: [...s.addrs].reverse(), ib: [...s.ib].reverse(), rdmaPorts: [...s.rdmaPorts].reverse(),
    pci: new Map([...s.pci].reverse()), linkPci: new Map([...s.linkPci].reverse()),
  };
}

const byIf = (inv: Inventory, ifName: string): Device => inv.devices.find((d) => d.ifName === ifName)!;
const cloudKeys = (d: Device): string[] => Object.keys(d.attributes).filter((k) => CLOUD.test(k));
const CLOUD = /\/(island|block|subBlock|rack|host|memoryFabric|interconnect\w*|placementGroup|partition|subnet|networkName|networkCard|nicIndex|instanceType|ipAliases)$/;

describe('cloud attributes in the inventory', () => {
  it('GCE A3 Ultra: each RDMA NIC gets the node\'s block, sub-block, host and its own subnet, after all its own attributes', () => {
    const without = inventory(gceA3Ultra, undefined);
    const inv = inventory(gceA3Ultra, GCE);
    const plain = byIf(without, 'gpu3rdma0');
    const d = byIf(inv, 'gpu3rdma0');
    // Every kernel attribute kept, in its place; cloud ones after.
    expect(Object.keys(d.attributes).slice(0, Object.keys(plain.attributes).length)).toEqual(Object.keys(plain.attributes));
    expect(d.attributes).toMatchObject(plain.attributes);
    expect(d.attributes['netclaim.dev/block']).toEqual({ string: 'c4a3f1d2e5b6a7c8' });
    expect(d.attributes['netclaim.dev/subnet']).toEqual({ string: '192.168.4.0/24' });
    expect(d.attributes['netclaim.dev/networkName']).toEqual({ string: 'a3u-rdma' });
    expect(Object.keys(d.attributes).length).toBeLessThanOrEqual(MAX_ATTRIBUTES_PER_DEVICE);
    // What did not fit is listed, lowest priority first to go.
    expect([...Object.keys(d.attributes), ...d.dropped].filter((k) => CLOUD.test(k)))
      .toEqual(Object.keys(cloudAttributes(GCE, { name: d.name, kind: d.kind, mac: '42:01:c0:a8:04:02' }, 'netclaim')));
  });

  it('keeps the 32-attribute limit whatever the provider gives, dropping only provider attributes', () => {
    const many: ExtraAttributes = () => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`example.com/x${i}`, { int: i }]));
    {
      const plain = buildInventory(snapshot(gceA3Ultra), DEFAULT_OPTIONS);
      const inv = buildInventory(snapshot(gceA3Ultra), DEFAULT_OPTIONS, [], many);
      expect(inv.devices.map((d) => d.name)).toEqual(plain.devices.map((d) => d.name));
      for (const d of inv.devices) {
        const p = plain.devices.find((x) => x.name === d.name)!;
        expect(Object.keys(d.attributes)).toHaveLength(MAX_ATTRIBUTES_PER_DEVICE);
        expect(d.attributes).toMatchObject(p.attributes);
        const kept = MAX_ATTRIBUTES_PER_DEVICE - Object.keys(p.attributes).length;
        expect(d.dropped).toEqual([...p.dropped, ...Array.from({ length: 40 - kept }, (_, i) => `example.com/x${kept + i}`)]);
      }
    }
  });

  it('skips an invalid extra attribute instead of refusing the device, and never overrides a kernel one', () => {
    const bad: ExtraAttributes = () => ({
      'not a name': { string: 'x' }, 'example.com/long': { string: 'x'.repeat(65) }, 'example.com/two': { string: 'a', int: 1 } as never,
      'netclaim.dev/mtu': { int: 1 }, 'example.com/ok': { bool: true },
    });
    {
      const inv = buildInventory(snapshot(gceA3Ultra), DEFAULT_OPTIONS, [], bad);
      expect(inv.exclusions.filter((e) => e.code === 'invalid')).toEqual([]);
      const d = byIf(inv, 'gpu0rdma0');
      expect(d.attributes['netclaim.dev/mtu']).toEqual({ int: 8896 });
      expect(d.attributes['example.com/ok']).toEqual({ bool: true });
      expect(Object.keys(d.attributes).filter((k) => k.startsWith('example.com') || k === 'not a name')).toEqual(['example.com/ok']);
    }
  });

  it('the admin\'s CEL filter sees them: publish the NIC of one rail only', () => {
    const filter = compileDeviceFilter('"subnet" in device.attributes["netclaim.dev"] && device.attributes["netclaim.dev"].subnet == "192.168.3.0/24"');
    const inv = inventory(gceA3Ultra, GCE, { filter });
    expect(inv.devices.map((d) => d.ifName)).toEqual(['gpu2rdma0']);
    expect(inv.exclusions.filter((e) => e.code === 'admin-cel').length).toBeGreaterThan(0);
  });

  it('does not depend on the order the kernel lists things in', () => {
    for (const [t, facts] of [[gceA3Ultra, GCE], [azureAccelnet, AZURE], [awsEnaEfa, AWS]] as const) {
      const a = inventory(t, facts);
      const b = inventory(t, facts, {}, true);
      const norm = (inv: Inventory): unknown => inv.devices.map((d) => ({ ...d, objects: [...(d.objects ?? [])].sort() })).sort((x, y) => (x.name < y.name ? -1 : 1));
      expect(norm(b)).toEqual(norm(a));
    }
  });

  it('Azure: the synthetic NIC with its VF (one MAC, one device) gets its subnet; the uplink pair nothing', () => {
    const inv = inventory(azureAccelnet, AZURE);
    expect(inv.devices).toHaveLength(1);
    const d = inv.devices[0]!;
    expect(d.kind).toBe('synthetic');
    expect(d.attributes['netclaim.dev/subnet']).toEqual({ string: '10.144.134.0/24' });
    expect(d.attributes['netclaim.dev/interconnectGroup']).toEqual({ string: 'ig-7a1c2e' });
  });

  it('Azure ND (IPoIB, 20-byte addresses) and IB-only HCAs: the node\'s facts only, no NIC joined', () => {
    const inv = inventory(azureNdIpoib, AZURE);
    expect(inv.devices.length).toBeGreaterThan(0);
    for (const d of inv.devices) {
      expect(d.attributes['netclaim.dev/placementGroup']).toEqual({ string: 'f67c14ab-e92c-408c-ae2d-da15866ec79a' });
      expect(d.attributes['netclaim.dev/subnet']).toBeUndefined();
    }
  });

  it('AWS: the secondary ENA by MAC; the EFA device (no netdev) with the node\'s facts', () => {
    const inv = inventory(awsEnaEfa, AWS);
    expect(byIf(inv, 'enp160s0').attributes['netclaim.dev/networkCard']).toEqual({ int: 1 });
    const efa = inv.devices.find((d) => d.kind === 'rdma')!;
    expect(cloudKeys(efa).sort()).toEqual(['netclaim.dev/instanceType', 'netclaim.dev/placementGroup']);
  });

  it('with the dranet naming: the peer\'s names, dra.net/cloudNetwork included, and none of ours', () => {
    const inv = inventory(gceA3Ultra, GCE, { naming: 'dranet' });
    const d = byIf(inv, 'gpu0rdma0');
    expect(d.attributes['dra.net/cloudNetwork']).toEqual({ string: 'a3u-rdma' });
    expect(d.attributes['gce.dra.net/block']).toEqual({ string: 'c4a3f1d2e5b6a7c8' });
    expect(Object.keys(d.attributes).filter((k) => k.startsWith('netclaim.dev/'))).toEqual([]);
    expect(Object.keys(d.attributes).length).toBeLessThanOrEqual(MAX_ATTRIBUTES_PER_DEVICE);
  });
});
