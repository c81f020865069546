/**
 * deploy/install.yaml against the real kube-apiserver: it is what the chart
 * renders with its defaults, every object passes a server-side dry-run, and,
 * applied for real, its RBAC and ValidatingAdmissionPolicy let the daemon's
 * own code (SlicePublisher, ClaimStatusWriter, KubeEventSink) do its work
 * with a service account token bound to a pod on a node — and nothing more:
 * not another node's slices or claims, not another driver's, not a verb the
 * code does not use (SubjectAccessReviews).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DriverError } from '../../src/common/errors.ts';
import type { ClaimUid } from '../../src/common/ids.ts';
import type { ClaimRecord } from '../../src/driver/record-model.ts';
import { ClaimStatusWriter } from '../../src/surfaces/kube/claim-status.ts';
import { KubeEventSink } from '../../src/surfaces/kube/event-sink.ts';
import { SlicePublisher, type PublishDevice } from '../../src/surfaces/kube/slice-publisher.ts';
import { INSTALL_FILE, NAMESPACE, helmBinary, helmTemplate, renderInstallManifest } from '../../scripts/gen-install-manifest.ts';
import { KubeClient } from '../conformance/kube-client.ts';
import { ensureNode, kubeConfigFor, sliceList, SLICES, suffix } from '../conformance/slice-fixtures.ts';
import { ApiPaths, create, dryRunCreate, objectName, parseManifests, type KubeObject } from './deploy-kube.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const paths = new ApiPaths(kube);
const RESOURCE = '/apis/resource.k8s.io/v1';
const DRIVER = 'netclaim.dev';
const SA_USER = `system:serviceaccount:${NAMESPACE}:netclaim`;
const objects = parseManifests(readFileSync(INSTALL_FILE, 'utf8'));
const nodeA = `deploy-a-${suffix()}`;
const nodeB = `deploy-b-${suffix()}`;
const claimNs = `deploy-claims-${suffix()}`;
const cleanup: Array<() => Promise<unknown>> = [];

async function must<T>(what: string, p: Promise<{ status: number; body: T; text: string }>): Promise<T> {
  const r = await p;
  if (r.status !== 200 && r.status !== 201) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
}

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('deploy/install.yaml', () => {
  it('is the Helm chart rendered with its default values (scripts/gen-install-manifest.ts)', () => {
    expect(readFileSync(INSTALL_FILE, 'utf8')).toBe(renderInstallManifest(helmTemplate(helmBinary())));
  });

  it('holds the objects of a node driver', () => {
    expect(objects.map(objectName)).toEqual([
      'Namespace/netclaim', 'ServiceAccount/netclaim',
      'CustomResourceDefinition/ippools.netclaim.dev', 'CustomResourceDefinition/ipallocations.netclaim.dev', 'ClusterRole/netclaim', 'ClusterRoleBinding/netclaim', 'DaemonSet/netclaim',
      'DeviceClass/netclaim', 'ValidatingAdmissionPolicy/netclaim-resourceslices', 'ValidatingAdmissionPolicyBinding/netclaim-resourceslices',
    ]);
  });

  it('every object passes a server-side dry-run, then applies for real', async () => {
    const [namespace, ...rest] = objects;
    expect((await dryRunCreate(kube, paths, namespace!)).status).toBe(201);
    await must('namespace', create(kube, paths, namespace!));
    cleanup.push(async () => {
      // No namespace controller runs here: empty it, then finalize it by hand.
      await kube.delete(`/api/v1/namespaces/${NAMESPACE}`);
      await kube.put(`/api/v1/namespaces/${NAMESPACE}/finalize`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE }, spec: { finalizers: [] } });
    });
    // The IPAM CRDs may already be installed by another test file sharing this API server
    // (test/conformance/ipam-fixtures.ts installs the same ones): there, 409 is fine and they stay.
    const crd = (o: KubeObject): boolean => o.kind === 'CustomResourceDefinition';
    for (const o of rest) {
      const r = await dryRunCreate(kube, paths, o);
      if (crd(o) && r.status === 409) continue;
      expect(r.status, `${objectName(o)}: ${r.text}`).toBe(201);
    }
    for (const o of rest) {
      if (crd(o)) {
        const r = await create(kube, paths, o);
        expect([201, 409], `${objectName(o)}: ${r.text}`).toContain(r.status);
        continue;
      }
      await must(`create ${objectName(o)}`, create(kube, paths, o));
      const path = `${await paths.collection(o, o.metadata.namespace)}/${o.metadata.name}`;
      cleanup.push(() => kube.delete(path));
    }
  });
});

describe('RBAC and the admission policy, with a token bound to a pod on a node', () => {
  let bound: KubeClient;
  let boundToken: string;
  let unbound: KubeClient;

  beforeAll(async () => {
    for (const n of [nodeA, nodeB]) {
      await ensureNode(kube, n);
      cleanup.push(() => kube.delete(`/api/v1/nodes/${n}`));
    }
    // The daemon's pod on node A, as the DaemonSet controller would make it.
    const pod = await must<{ metadata: { uid: string } }>('pod', kube.post(`/api/v1/namespaces/${NAMESPACE}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'netclaim-a' },
      spec: { nodeName: nodeA, serviceAccountName: 'netclaim', containers: [{ name: 'netclaim', image: 'ghcr.io/netclaim/netclaim:test' }] },
    }));
    cleanup.push(() => kube.delete(`/api/v1/namespaces/${NAMESPACE}/pods/netclaim-a?gracePeriodSeconds=0`));
    const tr = await must<{ status: { token: string } }>('token', kube.post(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/netclaim/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'netclaim-a', uid: pod.metadata.uid } },
    }));
    boundToken = tr.status.token;
    bound = kube.as(boundToken);
    const plain = await must<{ status: { token: string } }>('token', kube.post(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/netclaim/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 },
    }));
    unbound = kube.as(plain.status.token);
    await must('claims namespace', kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: claimNs } }));
    cleanup.push(() => kube.delete(`/api/v1/namespaces/${claimNs}`));
    // The policy acts once the API server's informer has it: wait for a denial (dry-run, nothing stored).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const probe = await bound.post(`${SLICES}?dryRun=All`, slice('probe', nodeB));
      if (probe.status === 403 && probe.text.includes('ValidatingAdmissionPolicy')) break;
      if (Date.now() > deadline) throw new Error(`the ValidatingAdmissionPolicy never denied a slice of another node: ${probe.status} ${probe.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeA}`)}`);
    await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeB}`)}`);
  });

  it('the token carries the node (authentication.kubernetes.io/node-name)', async () => {
    const r = await must<{ status: { userInfo: { username: string; extra?: Record<string, string[]> } } }>('review',
      bound.post('/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
    expect(r.status.userInfo.username).toBe(SA_USER);
    expect(r.status.userInfo.extra?.['authentication.kubernetes.io/node-name']).toEqual([nodeA]);
  });

  it('SlicePublisher publishes, updates and shrinks the node\'s slices (list, watch, create, update, delete)', async () => {
    const errors: DriverError[] = [];
    const p = new SlicePublisher({ kubeConfig: kubeConfigFor(cp, boundToken), nodeName: nodeA, onError: (e) => errors.push(e) });
    await p.start();
    try {
      // 2 slices (create); the same devices with another MTU (update); 3 devices, 1 slice (delete).
      for (const [n, mtu] of [[200, 1500], [200, 9000], [3, 9000]] as const) {
        p.update(devices(n, mtu));
        await p.synced();
      }
      expect(errors).toEqual([]);
      const ss = await sliceList(kube, nodeA, DRIVER);
      expect(ss.map((s) => s.spec.devices.length)).toEqual([3]);
      expect(ss[0]!.spec.devices.map((d) => d.attributes['netclaim.dev/mtu'])).toEqual([{ int: 9000 }, { int: 9000 }, { int: 9000 }]);
    } finally {
      await p.close();
    }
  });

  it('the policy denies another node\'s slices, slices without a node association, and another driver\'s', async () => {
    const other = await bound.post(SLICES, slice(`other-${suffix()}`, nodeB));
    expect(other.status).toBe(403);
    expect(other.text).toContain(`netclaim on node '${nodeA}' may not modify ResourceSlices of node '${nodeB}'`);
    const noNode = await unbound.post(SLICES, slice(`plain-${suffix()}`, nodeA));
    expect(noNode.status).toBe(403);
    expect(noNode.text).toContain('no node association found');
    const driver = await bound.post(SLICES, slice(`gpu-${suffix()}`, nodeA, 'gpu.example.com'));
    expect(driver.status).toBe(403);
    expect(driver.text).toContain("may not modify ResourceSlices of driver 'gpu.example.com'");
    // Not even delete: a slice of node B made by someone else.
    const name = `b-${suffix()}`;
    await must('admin slice', kube.post(SLICES, slice(name, nodeB)));
    const del = await bound.delete(`${SLICES}/${name}`);
    expect(del.status).toBe(403);
    expect(del.text).toContain(`ResourceSlices of node '${nodeB}'`);
    // Other users (admin here, the kubelet, other drivers) are not this policy's business.
    expect((await kube.delete(`${SLICES}/${name}`)).status).toBe(200);
  });

  it('ClaimStatusWriter writes status.devices of a claim allocated on its node (resourceclaims/driver associated-node:update)', async () => {
    const claim = await allocatedClaim('on-a', nodeA);
    const errors: DriverError[] = [];
    const writer = new ClaimStatusWriter({ kubeConfig: kubeConfigFor(cp, boundToken), driverName: DRIVER, onError: (e) => errors.push(e) });
    writer.devicesReady(record(claim, nodeA), [{ device: 'pci-0000-3b-00-0', ifIndex: 7, name: 'net1', mac: '02:00:00:00:00:01', ips: ['10.1.0.5/24'] }]);
    await writer.flush();
    expect(errors).toEqual([]);
    const got = await must<{ status: { devices: Array<{ driver: string; networkData?: { interfaceName: string } }> } }>('get', kube.get(`${RESOURCE}/namespaces/${claimNs}/resourceclaims/on-a`));
    expect(got.status.devices).toEqual([expect.objectContaining({ driver: DRIVER, networkData: expect.objectContaining({ interfaceName: 'net1' }) })]);
  });

  it('but not of a claim allocated on another node, nor another driver\'s entries', async () => {
    const onB = await allocatedClaim('on-b', nodeB);
    const errors: DriverError[] = [];
    const writer = new ClaimStatusWriter({ kubeConfig: kubeConfigFor(cp, boundToken), driverName: DRIVER, onError: (e) => errors.push(e) });
    writer.devicesReady(record(onB, nodeB), [{ device: 'pci-0000-3b-00-0', ifIndex: 7, name: 'net1', mac: '02:00:00:00:00:01', ips: [] }]);
    await writer.flush();
    expect(errors.map((e) => e.message).join('\n')).toMatch(/status\.devices.*resourceclaims\/driver|forbidden/i);

    const onA = await allocatedClaim('gpu-on-a', nodeA, 'gpu.example.com');
    const r = await bound.put(`${RESOURCE}/namespaces/${claimNs}/resourceclaims/gpu-on-a/status`, {
      ...onA, status: { ...onA.status, devices: [{ driver: 'gpu.example.com', pool: nodeA, device: 'pci-0000-3b-00-0', conditions: [] }] },
    });
    // The claim strategy refuses the field (422), naming the permission it lacks.
    expect(r.status).toBe(422);
    expect(r.text).toContain('requires resource=\\"resourceclaims/driver\\"');
  });

  it('KubeEventSink writes a warning on a claim, and bumps it with a patch', async () => {
    const claim = await allocatedClaim('events', nodeA);
    const errors: DriverError[] = [];
    const sink = new KubeEventSink({ kubeConfig: kubeConfigFor(cp, boundToken), nodeName: nodeA, onError: (e) => errors.push(e) });
    const ref = { namespace: claimNs, name: 'events', uid: claim.metadata.uid };
    sink.claimWarning(ref, 'ClaimPrepareFailed', 'PREPARE_DEVICE_NOT_FOUND: gone');
    await sink.flush();
    sink.claimWarning(ref, 'ClaimPrepareFailed', 'PREPARE_DEVICE_NOT_FOUND: gone');
    await sink.flush();
    expect(errors).toEqual([]);
    expect(sink.stats).toMatchObject({ created: 1, patched: 1, failed: 0 });
  });

  // Least privilege: what the daemon's calls need is allowed, and the neighbours of each rule are not.
  const allowed: Array<[string, string, string, string?]> = [
    ['list', 'resource.k8s.io', 'resourceslices'], ['watch', 'resource.k8s.io', 'resourceslices'],
    ['create', 'resource.k8s.io', 'resourceslices'], ['update', 'resource.k8s.io', 'resourceslices'], ['delete', 'resource.k8s.io', 'resourceslices'],
    ['get', 'resource.k8s.io', 'resourceclaims'], ['update', 'resource.k8s.io', 'resourceclaims/status'],
    ['associated-node:update', 'resource.k8s.io', 'resourceclaims/driver', DRIVER],
    ['get', '', 'nodes'], ['create', '', 'events'], ['patch', '', 'events'],
  ];
  const denied: Array<[string, string, string, string?]> = [
    ['get', 'resource.k8s.io', 'resourceslices'], ['patch', 'resource.k8s.io', 'resourceslices'], ['deletecollection', 'resource.k8s.io', 'resourceslices'],
    ['list', 'resource.k8s.io', 'resourceclaims'], ['update', 'resource.k8s.io', 'resourceclaims'], ['delete', 'resource.k8s.io', 'resourceclaims'],
    ['patch', 'resource.k8s.io', 'resourceclaims/status'],
    ['associated-node:update', 'resource.k8s.io', 'resourceclaims/driver', 'gpu.example.com'],
    ['arbitrary-node:update', 'resource.k8s.io', 'resourceclaims/driver', DRIVER],
    ['update', 'resource.k8s.io', 'resourceclaims/binding'],
    ['get', 'resource.k8s.io', 'deviceclasses'], ['create', 'resource.k8s.io', 'deviceclasses'],
    ['list', '', 'nodes'], ['update', '', 'nodes'], ['patch', '', 'nodes/status'],
    ['get', '', 'events'], ['delete', '', 'events'],
    ['get', '', 'pods'], ['create', '', 'pods/eviction'], ['get', '', 'secrets'], ['list', '', 'configmaps'],
  ];
  const cases = [
    ...allowed.map(([verb, group, resource, name]) => ({ want: true, verb, group, resource, name: name ?? '' })),
    ...denied.map(([verb, group, resource, name]) => ({ want: false, verb, group, resource, name: name ?? '' })),
  ];
  it.each(cases)('allowed=$want: $verb $group $resource $name', async ({ want, verb, group, resource, name }) => {
    const [res, sub] = resource.split('/');
    const r = await must<{ status: { allowed: boolean } }>('sar', kube.post('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: {
        user: SA_USER, groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
        resourceAttributes: { verb, group, resource: res, ...(sub ? { subresource: sub } : {}), ...(name ? { name } : {}), namespace: claimNs },
      },
    }));
    expect(r.status.allowed).toBe(want);
  });
});

function slice(name: string, nodeName: string, driver = DRIVER): KubeObject {
  return {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name },
    spec: { driver, nodeName, pool: { name: nodeName, generation: 1, resourceSliceCount: 1 }, devices: [] },
  };
}

function devices(n: number, mtu: number): PublishDevice[] {
  return Array.from({ length: n }, (_, i) => ({ name: `eth${String(i).padStart(3, '0')}`, attributes: { 'netclaim.dev/mtu': { int: mtu } } }));
}

interface RawClaim { metadata: { name: string; uid: string }; status?: Record<string, unknown> }

/** A claim allocated (by "the scheduler", here the admin) to `node`, reserved for a pod. */
async function allocatedClaim(name: string, node: string, driver = DRIVER): Promise<RawClaim> {
  const claim = await must<RawClaim>('claim', kube.post(`${RESOURCE}/namespaces/${claimNs}/resourceclaims`, {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name },
    spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'netclaim' } }] } },
  }));
  return must<RawClaim>('allocate', kube.put(`${RESOURCE}/namespaces/${claimNs}/resourceclaims/${name}/status`, {
    ...claim,
    status: {
      allocation: {
        devices: { results: [{ request: 'nic', driver, pool: node, device: 'pci-0000-3b-00-0' }], config: [] },
        nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] },
      },
      reservedFor: [{ resource: 'pods', name: 'p', uid: crypto.randomUUID() }],
    },
  }));
}

function record(claim: RawClaim, pool: string): ClaimRecord & { claim: { uid: ClaimUid } } {
  return {
    version: 1, claim: { uid: claim.metadata.uid, namespace: claimNs, name: claim.metadata.name }, podUid: 'p', podName: 'p', preparedAt: '',
    devices: [{ request: 'nic', pool, device: 'pci-0000-3b-00-0', workloadEnv: true, identity: {}, env: [], cdiDeviceIds: [] }],
  } as unknown as ClaimRecord & { claim: { uid: ClaimUid } };
}
