/**
 * Scenario 4: full tuning (name, MTU, MAC, BIG TCP sizes, ethtool features, eBPF
 * detach), checked from inside the container with its own `ip` and `ethtool`, and
 * the eBPF programs with the node's `tc` in the pod's network namespace.
 *
 * The device is a veth: a macvlan's offload features follow its lower device's and
 * cannot be changed on it (the kernel answers every ethtool -K with "not applied").
 * So this file's netclaim publishes veths: the chart's `includeVeth: true`. The MAC and
 * the eBPF detach are allowed by the policy of a DeviceClass of its own.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NetnsHandle } from '../../src/kernel/netns/handle.ts';
import { attachTcFilter, bpfProgLoad, closeBpfFds } from '../kernel/bpf-fixture.ts';
import { startNetclaim, type NetclaimDaemon } from './node/netclaim-daemon.ts';
import {
  addLower, apiOf, byIfName, claimObject, claimSpec, containerId, create, deleteAndWait, ensureNamespace,
  inContainer, linkOnNode, onNode, podObject, publishedDevice, request, waitPodReady, type PodStatus,
} from './node/workloads.ts';
import { until } from './node/e2e-node.ts';
import { nodeProcesses } from './node/node-sandbox.ts';

const node = inject('e2eNode');
const api = apiOf(node);
const ns = 'e2e-tuning';
let daemon: NetclaimDaemon;
const cleanups: Array<() => unknown> = [];

/**
 * A claim may not set a MAC or detach the admin's eBPF programs unless its DeviceClass's policy
 * allows it (docs/claim-config.md, "Policy"): this file's class, from the chart's `deviceClasses`.
 */
const TUNING_CLASS = { name: 'netclaim-e2e-tuning', config: { policy: { allowFields: ['interface.disableEbpfPrograms'], hardwareAddrRanges: ['02:4e:43:00:00:00/24'] } } };

beforeAll(async () => {
  daemon = await startNetclaim(node, { values: { includeVeth: true, deviceClasses: [{ name: 'netclaim' }, TUNING_CLASS] } });
  await ensureNamespace(api, ns);
});

afterAll(async () => {
  await deleteAndWait(api, `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  await daemon?.stop();
  await api.delete(`/apis/resource.k8s.io/v1/deviceclasses/${TUNING_CLASS.name}`);
});

const repo = fileURLToPath(new URL('../..', import.meta.url));
const nodeBin = join(repo, 'node_modules', '.bin', 'node');

/** The PID of the pod's container (crictl inspect), for entering its network namespace from the node. */
function containerPid(pod: PodStatus): number {
  const r = nodeProcesses(node).exec(`${node.bins.runtime}/crictl`, ['--runtime-endpoint', 'unix:///run/containerd/containerd.sock', 'inspect', containerId(pod)]);
  return (JSON.parse(r.stdout) as { info: { pid: number } }).info.pid;
}

/** `ethtool -k` output as feature → on/off. */
function features(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^\s*([a-z0-9-]+): (on|off)/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('scenario 4: full tuning', () => {
  it('the container sees the configured name, MTU, MAC, BIG TCP sizes and ethtool features, and no eBPF program', async () => {
    // nctu4a goes to the pod; its peer stays on the node.
    cleanups.push(addLower(node, 'nctu4a'));
    onNode(node, 'ip', ['addr', 'add', '192.168.74.5/24', 'dev', 'nctu4a']);
    // A tc program on the device, as a CNI or an agent would leave one.
    const h = NetnsHandle.open(`/run/netns/${node.netns}`);
    try {
      const ifindex = Number(JSON.parse(onNode(node, 'ip', ['-j', 'link', 'show', 'nctu4a']))[0].ifindex);
      attachTcFilter(h, ifindex, 'ingress', bpfProgLoad('sched_cls', 'nc_e2e_prog'), 'nc_e2e_prog');
      closeBpfFds();
    } finally {
      h.close();
    }
    expect(onNode(node, 'tc', ['filter', 'show', 'dev', 'nctu4a', 'ingress'])).toContain('nc_e2e_prog');
    // The eBPF poll sees the program a moment after the link itself is published: wait for it in the slice.
    const published = await publishedDevice(node, 'nctu4a', 30_000, (d) => d.attributes['netclaim.dev/ebpf']?.['bool'] === true);
    expect(published.attributes['netclaim.dev/ebpf']).toEqual({ bool: true });
    const hostFeatures = features(onNode(node, 'ethtool', ['-k', 'nctu4a']));
    expect(hostFeatures['tx-tcp-segmentation']).toBe('on');

    await create(api, `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`, claimObject(ns, 'tuned', claimSpec([request('nic', byIfName('nctu4a'), 1, TUNING_CLASS.name)], {
      interface: {
        name: 'fast0', mtu: 9000, hardwareAddr: '02:4e:43:00:00:04', addresses: ['10.74.0.2/24'],
        gsoMaxSize: 131072, groMaxSize: 131072, gsoIPv4MaxSize: 131072, groIPv4MaxSize: 131072,
        disableEbpfPrograms: true,
      },
      ethtool: { features: { 'tx-tcp-segmentation': false, 'tx-nocache-copy': true } },
    })));
    await create(api, `/api/v1/namespaces/${ns}/pods`, podObject(ns, 'p4', [{ name: 'nic', resourceClaimName: 'tuned' }]));
    const pod = await waitPodReady(node, ns, 'p4');

    const link = (JSON.parse(inContainer(node, pod, ['ip', '-j', '-d', 'link', 'show', 'fast0'])) as Array<Record<string, unknown>>)[0]!;
    expect(link).toMatchObject({ ifname: 'fast0', mtu: 9000, address: '02:4e:43:00:00:04', gso_max_size: 131072, gro_max_size: 131072 });
    // The image's iproute2 (6.1) does not print the IPv4 sizes; netclaim's own link dump of the
    // container's namespace does (its decoder is checked against iproute2 in the kernel tier).
    const pid = containerPid(pod);
    const links = JSON.parse(nodeProcesses(node).exec(nodeBin, [join(repo, 'dist', 'netclaim.mjs'), 'links', '--netns', `/proc/${pid}/ns/net`, '--json']).stdout) as Array<Record<string, unknown>>;
    expect(links.find((l) => l['name'] === 'fast0')).toMatchObject({ gsoIpv4MaxSize: 131072, groIpv4MaxSize: 131072, gsoMaxSize: 131072 });
    const inPod = features(inContainer(node, pod, ['ethtool', '-k', 'fast0']));
    expect(inPod['tx-tcp-segmentation']).toBe('off');
    expect(inPod['tx-nocache-copy']).toBe('on');

    // No eBPF program on it in the pod: the node's tc, in the container's network namespace.
    const tc = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'tc', 'filter', 'show', 'dev', 'fast0', 'ingress'], { encoding: 'utf8' });
    expect(tc.status).toBe(0);
    expect(tc.stdout).not.toContain('nc_e2e_prog');

    await deleteAndWait(api, `/api/v1/namespaces/${ns}/pods/p4`);
    const back = await until('nctu4a back on the node', 30_000, () => linkOnNode(node, 'nctu4a'));
    // Restored: MTU, MAC and features as before; the detached program stays detached (documented).
    expect(back.mtu).toBe(1500);
    expect(features(onNode(node, 'ethtool', ['-k', 'nctu4a']))['tx-tcp-segmentation']).toBe('on');
    expect(onNode(node, 'tc', ['filter', 'show', 'dev', 'nctu4a', 'ingress'])).not.toContain('nc_e2e_prog');
  });
});
