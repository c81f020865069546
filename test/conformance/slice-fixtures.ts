/**
 * Helpers for the ResourceSlice publisher's conformance tests: the daemon's
 * API client (kube-api.ts) for a fixture identity, Node objects to own slices, a raw view of
 * a node's slices, a watch, polling, and devices from the real inventory
 * builder (synthetic snapshots and the hardware-shaped sysfs trees) plus
 * hand-made ones exactly at the API limits.
 */
import { randomBytes } from 'node:crypto';
import type { ControlPlaneState } from './control-plane.ts';
import type { KubeClient } from './kube-client.ts';
import { buildInventory } from '../../src/inventory/build.ts';
import { sysfsFacts } from '../../src/inventory/collect.ts';
import type { Device } from '../../src/inventory/model.ts';
import { KubeApi } from '../../src/surfaces/kube/kube-api.ts';
import { watchStream } from '../../src/surfaces/kube/kube-watch.ts';
import { DEFAULT_OPTIONS } from '../../src/inventory/options.ts';
import type { PublishDevice, SlicePublisher } from '../../src/surfaces/kube/slice-publisher.ts';
import type { ResourceSliceSpec } from '../../src/surfaces/kube/slices.ts';
import { buildSysfsTree } from '../fixtures/sysfs/trees.ts';
import { addr, ibDevice, link, pciFn, pciMap, snapshot } from '../inventory/snapshot-builders.ts';

export const SLICES = '/apis/resource.k8s.io/v1/resourceslices';
export const suffix = (): string => randomBytes(4).toString('hex');

/** The daemon's API client for an identity of the fixture's API server (its CA, a bearer token). */
export function kubeConfigFor(cp: Pick<ControlPlaneState, 'server' | 'caPem'>, token: string): KubeApi {
  return new KubeApi({ server: cp.server, source: 'conformance', ca: { data: Buffer.from(cp.caPem) }, token: { data: Buffer.from(token) } });
}

/** Creates the Node (or finds it); returns its UID and whether this call created it. */
export async function ensureNode(kube: KubeClient, name: string): Promise<{ uid: string; created: boolean }> {
  const r = await kube.post<{ metadata: { uid: string } }>('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name } });
  if (r.status === 201) return { uid: r.body.metadata.uid, created: true };
  if (r.status !== 409) throw new Error(`create node ${name}: ${r.status} ${r.text}`);
  const g = await kube.get<{ metadata: { uid: string } }>(`/api/v1/nodes/${name}`);
  return { uid: g.body.metadata.uid, created: false };
}

export interface RawSlice {
  metadata: { name: string; uid: string; resourceVersion: string; ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }> };
  spec: ResourceSliceSpec;
}

/** The node's slices of one driver, by name. */
export async function sliceList(kube: KubeClient, node: string, driver: string): Promise<RawSlice[]> {
  const r = await kube.get<{ items: RawSlice[] }>(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${node},spec.driver=${driver}`)}`);
  if (r.status !== 200) throw new Error(`list: ${r.status} ${r.text}`);
  return r.body.items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

export async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Watches a node's slices; `events` grows as they come. */
export async function watchSlices(kc: KubeApi, node: string, driver: string, onEvent: (type: string, s: RawSlice) => void): Promise<() => void> {
  const ac = await watchStream(kc, SLICES, { fieldSelector: `spec.nodeName=${node},spec.driver=${driver}` }, (t, o) => onEvent(t, o as RawSlice), () => {});
  return () => ac.abort();
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Devices the real inventory builder makes: hardware-shaped sysfs trees plus many rich virtual netdevs. */
export function inventoryDevices(): { devices: readonly Device[]; dispose: () => void } {
  const tree = buildSysfsTree();
  const hwLinks = [
    link(4, 'ens1f0np0', { parentDevBusName: 'pci', parentDevName: '0000:17:00.0', physPortName: 'p0' }),
    link(10, 'ens1f0v0', { parentDevBusName: 'pci', parentDevName: '0000:17:00.2' }),
    link(5, 'ibp59s0', { type: 32, kind: 'ipoib', mtu: 4092, mac: '00:00:10:87:fe:80:00:00:00:00:00:00:b8:3f:d2:03:00:a1:b2:c4', parentDevBusName: 'pci', parentDevName: '0000:3b:00.0' }),
    link(6, 'ens2f0np0', { parentDevBusName: 'pci', parentDevName: '0000:81:00.0' }),
    link(12, 'ens2f0v0', { parentDevBusName: 'pci', parentDevName: '0000:81:01.0' }),
  ];
  const hw = buildInventory(snapshot({ links: [...snapshot().links, ...hwLinks], ...sysfsFacts(tree.root, hwLinks) }), DEFAULT_OPTIONS).devices;
  // 150 virtual netdevs with everything that makes attributes long: 15-char and non-DNS names,
  // a 100-char alias, address lists, eBPF programs with long names, ethtool.
  const links = [
    ...Array.from({ length: 150 }, (_, i) =>
      link(100 + i, i % 3 === 0 ? `Data_${String(i).padStart(9, '0')}` : `macvlan${String(i).padStart(8, '0')}`, {
        kind: 'macvlan', mtu: 9000, alias: `${'α'.repeat(40)} uplink to rack ${i} `.repeat(3),
      })),
    // A RoCE PF with every source filled in: more than 32 attributes, so the builder drops some.
    link(90, 'ens9f0np0', { mtu: 9000, alias: 'A'.repeat(100), permMac: '0c:42:a1:00:00:01' }),
  ];
  const addrs = links.flatMap((l) => [
    ...Array.from({ length: 8 }, (_, k) => addr(l.index, `10.${k}.${l.index % 250}.${k + 10}/24`)),
    addr(l.index, `2001:db8:${l.index.toString(16)}::${'abcd:'.repeat(3)}1/64`),
  ]);
  const longProg = (n: number): { name: string; progId: number } => ({ name: `prog_${'x'.repeat(10)}_${n}`, progId: n });
  const ebpf = new Map(links.map((l) => [l.index, {
    tcFilters: [0, 1, 2, 3].map((n) => ({ direction: 'ingress' as const, prio: n, handle: n, protocol: 'all', ...longProg(n) })),
    tcx: [{ direction: 'egress' as const, ...longProg(9) }], xdp: [{ mode: 'driver' as const, ...longProg(7) }],
  }]));
  const ethtool = new Map(links.map((l) => [l.index, { speed: 400_000, duplex: 'full' as const }]));
  const nic = pciFn('0000:5e:00.0', {
    rdmaDevices: ['mlx5_9'], sriov: { totalVfs: 127, numVfs: 0, vfs: [] }, vendorName: 'V'.repeat(80), deviceName: 'D'.repeat(80),
    subsystemVendorId: '15b3', subsystemDeviceId: '0051',
  });
  const virt = buildInventory(snapshot({
    links: [...snapshot().links, ...links], addrs, ebpf: ebpf as never, ethtool: ethtool as never, linkPci: new Map([[90, nic.address]]),
    pci: pciMap(nic), ib: [ibDevice('mlx5_9', { pciAddress: nic.address })],
    rdmaPorts: [{ devIndex: 9, devName: 'mlx5_9', port: 1, state: 'ACTIVE', netdevIndex: 90, netdevName: 'ens9f0np0' }],
  }), { ...DEFAULT_OPTIONS, includeKinds: ['*'] }).devices;
  return { devices: [...hw, ...virt], dispose: () => tree.dispose() };
}

/** Hand-made devices exactly at the limits: 63-char names, 32 attributes, 96-char names, 64-char values. */
export function limitDevices(n: number): PublishDevice[] {
  const domain = `${'d'.repeat(61)}.x`; // 63
  return Array.from({ length: n }, (_, i) => {
    const attributes: Record<string, { string: string } | { int: number } | { version: string } | { bool: boolean }> = {};
    for (let k = 0; k < 28; k++) attributes[`${domain}/${`a${String(k).padStart(2, '0')}`.padEnd(32, 'z')}`] = { string: `${i}`.padEnd(64, 'v') };
    attributes['resource.kubernetes.io/pcieRoot'] = { string: 'pci0000:00' };
    attributes['netclaim.dev/numaNode'] = { int: Number.MAX_SAFE_INTEGER };
    attributes['netclaim.dev/fw'] = { version: `1.2.3-${'r'.repeat(58)}` }; // 64
    attributes['A'.repeat(32)] = { bool: true }; // an unqualified 32-character identifier
    return { name: `${String(i).padStart(4, '0')}-${'n'.repeat(58)}`, attributes };
  });
}

/**
 * update() and wait until it is in the API server; fails fast with the publisher's error instead of
 * a test timeout (an error `tolerate` accepts, e.g. an expected KUBE_FIELDS_DROPPED, does not end it).
 */
export async function publishAndWait(p: SlicePublisher, ds: readonly PublishDevice[], tolerate: (code: string) => boolean = () => false): Promise<void> {
  const errorsBefore = p.errors;
  p.update(ds);
  const done = p.synced().then(() => true);
  while (!(await Promise.race([done, new Promise<false>((r) => setTimeout(() => r(false), 25))]))) {
    if (p.errors > errorsBefore && !tolerate(p.lastError!.code)) throw p.lastError!;
  }
}
