/**
 * Prepared claims for the driver's kernel tests (src/driver): interfaces of
 * a test "host" namespace given directly as inventory entries (a veth is a
 * `virtual` device, as the inventory publishes it), and a real ClaimDriver
 * preparing a claim over a real store and CDI directory. The inventory's
 * own publishing rules are tested in src/inventory; the driver's tests do
 * not depend on them.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DRIVER_NAME } from '../../src/common/driver.ts';
import type { ClaimUid, DeviceName } from '../../src/common/ids.ts';
import type { AllocatedClaim } from '../../src/driver/claim.ts';
import { ClaimDriver, type DeviceReturner, type InventoryView } from '../../src/driver/claim-driver.ts';
import type { ClaimRef } from '../../src/driver/driver-port.ts';
import { hostReads } from '../../src/driver/host-reads.ts';
import type { ClaimStore } from '../../src/driver/state/claim-store.ts';
import type { Device } from '../../src/inventory/model.ts';
import { linkGetByName } from '../../src/kernel/netlink/route/link-ops.ts';
import { createNetns, ip, uniqueName, type TestNetns } from './netns-fixture.ts';

/** The inventory entry of interface `ifName` of `ns` (a virtual device unless `over` says otherwise). */
export function deviceOf(ns: TestNetns, ifName: string, over: Partial<Device> = {}): Device {
  const l = linkGetByName(ns.handle, ifName);
  return {
    name: `dev-${ifName}` as DeviceName, kind: 'virtual', ifName, ifIndex: l.index,
    charDevices: [], netdevPresent: true, attributes: {}, dropped: [], ...over,
  };
}

/** An inventory of exactly these devices; holds are not tracked. */
export const inventoryOf = (devices: readonly Device[]): InventoryView => ({ current: { devices }, hold: () => {}, release: () => {} });

export interface ClaimSpec {
  readonly uid: string;
  readonly name?: string;
  readonly podUid: string;
  /** One request (`nic0`, `nic1`...) per device. */
  readonly devices: readonly Device[];
  /** The claim's opaque `netclaim.dev` parameters. */
  readonly parameters?: unknown;
}

/** The ResourceClaim as the API server would hand it out: allocated on pool `node`, reserved for one pod. */
export function allocatedClaim(s: ClaimSpec): AllocatedClaim {
  return {
    namespace: 'ns', name: s.name ?? `c-${s.uid.slice(0, 8)}`, uid: s.uid as ClaimUid,
    reservedFor: [{ resource: 'pods', name: 'pod', uid: s.podUid }],
    allocation: {
      results: s.devices.map((d, i) => ({ request: `nic${i}`, driver: DRIVER_NAME, pool: 'node', device: d.name })),
      // As the DeviceClass's config, which may set anything: these tests are about attaching, not the class policy (policy.test.ts).
      config: s.parameters === undefined ? [] : [{ source: 'FromClass', opaque: { driver: DRIVER_NAME, parameters: s.parameters } }],
    },
  };
}

export const refOf = (c: AllocatedClaim): ClaimRef => ({ namespace: c.namespace, name: c.name, uid: c.uid });

/** A ClaimDriver over `store` and `<dir>/cdi`, answering `claims` and planning against the devices of `host`. */
export function claimDriver(o: {
  host: TestNetns; store: ClaimStore; dir: string; claims?: readonly AllocatedClaim[]; devices?: readonly Device[]; pods?: DeviceReturner;
  /** Use each device's `suggestedConfig` as its lowest config layer (the daemon's default on a cloud). */
  cloudDefaults?: boolean;
}): ClaimDriver {
  const byName = new Map((o.claims ?? []).map((c) => [`${c.namespace}/${c.name}`, c]));
  return new ClaimDriver({
    driverName: DRIVER_NAME, poolName: 'node', store: o.store, inventory: inventoryOf(o.devices ?? []),
    claims: { get: (ns, name) => (byName.has(`${ns}/${name}`) ? Promise.resolve(byName.get(`${ns}/${name}`)!) : Promise.reject(new Error(`no claim ${ns}/${name}`))) },
    kernel: hostReads(o.host.handle, '/sys'), cdiDir: join(o.dir, 'cdi'), ...(o.pods === undefined ? {} : { pods: o.pods }),
    ...(o.cloudDefaults === undefined ? {} : { cloudDefaults: o.cloudDefaults }),
  });
}

/** Prepares the claim (throws when it fails) and returns it. */
export async function prepareClaim(
  o: { host: TestNetns; store: ClaimStore; dir: string; cloudDefaults?: boolean }, spec: ClaimSpec,
): Promise<AllocatedClaim> {
  const claim = allocatedClaim(spec);
  const r = (await claimDriver({ ...o, claims: [claim], devices: spec.devices }).prepare([refOf(claim)])).get(claim.uid);
  if (r === undefined || 'error' in r) throw new Error(`prepare: ${JSON.stringify(r)}`);
  return claim;
}

/** A "host" namespace with one veth up carrying `cidr` (MTU 1500), and an empty "pod" namespace to move it into. */
export function hostAndPod(tag: string, cidr: string): { host: TestNetns; pod: TestNetns; dev: string } {
  const host = createNetns(`${tag}host`);
  const pod = createNetns(`${tag}pod`);
  const dev = uniqueName(`${tag}d`);
  ip(host, 'link', 'add', dev, 'mtu', '1500', 'type', 'veth', 'peer', 'name', `${dev}p`);
  ip(host, 'addr', 'add', cidr, 'dev', dev);
  ip(host, 'link', 'set', dev, 'up');
  settleOperstate(host, dev);
  return { host, pod, dev };
}

/**
 * Waits (up to 10 s) until the kernel's link watch has set the operstate of a link just brought
 * up (UNKNOWN until it runs; a veth whose peer is down then becomes LOWERLAYERDOWN, NO-CARRIER),
 * so that a test's "before" snapshot is the settled state, not one the kernel is about to change.
 * Seen under the QEMU lane's TCG, where the link watch runs late.
 */
function settleOperstate(ns: TestNetns, dev: string): void {
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; Atomics.wait(wait, 0, 0, 20)) {
    const [l] = JSON.parse(execFileSync('ip', ['-n', ns.name, '-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as { operstate: string }[];
    if (l?.operstate !== 'UNKNOWN') return;
  }
}
