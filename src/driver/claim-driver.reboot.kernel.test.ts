/**
 * ClaimDriver after a node reboot: the claim store (state dir, on disk)
 * survives, the CDI directory (/var/run/cdi, a tmpfs) does not, and the
 * kubelet re-prepares the claims of the pods it restarts. Simulated by
 * deleting the CDI and metadata directories and starting a new driver on the
 * same store. Devices are veth interfaces in a throwaway namespace, the store
 * and directories are real (as in claim-driver.kernel.test.ts).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS, type InventoryOptions } from '../inventory/options.ts';
import { createNetns, ip, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import type { CdiSpec } from './cdi/cdi-types.ts';
import { cdiSpecProblems } from './cdi/cdi-validate.ts';
import type { AllocatedClaim, AllocationResult } from './claim.ts';
import { ClaimDriver, type DriverObserver, type InventoryView } from './claim-driver.ts';
import { sweepClaimMetadata } from './claim-metadata.ts';
import { updateClaimMetadataNetwork } from './device-metadata-files.ts';
import type { PrepareResult } from './driver-port.ts';
import { hostReads } from './host-reads.ts';
import { ClaimStore } from './state/claim-store.ts';
import { MemoryClaims } from '../../test/fixtures/claim-driver/memory-claims.ts';
import { readFileTree } from '../../test/fixtures/file-tree.ts';

const POOL = 'node-a';
const OPTIONS: InventoryOptions = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };

let ns: TestNetns;
let dir: string;
let devs: string[];
let claims: MemoryClaims;
let restored: { uid: string; paths: readonly string[]; err?: unknown }[];
const stores: ClaimStore[] = [];
const cdiDir = (): string => join(dir, 'run', 'cdi');
const metadataDir = (): string => join(dir, 'run', 'metadata');

function newDriver(): { store: ClaimStore; driver: ClaimDriver } {
  const store = ClaimStore.open(join(dir, 'state'));
  stores.push(store);
  // The daemon's start order: sweep metadata of claims the store lacks, then the driver.
  sweepClaimMetadata({ dir: metadataDir(), cdiDir: cdiDir() }, new Set(store.list().map((r) => r.claim.uid)));
  const inventory: InventoryView = {
    get current() { return buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS); },
    hold: () => {}, release: () => {},
  };
  const observer: DriverObserver = { cdiRestored: (uid, paths, err) => restored.push({ uid, paths, ...(err === undefined ? {} : { err }) }) };
  const driver = new ClaimDriver({
    driverName: DRIVER_NAME, poolName: POOL, claims, store, inventory, observer,
    kernel: hostReads(ns.handle, '/sys'), cdiDir: cdiDir(), metadataDir: metadataDir(),
  });
  return { store, driver };
}

let seq = 0;
function claim(name: string, results: readonly Omit<AllocationResult, 'driver' | 'pool'>[], parameters?: unknown): AllocatedClaim {
  seq += 1;
  const uid = `0c1a1m00-0000-4000-8000-${String(seq).padStart(12, '0')}` as ClaimUid;
  return {
    namespace: 'team-a', name, uid, podClaimName: `${name}-in-pod`,
    reservedFor: [{ resource: 'pods', name: `job-${seq}`, uid: `p0d-${seq}` }],
    allocation: {
      results: results.map((r) => ({ ...r, driver: DRIVER_NAME, pool: POOL })),
      config: parameters === undefined ? [] : [{ source: 'FromClaim', opaque: { driver: DRIVER_NAME, parameters } }],
    },
  };
}

function deviceOf(ifName: string): string {
  const d = buildInventory(collectSnapshot(ns.handle, { sysfsRoot: '/sys' }, OPTIONS), OPTIONS).devices.find((x) => x.ifName === ifName);
  if (d === undefined) throw new Error(`no device for ${ifName}`);
  return d.name;
}

/** Every file under the run dir (CDI specs and metadata), path → bytes. */
function runFiles(): Map<string, string> {
  return readFileTree(join(dir, 'run'), dir);
}

/** Each CDI id of the answers names a device of a spec file in the CDI dir that passes validation; mounted host files exist. */
function expectResolvable(results: Iterable<PrepareResult>): void {
  const known = new Set<string>();
  for (const name of readdirSync(cdiDir())) {
    const spec = JSON.parse(readFileSync(join(cdiDir(), name), 'utf8')) as CdiSpec;
    expect(cdiSpecProblems(spec), name).toEqual([]);
    for (const d of spec.devices) {
      known.add(`${spec.kind}=${d.name}`);
      for (const m of d.containerEdits.mounts ?? []) expect(existsSync(m.hostPath), m.hostPath).toBe(true);
    }
  }
  let ids = 0;
  for (const r of results) {
    if (!('devices' in r)) throw new Error(`prepare failed: ${r.error}`);
    for (const d of r.devices) {
      for (const id of d.cdiDeviceIds) {
        ids += 1;
        expect(known, id).toContain(id);
      }
    }
  }
  expect(ids).toBeGreaterThan(0);
}

beforeEach(() => {
  ns = createNetns('rbt');
  devs = [uniqueName('d'), uniqueName('d'), uniqueName('d')];
  for (const d of devs) ip(ns, 'link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
  dir = mkdtempSync(join(tmpdir(), 'nc-reboot-'));
  claims = new MemoryClaims();
  restored = [];
});

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ClaimDriver after a node reboot', () => {
  it('writes the lost CDI specs and metadata again at start, byte-identical, and the stored answers resolve', async () => {
    const first = newDriver();
    const plain = claims.add(claim('plain', [{ request: 'nic', device: deviceOf(devs[0]!) }], { interface: { name: 'net1' } }));
    const two = claims.add(claim('two', [{ request: 'a', device: deviceOf(devs[1]!) }, { request: 'b', device: deviceOf(devs[2]!) }]));
    const admin = claims.add(claim('admin', [{ request: 'watch', device: deviceOf(devs[0]!), adminAccess: true }]));
    const answers = await first.driver.prepare([plain, two, admin]);
    expectResolvable(answers.values());
    const before = runFiles();
    // The claim spec, the metadata spec and the metadata file of each owner claim; the admin claim's spec.
    // Per owner claim its net spec and metadata spec, the admin claim's spec; three metadata files (requests nic, a, b).
    expect([...before.keys()].filter((p) => p.startsWith('run/cdi/')).length).toBe(5);
    expect([...before.keys()].filter((p) => p.startsWith('run/metadata/')).length).toBe(3);
    expect(first.store.get(plain.uid)!.metadata?.files.map((f) => f.request)).toEqual(['nic']);

    // Reboot: /var/run is gone, the state dir is not.
    rmSync(join(dir, 'run'), { recursive: true, force: true });
    const second = newDriver();
    expect(runFiles()).toEqual(before);
    expect(restored.map((r) => r.uid).sort()).toEqual([plain.uid, two.uid, admin.uid].sort());
    expect(restored.filter((r) => r.err !== undefined)).toEqual([]);

    const again = await second.driver.prepare([plain, two, admin]);
    expect(again).toEqual(answers);
    expect(claims.fetches).toBe(3);
    expectResolvable(again.values());
    // Nothing missing: the stored path writes nothing.
    expect(restored.length).toBe(3);
  });

  it('a Prepare answered from the store writes missing specs first (CDI dir emptied while the driver runs)', async () => {
    const { driver } = newDriver();
    const ref = claims.add(claim('plain', [{ request: 'nic', device: deviceOf(devs[0]!) }], { interface: { name: 'net1' } }));
    const admin = claims.add(claim('admin', [{ request: 'watch', device: deviceOf(devs[1]!), adminAccess: true }]));
    const answers = await driver.prepare([ref, admin]);
    const before = runFiles();
    rmSync(join(dir, 'run'), { recursive: true, force: true });
    expect(await driver.prepare([ref, admin])).toEqual(answers);
    expect(runFiles()).toEqual(before);
    expectResolvable(answers.values());
  });

  it('a spec that differs from the record is replaced; a whole metadata file (a later generation) is kept, a torn one rewritten in place', async () => {
    const { driver, store } = newDriver();
    const ref = claims.add(claim('plain', [{ request: 'nic', device: deviceOf(devs[0]!) }], { interface: { name: 'net1' } }));
    const torn = claims.add(claim('torn', [{ request: 'nic', device: deviceOf(devs[1]!) }]));
    await driver.prepare([ref, torn]);
    const before = runFiles();
    const record = store.get(ref.uid)!;
    const spec = record.cdiSpec!;
    rmSync(spec);
    const metaFile = record.metadata!.files[0]!.hostPath;
    // The attach's second generation: whole, so it stays.
    expect(updateClaimMetadataNetwork(metadataDir(), ref.uid, [{ device: record.devices[0]!.device, ifIndex: 7, name: 'net1', mac: '02:00:00:00:00:07', ips: ['10.1.0.7/24'] }])).toEqual([metaFile]);
    const secondGen = readFileSync(metaFile, 'utf8');
    writeFileSync(join(cdiDir(), `${DRIVER_NAME}-metadata_${ref.uid}.json`), '{}\n');
    // A power loss (these files are not fsynced) left the other claim's metadata file cut short.
    const tornFile = store.get(torn.uid)!.metadata!.files[0]!.hostPath;
    const tornIno = statSync(tornFile).ino;
    truncateSync(tornFile, Math.floor(readFileSync(tornFile).length / 2));
    newDriver();
    const after = runFiles();
    expect(readFileSync(spec, 'utf8')).toBe(before.get(relative(dir, spec)));
    expect(after.get(relative(dir, join(cdiDir(), `${DRIVER_NAME}-metadata_${ref.uid}.json`)))).toBe(before.get(relative(dir, join(cdiDir(), `${DRIVER_NAME}-metadata_${ref.uid}.json`))));
    expect(readFileSync(metaFile, 'utf8')).toBe(secondGen);
    expect(readFileSync(tornFile, 'utf8')).toBe(before.get(relative(dir, tornFile)));
    expect(statSync(tornFile).ino).toBe(tornIno);
  });

  it('a record whose ids its plan does not give writes nothing and fails its prepare with CDI_WRITE_FAILED', async () => {
    const { driver, store } = newDriver();
    const ref = claims.add(claim('plain', [{ request: 'nic', device: deviceOf(devs[0]!) }], { interface: { name: 'net1' } }));
    await driver.prepare([ref]);
    const record = store.get(ref.uid)!;
    store.put({ ...record, devices: record.devices.map((d) => ({ ...d, cdiDeviceIds: ['netclaim.dev/net=someone-else', ...d.cdiDeviceIds.slice(1)] })) });
    rmSync(join(dir, 'run'), { recursive: true, force: true });
    const res = await driver.prepare([ref]);
    expect(res.get(ref.uid)).toEqual({ error: expect.stringMatching(/^CDI_WRITE_FAILED: .*team-a\/plain.*stored CDI ids/) });
    expect(existsSync(cdiDir())).toBe(false);
  });
});
