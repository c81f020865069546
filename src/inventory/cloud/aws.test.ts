/**
 * The EC2 source against a fake instance metadata server on 127.0.0.1 — a
 * stand-in for EC2's, which cannot exist here (testdata/README.md) — that
 * keeps IMDSv2's session rules and serves the documented paths
 * (testdata/aws-responses.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../model.ts';
import { cloudAttributes } from './attributes.ts';
import { awsSource } from './aws.ts';
import { suggestedConfig } from './suggested-config.ts';
import { AWS_MACS, awsHandler, awsState, type AwsImdsState } from './testdata/aws-responses.ts';
import { FakeImds } from './testdata/fake-imds.ts';

const servers: FakeImds[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });
async function serve(state: AwsImdsState): Promise<FakeImds> {
  const s = await FakeImds.start(awsHandler(state));
  servers.push(s);
  return s;
}
const signal = (): AbortSignal => new AbortController().signal;
const dev = (name: string, kind: DeviceIdentity['kind'], mac?: string): DeviceIdentity =>
  ({ name: name as DeviceIdentity['name'], kind, ...(mac ? { mac } : {}) });

describe('EC2 metadata source', () => {
  it('opens an IMDSv2 session (PUT with a TTL) and sends its token on every GET', async () => {
    const state = awsState();
    const s = await serve(state);
    const facts = await awsSource({ endpoint: s.endpoint }).fetch(signal());
    expect(s.requests[0]).toMatchObject({ method: 'PUT', url: '/latest/api/token' });
    expect(s.requests[0]!.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('21600');
    const gets = s.requests.filter((r) => r.method === 'GET');
    expect(gets.length).toBe(4 + 3 * 5);
    for (const g of gets) expect(g.headers['x-aws-ec2-metadata-token']).toBe('AQAEAFcVb20001Zx==');
    expect(facts.node).toEqual({ instanceType: 'p5.48xlarge', placementGroup: 'train-cluster-pg' });
    expect(facts.nics.find((n) => n.mac === AWS_MACS.secondary)).toEqual({
      mac: AWS_MACS.secondary, index: 1, networkName: 'vpc-0e1f2a3b4c5d6e7f8', networkCard: 1, subnet: '10.0.16.0/20',
      ipv4: ['10.0.17.9/20', '10.0.17.10/20'], gateway: '10.0.16.1',
    });
  });

  it('keeps the token between reads and renews it a minute before it expires', async () => {
    const state = awsState();
    const s = await serve(state);
    let now = 1_000_000;
    const src = awsSource({ endpoint: s.endpoint, tokenTtlSeconds: 300, now: () => now });
    await src.fetch(signal());
    await src.fetch(signal());
    expect(s.count('/latest/api/token', 'PUT')).toBe(1);
    now += 241_000; // 300 s − 60 s margin has passed
    await src.fetch(signal());
    expect(s.count('/latest/api/token', 'PUT')).toBe(2);
    expect(s.requests.at(-1)!.headers['x-aws-ec2-metadata-token']).toBe('AQAEAFcVb20002Zx==');
  });

  it('on a 401 (token revoked or expired early) takes a new token once and repeats the request', async () => {
    const state = awsState();
    const s = await serve(state);
    const src = awsSource({ endpoint: s.endpoint });
    await src.fetch(signal());
    state.tokens.clear(); // the service forgot it
    const facts = await src.fetch(signal());
    expect(facts.node.instanceType).toBe('p5.48xlarge');
    expect(s.count('/latest/api/token', 'PUT')).toBeLessThanOrEqual(3); // one renewal, shared by the parallel requests
  });

  it('fails, without a storm, when every token is refused', async () => {
    const state = awsState();
    const s = await serve(state);
    s.handler = (req) => (req.method === 'PUT' ? awsHandler(state)(req) : { status: 401 });
    await expect(awsSource({ endpoint: s.endpoint }).fetch(signal())).rejects.toThrow(/HTTP 401/);
    // One PUT to open the session and at most one renewal per request in flight (4): never a loop.
    expect(s.count('/latest/api/token', 'PUT')).toBeLessThanOrEqual(5);
  });

  it('stops at a 403 to the PUT (the metadata service is turned off) and sends no GET', async () => {
    const s = await serve(awsState({ putStatus: 403 }));
    await expect(awsSource({ endpoint: s.endpoint }).fetch(signal())).rejects.toThrow(/turned off/);
    expect(s.requests.filter((r) => r.method === 'GET')).toEqual([]);
  });

  it('falls back to IMDSv1 where the PUT is not known (405) and IMDSv1 is allowed', async () => {
    const s = await serve(awsState({ putStatus: 405, v1Allowed: true }));
    const facts = await awsSource({ endpoint: s.endpoint }).fetch(signal());
    expect(facts.node.instanceType).toBe('p5.48xlarge');
    for (const g of s.requests.filter((r) => r.method === 'GET')) expect(g.headers['x-aws-ec2-metadata-token']).toBeUndefined();
  });

  it('reads the optional keys as absent on a 404 (no placement group, no network card)', async () => {
    const s = await serve(awsState({ meta: { 'placement/group-name': undefined, [`network/interfaces/macs/${AWS_MACS.primary}/network-card`]: undefined } }));
    const facts = await awsSource({ endpoint: s.endpoint }).fetch(signal());
    expect(facts.node).toEqual({ instanceType: 'p5.48xlarge' });
    expect(facts.nics.find((n) => n.mac === AWS_MACS.primary)!.networkCard).toBeUndefined();
  });

  it('reads a partition placement group\'s partition', async () => {
    const s = await serve(awsState({ meta: { 'placement/partition-number': '3' } }));
    expect((await awsSource({ endpoint: s.endpoint }).fetch(signal())).node.partition).toBe(3);
  });

  it('times out on a session PUT that never answers (the hop limit case)', async () => {
    const s = await serve(awsState());
    s.handler = () => ({ hang: true });
    await expect(awsSource({ endpoint: s.endpoint, timeoutMs: 100 }).fetch(signal())).rejects.toThrow(/no answer within 100 ms/);
  });

  it('joins the ENA netdevs by MAC; an EFA device (no netdev, no MAC) gets the node\'s facts only', async () => {
    const s = await serve(awsState());
    const facts = await awsSource({ endpoint: s.endpoint }).fetch(signal());
    expect(cloudAttributes(facts, dev('pci-0000-a0-00-0', 'pci', AWS_MACS.secondary), 'netclaim')).toEqual({
      'netclaim.dev/placementGroup': { string: 'train-cluster-pg' }, 'netclaim.dev/subnet': { string: '10.0.16.0/20' },
      'netclaim.dev/networkName': { string: 'vpc-0e1f2a3b4c5d6e7f8' }, 'netclaim.dev/networkCard': { int: 1 },
      'netclaim.dev/nicIndex': { int: 1 }, 'netclaim.dev/instanceType': { string: 'p5.48xlarge' },
    });
    expect(cloudAttributes(facts, dev('pci-0000-a1-00-0', 'rdma'), 'netclaim')).toEqual({
      'netclaim.dev/placementGroup': { string: 'train-cluster-pg' }, 'netclaim.dev/instanceType': { string: 'p5.48xlarge' },
    });
    // The peer publishes no AWS attributes of its own kind (its Neuron device groups need AWS's table).
    expect(cloudAttributes(facts, dev('pci-0000-a0-00-0', 'pci', AWS_MACS.secondary), 'dranet')).toEqual({});
  });

  it('suggests the secondary ENI\'s addresses and policy routing through its VPC router', async () => {
    const s = await serve(awsState());
    const facts = await awsSource({ endpoint: s.endpoint }).fetch(signal());
    expect(suggestedConfig(facts, dev('pci-0000-a0-00-0', 'pci', AWS_MACS.secondary))).toEqual({
      cloud: 'aws',
      interface: { addresses: ['10.0.17.9/20', '10.0.17.10/20'] },
      routes: [{ destination: '0.0.0.0/0', gateway: '10.0.16.1', table: 101 }],
      rules: [{ source: '10.0.17.9/32', table: 101 }, { source: '10.0.17.10/32', table: 101 }],
    });
  });
});
