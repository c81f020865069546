/**
 * Scenario 6: netclaim away or crashed at the worst moments, as the kubelet and the
 * DaemonSet controller see it: its pod gone from the node between scheduling and
 * sandbox start (the pod waits, then gets its device); its container killed during a
 * pod's deletion, right after giving the device back, and restarted by the kubelet
 * (the restart finishes the unprepare); its container SIGKILLed by PID while idle (the
 * kubelet restarts it and it serves again).
 * Scenario 7: `kubectl delete pod` (SIGTERM: exit 0, its sockets and lock removed; the
 * DaemonSet's next pod takes over), and a rolling update (`kubectl rollout restart`:
 * the surge pod registers and turns Ready before the old one is stopped; a plugin is
 * registered with the kubelet at every moment; pods keep getting devices).
 *
 * The DaemonSet's pod only: in process mode (NETCLAIM_E2E_DAEMON=process) these are skipped.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim } from './node/netclaim-daemon.ts';
import { DAEMONSET, NAMESPACE, podReady, type DaemonSetPod } from './node/netclaim-chart.ts';
import { containerIdOf, containerPid, daemonSetPods, logEntries, podLog, podLogs, servingPod, watchDaemonSetPods } from './node/netclaim-pod.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, claimStatus, containerLinks, create, deleteAndWait, deleteDevice,
  ensureNamespace, events, getPod, linkOnNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';
import { nodeProcesses } from './node/node-sandbox.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-restart';
const cleanups: Array<() => unknown> = [];
const paths = nodeProcesses(node);
const registry = paths.nodePath('/var/lib/kubelet/plugins_registry');
const pluginDir = paths.nodePath('/var/lib/kubelet/plugins/netclaim.dev');
const stateDir = paths.nodePath('/var/lib/netclaim');
const dsPath = `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${DAEMONSET}`;

const regSockets = (): string[] => (existsSync(registry) ? readdirSync(registry).filter((f) => f.startsWith('netclaim.dev')) : []);
const filesOf = (uid: string): string[] => [...regSockets(), ...(existsSync(pluginDir) ? readdirSync(pluginDir) : [])].filter((f) => f.includes(uid)).sort();
const claimRecords = (): string[] => (existsSync(stateDir) ? readdirSync(stateDir, { recursive: true }).map(String).filter((f) => f.endsWith('.json') && !f.includes('tmp')) : []);
const restarts = (p: DaemonSetPod | undefined): number => p?.status?.containerStatuses?.[0]?.restartCount ?? 0;
/** A log line of netclaim saying it finished (msg) with a claim (namespace/name). */
const logged = (msg: string) => (claim: string): RegExp => new RegExp(`"claim":"${claim}".*"msg":"${msg}"`);
const unprepared = logged('claim unprepared');
const prepared = logged('claim prepared');
const daemonPod = async (name: string): Promise<DaemonSetPod | undefined> => (await daemonSetPods(api)).find((p) => p.metadata.name === name);

/**
 * Whether the daemon (host PID) is gone, or parked at the crash point after giving `device` back:
 * the device on the node and the main thread in a futex wait (crashPoint's Atomics.wait; an idle
 * daemon's main thread waits in epoll) for a second on end.
 */
function parkedAtCrashPoint(pid: number, device: string): () => boolean | undefined {
  let since: number | undefined;
  return () => {
    let wchan: string;
    try {
      wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
    } catch {
      return true;
    }
    if (!/futex/.test(wchan) || !linkOnNode(node, device)) since = undefined;
    else since ??= Date.now();
    return since !== undefined && Date.now() - since >= 1000 ? true : undefined;
  };
}

async function setNodeLabel(key: string, value: string | null): Promise<void> {
  const r = await api.patch(`/api/v1/nodes/${node.nodeName}`, { metadata: { labels: { [key]: value } } });
  if (r.status !== 200) throw new Error(`label node: ${r.status} ${r.text}`);
}

describe.skipIf(node.daemonMode !== 'pod')('restarts of the DaemonSet pod', () => {
  beforeAll(async () => {
    await startNetclaim(node);
    await ensureNamespace(api, ns);
    cleanups.push(addLower(node, 'ncr6low'));
  });

  afterAll(async () => {
    await setNodeLabel('netclaim.test/driver', null).catch(() => undefined);
    await api.delete(`/api/v1/namespaces/${NAMESPACE}/configmaps/netclaim-e2e-crash`).catch(() => undefined);
    await startNetclaim(node); // the chart's defaults again (undoes nodeSelector, env)
    await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const c of cleanups.reverse()) await c();
  });

  describe('scenario 6: the driver away or crashed at the worst moments', () => {
    it('its pod gone between scheduling and sandbox start: the pod waits, then gets its device when the DaemonSet puts netclaim back', async () => {
      // The chart's nodeSelector value, and the node labelled to match: the node keeps its pod.
      await setNodeLabel('netclaim.test/driver', 'on');
      await startNetclaim(node, { values: { nodeSelector: { 'netclaim.test/driver': 'on' } } });
      addMacvlan(node, { name: 'ncr6a', lower: 'ncr6low', addresses: ['192.168.76.5/24'] });
      cleanups.push(() => deleteDevice(node, 'ncr6a'));
      await publishedDevice(node, 'ncr6a');
      // The label goes: the DaemonSet controller takes netclaim's pod off the node.
      await setNodeLabel('netclaim.test/driver', null);
      await until('netclaim\'s pod gone from the node', 120_000, async () => (await daemonSetPods(api)).length === 0 || undefined);

      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c6a', claimSpec([request('nic', byIfName('ncr6a'))], {
        interface: { name: 'net1', addresses: ['10.76.0.2/24'] },
      })));
      await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p6a', [{ name: 'nic', resourceClaimName: 'c6a' }]));
      // Scheduled (the slice outlives the daemon), and the kubelet cannot prepare yet.
      await until('p6a scheduled', 60_000, async () => (await getPod(api, ns, 'p6a'))?.spec.nodeName || undefined);
      const failed = await until('the kubelet reports the missing driver', 60_000, async () =>
        (await events(api, ns, 'Pod', 'p6a')).find((e) => e.type === 'Warning' && /netclaim\.dev/.test(e.message)));
      expect(failed.message).toMatch(/netclaim\.dev/);
      expect((await getPod(api, ns, 'p6a'))?.status?.phase).toBe('Pending');
      expect(linkOnNode(node, 'ncr6a')).toBeDefined();

      await setNodeLabel('netclaim.test/driver', 'on');
      await servingPod(node);
      const pod = await waitPodReady(node, ns, 'p6a');
      expect(containerLinks(node, pod).find((l) => l.ifname === 'net1')?.addr_info?.some((a) => a.local === '10.76.0.2')).toBe(true);
      await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p6a`);
      await until('ncr6a back on the node', 30_000, () => linkOnNode(node, 'ncr6a'));
      await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/c6a`);
    });

    it('its container killed during pod deletion, right after giving the device back: the kubelet restarts it, and the restart finishes the unprepare', async () => {
      // The crash point comes from a ConfigMap (`kubectl set env --from`): the kubelet reads it at
      // each container start, so emptying it after this container started arms this start only.
      await startNetclaim(node);
      const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'netclaim-e2e-crash', namespace: NAMESPACE }, data: { at: 'detach.after-device' } };
      expect((await api.post(`/api/v1/namespaces/${NAMESPACE}/configmaps`, cm)).status).toBe(201);
      const env = { name: 'NETCLAIM_CRASH_AT', valueFrom: { configMapKeyRef: { name: 'netclaim-e2e-crash', key: 'at', optional: true } } };
      const patched = await api.patch(dsPath, [{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: env }], 'application/json-patch+json');
      expect(patched.status, patched.text).toBe(200);
      const armed = await servingPod(node);
      expect((await api.put(`/api/v1/namespaces/${NAMESPACE}/configmaps/netclaim-e2e-crash`, { ...cm, data: { at: '' } })).status).toBe(200);

      addMacvlan(node, { name: 'ncr6b', lower: 'ncr6low', addresses: ['192.168.77.5/24'], mtu: 1400 });
      cleanups.push(() => deleteDevice(node, 'ncr6b'));
      const before = linkOnNode(node, 'ncr6b')!;
      await publishedDevice(node, 'ncr6b');
      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c6b', claimSpec([request('nic', byIfName('ncr6b'))], {
        interface: { name: 'net1', mtu: 1300 },
      })));
      await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p6b', [{ name: 'nic', resourceClaimName: 'c6b' }]));
      await waitPodReady(node, ns, 'p6b');
      const records = claimRecords().length;
      expect(records).toBeGreaterThan(0);

      const pid = containerPid(node, armed.containerId);
      const del = await api.delete(`/api/v1/namespaces/${ns}/pods/p6b`);
      expect([200, 202]).toContain(del.status);
      // The crash point SIGKILLs the process itself, right after the device is back (the journal not
      // yet cleared). But in its container netclaim is PID 1 of a PID namespace, and the kernel drops
      // a signal a namespace's init sends itself: it then parks there for good (docs/e2e.md). So the
      // test kills it, from the host, by PID, once it is parked at that point.
      await until('netclaim at the crash point', 60_000, parkedAtCrashPoint(pid, 'ncr6b'));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* it went by its own hand */
      }
      const crashed = await until('netclaim\'s container killed in the detach and restarted by the kubelet', 120_000, async () => {
        const p = await daemonPod(armed.metadata.name);
        return restarts(p) >= 1 ? p : undefined;
      });
      // SIGKILL (by its own hand, at the crash point): exit code 137.
      expect(crashed.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
      await until('ncr6b back on the node', 30_000, () => linkOnNode(node, 'ncr6b'));
      await until('p6b gone', 120_000, async () => (await getPod(api, ns, 'p6b')) === undefined || undefined);
      await until('the claim record removed', 60_000, () => claimRecords().length === records - 1 || undefined);
      expect(restarts(await daemonPod(armed.metadata.name))).toBe(1); // the restart did not crash again
      // The kubelet's unprepare reached the restarted container (the kubelet's log keeps one file per start).
      const starts = podLogs(node, armed);
      expect(starts).toHaveLength(2);
      expect(starts[1]).toMatch(unprepared('e2e-restart/c6b'));
      expect(starts[0]).not.toMatch(unprepared('e2e-restart/c6b'));
      const after = linkOnNode(node, 'ncr6b')!;
      expect({ mtu: after.mtu, mac: after.address, addrs: after.addr_info!.filter((a) => a.scope === 'global') })
        .toEqual({ mtu: before.mtu, mac: before.address, addrs: before.addr_info!.filter((a) => a.scope === 'global') });
      expect((await claimStatus(api, ns, 'c6b')).status?.reservedFor ?? []).toEqual([]);
      await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/c6b`);
    });

    it('its container SIGKILLed by its host PID while idle (an OOM kill): the kubelet restarts it, and the next pod gets its device', async () => {
      const pod = await startNetclaim(node);
      const serving = await servingPod(node);
      const n = restarts(serving);
      process.kill(containerPid(node, serving.containerId), 'SIGKILL');
      const back = await until('netclaim\'s container restarted and Ready', 120_000, async () => {
        const p = await daemonPod(serving.metadata.name);
        return restarts(p) === n + 1 && podReady(p) ? p : undefined;
      });
      expect(back.metadata.uid).toBe(pod.podUid);
      expect(back.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
      expect(containerIdOf(back)).not.toBe(serving.containerId);
      // The restart re-registered under the same pod UID: one registration socket, its own.
      expect(regSockets()).toEqual([`netclaim.dev-${pod.podUid}-reg.sock`]);

      addMacvlan(node, { name: 'ncr6c', lower: 'ncr6low' });
      cleanups.push(() => deleteDevice(node, 'ncr6c'));
      await publishedDevice(node, 'ncr6c');
      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c6c', claimSpec([request('nic', byIfName('ncr6c'))])));
      await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p6c', [{ name: 'nic', resourceClaimName: 'c6c' }]));
      const p = await waitPodReady(node, ns, 'p6c');
      expect(containerLinks(node, p).some((l) => l.ifname === 'ncr6c')).toBe(true);
      expect(podLogs(node, serving).at(-1)).toMatch(prepared('e2e-restart/c6c'));
      await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p6c`);
      await until('ncr6c back on the node', 30_000, () => linkOnNode(node, 'ncr6c'));
    });
  });

  describe('scenario 7: shutdown and rolling update', () => {
    it('`kubectl delete pod`: SIGTERM, exit 0, its registration and DRA sockets and its lock removed; the DaemonSet\'s next pod serves', async () => {
      const old = await servingPod(node);
      const uid = old.metadata.uid;
      await until('sockets of this pod', 10_000, () => filesOf(uid).filter((f) => f.endsWith('.sock')).length === 2 || undefined);
      // `.started`: its start is complete (the runtime synchronized its NRI plugin), for the surge startup probe.
      await until('its start marker', 30_000, () => filesOf(uid).includes(`instance-${uid}.started`) || undefined);
      expect(filesOf(uid)).toEqual([`dra-${uid}.sock`, `instance-${uid}.lock`, `instance-${uid}.started`, `netclaim.dev-${uid}-reg.sock`]);
      const watch = await watchDaemonSetPods(node);
      try {
        const r = await api.delete(`/api/v1/namespaces/${NAMESPACE}/pods/${old.metadata.name}`);
        expect([200, 202]).toContain(r.status);
        const next = await servingPod(node);
        expect(next.metadata.uid).not.toBe(uid);
        const gone = await until('the old pod\'s DELETED event', 30_000, () => watch.events.find((e) => e.type === 'DELETED' && e.object.metadata.uid === uid));
        expect(gone.object.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0 });
      } finally {
        watch.close();
      }
      // Sockets and the instance's lock file: a pod UID never comes back, so nothing is left to pile up.
      expect(filesOf(uid)).toEqual([]);
    });

    it('a rolling update (`kubectl rollout restart`): the surge pod is Ready and registered before the old one is stopped, a plugin is registered at every moment, and pods keep getting devices', async () => {
      addMacvlan(node, { name: 'ncr7a', lower: 'ncr6low' });
      cleanups.push(() => deleteDevice(node, 'ncr7a'));
      const old = await servingPod(node);
      await publishedDevice(node, 'ncr7a');

      // Watch the kubelet's plugin registry (the kubelet's view: a socket there is a registered plugin).
      let samples = 0;
      let empty = 0;
      const sampler = setInterval(() => {
        samples++;
        if (regSockets().length === 0) empty++;
      }, 10);
      const watch = await watchDaemonSetPods(node);
      let surge: DaemonSetPod;
      try {
        const annotation = { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() };
        const r = await api.patch(dsPath, { spec: { template: { metadata: { annotations: annotation } } } }, 'application/strategic-merge-patch+json');
        expect(r.status, r.text).toBe(200);
        surge = await servingPod(node);
        expect(surge.metadata.uid).not.toBe(old.metadata.uid);
        await until('the old pod\'s DELETED event', 30_000, () => watch.events.find((e) => e.type === 'DELETED' && e.object.metadata.uid === old.metadata.uid));
      } finally {
        clearInterval(sampler);
        watch.close();
      }
      // Event order, as the DaemonSet controller drove it: the surge pod was created and turned
      // Ready (its readiness probe: registered, slices published) before the old one was told to stop.
      const at = (f: (p: DaemonSetPod) => boolean): number => watch.events.findIndex((e) => f(e.object));
      const surgeAdded = at((p) => p.metadata.uid === surge.metadata.uid);
      const surgeReady = at((p) => p.metadata.uid === surge.metadata.uid && podReady(p));
      const oldStopping = at((p) => p.metadata.uid === old.metadata.uid && p.metadata.deletionTimestamp !== undefined);
      expect(surgeAdded).toBeGreaterThanOrEqual(0);
      expect(surgeReady).toBeGreaterThan(surgeAdded);
      expect(oldStopping).toBeGreaterThan(surgeReady);
      // That readiness was the surge pod's own: it came after the pod registered with the kubelet, and
      // so did the old pod's stop. (Both pods' probe servers share the metrics port on the node's
      // address, SO_REUSEPORT, and the old pod can answer the surge pod's HTTP probes: the chart's
      // startup probe holds them until the surge pod's own registration socket is there.)
      const registered = Date.parse(logEntries(podLogs(node, surge!)[0] ?? '').find((l) => l.msg === 'registered with the kubelet')?.time ?? '');
      expect(watch.events[surgeReady]!.at, 'the surge pod turned Ready before it registered with the kubelet').toBeGreaterThan(registered);
      expect(watch.events[oldStopping]!.at, 'the old pod stopped before the surge pod registered with the kubelet').toBeGreaterThan(registered);
      // The kubelet's own account: it registered the surge pod's plugin before it unregistered the old one's.
      const kubeletLog = readFileSync(join(node.logs, 'kubelet.log'), 'utf8').split('\n');
      const line = (op: string, uid: string): number => kubeletLog.findIndex((l) => l.includes(`"OperationExecutor.${op} started"`) && l.includes(`netclaim.dev-${uid}-reg.sock`));
      const surgeRegistered = line('RegisterPlugin', surge!.metadata.uid);
      expect(surgeRegistered).toBeGreaterThanOrEqual(0);
      await until('the kubelet unregistered the old pod\'s plugin', 30_000, () => line('UnregisterPlugin', old.metadata.uid) >= 0 || undefined);
      expect(surgeRegistered).toBeLessThan(line('UnregisterPlugin', old.metadata.uid));
      const oldFinal = watch.events.find((e) => e.type === 'DELETED' && e.object.metadata.uid === old.metadata.uid)!.object;
      expect(oldFinal.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0 });
      expect(samples).toBeGreaterThan(50);
      expect(empty).toBe(0);
      expect(filesOf(old.metadata.uid)).toEqual([]);

      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'c7', claimSpec([request('nic', byIfName('ncr7a'))])));
      await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p7', [{ name: 'nic', resourceClaimName: 'c7' }]));
      const pod = await waitPodReady(node, ns, 'p7');
      expect(containerLinks(node, pod).some((l) => l.ifname === 'ncr7a')).toBe(true);
      // The surge pod prepared it.
      expect(podLog(node, surge!)).toMatch(prepared('e2e-restart/c7'));
      expect(podLog(node, old)).not.toMatch(prepared('e2e-restart/c7'));
      await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p7`);
      await until('ncr7a back on the node', 30_000, () => linkOnNode(node, 'ncr7a'));
    });
  });
});
