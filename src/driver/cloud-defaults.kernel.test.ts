/**
 * A cloud's suggested config as the lowest config layer, end to end on the
 * real kernel (docs/cloud.md, "Applied at Prepare"): the inventory joins the
 * metadata's NIC to the host netdev by MAC, the driver merges the class's and
 * claim's configs over it, the attach applies it in the pod, and the detach
 * restores the host device. The metadata source is scripted (no cloud
 * exists here; the HTTP side of each provider is unit-tested against a
 * loopback server); the MAC it lists is the test veth's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostAndPod, prepareClaim } from '../../test/kernel/claim-fixture.ts';
import { ipJson, testLibc, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { buildInventory } from '../inventory/build.ts';
import { CloudProvider } from '../inventory/cloud/provider.ts';
import type { CloudFacts } from '../inventory/cloud/types.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import type { Device } from '../inventory/model.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from '../inventory/options.ts';
import { PodDriver } from './pod-driver.ts';
import { ClaimStore } from './state/claim-store.ts';

const OPTIONS: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['veth'] };

interface Env { host: TestNetns; pod: TestNetns; dev: string; dir: string; store: ClaimStore; provider?: CloudProvider; driver?: PodDriver }
let env: Env;

beforeEach(() => {
  const { host, pod, dev } = hostAndPod('cl', '10.17.0.2/24');
  const dir = mkdtempSync(join(tmpdir(), 'nc-cloud-'));
  env = { host, pod, dev, dir, store: ClaimStore.open(join(dir, 'state')) };
});

afterEach(() => {
  env.driver?.close();
  env.provider?.close();
  env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

/** Routes in table 101 (`ip route show table 101` fails when the table does not exist at all). */
const table101 = (ns: TestNetns): unknown[] => ipJson<{ table?: string }[]>(ns, 'route', 'show', 'table', 'all').filter((r) => r.table === '101');
const link = (ns: TestNetns, name: string): { mtu: number; address: string } => ipJson<{ mtu: number; address: string }[]>(ns, 'link', 'show', 'dev', name)[0]!;
const globalAddrs = (ns: TestNetns, name: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', name)[0]!.addr_info
    .filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);

/** The host's veth as the inventory lists it, with the cloud's suggestion for it joined by MAC. */
async function cloudDevice(): Promise<Device> {
  // What a GCE secondary NIC's metadata says (docs/cloud.md, GCE): its address, the subnet's gateway, MTU 8896.
  const facts: CloudFacts = {
    cloud: 'gce', node: {},
    nics: [{ mac: link(env.host, env.dev).address, index: 1, ipv4: ['10.17.0.2/24'], gateway: '10.17.0.1', mtu: 8896, subnet: '10.17.0.0/24' }],
  };
  const provider = env.provider = new CloudProvider({ cloud: 'gce', fetch: () => Promise.resolve(facts) }, { scheduler: { after: () => () => {} } });
  provider.start();
  expect(await provider.ready(5000)).toBe(true);
  // The veth stands in for the cloud's PCI NIC: the join by MAC skips virtual devices, which no cloud lists.
  const asCloudNic = (d: Parameters<CloudProvider['suggestedConfig']>[0]): ReturnType<CloudProvider['suggestedConfig']> => provider.suggestedConfig({ ...d, kind: 'pci' });
  const inv = buildInventory(collectSnapshot(env.host.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS, [], undefined, asCloudNic);
  const device = inv.devices.find((d) => d.ifName === env.dev);
  expect(device?.suggestedConfig).toBeDefined();
  return device!;
}

async function attach(device: Device, parameters: unknown, cloudDefaults = true): Promise<void> {
  await prepareClaim({ ...env, cloudDefaults }, { uid: 'c10d0000-0000-4000-8000-000000000001', podUid: 'pod-cl', devices: [device], parameters });
  env.driver = new PodDriver({ store: env.store, host: env.host.handle, libc: testLibc, rdmaExclusive: () => false });
  await env.driver.runPodSandbox({ id: 'sandbox-cl', uid: 'pod-cl', name: 'pod', namespace: 'ns', netns: env.pod.path });
  await env.driver.idle(); // the attach follows the hook's answer
}

describe('the cloud default config, attached for real', () => {
  it('gives the pod the cloud MTU and its policy routing under the claim\'s name, and restores the host device', async () => {
    const before = { link: link(env.host, env.dev), addrs: globalAddrs(env.host, env.dev) };
    await attach(await cloudDevice(), { interface: { name: 'net1' } });
    expect(link(env.pod, 'net1').mtu).toBe(8896);
    expect(globalAddrs(env.pod, 'net1')).toEqual(['10.17.0.2/24']);
    expect(ipJson<{ dst: string; gateway: string }[]>(env.pod, 'route', 'show', 'table', '101')).toEqual([expect.objectContaining({ dst: 'default', gateway: '10.17.0.1' })]);
    expect(ipJson<{ src?: string; table: string }[]>(env.pod, 'rule', 'show').filter((r) => r.table === '101')).toEqual([expect.objectContaining({ src: '10.17.0.2' })]);

    await env.driver!.stopPodSandbox({ id: 'sandbox-cl', uid: 'pod-cl', name: 'pod', namespace: 'ns', netns: env.pod.path });
    expect(link(env.host, env.dev)).toEqual(expect.objectContaining({ mtu: before.link.mtu, address: before.link.address }));
    expect(globalAddrs(env.host, env.dev)).toEqual(before.addrs);
  });

  it('gives way to what the claim sets: its MTU wins, and its own routes replace the cloud\'s routing whole', async () => {
    await attach(await cloudDevice(), { interface: { name: 'net1', mtu: 1400 }, routes: [{ destination: '192.168.50.0/24', gateway: '10.17.0.254' }] });
    expect(link(env.pod, 'net1').mtu).toBe(1400);
    expect(table101(env.pod)).toEqual([]);
    expect(ipJson<{ table: string }[]>(env.pod, 'rule', 'show').filter((r) => r.table === '101')).toEqual([]);
    expect(ipJson<{ dst: string }[]>(env.pod, 'route', 'show', 'dev', 'net1').map((r) => r.dst)).toContain('192.168.50.0/24');
  });

  it('is not used with --no-cloud-config: the pod gets the host\'s MTU', async () => {
    await attach(await cloudDevice(), { interface: { name: 'net1' } }, false);
    expect(link(env.pod, 'net1').mtu).toBe(1500);
    expect(table101(env.pod)).toEqual([]);
  });
});
