/**
 * The Azure source against a fake Instance Metadata Service on 127.0.0.1 —
 * a stand-in for Azure's, which cannot exist here (testdata/README.md) —
 * that answers as Microsoft documents (testdata/azure-responses.ts),
 * including its 400s for a missing `Metadata: true` header or an unknown
 * api-version.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import type { DeviceIdentity } from '../model.ts';
import { cloudAttributes } from './attributes.ts';
import { AZURE_API_VERSIONS, azureSource } from './azure.ts';
import { suggestedConfig } from './suggested-config.ts';
import { AZURE_BAD_VERSION, AZURE_INSTANCE, AZURE_INSTANCE_2021, AZURE_MACS } from './testdata/azure-responses.ts';
import { type FakeHandler, FakeImds } from './testdata/fake-imds.ts';

const servers: FakeImds[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

/** IMDS as documented: `Metadata: true` required; the api-versions this host knows. */
function imds(known: Record<string, unknown>): FakeHandler {
  return (req) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname !== '/metadata/instance') return undefined;
    if (req.headers['metadata'] !== 'true') return { status: 400, body: JSON.stringify({ error: 'Bad request. Required metadata header not specified' }) };
    const doc = known[url.searchParams.get('api-version') ?? ''];
    if (doc === undefined) return { status: 400, body: AZURE_BAD_VERSION };
    return { body: JSON.stringify(doc), headers: { 'content-type': 'application/json; charset=utf-8' } };
  };
}
async function serve(h: FakeHandler): Promise<FakeImds> {
  const s = await FakeImds.start(h);
  servers.push(s);
  return s;
}
const signal = (): AbortSignal => new AbortController().signal;
// A Hyper-V NIC and its accelerated VF share one MAC; netclaim publishes the pair as one synthetic device.
const eth1: DeviceIdentity = { name: 'vmbus-9b3e7c2d-1a5f-4e8b-b7c6-2d3e4f5a6b7c' as DeviceIdentity['name'], kind: 'synthetic', ifName: 'eth1', mac: AZURE_MACS.nic1 };

describe('Azure metadata source', () => {
  it('reads compute and network in one request with Metadata: true and the newest api-version', async () => {
    const s = await serve(imds({ [AZURE_API_VERSIONS[0]]: AZURE_INSTANCE }));
    const facts = await azureSource({ endpoint: s.endpoint }).fetch(signal());
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]!.url).toBe('/metadata/instance?api-version=2025-11-11');
    expect(facts.node).toEqual({
      instanceType: 'Standard_ND96isr_H100_v5', placementGroup: 'f67c14ab-e92c-408c-ae2d-da15866ec79a',
      interconnectGroup: 'ig-7a1c2e', interconnectSubgroup: 'isg-03',
    });
    expect(facts.nics).toEqual([
      { mac: AZURE_MACS.nic0, index: 0, subnet: '10.144.133.128/26', ipv4: ['10.144.133.132/26'], gateway: '10.144.133.129' },
      { mac: AZURE_MACS.nic1, index: 1, subnet: '10.144.134.0/24', ipv4: ['10.144.134.10/24'], gateway: '10.144.134.1' },
    ]);
  });

  it('falls back to the documented 2021-02-01 once when the host does not know the newer api-version', async () => {
    const s = await serve(imds({ '2021-02-01': AZURE_INSTANCE_2021 }));
    const src = azureSource({ endpoint: s.endpoint });
    const facts = await src.fetch(signal());
    expect(facts.node).toEqual({ instanceType: 'Standard_ND96isr_H100_v5', placementGroup: 'f67c14ab-e92c-408c-ae2d-da15866ec79a' });
    expect(s.requests.map((r) => r.url)).toEqual(['/metadata/instance?api-version=2025-11-11', '/metadata/instance?api-version=2021-02-01']);
    await src.fetch(signal()); // remembered: straight to the version that worked
    expect(s.requests.at(-1)!.url).toBe('/metadata/instance?api-version=2021-02-01');
    expect(s.requests).toHaveLength(3);
  });

  it('fails on a 400 no api-version fixes, without looping', async () => {
    const s = await serve(imds({}));
    await expect(azureSource({ endpoint: s.endpoint }).fetch(signal())).rejects.toThrow(/HTTP 400/);
    expect(s.requests).toHaveLength(AZURE_API_VERSIONS.length);
  });

  it('fails on 429 (the documented rate limit) and on malformed JSON', async () => {
    let s = await serve(() => ({ status: 429, body: 'Too many requests' }));
    await expect(azureSource({ endpoint: s.endpoint }).fetch(signal())).rejects.toThrow(/HTTP 429/);
    s = await serve(() => ({ body: '{"compute": ' }));
    const err = await azureSource({ endpoint: s.endpoint }).fetch(signal()).catch((e: unknown) => e);
    expect(isDriverError(err) && err.code).toBe('PROTOCOL_MALFORMED');
  });

  it('maps to netclaim names and the peer\'s azure.dra.net/… on the synthetic NIC its MAC names', async () => {
    const s = await serve(imds({ [AZURE_API_VERSIONS[0]]: AZURE_INSTANCE }));
    const facts = await azureSource({ endpoint: s.endpoint }).fetch(signal());
    expect(cloudAttributes(facts, eth1, 'netclaim')).toEqual({
      'netclaim.dev/interconnectGroup': { string: 'ig-7a1c2e' }, 'netclaim.dev/interconnectSubgroup': { string: 'isg-03' },
      'netclaim.dev/placementGroup': { string: 'f67c14ab-e92c-408c-ae2d-da15866ec79a' },
      'netclaim.dev/subnet': { string: '10.144.134.0/24' }, 'netclaim.dev/nicIndex': { int: 1 },
      'netclaim.dev/instanceType': { string: 'Standard_ND96isr_H100_v5' },
    });
    expect(cloudAttributes(facts, eth1, 'dranet')).toEqual({
      'azure.dra.net/placementGroupId': { string: 'f67c14ab-e92c-408c-ae2d-da15866ec79a' },
      'azure.dra.net/interconnectGroupId': { string: 'ig-7a1c2e' }, 'azure.dra.net/interconnectSubgroupId': { string: 'isg-03' },
      'azure.dra.net/subnet': { string: '10.144.134.0/24' }, 'azure.dra.net/vmSize': { string: 'Standard_ND96isr_H100_v5' },
    });
  });

  it('suggests policy routing through the subnet\'s first address, as the peer\'s Azure provider does', async () => {
    const s = await serve(imds({ [AZURE_API_VERSIONS[0]]: AZURE_INSTANCE }));
    const facts = await azureSource({ endpoint: s.endpoint }).fetch(signal());
    expect(suggestedConfig(facts, eth1)).toEqual({
      cloud: 'azure', interface: { addresses: ['10.144.134.10/24'] },
      routes: [{ destination: '0.0.0.0/0', gateway: '10.144.134.1', table: 101 }],
      rules: [{ source: '10.144.134.10/32', table: 101 }],
    });
  });
});
