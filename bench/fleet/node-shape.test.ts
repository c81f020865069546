import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeShape, str, type NodeShape } from './node-shape.ts';

const shapes: NodeShape[] = [nodeShape(8), nodeShape(12), nodeShape(16)];
afterAll(() => { for (const s of shapes) s.dispose(); });

describe('fleet node shape', () => {
  it('publishes every RDMA NIC with the GPU-shared pcieRoot, NUMA node and RDMA device; the uplink is left out', () => {
    for (const s of shapes) {
      const ds = s.devices(7, new Set());
      expect(ds).toHaveLength(s.nicCount + 1); // + eno2, the unused onboard port
      expect(ds.some((d) => str(d.attributes['netclaim.dev/ifName']) === 'eno1')).toBe(false);
      for (const g of s.gpus) {
        const nic = ds.find((d) => str(d.attributes['resource.kubernetes.io/pcieRoot']) === g.root)!;
        expect(nic.attributes['netclaim.dev/rdma']).toEqual({ bool: true });
        expect(nic.attributes['resource.kubernetes.io/numaNode']).toEqual({ int: g.numa });
      }
    }
  });

  it('a flap shows in state, speed and RDMA port state', () => {
    const s = shapes[0]!;
    const up = s.devices(3, new Set()).find((d) => str(d.attributes['netclaim.dev/ifName']) === s.nics[0]!.ifName)!;
    const down = s.devices(3, new Set([0])).find((d) => d.name === up.name)!;
    expect([up.attributes['netclaim.dev/state'], down.attributes['netclaim.dev/state']]).toEqual([{ string: 'up' }, { string: 'down' }]);
    expect(down.attributes['netclaim.dev/rdmaPortState']).toEqual({ string: 'down' });
    expect(down.attributes['netclaim.dev/speed']).toBeUndefined();
  });

  it('property: the fast form equals the real inventory builder for any node and any set of NICs down', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 65535 }), fc.array(fc.integer({ min: 0, max: 15 })), (k, node, down) => {
      const s = shapes[k]!;
      const set = new Set(down.filter((i) => i < s.nicCount));
      expect(s.fastDevices(node, set)).toEqual(s.devices(node, set));
    }), { numRuns: 60 });
  });
});
