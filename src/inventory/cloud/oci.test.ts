/**
 * The OCI source against a fake instance metadata service on 127.0.0.1 — a
 * stand-in for Oracle's, which cannot exist here (testdata/README.md) —
 * that requires `Authorization: Bearer Oracle` as the v2 service does and
 * serves the documented shapes (testdata/oci-responses.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../model.ts';
import { cloudAttributes } from './attributes.ts';
import { ocidSuffix, ociSource } from './oci.ts';
import { type FakeHandler, FakeImds } from './testdata/fake-imds.ts';
import { OCI_HOST, OCI_INSTANCE, OCI_TOPOLOGY, OCI_VNICS } from './testdata/oci-responses.ts';

const servers: FakeImds[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

function imds(docs: Record<string, unknown>): FakeHandler {
  return (req) => {
    if (req.headers['authorization'] !== 'Bearer Oracle') return { status: 401, body: 'Unauthorized' };
    const doc = docs[req.url];
    return doc === undefined ? undefined : { body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } };
  };
}
const ALL = { '/opc/v2/instance/': OCI_INSTANCE, '/opc/v2/vnics/': OCI_VNICS, '/opc/v2/host/': OCI_HOST };
async function serve(h: FakeHandler): Promise<FakeImds> {
  const s = await FakeImds.start(h);
  servers.push(s);
  return s;
}
const signal = (): AbortSignal => new AbortController().signal;
const rdma: DeviceIdentity = { name: 'pci-0000-0c-00-0' as DeviceIdentity['name'], kind: 'pci', mac: 'a0:88:c2:a7:c5:04', pciAddress: '0000:0c:00.0' };

describe('OCI metadata source', () => {
  it('reads instance, VNICs and host topology with Authorization: Bearer Oracle', async () => {
    const s = await serve(imds(ALL));
    const facts = await ociSource({ endpoint: s.endpoint }).fetch(signal());
    for (const r of s.requests) expect(r.headers['authorization']).toBe('Bearer Oracle');
    expect(facts.node).toEqual({
      instanceType: 'BM.GPU.GB200.4', island: OCI_TOPOLOGY.island, block: OCI_TOPOLOGY.block, subBlock: OCI_TOPOLOGY.local,
      rack: OCI_HOST.rackId, host: OCI_TOPOLOGY.host, memoryFabric: OCI_TOPOLOGY.fabric,
    });
    expect(facts.nics[1]).toEqual({ mac: '02:00:17:09:a1:33', index: 1, subnet: '10.0.20.0/24', ipv4: ['10.0.20.7/24'], gateway: '10.0.20.1' });
  });

  it('puts the node\'s topology on every device, a RDMA NIC with no VNIC included, in both namings', async () => {
    const s = await serve(imds(ALL));
    const facts = await ociSource({ endpoint: s.endpoint }).fetch(signal());
    expect(cloudAttributes(facts, rdma, 'netclaim')).toEqual({
      'netclaim.dev/island': { string: OCI_TOPOLOGY.island }, 'netclaim.dev/block': { string: OCI_TOPOLOGY.block },
      'netclaim.dev/subBlock': { string: OCI_TOPOLOGY.local }, 'netclaim.dev/rack': { string: OCI_HOST.rackId },
      'netclaim.dev/host': { string: OCI_TOPOLOGY.host }, 'netclaim.dev/memoryFabric': { string: OCI_TOPOLOGY.fabric },
      'netclaim.dev/instanceType': { string: 'BM.GPU.GB200.4' },
    });
    expect(cloudAttributes(facts, rdma, 'dranet')).toEqual({
      'oke.dra.net/hpcIslandId': { string: OCI_TOPOLOGY.island }, 'oke.dra.net/networkBlockId': { string: OCI_TOPOLOGY.block },
      'oke.dra.net/localBlockId': { string: OCI_TOPOLOGY.local }, 'oke.dra.net/rackId': { string: OCI_HOST.rackId },
      'oke.dra.net/gpuMemoryFabricId': { string: OCI_TOPOLOGY.fabric },
    });
  });

  it('without topology data (404 for host/, or no rdmaTopologyData) publishes none', async () => {
    let s = await serve(imds({ '/opc/v2/instance/': OCI_INSTANCE, '/opc/v2/vnics/': OCI_VNICS }));
    expect((await ociSource({ endpoint: s.endpoint }).fetch(signal())).node).toEqual({ instanceType: 'BM.GPU.GB200.4' });
    s = await serve(imds({ ...ALL, '/opc/v2/host/': { id: 'x' } }));
    expect((await ociSource({ endpoint: s.endpoint }).fetch(signal())).node).toEqual({ instanceType: 'BM.GPU.GB200.4' });
  });

  it('fails on a 401 (a v1-only service, or a proxy that drops the header)', async () => {
    const s = await serve(() => ({ status: 401, body: 'Unauthorized' }));
    await expect(ociSource({ endpoint: s.endpoint }).fetch(signal())).rejects.toThrow(/HTTP 401/);
  });

  it('keeps an OCID\'s unique part: after the last dot, at most its last 60 characters (the peer\'s ocidSuffix)', () => {
    expect(ocidSuffix('ocid1.hpcisland.oc1.test-region-1.aaaaaaaa2mvjha24vj6evyafdqtis6nzqibhrnxxhzt65zkc3upy4xlrz5za'))
      .toBe('aaaaaaaa2mvjha24vj6evyafdqtis6nzqibhrnxxhzt65zkc3upy4xlrz5za');
    expect(ocidSuffix('ocid1.hpcisland.oc1.test-region-1.xaaaaaaaa2mvjha24vj6evyafdqtis6nzqibhrnxxhzt65zkc3upy4xlrz5za'))
      .toBe('aaaaaaaa2mvjha24vj6evyafdqtis6nzqibhrnxxhzt65zkc3upy4xlrz5za');
    expect(ocidSuffix('plainvalue')).toBe('plainvalue');
  });
});
