/**
 * KubeClaimSource and KubeEventSink against the real kube-apiserver: a
 * ResourceClaim allocated and reserved the way the scheduler writes it
 * (status subresource) reads back as exactly that AllocatedClaim, opaque
 * parameters included; missing claims and refused reads map to our errors;
 * warnings become core/v1 Events on the claim that `kubectl describe` would
 * list, and repeats bump `count` on one Event.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { KubeClient } from './kube-client.ts';
import { kubeConfigFor, suffix } from './slice-fixtures.ts';
import { isDriverError, NotFoundError, type DriverError } from '../../src/common/errors.ts';
import { claimFromApi, KubeClaimSource } from '../../src/surfaces/kube/claim-source.ts';
import { KubeEventSink, MAX_MESSAGE_BYTES } from '../../src/surfaces/kube/event-sink.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const admin = kubeConfigFor(cp, cp.token);
const DRIVER = 'netclaim.dev';
const RESOURCE = '/apis/resource.k8s.io/v1';
const ns = `claims-${suffix()}`;
const className = `netclaim-${suffix()}`;
const cleanup: Array<() => Promise<unknown>> = [];

async function must<T>(what: string, p: Promise<{ status: number; body: T; text: string }>, ok = [200, 201]): Promise<T> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
}

/** Opaque parameters as a user writes them: nested objects, lists, numbers, booleans, unicode. */
const claimParams = {
  apiVersion: 'netclaim.dev/v1alpha1', kind: 'NetworkConfig',
  interface: { name: 'net1', mtu: 9000, addresses: ['10.1.2.3/24', 'fd00::3/64'], gsoMaxSize: 65536 },
  routes: [{ destination: '0.0.0.0/0', gateway: '10.1.2.1', table: 100 }],
  ethtool: { features: { 'rx-checksum': true, 'tx-tcp-segmentation': false } },
  note: 'zürich ✓', ratio: 0.25, empty: {}, nothing: null,
};
const classParams = { interface: { mtu: 1500 }, rdma: { mode: 'exclusive' } };

interface RawClaim {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  status?: unknown;
}

/** Creates a claim with one request and claim config, then allocates and reserves it through the status subresource. */
async function allocatedClaim(name: string, opts: { reserve?: boolean; results?: unknown[] } = {}): Promise<{ raw: RawClaim; podUid: string }> {
  const claim = await must<RawClaim>('create claim', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: ns },
    spec: {
      devices: {
        requests: [
          { name: 'nic', exactly: { deviceClassName: className, allocationMode: 'ExactCount', count: 1 } },
          { name: 'rdma', exactly: { deviceClassName: className } },
        ],
        config: [{ requests: ['nic'], opaque: { driver: DRIVER, parameters: claimParams } }],
      },
    },
  }));
  const podUid = crypto.randomUUID();
  const status = {
    allocation: {
      devices: {
        results: opts.results ?? [
          { request: 'nic', driver: DRIVER, pool: 'node-1', device: 'pci-0000-3b-00-0' },
          { request: 'rdma', driver: DRIVER, pool: 'node-1', device: 'mlx5-0', adminAccess: true, shareID: crypto.randomUUID() },
          { request: 'rdma', driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0' },
        ],
        config: [
          { source: 'FromClass', opaque: { driver: DRIVER, parameters: classParams } },
          { source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER, parameters: claimParams } },
        ],
      },
      nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }] },
    },
    ...(opts.reserve === false ? {} : { reservedFor: [{ resource: 'pods', name: `pod-${name}`, uid: podUid }] }),
  };
  const raw = await must<RawClaim>('write status', kube.put(`${RESOURCE}/namespaces/${ns}/resourceclaims/${name}/status`, { ...claim, status }));
  return { raw, podUid };
}

beforeAll(async () => {
  await must('create namespace', kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'resource.kubernetes.io/admin-access': 'true' } } })); // adminAccess results need it
  await must('create deviceclass', kube.post(`${RESOURCE}/deviceclasses`, {
    apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: className },
    spec: { selectors: [{ cel: { expression: `device.driver == "${DRIVER}"` } }], config: [{ opaque: { driver: DRIVER, parameters: classParams } }] },
  }));
  cleanup.push(() => kube.delete(`${RESOURCE}/deviceclasses/${className}`));
  cleanup.push(() => kube.delete(`/api/v1/namespaces/${ns}`)); // stays Terminating without a controller-manager; harmless
  cleanup.push(() => kube.delete(`${RESOURCE}/namespaces/${ns}/resourceclaims`));
  cleanup.push(() => kube.delete(`/api/v1/namespaces/${ns}/events`));
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('KubeClaimSource', () => {
  const source = new KubeClaimSource({ kubeConfig: admin });

  test('an allocated, reserved claim reads back exactly as written', async () => {
    const { raw, podUid } = await allocatedClaim('two-devices');
    const got = await source.get(ns, 'two-devices');
    const results = (raw.status as { allocation: { devices: { results: Array<{ shareID: string }> } } }).allocation.devices.results;
    expect(got).toEqual({
      namespace: ns, name: 'two-devices', uid: raw.metadata.uid,
      reservedFor: [{ resource: 'pods', name: 'pod-two-devices', uid: podUid }],
      deviceClasses: { nic: className, rdma: className },
      allocation: {
        results: [
          { request: 'nic', driver: DRIVER, pool: 'node-1', device: 'pci-0000-3b-00-0' },
          { request: 'rdma', driver: DRIVER, pool: 'node-1', device: 'mlx5-0', adminAccess: true, shareId: results[1]!.shareID },
          { request: 'rdma', driver: 'gpu.example.com', pool: 'node-1', device: 'gpu-0' },
        ],
        config: [
          { source: 'FromClass', opaque: { driver: DRIVER, parameters: classParams } },
          { source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER, parameters: claimParams } },
        ],
      },
    });
    // The client's model path and the raw JSON path agree.
    const json = await must<unknown>('get claim', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/two-devices`));
    expect(claimFromApi(json)).toEqual(got);
  });

  test('opaque parameters arrive as plain parsed JSON (RawExtension passed through by the client)', async () => {
    const got = await source.get(ns, 'two-devices');
    const params = got.allocation!.config[1]!.opaque!.parameters as typeof claimParams;
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(params.interface.addresses).toEqual(['10.1.2.3/24', 'fd00::3/64']);
    expect(params.nothing).toBeNull();
    expect(params.empty).toEqual({});
  });

  test('a large integer in the parameters: the server keeps its digits, the client rounds it (JSON.parse)', async () => {
    const { raw } = await allocatedClaim('bigint', { reserve: false, results: [{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'eth1' }] });
    // Allocation is immutable once set, so this claim gets a fresh one: sent as text so the digits reach the server unrounded.
    await must('clear status', kube.put(`${RESOURCE}/namespaces/${ns}/resourceclaims/bigint/status`, { ...raw, status: {} }));
    const cur = await must<RawClaim>('get', kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/bigint`));
    const status = { allocation: { devices: { results: [{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'eth1' }], config: [{ source: 'FromClaim', opaque: { driver: DRIVER, parameters: { id: 0 } } }] } } };
    const text = JSON.stringify({ ...cur, status }).replace('{"id":0}', '{"id":12345678901234567891}');
    await must('write status', kube.request('PUT', `${RESOURCE}/namespaces/${ns}/resourceclaims/bigint/status`, text));
    expect((await kube.get(`${RESOURCE}/namespaces/${ns}/resourceclaims/bigint`)).text).toContain('"id":12345678901234567891');
    const got = await source.get(ns, 'bigint');
    expect((got.allocation!.config[0]!.opaque!.parameters as { id: number }).id).toBe(12345678901234567000);
  });

  test('a claim not yet allocated has no allocation and no consumers; each request\'s DeviceClass is read, subrequests as main/sub', async () => {
    await must('create claim', kube.post(`${RESOURCE}/namespaces/${ns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'pending', namespace: ns },
      spec: { devices: { requests: [
        { name: 'nic', exactly: { deviceClassName: className } },
        { name: 'any', firstAvailable: [{ name: 'big', deviceClassName: 'big-nic' }, { name: 'small', deviceClassName: className }] },
      ] } },
    }));
    const got = await source.get(ns, 'pending');
    expect(got).toEqual({
      namespace: ns, name: 'pending', uid: expect.any(String) as unknown, reservedFor: [],
      deviceClasses: { 'nic': className, 'any/big': 'big-nic', 'any/small': className },
    });
    expect(got).not.toHaveProperty('allocation');
  });

  test('allocated but not reserved: allocation present, reservedFor empty', async () => {
    await allocatedClaim('unreserved', { reserve: false, results: [{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'eth1' }] });
    const got = await source.get(ns, 'unreserved');
    expect(got.reservedFor).toEqual([]);
    expect(got.allocation!.results).toEqual([{ request: 'nic', driver: DRIVER, pool: 'node-1', device: 'eth1' }]);
  });

  test('a missing claim (or namespace) is NotFoundError with the API status kept as the cause', async () => {
    const err = await source.get(ns, 'no-such-claim').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', context: { namespace: ns, name: 'no-such-claim' }, cause: { code: 'KUBE_REQUEST_FAILED', context: { status: 404, reason: 'NotFound' } } });
    await expect(source.get(`no-ns-${suffix()}`, 'x')).rejects.toBeInstanceOf(NotFoundError);
  });

  test('a refused read is KUBE_REQUEST_FAILED with status 403 and reason Forbidden', async () => {
    const nodeSource = new KubeClaimSource({ kubeConfig: kubeConfigFor(cp, cp.nodeTokens['node-1']!) });
    // The Node authorizer lets a node read only claims of pods bound to it.
    const err = await nodeSource.get(ns, 'two-devices').catch((e: unknown) => e as DriverError);
    expect(isDriverError(err) && err.code).toBe('KUBE_REQUEST_FAILED');
    expect((err as DriverError).context).toMatchObject({ status: 403, reason: 'Forbidden', namespace: ns, name: 'two-devices' });
    expect((err as DriverError).message).toMatch(/^get resourceclaim .*: 403 Forbidden /);
  });
});

interface RawEvent {
  metadata: { name: string; namespace: string };
  involvedObject: Record<string, string>;
  type: string; reason: string; message: string; count: number;
  firstTimestamp: string; lastTimestamp: string;
  source: { component: string; host: string };
  reportingComponent: string; reportingInstance: string;
}

async function eventsFor(uid: string): Promise<RawEvent[]> {
  const body = await must<{ items: RawEvent[] }>('list events', kube.get(`/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(`involvedObject.uid=${uid}`)}`));
  return body.items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

describe('KubeEventSink', () => {
  let claim: { namespace: string; name: string; uid: string };
  const errors: DriverError[] = [];
  let clock = Date.now();
  const sink = new KubeEventSink({ kubeConfig: admin, nodeName: 'node-1', onError: (e) => errors.push(e), now: () => clock });
  beforeAll(async () => {
    const { raw } = await allocatedClaim('with-events');
    claim = { namespace: ns, name: 'with-events', uid: raw.metadata.uid };
  });
  afterAll(() => sink.close());

  test('a warning becomes a core/v1 Event on the claim, as kubectl describe lists it', async () => {
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'device eth1: not found in the inventory');
    await sink.flush();
    const [e, ...rest] = await eventsFor(claim.uid);
    expect(rest).toEqual([]);
    expect(e).toMatchObject({
      metadata: { namespace: ns },
      involvedObject: { apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', namespace: ns, name: 'with-events', uid: claim.uid },
      type: 'Warning', reason: 'ClaimPrepareFailed', message: 'device eth1: not found in the inventory', count: 1,
      source: { component: 'netclaim', host: 'node-1' }, reportingComponent: 'netclaim.dev', reportingInstance: 'node-1',
    });
    expect(e!.metadata.name).toMatch(/^with-events\.[0-9a-f]+$/);
    // kubectl describe's own selector finds it too.
    const sel = `involvedObject.name=with-events,involvedObject.namespace=${ns},involvedObject.kind=ResourceClaim,involvedObject.uid=${claim.uid}`;
    expect((await must<{ items: unknown[] }>('describe selector', kube.get(`/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(sel)}`))).items).toHaveLength(1);
  });

  test('the same warning again bumps count on the same Event; a burst is folded into one write', async () => {
    clock += 10_000;
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'device eth1: not found in the inventory');
    for (let i = 0; i < 5; i++) sink.claimWarning(claim, 'ClaimPrepareFailed', 'device eth1: not found in the inventory');
    await sink.flush();
    const [e, ...rest] = await eventsFor(claim.uid);
    expect(rest).toEqual([]);
    expect(e!.count).toBe(7);
    expect(Date.parse(e!.lastTimestamp) - Date.parse(e!.firstTimestamp)).toBeGreaterThanOrEqual(9_000);
    expect(sink.stats).toMatchObject({ created: 1, failed: 0 });
    expect(sink.stats.patched).toBeGreaterThanOrEqual(1);
    expect(sink.stats.patched + sink.stats.folded).toBe(6);
  });

  test('another message is another Event; a repeat after the 5-minute window is a new Event too', async () => {
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'another problem');
    await sink.flush();
    expect(await eventsFor(claim.uid)).toHaveLength(2);
    clock += 5 * 60_000 + 1;
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'device eth1: not found in the inventory');
    await sink.flush();
    const es = await eventsFor(claim.uid);
    expect(es.map((e) => [e.message, e.count]).sort()).toEqual([
      ['another problem', 1], ['device eth1: not found in the inventory', 1], ['device eth1: not found in the inventory', 7],
    ]);
  });

  test('an Event deleted meanwhile (TTL) is recreated instead of patched', async () => {
    sink.claimWarning(claim, 'DeviceAttachFailed', 'third problem');
    await sink.flush();
    clock += 1000;
    sink.claimWarning(claim, 'DeviceAttachFailed', 'third problem');
    await sink.flush();
    const [mine, ...rest] = (await eventsFor(claim.uid)).filter((e) => e.reason === 'DeviceAttachFailed');
    expect([mine!.count, rest.length]).toEqual([2, 0]);
    expect((await kube.delete(`/api/v1/namespaces/${ns}/events/${mine!.metadata.name}`)).status).toBe(200);
    sink.claimWarning(claim, 'DeviceAttachFailed', 'third problem');
    await sink.flush();
    const again = (await eventsFor(claim.uid)).filter((e) => e.reason === 'DeviceAttachFailed');
    expect(again.map((e) => e.count)).toEqual([1]);
    expect(again[0]!.metadata.name).not.toBe(mine!.metadata.name);
    expect(errors).toEqual([]);
  });

  test('a long message is cut to 1 KiB and accepted', async () => {
    sink.claimWarning(claim, 'ClaimPrepareFailed', 'ü'.repeat(3000));
    await sink.flush();
    const long = (await eventsFor(claim.uid)).find((e) => e.message.startsWith('ü'))!;
    expect(Buffer.byteLength(long.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(long.message.endsWith('…')).toBe(true);
  });

  test('failures go to onError and never to the caller', async () => {
    const errs: DriverError[] = [];
    const s = new KubeEventSink({ kubeConfig: admin, nodeName: 'node-1', onError: (e) => errs.push(e) });
    // It returns at once (not a promise), before the API could answer: nothing has failed yet. (A time bound here can fail on a loaded machine.)
    expect(s.claimWarning({ namespace: `no-ns-${suffix()}`, name: 'c', uid: 'u' }, 'ClaimPrepareFailed', 'x')).toBeUndefined();
    expect(errs).toHaveLength(0);
    expect(s.stats).toMatchObject({ failed: 0 });
    await s.flush();
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ code: 'KUBE_REQUEST_FAILED', context: { status: 404, reason: 'NotFound' } });
    expect(s.stats).toMatchObject({ created: 0, failed: 1 });
    await s.close();
    s.claimWarning(claim, 'ClaimPrepareFailed', 'after close');
    expect(s.stats.dropped).toBe(1);
  });
});
