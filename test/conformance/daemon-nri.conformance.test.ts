/**
 * The whole chain, with real peers on every side: a ResourceClaim in the
 * kube-apiserver, prepared by the kubelet's client code (kubelet-peer), the
 * pod started and stopped by containerd's NRI runtime code (nri-peer, both
 * generations: dedicated pod RPCs and StateChange-only), the device moved
 * into a real pod network namespace fully configured, `status.devices`
 * written to the claim, and on stop the host state restored field by field
 * (compared with `ip -j` snapshots taken before).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.ts';
import { DEFAULT_OPTIONS } from '../../src/inventory/options.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../kernel/netns-fixture.ts';
import { KubeClient } from './kube-client.ts';
import { peersBinDir } from './peers/binaries.ts';
import { closeAllPeerProcesses } from './peers/json-lines.ts';
import { KubeletPeer } from './peers/kubelet-peer.ts';
import { NriPeer } from './peers/nri-peer.ts';
import { ensureNode, kubeConfigFor, sliceList, suffix, waitFor, SLICES } from './slice-fixtures.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const DRIVER = 'netclaim.dev';
const RESOURCE = '/apis/resource.k8s.io/v1';
const cleanup: Array<() => Promise<unknown> | void> = [];

/** The peers built, a Node object for the daemon and a namespace for its claims; all removed after the file. */
async function nodeAndNamespace(node: string, kns: string): Promise<void> {
  peersBinDir();
  await ensureNode(kube, node);
  cleanup.push(() => kube.delete(`/api/v1/nodes/${node}`));
  await must('namespace', kube.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: kns } }));
  cleanup.push(() => kube.delete(`/api/v1/namespaces/${kns}`));
  cleanup.push(() => kube.delete(`${RESOURCE}/namespaces/${kns}/resourceclaims`));
}
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await closeAllPeerProcesses();
});

async function must<T>(what: string, p: Promise<{ status: number; body: T; text: string }>): Promise<T> {
  const r = await p;
  if (r.status !== 200 && r.status !== 201) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
}

/** What restoring must bring back: the device's link, addresses, routes, rules and permanent neighbours, as ip -j shows them. */
function hostState(ns: TestNetns, dev: string): unknown {
  const link = ipJson<Array<Record<string, unknown>>>(ns, '-d', 'link', 'show', 'dev', dev)[0]!;
  const addrs = ipJson<Array<{ addr_info: Array<Record<string, unknown>> }>>(ns, 'addr', 'show', 'dev', dev)[0]!.addr_info
    .map(({ valid_life_time: _v, preferred_life_time: _p, ...a }) => a);
  const routes = ipJson<Array<Record<string, unknown>>>(ns, 'route', 'show', 'table', 'all', 'dev', dev);
  const rules = ipJson<unknown[]>(ns, 'rule', 'show');
  const neigh = ipJson<unknown[]>(ns, 'neigh', 'show', 'dev', dev, 'nud', 'permanent');
  const { ifindex: _i, stats: _s, stats64: _s64, ...l } = link;
  return { link: l, addrs, routes, rules, neigh };
}

for (const runtime of ['current', 'legacy'] as const) {
  describe(`claim → kubelet prepare → NRI (${runtime} runtime) → pod netns → restore`, () => {
    const node = `nri-${runtime}-${suffix()}`;
    const kns = `nri-${suffix()}`;
    let host: TestNetns;
    let dev: string;
    let root: string;
    let kubelet: KubeletPeer;
    let nri: NriPeer;
    let daemon: Daemon;

    beforeAll(async () => {
      await nodeAndNamespace(node, kns);
      host = createNetns('nrih', { forFile: true });
      dev = uniqueName('nd');
      ip(host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
      ip(host, 'link', 'set', dev, 'mtu', '1500', 'up');
      ip(host, 'addr', 'add', '10.95.0.2/24', 'dev', dev);
      ip(host, 'addr', 'add', 'fd00:95::2/64', 'dev', dev, 'nodad');
      ip(host, 'route', 'add', '10.96.0.0/16', 'via', '10.95.0.1', 'dev', dev, 'table', '100');
      ip(host, 'rule', 'add', 'from', '10.95.0.0/24', 'lookup', '100', 'pref', '1100');
      ip(host, 'neigh', 'add', '10.95.0.9', 'lladdr', '02:00:00:00:00:99', 'dev', dev, 'nud', 'permanent');
      root = mkdtempSync(join(tmpdir(), 'nc-nri-'));
      cleanup.push(() => rmSync(root, { recursive: true, force: true }));
      kubelet = await KubeletPeer.start({ registry: join(root, 'kubelet', 'plugins_registry') });
      nri = await NriPeer.start({ socket: join(root, 'nri.sock'), runtime });
      daemon = new Daemon({
        kubeConfig: kubeConfigFor(cp, cp.token), nodeName: node, driverName: DRIVER,
        kubeletRootDir: join(root, 'kubelet'), stateDir: join(root, 'state'), cdiDir: join(root, 'cdi'), sysfsRoot: '/sys',
        inventory: { ...DEFAULT_OPTIONS, includeKinds: ['*'], plumbingNames: [...DEFAULT_OPTIONS.plumbingNames, '*p'] },
        attributeDomain: DRIVER, dranetConfigs: true, taintUnhealthy: false, metricsAddress: '127.0.0.1:0',
        nriSocket: join(root, 'nri.sock'), hostNetns: host.path, libc: testLibc, log: createLogger({ level: process.env['NETCLAIM_TEST_LOG'] === '1' ? 'debug' : 'silent' }),
      });
      await daemon.start();
      cleanup.push(() => daemon.stop());
      cleanup.push(() => kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`));
      await kubelet.waitForRegistered(DRIVER);
      await nri.waitForPlugin(`00-${DRIVER}`);
    }, 600_000);

    it('the pod gets its device fully configured, the claim its status; stop restores the host exactly', async () => {
      const device = await waitFor('published device', async () => {
        for (const s of await sliceList(kube, node, DRIVER)) {
          const d = s.spec.devices?.find((x) => (x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string === dev);
          if (d) return d.name;
        }
        return undefined;
      });
      const params = {
        interface: { name: 'net1', mtu: 1400, addresses: ['10.95.0.2/24', 'fd00:96::2/64'], arpIgnore: 1 },
        routes: [{ destination: '10.97.0.0/16', gateway: '10.95.0.1' }, { destination: '192.168.96.0/24', scope: 253 }],
        neighbors: [{ destination: '10.95.0.7', hardwareAddr: '02:00:00:00:00:77' }],
        ethtool: { features: { 'rx-gro': false } },
      };
      const claim = await must<{ metadata: { name: string; uid: string } }>('create claim', kube.post(`${RESOURCE}/namespaces/${kns}/resourceclaims`, {
        apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'nic', namespace: kns },
        spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'netclaim' } }], config: [{ requests: ['nic'], opaque: { driver: DRIVER, parameters: params } }] } },
      }));
      const podUid = crypto.randomUUID();
      await must('allocate', kube.put(`${RESOURCE}/namespaces/${kns}/resourceclaims/nic/status`, {
        ...claim,
        status: {
          allocation: { devices: { results: [{ request: 'nic', driver: DRIVER, pool: node, device }], config: [{ source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER, parameters: params } }] } },
          reservedFor: [{ resource: 'pods', name: 'job-0', uid: podUid }],
        },
      }));
      if (process.env['NETCLAIM_TEST_LOG'] === '1') console.log(JSON.stringify((await kube.get(`${RESOURCE}/namespaces/${kns}/resourceclaims/nic`)).body));
      const before = hostState(host, dev);
      const ref = { namespace: kns, name: 'nic', uid: claim.metadata.uid };
      expect((await kubelet.prepare(DRIVER, [ref])).response?.claims?.[ref.uid]?.devices).toHaveLength(1);

      const pod = createNetns('nrip');
      const nriPod = { id: `sb-${podUid}`, name: 'job-0', uid: podUid, namespace: kns, netns: pod.path };
      const run = await nri.runPodSandbox(nriPod);
      expect(run, JSON.stringify(run)).toMatchObject({ ok: true });
      // The daemon attaches right after answering (attachAfterAnswer); CreateContainer waits for it and is the gate.
      const ctr = await nri.createContainer({ podId: nriPod.id }, { id: `c-${podUid}`, name: 'app' });
      expect(ctr).toMatchObject({ ok: true });

      const inPod = ipJson<Array<{ ifname: string; mtu: number; operstate: string; addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>>(pod, 'addr', 'show', 'dev', 'net1')[0]!;
      expect(inPod.mtu).toBe(1400);
      expect(inPod.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual(['10.95.0.2/24', 'fd00:96::2/64']);
      const routes = ipJson<Array<{ dst: string; gateway?: string; table?: string }>>(pod, 'route', 'show', 'table', 'all', 'dev', 'net1');
      expect(routes).toEqual(expect.arrayContaining([
        expect.objectContaining({ dst: '10.97.0.0/16', gateway: '10.95.0.1' }),
        expect.objectContaining({ dst: '192.168.96.0/24' }),
        expect.objectContaining({ dst: '10.96.0.0/16', gateway: '10.95.0.1', table: '100' }), // copied from the host
      ]));
      expect(ipJson<Array<{ dst: string }>>(pod, 'neigh', 'show', 'dev', 'net1', 'nud', 'permanent').map((n) => n.dst).sort()).toEqual(['10.95.0.7', '10.95.0.9']);
      expect(ipJson<Array<{ src?: string; table?: string; priority: number }>>(pod, 'rule', 'show').some((r) => r.priority === 1100 && r.table === '100')).toBe(true);
      expect(ipJson<unknown[]>(host, 'link', 'show').some((l) => (l as { ifname: string }).ifname === dev)).toBe(false);


      const status = await waitFor('claim status', async () => {
        const c = await kube.get<{ status?: { devices?: Array<{ driver: string; networkData?: unknown; conditions?: Array<{ type: string; status: string }> }> } }>(`${RESOURCE}/namespaces/${kns}/resourceclaims/nic`);
        return c.body.status?.devices?.find((d) => d.driver === DRIVER);
      });
      expect(status).toMatchObject({
        networkData: { interfaceName: 'net1', ips: expect.arrayContaining(['10.95.0.2/24', 'fd00:96::2/64']) as unknown },
        conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]) as unknown,
      });

      const stop = await nri.stopPodSandbox({ podId: nriPod.id }, { omitNetns: runtime === 'legacy' });
      expect(stop).toMatchObject({ ok: true });
      expect(hostState(host, dev)).toEqual(before);
      expect(ipJson<Array<{ ifname: string }>>(pod, 'link', 'show').map((l) => l.ifname)).toEqual(['lo']);
      expect((await kubelet.unprepare(DRIVER, [ref])).response).toEqual({ claims: { [ref.uid]: {} } });
    }, 60_000);

    it('a pod with no netclaim claim is left alone; a failure in the hook fails the sandbox with the reason', async () => {
      const pod = createNetns('nrio');
      expect(await nri.runPodSandbox({ id: `sb-${suffix()}`, name: 'other', uid: crypto.randomUUID(), namespace: kns, netns: pod.path })).toMatchObject({ ok: true });
    });
  });
}

/**
 * NRI as a hard dependency (docs/pods.md, "NRI is a hard dependency" and
 * "Runtime configuration"): the daemon registers with the kubelet only once
 * the runtime has registered and synchronized its NRI plugin; /readyz
 * includes that; Prepare is refused (retryably) whenever the runtime does
 * not have the plugin; and a runtime configured with the default validator
 * requiring `netclaim.dev` refuses to create a container of a pod while
 * netclaim is away, so the pod runs only once netclaim is back and has put
 * its device in.
 */
describe('NRI is a hard dependency, and the runtime fails closed too', () => {
  const node = `nri-gate-${suffix()}`;
  const kns = `nri-gate-${suffix()}`;
  let host: TestNetns;
  let dev: string;
  let root: string;
  let socket: string;
  let kubelet: KubeletPeer;
  let nri: NriPeer | undefined;
  let daemon: Daemon;
  let starting: Promise<void>;
  let device: string;
  const options = (): ConstructorParameters<typeof Daemon>[0] => ({
    kubeConfig: kubeConfigFor(cp, cp.token), nodeName: node, driverName: DRIVER,
    kubeletRootDir: join(root, 'kubelet'), stateDir: join(root, 'state'), cdiDir: join(root, 'cdi'), sysfsRoot: '/sys',
    inventory: { ...DEFAULT_OPTIONS, includeKinds: ['*'], plumbingNames: [...DEFAULT_OPTIONS.plumbingNames, '*p'] },
    attributeDomain: DRIVER, dranetConfigs: true, taintUnhealthy: false, metricsAddress: '127.0.0.1:0',
    nriSocket: socket, hostNetns: host.path, libc: testLibc, log: createLogger({ level: process.env['NETCLAIM_TEST_LOG'] === '1' ? 'debug' : 'silent' }),
  });
  const probe = async (): Promise<{ status: number; failed: string[]; checks: { name: string; error?: string }[] }> => {
    const a = daemon.httpAddress!;
    const r = await fetch(`http://${a.host}:${a.port}/readyz`);
    const body = await r.json() as { failed: string[]; checks: { name: string; error?: string }[] };
    return { ...body, status: r.status };
  };
  const metric = async (name: string): Promise<string | undefined> => {
    const a = daemon.httpAddress!;
    return (await (await fetch(`http://${a.host}:${a.port}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1];
  };
  /** The runtime with the default validator requiring netclaim (containerd 2.2+ `default_validator.required_plugins`). */
  const startRuntime = async (): Promise<NriPeer> => {
    nri = await NriPeer.start({ socket, requiredPlugins: [DRIVER] });
    return nri;
  };
  const claimFor = async (name: string, podUid: string): Promise<{ namespace: string; name: string; uid: string }> => {
    const params = { interface: { name: 'net1', mtu: 1400 } };
    const claim = await must<{ metadata: { name: string; uid: string } }>('create claim', kube.post(`${RESOURCE}/namespaces/${kns}/resourceclaims`, {
      apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: kns },
      spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'netclaim' } }], config: [{ requests: ['nic'], opaque: { driver: DRIVER, parameters: params } }] } },
    }));
    await must('allocate', kube.put(`${RESOURCE}/namespaces/${kns}/resourceclaims/${name}/status`, {
      ...claim,
      status: {
        allocation: { devices: { results: [{ request: 'nic', driver: DRIVER, pool: node, device }], config: [{ source: 'FromClaim', requests: ['nic'], opaque: { driver: DRIVER, parameters: params } }] } },
        reservedFor: [{ resource: 'pods', name: 'job-0', uid: podUid }],
      },
    }));
    return { namespace: kns, name, uid: claim.metadata.uid };
  };

  beforeAll(async () => {
    await nodeAndNamespace(node, kns);
    host = createNetns('nrig', { forFile: true });
    dev = uniqueName('ng');
    ip(host, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
    ip(host, 'link', 'set', dev, 'up');
    root = mkdtempSync(join(tmpdir(), 'nc-nri-gate-'));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    socket = join(root, 'nri.sock');
    kubelet = await KubeletPeer.start({ registry: join(root, 'kubelet', 'plugins_registry') });
    daemon = new Daemon(options());
    starting = daemon.start();
    starting.catch(() => {});
    cleanup.push(() => daemon.stop());
    cleanup.push(() => nri?.close());
    cleanup.push(() => kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${DRIVER}`)}`));
  }, 600_000);

  it('without the runtime: registered with the kubelet but not ready (/readyz says why); a Prepare sent now waits for the runtime\'s Synchronize and is answered after it', async () => {
    await waitFor('http endpoint', async () => {
      try {
        return daemon.httpAddress !== undefined;
      } catch {
        return false; // not listening yet
      }
    });
    const early = await waitFor('nri readiness check', async () => { const p = await probe(); return p.failed.includes('nri-synchronized') ? p : undefined; });
    expect(early.status).toBe(500);
    expect(early.checks.find((c) => c.name === 'nri-synchronized')?.error).toMatch(/has not connected and synchronized netclaim's NRI plugin/);
    // Registered before the runtime's Synchronize (the kubelet's 1 s tick overlaps the rest of the start); its calls wait.
    await kubelet.waitForRegistered(DRIVER);
    device = await waitFor('published device', async () => {
      for (const s of await sliceList(kube, node, DRIVER)) {
        const d = s.spec.devices?.find((x) => (x.attributes?.[`${DRIVER}/ifName`] as { string?: string } | undefined)?.string === dev);
        if (d) return d.name;
      }
      return undefined;
    });
    const claim = await claimFor('early', crypto.randomUUID());
    let answered = false;
    const prepared = kubelet.prepare(DRIVER, [claim]).then((r) => { answered = true; return r; });
    // Without the gate the daemon would answer PREPARE_NRI_NOT_READY now, long before the runtime below is up.
    expect(answered).toBe(false);

    await startRuntime();
    await starting;
    expect((await prepared).response?.claims?.[claim.uid]?.devices).toHaveLength(1); // after Synchronize, within the start gate's 20 s
    expect(readdirSync(join(root, 'state'))).toContain(`${claim.uid}.json`);
    expect((await kubelet.unprepare(DRIVER, [claim])).response).toEqual({ claims: { [claim.uid]: {} } });
    await expect.poll(async () => (await probe()).status, { timeout: 10_000 }).toBe(200);
    expect(await metric('netclaim_nri_connected')).toBe('1');
  }, 90_000);

  it('the runtime drops the plugin: not ready and Prepare refused with a retryable error until it is back; then Prepare succeeds', async () => {
    const claim = await claimFor('gated', crypto.randomUUID());
    await nri!.close(); // the runtime goes away (its restart, or the plugin dropped after a slow hook)
    await expect.poll(async () => (await probe()).failed, { timeout: 10_000 }).toContain('nri-synchronized');
    expect((await probe()).checks.find((c) => c.name === 'nri-synchronized')?.error).toMatch(/dropped netclaim's NRI plugin/);
    expect(await metric('netclaim_nri_connected')).toBe('0');
    const refused = await kubelet.prepare(DRIVER, [claim]);
    expect(refused.response?.claims?.[claim.uid]?.error).toMatch(/^PREPARE_NRI_NOT_READY: claim .*\/gated: the container runtime dropped netclaim's NRI plugin .*the kubelet retries/);
    expect(readdirSync(join(root, 'state'))).not.toContain(`${claim.uid}.json`);

    await startRuntime();
    await nri!.waitForPlugin(`00-${DRIVER}`, 20_000);
    await expect.poll(async () => (await probe()).status, { timeout: 10_000 }).toBe(200);
    expect((await kubelet.prepare(DRIVER, [claim])).response?.claims?.[claim.uid]?.devices).toHaveLength(1);
    expect((await kubelet.unprepare(DRIVER, [claim])).response).toEqual({ claims: { [claim.uid]: {} } });
  }, 60_000);

  it('netclaim gone between Prepare and the sandbox: the runtime creates no container until netclaim is back, then the pod runs with its device', async () => {
    const podUid = crypto.randomUUID();
    const claim = await claimFor('late', podUid);
    expect((await kubelet.prepare(DRIVER, [claim])).response?.claims?.[claim.uid]?.devices).toHaveLength(1);
    await daemon.stop(); // netclaim is down
    const pod = createNetns('nrigp');
    const nriPod = { id: `sb-${podUid}`, name: 'job-0', uid: podUid, namespace: kns, netns: pod.path };
    expect(await nri!.runPodSandbox(nriPod)).toMatchObject({ ok: true }); // no plugin: the sandbox is made without the hook
    const refused = await nri!.createContainer({ podId: nriPod.id }, { id: `c-${podUid}`, name: 'app' });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/required plugin "netclaim.dev" not present/);
    expect(ipJson<{ ifname: string }[]>(pod, 'link', 'show').map((l) => l.ifname)).toEqual(['lo']);

    daemon = new Daemon(options()); // netclaim is back: Synchronize lists the sandbox, whose device is not in place
    await daemon.start();
    await daemon.pluginServer!.registered;
    expect(ipJson<{ ifname: string; mtu: number }[]>(pod, 'link', 'show').map((l) => `${l.ifname}/${l.mtu}`)).toEqual(['lo/65536', 'net1/1400']);
    expect(await nri!.createContainer({ podId: nriPod.id }, { id: `c2-${podUid}`, name: 'app' })).toMatchObject({ ok: true });

    expect(await nri!.stopPodSandbox({ podId: nriPod.id })).toMatchObject({ ok: true });
    expect((await kubelet.unprepare(DRIVER, [claim])).response).toEqual({ claims: { [claim.uid]: {} } });
    expect(ipJson<{ ifname: string }[]>(host, 'link', 'show').map((l) => l.ifname)).toContain(dev);
  }, 60_000);
});
