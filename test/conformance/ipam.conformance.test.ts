/**
 * Address pools against the real kube-apiserver: the IPPool and IPAllocation
 * CRDs of the chart, the KubeIpam surface, and the allocator.
 *
 * - 20 simulated nodes (each its own Node object, client and connection)
 *   allocate concurrently from one small pool: no address is ever handed out
 *   twice (the API server refuses the second create of a name), every
 *   address of the pool is handed out, and every allocation past the pool's
 *   size fails cleanly with PREPARE_POOL_EXHAUSTED naming the pool and size.
 * - A released address can be allocated again; a stale release (uid
 *   precondition) never deletes a later allocation of the same address.
 * - The finding recorded in docs/ipam.md: networking.k8s.io/v1 IPAddress
 *   objects accept a foreign parentRef (a ResourceClaim) and a foreign
 *   managed-by label, and refuse a second create of the same address; one inside the
 *   Service CIDR keeps a new Service from taking that ClusterIP.
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { isDriverError } from '../../src/common/errors.ts';
import { allocateClaimAddresses } from '../../src/driver/ipam/claim-addresses.ts';
import { KubeIpam } from '../../src/surfaces/kube/ipam-client.ts';
import { ensureIpamCrds } from './ipam-fixtures.ts';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, suffix } from './slice-fixtures.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const id = suffix();
const POOL = `conf-${id}`;
const ALLOC = '/apis/netclaim.dev/v1alpha1/ipallocations';
const NODES = 20;
const nodes = Array.from({ length: NODES }, (_, i) => `ipam-${id}-n${i}`);
const claimOf = (node: number, k: number): { uid: string; namespace: string; name: string } =>
  ({ uid: `${id}0000-0000-4000-8000-${String(node * 10 + k).padStart(12, '0')}`, namespace: 'team-a', name: `c-${node}-${k}` });

beforeAll(async () => {
  await ensureIpamCrds(kube);
  for (const n of nodes) await ensureNode(kube, n);
  // 10.77.0.0/27: 30 host addresses, less the gateway and 10.77.0.16-10.77.0.30 excluded: 14 to hand out.
  const r = await kube.post('/apis/netclaim.dev/v1alpha1/ippools', {
    apiVersion: 'netclaim.dev/v1alpha1', kind: 'IPPool', metadata: { name: POOL },
    spec: { subnet: '10.77.0.0/27', gateway: '10.77.0.1', exclude: ['10.77.0.16-10.77.0.30'], routes: [{ destination: '10.0.0.0/8' }] },
  });
  expect(r.status, r.text).toBe(201);
}, 60_000);

afterAll(async () => {
  await kube.delete(`${ALLOC}?labelSelector=${encodeURIComponent(`netclaim.dev/pool=${POOL}`)}`);
  await kube.delete(`/apis/netclaim.dev/v1alpha1/ippools/${POOL}`);
  for (const n of nodes) await kube.delete(`/api/v1/nodes/${n}`);
});

interface RawAllocation { metadata: { name: string; uid: string; ownerReferences?: { kind: string; name: string }[] }; spec: { address: string; claim: { uid: string } } }

describe('address pools against kube-apiserver', () => {
  it('refuses an IPPool the schema does not allow (no subnet)', async () => {
    const bad = await kube.post('/apis/netclaim.dev/v1alpha1/ippools', { apiVersion: 'netclaim.dev/v1alpha1', kind: 'IPPool', metadata: { name: `bad-${id}` }, spec: { gateway: '10.0.0.1' } });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('spec.subnet');
  });

  it('20 nodes allocating concurrently never get one address twice; past the pool size, a clean exhaustion', async () => {
    const ports = nodes.map((n) => new KubeIpam({ kubeConfig: kubeConfigFor(cp, cp.token), nodeName: n }));
    const attempts = nodes.flatMap((n, i) => [0, 1].map((k) => allocateClaimAddresses(
      [{ request: 'nic', device: 'd0', pools: [POOL], statics: [] }], { port: ports[i]!, node: n, claim: claimOf(i, k) })));
    const results = await Promise.allSettled(attempts);
    const got = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    const addresses = got.map((a) => a.address);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(addresses.length).toBe(14);
    for (const a of addresses) {
      const last = Number(a.split('.')[3]);
      expect(last >= 2 && last <= 15, a).toBe(true);
    }
    expect(failed).toHaveLength(NODES * 2 - 14);
    for (const e of failed) {
      expect(isDriverError(e) && e.code, String(e)).toBe('PREPARE_POOL_EXHAUSTED');
      expect((e as Error).message).toContain(`IPPool ${POOL} (10.77.0.0/27) is exhausted: all 14 addresses are allocated`);
    }
    // The API server holds exactly these, each owned by its node.
    const list = await kube.get<{ items: RawAllocation[] }>(`${ALLOC}?labelSelector=${encodeURIComponent(`netclaim.dev/pool=${POOL}`)}`);
    expect(list.body.items.map((o) => o.spec.address).sort()).toEqual([...addresses].sort());
    for (const o of list.body.items) expect(o.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node' });
    // An allocation is immutable (CEL rule of the CRD): moving it to another address is refused.
    const moved = await kube.patch(`${ALLOC}/${list.body.items[0]!.metadata.name}`, { spec: { address: '10.77.0.99' } });
    expect(moved.status).toBe(422);
    expect(moved.text).toContain('immutable');

    // Release one: it can be allocated again; a stale release of it (old uid) then deletes nothing.
    const freed = got[0]!;
    await ports[0]!.release(freed.name, freed.uid);
    const again = await allocateClaimAddresses([{ request: 'nic', device: 'd0', pools: [POOL], statics: [] }], { port: ports[1]!, node: nodes[1]!, claim: claimOf(1, 9) });
    expect(again[0]!.address).toBe(freed.address);
    await ports[0]!.release(freed.name, freed.uid);
    expect((await kube.get(`${ALLOC}/${freed.name}`)).status).toBe(200);
  }, 120_000);

  it('finding: networking.k8s.io/v1 IPAddress takes a foreign parentRef and managed-by label, and is unique by address', async () => {
    const name = '10.99.0.5';
    const body = {
      apiVersion: 'networking.k8s.io/v1', kind: 'IPAddress',
      metadata: { name, labels: { 'ipaddress.kubernetes.io/managed-by': 'netclaim.dev' } },
      spec: { parentRef: { group: 'resource.k8s.io', resource: 'resourceclaims', namespace: 'team-a', name: 'c-0' } },
    };
    const first = await kube.post('/apis/networking.k8s.io/v1/ipaddresses', body);
    try {
      expect(first.status, first.text).toBe(201);
      const second = await kube.post('/apis/networking.k8s.io/v1/ipaddresses', body);
      expect(second.status).toBe(409);
      // The name must be the address in canonical form: no pool in it, so overlapping rails could not share one.
      const nonCanonical = await kube.post('/apis/networking.k8s.io/v1/ipaddresses', { ...body, metadata: { ...body.metadata, name: '10.99.000.6' } });
      expect(nonCanonical.status).toBe(422);
      const withPool = await kube.post('/apis/networking.k8s.io/v1/ipaddresses', { ...body, metadata: { ...body.metadata, name: `rail0.10-99-0-7` } });
      expect(withPool.status).toBe(422);
    } finally {
      await kube.delete(`/apis/networking.k8s.io/v1/ipaddresses/${name}`);
    }
  });

  it('finding: a foreign IPAddress inside the Service CIDR keeps a Service from taking that ClusterIP', async () => {
    const ns = `ipam-svc-${id}`;
    const addr = '10.96.200.5'; // in the control plane's --service-cluster-ip-range 10.96.0.0/16
    await kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const ipa = await kube.post('/apis/networking.k8s.io/v1/ipaddresses', {
      apiVersion: 'networking.k8s.io/v1', kind: 'IPAddress',
      metadata: { name: addr, labels: { 'ipaddress.kubernetes.io/managed-by': 'netclaim.dev' } },
      spec: { parentRef: { group: 'resource.k8s.io', resource: 'resourceclaims', namespace: ns, name: 'c-0' } },
    });
    try {
      expect(ipa.status, ipa.text).toBe(201);
      const svc = await kube.post(`/api/v1/namespaces/${ns}/services`, {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: ns }, spec: { clusterIP: addr, ports: [{ port: 80 }] },
      });
      console.log(`ipam finding: Service with clusterIP ${addr} over a foreign IPAddress: ${svc.status} ${svc.text.slice(0, 300)}`);
      expect(svc.status).toBe(422);
      expect(svc.text).toContain('already allocated');
      const still = await kube.get<{ spec: { parentRef: { resource: string } } }>(`/apis/networking.k8s.io/v1/ipaddresses/${addr}`);
      expect(still.body.spec.parentRef.resource).toBe('resourceclaims');
    } finally {
      await kube.delete(`/apis/networking.k8s.io/v1/ipaddresses/${addr}`);
      await kube.delete(`/api/v1/namespaces/${ns}/services/s`);
      await kube.delete(`/api/v1/namespaces/${ns}`);
    }
  });

  it('the daemon\'s pool cache: after its first LIST, pools are read without a request, and a pool created, changed or deleted reaches it by the watch', async () => {
    const requests: string[] = [];
    const errors: unknown[] = [];
    const ipam = new KubeIpam({ kubeConfig: kubeConfigFor(cp, cp.token), nodeName: nodes[0]!, watchPools: true, onRequest: (v) => requests.push(v), onError: (e) => errors.push(e) });
    const extra = `cache-${id}`;
    try {
      await ipam.start();
      expect(requests).toEqual(['list', 'watch']);
      expect((await ipam.pools()).map((p) => p.name)).toContain(POOL);
      expect((await ipam.pool(POOL)).name).toBe(POOL);
      expect(requests).toEqual(['list', 'watch']);

      const r = await kube.post('/apis/netclaim.dev/v1alpha1/ippools', {
        apiVersion: 'netclaim.dev/v1alpha1', kind: 'IPPool', metadata: { name: extra }, spec: { subnet: '10.78.0.0/28' },
      });
      expect(r.status, r.text).toBe(201);
      await vi.waitFor(async () => expect((await ipam.pools()).map((p) => p.name)).toContain(extra), { timeout: 30_000, interval: 50 });
      expect((await ipam.pools()).find((p) => p.name === extra)?.allocatable(2n)).toBe(true);
      const changed = await kube.patch(`/apis/netclaim.dev/v1alpha1/ippools/${extra}`, { spec: { exclude: ['10.78.0.2-10.78.0.3'] } });
      expect(changed.status, changed.text).toBe(200);
      await vi.waitFor(async () => expect((await ipam.pools()).find((p) => p.name === extra)?.allocatable(2n)).toBe(false), { timeout: 30_000, interval: 50 });
      expect(requests.filter((v) => v !== 'watch')).toEqual(['list']); // no LIST or GET per read
      await kube.delete(`/apis/netclaim.dev/v1alpha1/ippools/${extra}`);
      await vi.waitFor(async () => expect((await ipam.pools()).map((p) => p.name)).not.toContain(extra), { timeout: 30_000, interval: 50 });
      // Not cached (never existed): the API server answers, and says so.
      await expect(ipam.pool(`missing-${id}`)).rejects.toThrow(/does not exist/);
      expect(requests.filter((v) => v === 'get')).toHaveLength(1);
      expect(errors).toEqual([]);
    } finally {
      ipam.close();
      await kube.delete(`/apis/netclaim.dev/v1alpha1/ippools/${extra}`);
    }
  }, 120_000);
});
