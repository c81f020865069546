/**
 * ClaimStatusWriter against the real kube-apiserver: the server-side apply of
 * `status.devices` is accepted (the API validates conditions, networkData
 * and that each entry matches an allocation result), written under our field
 * manager, leaves another driver's entry alone, and is idempotent.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { ClaimUid } from '../../src/common/ids.ts';
import type { DriverError } from '../../src/common/errors.ts';
import type { ClaimRecord } from '../../src/driver/record-model.ts';
import { ClaimStatusWriter } from '../../src/surfaces/kube/claim-status.ts';
import { KubePodEvictor } from '../../src/surfaces/kube/pod-evictor.ts';
import { KubeClient } from './kube-client.ts';
import { kubeConfigFor, suffix } from './slice-fixtures.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const RESOURCE = '/apis/resource.k8s.io/v1';
const DRIVER = 'netclaim.dev';
const ns = `status-${suffix()}`;
const cleanup: Array<() => Promise<unknown>> = [];

interface RawClaim {
  metadata: { name: string; uid: string; managedFields?: { manager: string; subresource?: string }[] };
  status?: { devices?: Array<Record<string, unknown>> };
}

async function must<T>(what: string, p: Promise<{ status: number; body: T; text: string }>): Promise<T> {
  const r = await p;
  if (r.status !== 200 && r.status !== 201) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
}

beforeAll(async () => {
  await must('namespace', kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }));
  cleanup.push(() => kube.delete(`/api/v1/namespaces/${ns}`));
  cleanup.push(() => kube.delete(`${RESOURCE}/namespaces/${ns}/resourceclaims`));
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('ClaimStatusWriter', () => {
  it('applies Ready/NetworkReady and networkData for our devices only, idempotently', async () => {
    const claim = await must<RawClaim>('create', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'nic', namespace: ns },
      spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'x' } }, { name: 'gpu', exactly: { deviceClassName: 'y' } }] } },
    }));
    const results = [
      { request: 'nic', driver: DRIVER, pool: 'node-1', device: 'pci-0000-3b-00-0' },
      { request: 'gpu', driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0' },
    ];
    const gpuEntry = { driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0', conditions: [{ type: 'Ready', status: 'True', reason: 'GpuReady', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    await must('allocate', kube.put(`${RESOURCE}/namespaces/${ns}/resourceclaims/nic/status`, {
      ...claim, status: { allocation: { devices: { results, config: [] } }, reservedFor: [{ resource: 'pods', name: 'p', uid: crypto.randomUUID() }], devices: [gpuEntry] },
    }));

    const errors: DriverError[] = [];
    const writer = new ClaimStatusWriter({ kubeConfig: kubeConfigFor(cp, cp.token), driverName: DRIVER, onError: (e) => errors.push(e) });
    const record = {
      version: 1, claim: { uid: claim.metadata.uid, namespace: ns, name: 'nic' }, podUid: 'p', podName: 'p', preparedAt: '',
      devices: [{ request: 'nic', pool: 'node-1', device: 'pci-0000-3b-00-0', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
    } as unknown as ClaimRecord & { claim: { uid: ClaimUid } };
    const attached = [{ device: 'pci-0000-3b-00-0', ifIndex: 7, name: 'net1', mac: '02:00:00:00:00:01', ips: ['10.1.0.5/24', '2001:db8::5/64'] }];
    writer.devicesReady(record, attached);
    writer.devicesReady(record, attached);
    await writer.flush();
    expect(errors).toEqual([]);

    const got = await must<RawClaim>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/nic`));
    const ours = got.status?.devices?.find((d) => d['driver'] === DRIVER);
    expect(ours).toMatchObject({
      pool: 'node-1', device: 'pci-0000-3b-00-0',
      conditions: [{ type: 'Ready', status: 'True', reason: 'NetworkDeviceReady' }, { type: 'NetworkReady', status: 'True', reason: 'NetworkDeviceReady' }],
      networkData: { interfaceName: 'net1', ips: ['10.1.0.5/24', '2001:db8::5/64'], hardwareAddress: '02:00:00:00:00:01' },
    });
    expect(got.status?.devices?.find((d) => d['driver'] === 'gpu.example.com')).toMatchObject({ device: 'gpu-0', conditions: [{ reason: 'GpuReady' }] });
  });

  it('states a claim\'s status again only when it changed: a write the claim already has is skipped (no new resourceVersion)', async () => {
    const claim = await must<RawClaim>('create', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'again', namespace: ns },
      spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'x' } }] } },
    }));
    await must('allocate', kube.put(`${RESOURCE}/namespaces/${ns}/resourceclaims/again/status`, {
      ...claim, status: { allocation: { devices: { results: [{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'd2' }], config: [] } } },
    }));
    const errors: DriverError[] = [];
    const written: number[] = [];
    const writer = new ClaimStatusWriter({ kubeConfig: kubeConfigFor(cp, cp.token), driverName: DRIVER, onError: (e) => errors.push(e), onWritten: (_r, ms) => written.push(ms) });
    const record = {
      version: 1, claim: { uid: claim.metadata.uid, namespace: ns, name: 'again' }, podUid: 'p', podName: 'p', preparedAt: '',
      devices: [{ request: 'nic', pool: 'node-1', device: 'd2', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
    } as unknown as ClaimRecord;
    const attached = [{ device: 'd2', ifIndex: 4, name: 'net1', mac: '02:00:00:00:00:04', ips: ['10.0.0.4/24'] }];
    writer.devicesReady(record, attached);
    await writer.flush();
    const first = await must<RawClaim & { metadata: { resourceVersion: string } }>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/again`));
    // What Synchronize does after a restart: the same status again (a later transition time), then a changed one.
    writer.devicesReady(record, attached);
    await writer.flush();
    const second = await must<RawClaim & { metadata: { resourceVersion: string } }>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/again`));
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    writer.devicesReady(record, [{ ...attached[0]!, ips: ['10.0.0.5/24'] }]);
    await writer.flush();
    const third = await must<RawClaim>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/again`));
    expect(third.status?.devices?.[0]).toMatchObject({ networkData: { ips: ['10.0.0.5/24'] } });
    expect(errors).toEqual([]);
    expect(written).toHaveLength(2);
  });

  it('an API server that does not answer: the write is retried, then reported once', async () => {
    const errors: DriverError[] = [];
    // A port nothing listens on (taken and released): every try is refused, as with an API server that is down.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const kc = kubeConfigFor({ ...cp, server: `https://127.0.0.1:${port}` }, cp.token);
    const writer = new ClaimStatusWriter({ kubeConfig: kc, driverName: DRIVER, attempts: 3, retryMs: 1, onError: (e) => errors.push(e) });
    const record = {
      version: 1, claim: { uid: crypto.randomUUID(), namespace: ns, name: 'down' }, podUid: 'p', podName: 'p', preparedAt: '',
      devices: [{ request: 'nic', pool: 'node-1', device: 'd3', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
    } as unknown as ClaimRecord;
    writer.devicesReady(record, [{ device: 'd3', ifIndex: 5, name: 'net1', mac: '02:00:00:00:00:05', ips: [] }]);
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 30_000, interval: 50 });
    await writer.close();
    expect(errors[0]).toMatchObject({ code: 'KUBE_REQUEST_FAILED', message: expect.stringContaining('resourceclaim') });
  });

  it('kube-apiserver refuses a server-side apply of status when the opaque config has a name field (why the writer updates instead)', async () => {
    const claim = await must<RawClaim>('create', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'ssa', namespace: ns },
      spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'x' } }] } },
    }));
    const results = [{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'd0' }];
    const config = [{ source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER, parameters: { interface: { name: 'net1', mtu: 1400 } } } }];
    await must('allocate', kube.put(`${RESOURCE}/namespaces/${ns}/resourceclaims/ssa/status`, { ...claim, status: { allocation: { devices: { results, config } } } }));
    const apply = { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'ssa', namespace: ns }, status: { devices: [{ driver: DRIVER, pool: 'node-1', device: 'd0', networkData: { interfaceName: 'net1' } }] } };
    const r = await kube.patch(`${RESOURCE}/namespaces/${ns}/resourceclaims/ssa/status?fieldManager=${DRIVER}&force=true`, apply, 'application/apply-patch+yaml');
    // If this starts passing, the apiserver was fixed and the writer may go back to server-side apply.
    expect({ status: r.status, text: r.text }).toMatchObject({ status: 422, text: expect.stringContaining('status.allocation') });

    const errors: DriverError[] = [];
    const writer = new ClaimStatusWriter({ kubeConfig: kubeConfigFor(cp, cp.token), driverName: DRIVER, onError: (e) => errors.push(e) });
    const record = {
      version: 1, claim: { uid: claim.metadata.uid, namespace: ns, name: 'ssa' }, podUid: 'p', podName: 'p', preparedAt: '',
      devices: [{ request: 'nic', pool: 'node-1', device: 'd0', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
    } as unknown as ClaimRecord;
    writer.devicesReady(record, [{ device: 'd0', ifIndex: 3, name: 'net1', mac: '02:00:00:00:00:03', ips: ['10.0.0.3/24'] }]);
    await writer.flush();
    expect(errors).toEqual([]);
    const got = await must<RawClaim>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/ssa`));
    expect(got.status?.devices?.[0]).toMatchObject({ networkData: { interfaceName: 'net1' } });
  });

  it('devicesNotReady writes Ready=False with the reason; the evictor evicts the pod through the Eviction API', async () => {
    const claim = await must<RawClaim>('create', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'broken', namespace: ns },
      spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'x' } }] } },
    }));
    await must('allocate', kube.put(`${RESOURCE}/namespaces/${ns}/resourceclaims/broken/status`, {
      ...claim, status: { allocation: { devices: { results: [{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'd1' }], config: [] } } },
    }));
    const errors: DriverError[] = [];
    const kc = kubeConfigFor(cp, cp.token);
    const writer = new ClaimStatusWriter({ kubeConfig: kc, driverName: DRIVER, onError: (e) => errors.push(e) });
    const record = {
      version: 1, claim: { uid: claim.metadata.uid, namespace: ns, name: 'broken' }, podUid: 'p', podName: 'victim', preparedAt: '',
      devices: [{ request: 'nic', pool: 'node-1', device: 'd1', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
    } as unknown as ClaimRecord;
    writer.devicesNotReady(record, 'ATTACH_FAILED: attach of d1 failed at step move');
    await writer.flush();
    expect(errors).toEqual([]);
    const got = await must<RawClaim>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/broken`));
    expect(got.status?.devices?.[0]).toMatchObject({
      device: 'd1', conditions: [{ type: 'Ready', status: 'False', reason: 'NetworkDeviceNotReady', message: expect.stringContaining('step move') }, { type: 'NetworkReady', status: 'False' }],
    });

    await must('serviceaccount', kube.post(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
    await must('pod', kube.post(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'victim' }, spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'example.invalid/x' }] },
    }));
    await new KubePodEvictor({ kubeConfig: kc }).evict(ns, 'victim', 'devices lost');
    const after = await kube.get<{ metadata?: { deletionTimestamp?: string } }>(`/api/v1/namespaces/${ns}/pods/victim`);
    expect(after.status === 404 || after.body.metadata?.deletionTimestamp !== undefined).toBe(true);
    await expect(new KubePodEvictor({ kubeConfig: kc }).evict(ns, 'no-such-pod', 'x')).rejects.toMatchObject({ code: 'KUBE_REQUEST_FAILED' });
  });

  it('a refused write (a device the claim was not allocated) goes to onError, named', async () => {
    const claim = await must<RawClaim>('create', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'other', namespace: ns },
      spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'x' } }] } },
    }));
    const errors: DriverError[] = [];
    const writer = new ClaimStatusWriter({ kubeConfig: kubeConfigFor(cp, cp.token), driverName: DRIVER, onError: (e) => errors.push(e) });
    const record = {
      version: 1, claim: { uid: claim.metadata.uid, namespace: ns, name: 'other' }, podUid: 'p', podName: 'p', preparedAt: '',
      devices: [{ request: 'nic', pool: 'node-1', device: 'not-allocated', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
    } as unknown as ClaimRecord;
    writer.devicesReady(record, [{ device: 'not-allocated', ifIndex: 1, name: 'net1', mac: '02:00:00:00:00:01', ips: [] }]);
    await writer.flush();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'KUBE_REQUEST_FAILED', message: expect.stringContaining('resourceclaim') });
  });
});
