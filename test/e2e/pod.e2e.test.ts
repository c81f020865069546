/**
 * The DaemonSet's pod itself, as the chart deploys it by default (unprivileged):
 * the image (no shell, no package manager), the process (exactly NET_ADMIN and
 * SYS_ADMIN, seccomp, read-only root and /proc/sys), the downward API env and the
 * service account token (bound to the pod and the node; the admission policy
 * applies to it), the probes on a restart, the host paths and their propagation, and what the
 * container cannot do: write /proc/sys (IPv4 sysctls go over rtnetlink instead; a claim
 * that needs /proc/sys is refused at Prepare), and pin a namespace with a bind mount
 * under the state directory (it stays in the container and dies with it).
 *
 * Pod mode only (process mode: skipped). pod-privileged.e2e.test.ts has the same
 * experiments with `privileged: true`.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim } from './node/netclaim-daemon.ts';
import { daemonSetOf, daemonSetPods, podReady, renderChart } from './node/netclaim-chart.ts';
import { containerPid, execInContainer, logEntries, podLog, podLogs, servingPod } from './node/netclaim-pod.ts';
import { CAP_NET_ADMIN, CAP_SYS_ADMIN, capBits, capNumber, environ, imageEntries, mounts, probe, procStatus, sandboxNetns } from './node/pod-inspect.ts';
import {
  addLower, addMacvlan, apiOf, byIfName, claimObject, claimSpec, create, deleteAndWait, deleteDevice, ensureNamespace, events,
  getPod, inContainer, linkOnNode, onNode, podObject, publishedDevice, request, waitPodReady,
} from './node/workloads.ts';
import { NODE_IP, nodeProcesses } from './node/node-sandbox.ts';
import { until } from './node/e2e-node.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-pod';
const cleanups: Array<() => unknown> = [];
const nodePath = nodeProcesses(node).nodePath;
const sysctl = (key: string): string => onNode(node, 'sysctl', ['-n', key]).trim();

describe.skipIf(node.daemonMode !== 'pod')('the DaemonSet pod, unprivileged (the chart\'s default)', () => {
  let pod: Awaited<ReturnType<typeof servingPod>>;
  let pid: number;

  beforeAll(async () => {
    await startNetclaim(node);
    pod = await servingPod(node);
    pid = containerPid(node, pod.containerId);
    await ensureNamespace(api, ns);
    cleanups.push(addLower(node, 'ncp1low'));
  });

  afterAll(async () => {
    await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const c of cleanups.reverse()) await c();
  });

  it('the image: the Dockerfile\'s final stage (Node.js, its libraries, the bundle, CA certificates, distroless\'s accounts); no shell, no package manager', () => {
    const entries = imageEntries(node.netclaimImageArchive);
    const paths = entries.map((e) => e.path.replace(/\/$/, ''));
    expect(new Set(paths.map((p) => p.split('/')[0]))).toEqual(new Set(['etc', 'home', 'lib', 'lib64', 'nodejs', 'netclaim', 'root', 'tmp']));
    expect(paths).toEqual(expect.arrayContaining(['nodejs/bin/node', 'netclaim/netclaim.mjs', 'etc/passwd', 'etc/group', 'etc/ssl/certs/ca-certificates.crt', 'lib64/ld-linux-x86-64.so.2']));
    const base = (p: string): string => p.split('/').pop()!;
    const forbidden = /^(sh|bash|dash|ash|zsh|busybox|toybox|apt|apt-get|dpkg|rpm|yum|dnf|apk|npm|npx|corepack|yarn|pnpm|pip3?|python3?|perl)$/;
    expect(paths.filter((p) => forbidden.test(base(p)))).toEqual([]);
    // Executables: the node binary and the loader; nothing else (the addons are loaded, not run).
    expect(entries.filter((e) => e.mode.startsWith('-') && /x/.test(e.mode) && !e.path.endsWith('.node')).map((e) => e.path).sort())
      .toEqual(['lib64/ld-linux-x86-64.so.2', 'nodejs/bin/node']);
    // And in the running container: nothing to exec but node.
    for (const sh of [['/bin/sh', '-c', 'true'], ['sh', '-c', 'true'], ['/busybox/sh']]) {
      const r = execInContainer(node, pod.containerId, sh);
      expect(r.status, sh[0]).not.toBe(0);
      expect(r.stderr + r.stdout, sh[0]).toMatch(/no such file|not found/i);
    }
    expect(execInContainer(node, pod.containerId, ['/nodejs/bin/node', '--version']).stdout).toMatch(/^v24\./);
  });

  it('the process: uid 0, exactly the capabilities the chart grants (effective, permitted, bounding; none inheritable or ambient), seccomp filtering, PID 1 of its own namespace', () => {
    // What the chart grants: drop ALL, add these (NET_ADMIN and SYS_ADMIN).
    const c = (daemonSetOf(renderChart(node.bins.helm)) as { spec: { template: { spec: { containers: Array<{ securityContext: { capabilities: { drop: string[]; add: string[] } } }> } } } })
      .spec.template.spec.containers[0]!.securityContext.capabilities;
    expect(c.drop).toEqual(['ALL']);
    const granted = c.add.map(capNumber).sort((a, b) => a - b);
    expect(granted).toEqual([CAP_NET_ADMIN, CAP_SYS_ADMIN]);
    const s = procStatus(pid);
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) expect(capBits(s[set]!), set).toEqual(granted);
    for (const set of ['CapInh', 'CapAmb']) expect(capBits(s[set]!), set).toEqual([]);
    expect(s['Uid']!.split(/\s+/)).toEqual(['0', '0', '0', '0']);
    expect(s['Seccomp']).toBe('2'); // RuntimeDefault: a filter
    expect(s['NSpid']!.split(/\s+/).at(-1)).toBe('1');
    expect(podLog(node, pod)).toMatch(/"pid":1,/);
  });

  it('the mounts: a read-only root, /proc/sys and /sys; the host paths of the chart, read-only where it says, pod netns with HostToContainer propagation', () => {
    const m = mounts(pid);
    const ro = (p: string): boolean => m.get(p)?.options.includes('ro') ?? false;
    expect(ro('/'), '/').toBe(true);
    expect(ro('/proc/sys'), '/proc/sys').toBe(true);
    expect(ro('/sys'), '/sys').toBe(true);
    for (const p of ['/var/lib/kubelet/plugins_registry', '/var/lib/kubelet/plugins/netclaim.dev', '/var/lib/netclaim', '/var/run/cdi']) expect(ro(p), p).toBe(false);
    for (const p of ['/var/run/netns', '/var/run/nri']) expect(ro(p), p).toBe(true);
    // HostToContainer: a slave of the node's peer group (master:N); the state dir (None): neither.
    expect(m.get('/var/run/netns')!.propagation.some((t) => t.startsWith('master:'))).toBe(true);
    expect(m.get('/var/lib/netclaim')!.propagation).toEqual([]);
    // The daemon sees it too: its pod namespace pins would die with its container.
    expect(podLog(node, pod)).toContain('pod namespace pins stay in this mount namespace');
    // /sys is the node's network namespace's: the node's links, as netclaim's inventory reads them.
    const inNode = (JSON.parse(onNode(node, 'ip', ['-j', 'link'])) as Array<{ ifname: string }>).map((l) => l.ifname).sort();
    expect(readdirSync(`/proc/${pid}/root/sys/class/net`).sort()).toEqual(inNode);
  });

  it('the downward API env and the service account token: bound to this pod and node, and the admission policy refuses it another node\'s slices', async () => {
    const env = environ(pid);
    expect(env).toMatchObject({ NODE_NAME: node.nodeName, POD_UID: pod.metadata.uid, NODE_IPS: NODE_IP, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    const dir = `/proc/${pid}/root/var/run/secrets/kubernetes.io/serviceaccount`;
    expect(readdirSync(dir).filter((f) => !f.startsWith('.')).sort()).toEqual(['ca.crt', 'namespace', 'token']);
    const token = readFileSync(`${dir}/token`, 'utf8');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; 'kubernetes.io': { pod: { uid: string }; node: { name: string } } };
    expect(claims.sub).toBe('system:serviceaccount:netclaim:netclaim');
    expect(claims['kubernetes.io'].pod.uid).toBe(pod.metadata.uid);
    expect(claims['kubernetes.io'].node.name).toBe(node.nodeName);
    const asPod = api.as(token);
    const slice = (nodeName: string): Record<string, unknown> => ({
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { generateName: 'e2e-probe-' },
      spec: { driver: 'netclaim.dev', nodeName, pool: { name: nodeName, generation: 1, resourceSliceCount: 1 }, devices: [] },
    });
    const own = await asPod.post('/apis/resource.k8s.io/v1/resourceslices?dryRun=All', slice(node.nodeName));
    expect(own.status, own.text).toBe(201);
    const other = await asPod.post('/apis/resource.k8s.io/v1/resourceslices?dryRun=All', slice('some-other-node'));
    expect(other.status, other.text).toBe(403);
    expect(other.text).toContain(node.nodeName);
  });

  it('pod network namespaces created after the daemon started are namespaces inside its container (HostToContainer), and the CDI directory is the runtime\'s', async () => {
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'plain', []));
    const plain = await waitPodReady(node, ns, 'plain');
    const netns = sandboxNetns(node, plain.metadata.uid);
    expect(netns.path).toMatch(/^\/var\/run\/netns\/cni-/);
    const seen = statSync(`/proc/${pid}/root${netns.path}`);
    expect({ dev: seen.dev, ino: seen.ino }).toEqual({ dev: netns.dev, ino: netns.ino });
    // A file the container writes in its CDI directory is in the one the runtime reads.
    expect(probe(node, pod.containerId, ['write', '/var/run/cdi/netclaim.test-probe.json', '{}'])).toMatchObject({ write: 'ok' });
    expect(readFileSync(nodePath('/var/run/cdi/netclaim.test-probe.json'), 'utf8')).toBe('{}');
    expect(probe(node, pod.containerId, ['unlink', '/var/run/cdi/netclaim.test-probe.json'])).toMatchObject({ unlink: 'ok' });
  });

  it('cannot pin a namespace: a bind mount it makes under the state directory is not on the node, and dies with the container (whose restart the probes gate)', async () => {
    const netns = sandboxNetns(node, (await getPod(api, ns, 'plain'))!.metadata.uid);
    const pin = '/var/lib/netclaim/e2e-pin-probe';
    cleanups.push(() => rmSync(nodePath(pin), { force: true }));
    // The mount itself works (CAP_SYS_ADMIN; RuntimeDefault seccomp allows mount(2) with it)...
    expect(probe(node, pod.containerId, ['bind', netns.path, pin])).toEqual({ cmd: 'bind', create: 'ok', mount: 'ok', mounted: true });
    expect(statSync(`/proc/${pid}/root${pin}`).ino).toBe(netns.ino);
    // ...but stays in the container's mount namespace: on the node the file is an empty plain file.
    const onNodeStat = statSync(nodePath(pin));
    expect(onNodeStat.isFile() && onNodeStat.size === 0 && onNodeStat.ino !== netns.ino).toBe(true);
    // And the container's next start does not see it either.
    const restarts = pod.status?.containerStatuses?.[0]?.restartCount ?? 0;
    process.kill(pid, 'SIGKILL');
    const back = await until('the container restarted', 120_000, async () => {
      const p = (await daemonSetPods(api)).find((x) => x.metadata.uid === pod.metadata.uid);
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) > restarts && podReady(p) ? p : undefined;
    });
    const cid = back.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    expect(probe(node, cid, ['mounted', pin])).toEqual({ cmd: 'mounted', mounted: false });
    // The kubelet's probes gated the restarted container: Ready again only once it registered
    // with the kubelet and published its slices (condition times have whole seconds).
    const log = logEntries(podLogs(node, back).at(-1)!);
    const registered = Date.parse(log.find((l) => l.msg === 'registered with the kubelet')!.time);
    const published = Date.parse(log.find((l) => l.msg === 'ResourceSlices published')!.time);
    const ready = Date.parse(back.status!.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime!);
    expect(ready).toBeGreaterThanOrEqual(Math.floor(Math.max(registered, published) / 1000) * 1000);
    pod = { ...back, containerId: cid };
    pid = containerPid(node, cid);
  });

  it('cannot write /proc/sys: read-only (EROFS); a procfs the container mounts itself would be writable', () => {
    expect(probe(node, pod.containerId, ['sysctl', 'net/ipv4/conf/ncp1low/arp_ignore', '1'])).toMatchObject({ write: 'EROFS' });
    expect(sysctl('net.ipv4.conf.ncp1low.arp_ignore')).toBe('0');
    // A way in without privileged for what rtnetlink cannot set (IPv6): a procfs of its own (CAP_SYS_ADMIN).
    expect(probe(node, pod.containerId, ['procfs-sysctl', '/tmp', 'net/ipv4/conf/ncp1low/arp_ignore', '1']))
      .toEqual({ cmd: 'procfs-sysctl', mount: 'ok', write: 'ok', read: '1', umount: 'ok' });
    expect(sysctl('net.ipv4.conf.ncp1low.arp_ignore')).toBe('1');
    onNode(node, 'sysctl', ['-q', '-w', 'net.ipv4.conf.ncp1low.arp_ignore=0']);
  });

  it('IPv4 sysctls go over rtnetlink instead: a claim\'s are set in the pod, and the device\'s host ones are restored', async () => {
    addMacvlan(node, { name: 'ncp1a', lower: 'ncp1low' });
    cleanups.push(() => deleteDevice(node, 'ncp1a'));
    onNode(node, 'sysctl', ['-q', '-w', 'net.ipv4.conf.ncp1a.arp_ignore=2']);
    await publishedDevice(node, 'ncp1a');
    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'rpfilter', claimSpec([request('nic', byIfName('ncp1a'))], {
      interface: { name: 'net1', sysctls: { 'ipv4.rp_filter': 2 } },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p1', [{ name: 'nic', resourceClaimName: 'rpfilter' }]));
    const p = await waitPodReady(node, ns, 'p1');
    expect(inContainer(node, p, ['cat', '/proc/sys/net/ipv4/conf/net1/rp_filter']).trim()).toBe('2');
    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p1`);
    await until('ncp1a back on the node', 30_000, () => linkOnNode(node, 'ncp1a'));
    expect(sysctl('net.ipv4.conf.ncp1a.arp_ignore')).toBe('2');
    expect(podLog(node, pod)).not.toMatch(/ncp1a: sysctls:/);
    await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/rpfilter`);
  });

  it('a claim that needs /proc/sys (an IPv6 sysctl; a host IPv6 sysctl a returning device would lose) is refused at Prepare, naming it; the device stays on the node', async () => {
    addMacvlan(node, { name: 'ncp1b', lower: 'ncp1low' });
    cleanups.push(() => deleteDevice(node, 'ncp1b'));
    await publishedDevice(node, 'ncp1b');
    const refused = async (claim: string, pod: string, config: Record<string, unknown> | undefined, field: string): Promise<void> => {
      await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, claim, claimSpec([request('nic', byIfName('ncp1b'))], config)));
      await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, pod, [{ name: 'nic', resourceClaimName: claim }]));
      const ev = await until(`${pod}: Prepare refused`, 90_000, async () =>
        (await events(api, ns, 'Pod', pod)).find((e) => e.type === 'Warning' && e.message.includes('PREPARE_SYSCTLS_READ_ONLY')));
      expect(ev.message).toContain(field);
      expect((await getPod(api, ns, pod))?.status?.phase).toBe('Pending');
      expect(linkOnNode(node, 'ncp1b')).toBeDefined();
      await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/${pod}`);
      await deleteAndWait(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims/${claim}`);
    };
    await refused('acceptra', 'p2', { interface: { name: 'net1', sysctls: { 'ipv6.accept_ra': 0 } } }, 'interface.sysctls["ipv6.accept_ra"]');
    // On the host the device forwards IPv6; back from a pod it would get conf/default's 0.
    onNode(node, 'sysctl', ['-q', '-w', 'net.ipv6.conf.ncp1b.forwarding=1']);
    await refused('v6fwd', 'p3', undefined, 'net.ipv6.conf.ncp1b.forwarding');
  });
});
