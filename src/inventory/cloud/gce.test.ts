/**
 * The GCE source against a fake metadata server on 127.0.0.1 — a stand-in
 * for Google's, which cannot exist here (testdata/README.md) — serving
 * answers shaped as Google documents them (testdata/gce-responses.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import type { DeviceIdentity } from '../model.ts';
import { cloudAttributes } from './attributes.ts';
import { gceSource, parseGce } from './gce.ts';
import { FakeImds, routes } from './testdata/fake-imds.ts';
import { GCE_ANSWERS, GCE_FLAVOR, GCE_PHYSICAL_HOST } from './testdata/gce-responses.ts';

const servers: FakeImds[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });
async function serve(table: Parameters<typeof routes>[0], headers: Record<string, string> = GCE_FLAVOR): Promise<FakeImds> {
  const s = await FakeImds.start(routes(table, headers));
  servers.push(s);
  return s;
}
const signal = (): AbortSignal => new AbortController().signal;
const rdma0: DeviceIdentity = { name: 'pci-0000-08-00-0' as DeviceIdentity['name'], kind: 'pci', ifName: 'gpu0rdma0', mac: '42:01:c0:a8:01:02', pciAddress: '0000:08:00.0' };

describe('GCE metadata source', () => {
  it('reads machine type, NICs and physical host, sending Metadata-Flavor: Google on every request', async () => {
    const s = await serve(GCE_ANSWERS);
    const facts = await gceSource({ endpoint: s.endpoint }).fetch(signal());
    expect(s.requests.map((r) => r.url).sort()).toEqual(Object.keys(GCE_ANSWERS).sort());
    for (const r of s.requests) expect(r.headers['metadata-flavor']).toBe('Google');
    expect(facts.node).toEqual({ instanceType: 'a3-ultragpu-8g', block: 'c4a3f1d2e5b6a7c8', subBlock: '9b8a7c6d5e4f', host: '0a1b2c3d4e5f6a7b' });
    expect(facts.nics).toHaveLength(10);
    expect(facts.nics[2]).toEqual({
      mac: '42:01:c0:a8:01:02', index: 2, networkName: 'a3u-rdma', networkProjectNumber: 628944397724,
      subnet: '192.168.1.0/24', ipv4: ['192.168.1.2/24'], gateway: '192.168.1.1', mtu: 8896,
    });
    expect(facts.nics[0]).toMatchObject({ subnet: '10.128.0.0/20', ipAliases: ['10.24.3.0/24'], mtu: 1460 });
  });

  it('maps to netclaim names and to the peer\'s (gce.dra.net/…, dra.net/cloudNetwork)', async () => {
    const s = await serve(GCE_ANSWERS);
    const facts = await gceSource({ endpoint: s.endpoint }).fetch(signal());
    expect(cloudAttributes(facts, rdma0, 'netclaim')).toEqual({
      'netclaim.dev/block': { string: 'c4a3f1d2e5b6a7c8' }, 'netclaim.dev/subBlock': { string: '9b8a7c6d5e4f' },
      'netclaim.dev/host': { string: '0a1b2c3d4e5f6a7b' }, 'netclaim.dev/subnet': { string: '192.168.1.0/24' },
      'netclaim.dev/networkName': { string: 'a3u-rdma' }, 'netclaim.dev/nicIndex': { int: 2 },
      'netclaim.dev/instanceType': { string: 'a3-ultragpu-8g' },
    });
    expect(cloudAttributes(facts, rdma0, 'dranet')).toEqual({
      'gce.dra.net/block': { string: 'c4a3f1d2e5b6a7c8' }, 'gce.dra.net/subBlock': { string: '9b8a7c6d5e4f' },
      'gce.dra.net/host': { string: '0a1b2c3d4e5f6a7b' }, 'dra.net/cloudNetwork': { string: 'a3u-rdma' },
      'gce.dra.net/networkName': { string: 'a3u-rdma' }, 'gce.dra.net/networkProjectNumber': { int: 628944397724 },
      'gce.dra.net/machineType': { string: 'a3-ultragpu-8g' },
    });
  });

  it('a VM without a known physical topology (404 for physical_host) gets no block, sub-block or host', async () => {
    const { ['/computeMetadata/v1/instance/attributes/physical_host']: _gone, ...rest } = GCE_ANSWERS;
    const s = await serve(rest);
    const facts = await gceSource({ endpoint: s.endpoint }).fetch(signal());
    expect(facts.node).toEqual({ instanceType: 'a3-ultragpu-8g' });
  });

  it('takes physical_host only in its documented /BLOCK/SUBBLOCK/HOST form', () => {
    expect(parseGce('projects/1/machineTypes/n2', [], GCE_PHYSICAL_HOST).node.block).toBe('c4a3f1d2e5b6a7c8');
    for (const odd of ['/a/b', '/a/b/c/d', '//b/c', '']) expect(parseGce('projects/1/machineTypes/n2', [], odd).node).toEqual({ instanceType: 'n2' });
  });

  it('refuses a server that does not answer with Metadata-Flavor: Google (not GCE\'s)', async () => {
    const s = await serve(GCE_ANSWERS, {});
    await expect(gceSource({ endpoint: s.endpoint }).fetch(signal())).rejects.toThrow(/not a GCE metadata server/);
  });

  it('fails on malformed JSON, as a ProtocolError', async () => {
    const s = await serve({ ...GCE_ANSWERS, '/computeMetadata/v1/instance/network-interfaces/?recursive=true&alt=json': '[{"mac": ' });
    const err = await gceSource({ endpoint: s.endpoint }).fetch(signal()).catch((e: unknown) => e);
    expect(isDriverError(err) && err.code).toBe('PROTOCOL_MALFORMED');
  });

  it('fails on a 404 for a key every VM has (this is not the server it looks like)', async () => {
    const s = await serve({ '/computeMetadata/v1/instance/machine-type': { status: 404, body: 'Not Found' } });
    const err = await gceSource({ endpoint: s.endpoint }).fetch(signal()).catch((e: unknown) => e);
    expect(isDriverError(err) && err.code).toBe('NOT_FOUND');
  });

  it('gives up on a server that does not answer, after its timeout', async () => {
    const s = await serve({ '/computeMetadata/v1/instance/machine-type': { hang: true } });
    await expect(gceSource({ endpoint: s.endpoint, timeoutMs: 100 }).fetch(signal())).rejects.toThrow(/no answer within 100 ms/);
  });

  it('skips NICs without a usable MAC and values it cannot parse', () => {
    const facts = parseGce('projects/1/machineTypes/n2', [{ mac: 'zz' }, null, { mac: '42:01:0a:00:00:09', network: 'global/networks/x', subnetmask: '255.0.255.0', ip: '10.0.0.9' }], undefined);
    expect(facts.nics).toEqual([{ mac: '42:01:0a:00:00:09', index: 2 }]);
  });
});
