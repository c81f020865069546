/**
 * The DaemonSet pod with the chart values that lift what the unprivileged pod cannot do
 * (pod.e2e.test.ts): `privileged: true` (a writable /proc/sys: claims that set IPv6
 * sysctls work, and a device's host IPv6 sysctls are restored) and `stateDirMountPropagation:
 * Bidirectional` (a namespace bind-mounted under the state directory is on the node and
 * outlives the container and the pod). Applying the values is a rolling update; the
 * file ends with the chart's defaults again.
 *
 * Pod mode only (process mode: skipped).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim } from './node/netclaim-daemon.ts';
import { daemonSetPods, podReady } from './node/netclaim-chart.ts';
import { containerPid, podLog, servingPod } from './node/netclaim-pod.ts';
import { CAP_NET_ADMIN, CAP_SYS_ADMIN, capBits, mounts, probe, procStatus, sandboxNetns } from './node/pod-inspect.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, create, deleteAndWait, deleteDevice, ensureNamespace, inContainer,
  linkOnNode, onNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { nodeProcesses } from './node/node-sandbox.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-privileged';
const cleanups: Array<() => unknown> = [];
const inNode = nodeProcesses(node);
const sysctl = (key: string): string => onNode(node, 'sysctl', ['-n', key]).trim();

describe.skipIf(node.daemonMode !== 'pod')('the DaemonSet pod with privileged: true and stateDirMountPropagation: Bidirectional', () => {
  let pod: Awaited<ReturnType<typeof servingPod>>;
  let pid: number;

  beforeAll(async () => {
    await startNetclaim(node, { values: { privileged: true, stateDirMountPropagation: 'Bidirectional' } });
    pod = await servingPod(node);
    pid = containerPid(node, pod.containerId);
    await ensureNamespace(api, ns);
    cleanups.push(addLower(node, 'ncv1low'));
  });

  afterAll(async () => {
    await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const c of cleanups.reverse()) await c();
    await startNetclaim(node);
  });

  it('runs privileged: every capability, /proc/sys writable, the state directory shared with the node', () => {
    const caps = capBits(procStatus(pid)['CapEff']!);
    expect(caps).toEqual(expect.arrayContaining([CAP_NET_ADMIN, CAP_SYS_ADMIN]));
    expect(caps.length).toBeGreaterThan(30);
    const m = mounts(pid);
    expect(m.get('/proc/sys')?.options.includes('ro') ?? false).toBe(false);
    expect(m.get('/var/lib/netclaim')!.propagation.some((t) => t.startsWith('shared:'))).toBe(true);
    expect(podLog(node, pod)).not.toContain('pod namespace pins stay in this mount namespace');
  });

  it('what the unprivileged pod refuses works: a claim\'s IPv6 sysctls are set in the pod, and the device\'s host IPv6 sysctls restored', async () => {
    addMacvlan(node, { name: 'ncv1a', lower: 'ncv1low' });
    cleanups.push(() => deleteDevice(node, 'ncv1a'));
    onNode(node, 'sysctl', ['-q', '-w', 'net.ipv6.conf.ncv1a.forwarding=1']);
    onNode(node, 'sysctl', ['-q', '-w', 'net.ipv4.conf.ncv1a.arp_ignore=2']);
    await publishedDevice(node, 'ncv1a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'sysctls', claimSpec([request('nic', byIfName('ncv1a'))], {
      interface: { name: 'net1', sysctls: { 'ipv4.rp_filter': 2, 'ipv6.accept_ra': 0 } },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimName: 'sysctls' }]));
    const p = await waitPodReady(node, ns, 'p1');
    expect(inContainer(node, p, ['cat', '/proc/sys/net/ipv4/conf/net1/rp_filter']).trim()).toBe('2');
    expect(inContainer(node, p, ['cat', '/proc/sys/net/ipv6/conf/net1/accept_ra']).trim()).toBe('0');
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
    await until('ncv1a back on the node', 30_000, () => linkOnNode(node, 'ncv1a'));
    expect(sysctl('net.ipv6.conf.ncv1a.forwarding')).toBe('1');
    expect(sysctl('net.ipv4.conf.ncv1a.arp_ignore')).toBe('2');
  });

  it('pins a namespace: a pod\'s netns bind-mounted under the state directory is on the node, and outlives the container and the pod', async () => {
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'plain', []));
    const plain = await waitPodReady(node, ns, 'plain');
    const netns = sandboxNetns(node, plain.metadata.uid);
    const pin = '/var/lib/netclaim/e2e-pin-probe';
    cleanups.push(() => {
      inNode.exec('umount', [pin]);
      rmSync(inNode.nodePath(pin), { force: true });
    });
    expect(probe(node, pod.containerId, ['bind', netns.path, pin])).toEqual({ cmd: 'bind', create: 'ok', mount: 'ok', mounted: true });
    // On the node (Bidirectional propagation): the pod's namespace.
    expect(statSync(inNode.nodePath(pin)).ino).toBe(netns.ino);

    // The container dies and starts again: the pin is still there, and the new container sees it.
    const restarts = pod.status?.containerStatuses?.[0]?.restartCount ?? 0;
    process.kill(pid, 'SIGKILL');
    const back = await until('the container restarted', 120_000, async () => {
      const p = (await daemonSetPods(api)).find((x) => x.metadata.uid === pod.metadata.uid);
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) > restarts && podReady(p) ? p : undefined;
    });
    const cid = back.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    expect(probe(node, cid, ['mounted', pin])).toEqual({ cmd: 'mounted', mounted: true });
    expect(statSync(inNode.nodePath(pin)).ino).toBe(netns.ino);

    // The pod goes (the runtime unmounts its netns): the namespace lives on through the pin.
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/plain`);
    await until('the runtime unmounted the pod\'s netns', 30_000, () => !existsSync(inNode.nodePath(netns.path)) || undefined);
    const links = spawnSync('nsenter', [`--net=${inNode.nodePath(pin)}`, 'ip', '-j', 'link'], { encoding: 'utf8' });
    expect(links.status, links.stderr).toBe(0);
    expect((JSON.parse(links.stdout) as Array<{ ifname: string }>).map((l) => l.ifname)).toContain('lo');
    expect(statSync(inNode.nodePath(pin)).ino).toBe(netns.ino);
  });
});
