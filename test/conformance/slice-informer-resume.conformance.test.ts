/**
 * The slice informer's watch ending under it (a server closing the
 * connection, as an overloaded kube-apiserver or a load balancer does) must
 * not cost a LIST: the watch resumes from the last resource version it
 * delivered, as client-go's reflector does, and the API server replays what
 * happened meanwhile. At fleet scale a LIST per watch failure was a storm
 * (docs/fleet.md, "Writes that failed at the client": 14,794 LISTs in one
 * flap).
 *
 * The connection is ended by a TCP proxy in front of the real API server
 * (cut-proxy.ts): a fault a real server cannot produce on demand. LISTs are
 * counted by wrapping the real client's list call; nothing answers in the
 * API server's place.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { DriverError } from '../../src/common/errors.ts';
import { SliceInformer } from '../../src/surfaces/kube/slice-informer.ts';
import { CutProxy } from './cut-proxy.ts';
import { KubeClient } from './kube-client.ts';
import { ensureNode, kubeConfigFor, SLICES, suffix, waitFor } from './slice-fixtures.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const DRIVER = 'netclaim.dev';
let proxy: CutProxy;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  proxy = await CutProxy.start(cp.server);
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await proxy.close();
});

const slice = (node: string, name: string): unknown => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name },
  spec: { driver: DRIVER, nodeName: node, pool: { name: node, generation: 1, resourceSliceCount: 1 }, devices: [{ name: 'nic0' }] },
});

test('a watch cut by the connection closing resumes from its version: what happened meanwhile arrives, and no LIST is sent', async () => {
  const node = `resume-${suffix()}`;
  const { created } = await ensureNode(kube, node);
  cleanup.push(async () => {
    await kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`);
    if (created) await kube.delete(`/api/v1/nodes/${node}`);
  });
  const kc = kubeConfigFor({ ...cp, server: proxy.url }, cp.token);
  let lists = 0;
  const request = kc.request.bind(kc);
  kc.request = ((r: Parameters<typeof request>[0]) => {
    if ((r.method ?? 'GET') === 'GET' && r.path === SLICES) lists++; // a watch goes through open(), not request()
    return request(r);
  }) as typeof kc.request;
  const errors: DriverError[] = [];
  let changes = 0;
  const informer = new SliceInformer({ api: kc, driver: DRIVER, nodeName: node, onChange: () => changes++, onError: (e) => errors.push(e), retryMaxMs: 500 });
  cleanup.push(async () => informer.close());
  await informer.start();
  expect(lists).toBe(1);

  // A slice seen by the watch: it is running.
  expect((await kube.post(SLICES, slice(node, `${node}-a`))).status).toBe(201);
  await waitFor('the first slice through the watch', async () => informer.slices.some((s) => s.name === `${node}-a`), 30_000);

  // The connection ends; while no watch runs, a slice is created and the first one deleted.
  const before = proxy.accepted;
  expect(proxy.cut()).toBeGreaterThan(0);
  expect((await kube.post(SLICES, slice(node, `${node}-b`))).status).toBe(201);
  expect((await kube.delete(`${SLICES}/${node}-a`)).status).toBe(200);

  // Both reach the cache through the resumed watch (a new connection), not through a LIST.
  await waitFor('the resumed watch to replay the create and the delete', async () => {
    const names = informer.slices.map((s) => s.name);
    return names.includes(`${node}-b`) && !names.includes(`${node}-a`);
  }, 30_000);
  expect(proxy.accepted).toBeGreaterThan(before);
  expect(lists).toBe(1);
  expect(changes).toBeGreaterThanOrEqual(3);
}, 120_000);
