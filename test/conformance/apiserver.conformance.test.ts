/**
 * Harness self-tests for the conformance tier: the upstream kube-apiserver the
 * fixture starts really serves resource.k8s.io/v1 and really validates it. A
 * valid hand-written ResourceSlice is accepted; slices that break the documented
 * limits (protocols.md §3.3) are refused with 422 naming the offending field.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { KubeClient, type KubeStatus } from './kube-client.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const SLICES = '/apis/resource.k8s.io/v1/resourceslices';
const CLASSES = '/apis/resource.k8s.io/v1/deviceclasses';
const created: string[] = [];

const suffix = (): string => randomBytes(4).toString('hex');

interface Device {
  name: string;
  attributes?: Record<string, { string?: string; int?: number; bool?: boolean; version?: string }>;
  capacity?: Record<string, { value: string }>;
}

function slice(devices: Device[], nodeName = 'node-1'): { name: string; obj: object } {
  const name = `${nodeName}-netclaim.dev-${suffix()}`;
  return {
    name,
    obj: {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceSlice',
      metadata: { name },
      spec: {
        driver: 'netclaim.dev',
        nodeName,
        pool: { name: nodeName, generation: 1, resourceSliceCount: 1 },
        devices,
      },
    },
  };
}

function nic(name: string, extra: Device['attributes'] = {}): Device {
  return {
    name,
    attributes: {
      'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' },
      'resource.kubernetes.io/pciBusID': { string: '0000:00:03.0' },
      ifName: { string: 'eth1' },
      'netclaim.dev/mac': { string: '52:54:00:12:34:56' },
      numaNode: { int: 0 },
      rdma: { bool: true },
      'netclaim.dev/kernelVersion': { version: '6.1.0' },
      ...extra,
    },
    capacity: { 'netclaim.dev/bandwidth': { value: '100G' } },
  };
}

async function create(path: string, obj: object, name: string): Promise<{ status: number; body: KubeStatus; text: string }> {
  const r = await kube.post<KubeStatus>(path, obj);
  if (r.status === 201) created.push(`${path}/${name}`);
  return r;
}

/**
 * 422 Invalid, with the field path in both the message and the causes. `field` is a
 * string, or a RegExp where releases differ (anchored by the caller).
 */
function expectInvalid(r: { status: number; body: KubeStatus; text: string }, field: string | RegExp, detail: RegExp): void {
  expect(r.status, r.text).toBe(422);
  expect(r.body.reason).toBe('Invalid');
  const matches = (f: string | undefined): boolean => f !== undefined && (typeof field === 'string' ? f === field : field.test(f));
  const cause = r.body.details?.causes?.find((c) => matches(c.field));
  expect(cause, r.text).toBeDefined();
  expect(r.body.message).toContain(`${cause!.field}: `);
  expect(r.body.message).toMatch(detail);
}

afterAll(async () => {
  for (const path of created) await kube.delete(path);
});

describe('control plane', () => {
  test('serves resource.k8s.io/v1 with ResourceSlices and DeviceClasses, and a kubeconfig', async () => {
    const r = await kube.get<{ resources: Array<{ name: string }> }>('/apis/resource.k8s.io/v1');
    expect(r.status).toBe(200);
    const names = r.body.resources.map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['resourceslices', 'deviceclasses', 'resourceclaims', 'resourceclaims/status', 'resourceclaimtemplates']));
    const v = await kube.get<{ gitVersion: string }>('/version');
    expect(cp.version).toContain(v.body.gitVersion);
    const kc = readFileSync(cp.kubeconfigPath, 'utf8');
    expect(kc).toContain(`server: ${cp.server}`);
    expect(kc).toContain(`token: ${cp.token}`);
  });

  test('refuses an unauthenticated request and authenticates a node identity', async () => {
    const anon = kube.as('not-a-token');
    expect((await anon.get(SLICES)).status).toBe(401);
    const node = kube.as(cp.nodeTokens['node-1']!);
    const who = await node.post<{ status: { userInfo: { username: string; groups: string[] } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    expect(who.status, who.text).toBe(201);
    expect(who.body.status.userInfo.username).toBe('system:node:node-1');
    expect(who.body.status.userInfo.groups).toContain('system:nodes');
  });
});

describe('ResourceSlice validation (resource.k8s.io/v1)', () => {
  test('accepts a hand-written slice with standard and driver attributes', async () => {
    const s = slice([nic('eth1'), nic('eth2', { ifName: { string: 'eth2' } })]);
    const r = await create(SLICES, s.obj, s.name);
    expect(r.status, r.text).toBe(201);
    const got = await kube.get<{ spec: { devices: Device[] } }>(`${SLICES}/${s.name}`);
    expect(got.body.spec.devices[0]!.attributes!['resource.kubernetes.io/pcieRoot']).toEqual({ string: 'pci0000:00' });
    expect(got.body.spec.devices.map((d) => d.name)).toEqual(['eth1', 'eth2']);
  });

  test('accepts exactly the limits: 64-char string, 32 attributes+capacities, 128 devices', async () => {
    const atLimit = nic('eth1', { 'netclaim.dev/long': { string: 'x'.repeat(64) } });
    const attrs: Device['attributes'] = {};
    for (let i = 0; i < 31; i++) attrs[`a${i}`] = { int: i };
    const devices = Array.from({ length: 128 }, (_, i) => ({ name: `dev${i}`, attributes: { ifName: { string: `eth${i}` } } }));
    for (const s of [slice([atLimit]), slice([{ name: 'eth1', attributes: attrs, capacity: { 'netclaim.dev/bandwidth': { value: '1G' } } }]), slice(devices)]) {
      const r = await create(SLICES, s.obj, s.name);
      expect(r.status, r.text).toBe(201);
    }
  });

  test('rejects an attribute string of 65 characters', async () => {
    const s = slice([nic('eth1', { 'netclaim.dev/long': { string: 'x'.repeat(65) } })]);
    expectInvalid(await create(SLICES, s.obj, s.name), 'spec.devices[0].attributes[netclaim.dev/long].string', /may not be more than 64/);
  });

  test('rejects 33 attributes on one device', async () => {
    const attributes: Device['attributes'] = {};
    for (let i = 0; i < 33; i++) attributes[`a${i}`] = { int: i };
    const s = slice([{ name: 'eth1', attributes }]);
    expectInvalid(await create(SLICES, s.obj, s.name), 'spec.devices[0]', /must not exceed 32/);
  });

  test('rejects 129 devices in one slice', async () => {
    const devices = Array.from({ length: 129 }, (_, i) => ({ name: `dev${i}` }));
    const s = slice(devices);
    expectInvalid(await create(SLICES, s.obj, s.name), 'spec.devices', /128/);
  });

  test('rejects an invalid qualified attribute name', async () => {
    const s = slice([nic('eth1', { 'netclaim.dev/not-a-c-identifier': { bool: true } })]);
    // 1.34 names the map key in the path, 1.37 only the map.
    expectInvalid(await create(SLICES, s.obj, s.name), /^spec\.devices\[0\]\.attributes(\[netclaim\.io\/not-a-c-identifier\])?$/, /"not-a-c-identifier": a valid C identifier/);
  });

  test('rejects an invalid device name', async () => {
    const s = slice([nic('Eth_1')]);
    expectInvalid(await create(SLICES, s.obj, s.name), 'spec.devices[0].name', /RFC 1123|DNS/);
  });

  test('rejects a node writing a slice for another node (NodeRestriction)', async () => {
    const node = kube.as(cp.nodeTokens['node-1']!);
    const own = slice([nic('eth1')], 'node-1');
    const r1 = await node.post(SLICES, own.obj);
    if (r1.status === 201) created.push(`${SLICES}/${own.name}`);
    expect(r1.status, r1.text).toBe(201);
    const other = slice([nic('eth1')], 'node-2');
    const r2 = await node.post(SLICES, other.obj);
    if (r2.status === 201) created.push(`${SLICES}/${other.name}`);
    expect(r2.status, r2.text).toBe(403);
  });
});

describe('DeviceClass', () => {
  test('accepts a CEL selector over driver attributes', async () => {
    const name = `netclaim-rdma-${suffix()}`;
    const r = await create(CLASSES, {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'DeviceClass',
      metadata: { name },
      spec: {
        selectors: [{ cel: { expression: 'device.driver == "netclaim.dev" && device.attributes["netclaim.dev"].rdma == true && device.attributes["resource.kubernetes.io"].pcieRoot == "pci0000:00"' } }],
      },
    }, name);
    expect(r.status, r.text).toBe(201);
  });

  test('rejects a CEL selector that does not compile', async () => {
    const name = `netclaim-bad-${suffix()}`;
    const r = await create(CLASSES, {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'DeviceClass',
      metadata: { name },
      spec: { selectors: [{ cel: { expression: 'device.driver ==' } }] },
    }, name);
    expectInvalid(r, 'spec.selectors[0].cel.expression', /compilation failed|Syntax error/);
  });
});
