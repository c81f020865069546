import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApi } from './kube-api.ts';
import { isDriverError, NotFoundError, ProtocolError } from '../../common/errors.ts';
import { claimFromApi, KubeClaimSource } from './claim-source.ts';

/** A claim as kube-apiserver v1.37.2 returned it (allocated and reserved through the status subresource). */
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/claim/allocated-claim.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const clone = (): Record<string, unknown> => structuredClone(fixture);

const expected = {
  namespace: 'team-a', name: 'job-7-nic', uid: '1d304a8b-3789-43f9-a57a-fd5a16670e45',
  reservedFor: [{ resource: 'pods', name: 'job-7-worker-0', uid: '2b9e1c4a-5d6f-4a8b-9c0d-e1f2a3b4c5d6' }],
  deviceClasses: { nic: 'netclaim-nic', rdma: 'netclaim-nic' },
  allocation: {
    results: [
      { request: 'nic', driver: 'netclaim.dev', pool: 'node-1', device: 'pci-0000-3b-00-0' },
      { request: 'rdma', driver: 'netclaim.dev', pool: 'node-1', device: 'mlx5-0', adminAccess: true, shareId: '7f3c2a1e-0b4d-4c5e-9f6a-1b2c3d4e5f60' },
    ],
    config: [
      { source: 'FromClass', requests: ['nic', 'rdma'], opaque: { driver: 'netclaim.dev', parameters: { interface: { mtu: 1500 }, rdma: { mode: 'exclusive' } } } },
      {
        source: 'FromClaim', requests: ['nic'],
        opaque: { driver: 'netclaim.dev', parameters: { interface: { name: 'net1', mtu: 9000, addresses: ['10.1.2.3/24'] }, routes: [{ destination: '0.0.0.0/0', gateway: '10.1.2.1' }] } },
      },
    ],
  },
};

describe('claimFromApi', () => {
  it('converts a real allocated claim (golden)', () => {
    expect(claimFromApi(fixture)).toEqual(expected);
  });

  it('leaves out allocation when there is none, and absent optional fields stay absent', () => {
    const c = clone();
    delete c['status'];
    expect(claimFromApi(c)).toEqual({ namespace: 'team-a', name: 'job-7-nic', uid: expected.uid, reservedFor: [], deviceClasses: expected.deviceClasses });
    const d = clone();
    (d['status'] as Record<string, unknown>)['allocation'] = { devices: { results: [{ request: 'a', driver: 'd', pool: 'p', device: 'x', shareID: null }], config: [{ source: 'FromClaim' }] } };
    const got = claimFromApi(d);
    expect(got.allocation).toEqual({ results: [{ request: 'a', driver: 'd', pool: 'p', device: 'x' }], config: [{ source: 'FromClaim' }] });
    expect(got.allocation!.results[0]).not.toHaveProperty('shareId');
    const e = clone();
    (e['status'] as Record<string, unknown>)['allocation'] = {};
    expect(claimFromApi(e).allocation).toEqual({ results: [], config: [] });
  });

  it('maps each request (and each firstAvailable subrequest as main/sub) to its DeviceClass, leaving out what is odd', () => {
    const c = clone();
    c['spec'] = { devices: { requests: [
      { name: 'nic', exactly: { deviceClassName: 'fast-nic' } },
      { name: 'any', firstAvailable: [{ name: 'big', deviceClassName: 'big-nic' }, { name: 'small', deviceClassName: 'small-nic' }, { name: 1 }] },
      { name: 'broken', exactly: 'x' }, 'junk',
    ] } };
    expect(claimFromApi(c).deviceClasses).toEqual({ 'nic': 'fast-nic', 'any/big': 'big-nic', 'any/small': 'small-nic' });
    c['spec'] = 'junk';
    expect(claimFromApi(c)).not.toHaveProperty('deviceClasses');
  });

  it('names the offending field in a ProtocolError', () => {
    const c = clone();
    delete (c['metadata'] as Record<string, unknown>)['uid'];
    expect(() => claimFromApi(c)).toThrow(ProtocolError);
    expect(() => claimFromApi(c)).toThrow('ResourceClaim metadata.uid: missing');
    const d = clone();
    ((d['status'] as { allocation: { devices: { results: Array<Record<string, unknown>> } } }).allocation.devices.results[1]!)['adminAccess'] = 'yes';
    expect(() => claimFromApi(d)).toThrow('status.allocation.devices.results[1].adminAccess: expected a boolean');
    expect(() => claimFromApi(null)).toThrow('ResourceClaim object: expected an object');
    expect(() => claimFromApi({ ...clone(), status: { reservedFor: {} } })).toThrow('status.reservedFor: expected a list');
  });

  it('is total: mutated claims give a claim or a ProtocolError, never another exception', () => {
    const paths: string[][] = [];
    const walk = (v: unknown, p: string[]): void => {
      paths.push(p);
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    };
    walk(fixture, []);
    const mutation = fc.tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.anything()));
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      const c = clone();
      for (const [path, value] of ms) {
        let o: unknown = c;
        for (const k of path.slice(0, -1)) o = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
        if (o && typeof o === 'object') (o as Record<string, unknown>)[path.at(-1)!] = value;
      }
      try {
        claimFromApi(c);
      } catch (err) {
        expect(isDriverError(err) && err.code === 'PROTOCOL_UNEXPECTED', String(err)).toBe(true);
      }
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.anything(), (v) => {
      try {
        claimFromApi(v);
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
      }
    }));
  });
});

describe('KubeClaimSource over HTTP (client-node model path)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  /** A stand-in API server on a loopback port; `respond` returns [status, body] or undefined to never answer. */
  async function fakeApi(respond: (path: string) => [number, unknown] | undefined): Promise<{ kubeConfig: KubeApi; paths: string[] }> {
    const paths: string[] = [];
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      const r = respond(req.url ?? '');
      if (r) res.writeHead(r[0], { 'content-type': 'application/json' }).end(JSON.stringify(r[1]));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const kubeConfig = new KubeApi({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, source: 'test', token: { data: Buffer.from('t') } });
    return { kubeConfig, paths };
  }

  const status = (code: number, reason: string, message: string): unknown => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });

  it('reads the claim and converts it like the raw JSON', async () => {
    const { kubeConfig, paths } = await fakeApi(() => [200, fixture]);
    expect(await new KubeClaimSource({ kubeConfig }).get('team-a', 'job-7-nic')).toEqual(expected);
    expect(paths).toEqual(['/apis/resource.k8s.io/v1/namespaces/team-a/resourceclaims/job-7-nic']);
  });

  it('404 → NotFoundError; other statuses → KUBE_REQUEST_FAILED with status and reason', async () => {
    const { kubeConfig } = await fakeApi((p) => p.includes('/missing') ? [404, status(404, 'NotFound', 'resourceclaims "missing" not found')] : [500, status(500, 'InternalError', 'etcd is sad')]);
    const src = new KubeClaimSource({ kubeConfig });
    await expect(src.get('ns', 'missing')).rejects.toBeInstanceOf(NotFoundError);
    await expect(src.get('ns', 'other')).rejects.toMatchObject({
      code: 'KUBE_REQUEST_FAILED', message: 'get resourceclaim ns/other: 500 InternalError etcd is sad', context: { status: 500, reason: 'InternalError', namespace: 'ns', name: 'other' },
    });
  });

  it('a hung API server fails the read after the timeout', async () => {
    const { kubeConfig } = await fakeApi(() => undefined);
    const t0 = Date.now();
    const err = await new KubeClaimSource({ kubeConfig, timeoutMs: 150 }).get('ns', 'c').catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err).toMatchObject({ code: 'KUBE_REQUEST_FAILED', message: 'get resourceclaim ns/c: timed out after 150 ms', context: { status: 0 } });
  });

  it('a malformed object is a ProtocolError', async () => {
    const { kubeConfig } = await fakeApi(() => [200, { kind: 'ResourceClaim', metadata: { name: 'c', namespace: 'ns' } }]);
    await expect(new KubeClaimSource({ kubeConfig }).get('ns', 'c')).rejects.toThrow('ResourceClaim metadata.uid: missing');
  });
});
