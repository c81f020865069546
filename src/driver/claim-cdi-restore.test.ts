/**
 * Invariant: whatever Prepare wrote for a claim (its CDI spec, its device
 * metadata), restoring from the stored record alone writes the same bytes
 * where they are gone or broken, writes nothing where they are there, and
 * writes nothing at all when the record's ids are not those its plan gives.
 *
 * Prepare does not fsync these files (the record is durable and holds their
 * bytes), so the second property plays what a power loss may leave of each
 * one: the file whole, gone, empty, or cut at any byte; and a metadata file
 * the attach had updated to its second generation, whole or torn by a crash
 * in the middle of that in-place write. Restore must give back every file
 * Prepare wrote, keep a whole later generation, and keep the inode of a
 * metadata file it repairs (a container may hold it bind-mounted).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDriverError } from '../common/errors.ts';
import { writeClaimCdiSpec } from './cdi/cdi-files.ts';
import { restoreClaimCdi, storedClaimCdiSpec } from './claim-cdi-restore.ts';
import { withDeviceMetadata } from './claim-metadata.ts';
import { isWholeMetadataStream } from './cdi/device-metadata.ts';
import { updateClaimMetadataNetwork } from './device-metadata-files.ts';
import type { ClaimRecord, DevicePlan } from './record-model.ts';
import { readFileTree } from '../../test/fixtures/file-tree.ts';

const UID = '8d3c1f0e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'nc-restore-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

const cdiDir = (): string => join(root, 'run', 'cdi');
const dirs = (): { dir: string; cdiDir: string } => ({ dir: join(root, 'run', 'metadata'), cdiDir: cdiDir() });

function files(): Map<string, string> {
  return readFileTree(join(root, 'run'), root);
}

/** A device of the plan: RDMA char devices or none (RDMA fixtures: uverbs majors/minors as /dev/infiniband has them, drivers/infiniband/core/uverbs_main.c). */
const deviceArb = fc.record({
  request: fc.constantFrom('nic', 'rdma', 'data'),
  uverbs: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
});
const recordArb = fc.record({
  devices: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), deviceArb), { minLength: 1, maxLength: 4, selector: ([n]) => n }),
  env: fc.uniqueArray(fc.stringMatching(/^[A-Z][A-Z_]{0,6}=[a-z0-9]{0,4}$/), { maxLength: 3, selector: (kv) => kv.split('=')[0] }),
  metadata: fc.boolean(),
  podClaimName: fc.option(fc.constantFrom('net', 'fabric'), { nil: undefined }),
});

type Generated = typeof recordArb extends fc.Arbitrary<infer T> ? T : never;

/** What Prepare stores: the spec written from the plans (as withCdi does), then the metadata. */
function prepared(r: Generated): ClaimRecord {
  const plans: DevicePlan[] = r.devices.map(([device, d]) => ({
    request: d.request, pool: 'node-a', device, identity: {}, workloadEnv: false, env: r.env, cdiDeviceIds: [],
    ...(d.uverbs === undefined ? {} : { rdma: { device: `mlx5_${d.uverbs}`, charDevices: [{ path: `/dev/infiniband/uverbs${d.uverbs}`, type: 'c' as const, major: 231, minor: 192 + d.uverbs }] } }),
  }));
  let record: ClaimRecord = { version: 1, claim: { uid: UID, namespace: 'ns', name: 'c' }, podUid: 'p', podName: 'pod', preparedAt: '2026-01-01T00:00:00Z', devices: plans };
  const built = storedClaimCdiSpec(record);
  if (built !== undefined) {
    const path = writeClaimCdiSpec(cdiDir(), built);
    record = { ...record, cdiSpec: path, devices: plans.map((d) => ({ ...d, cdiDeviceIds: built.deviceIds.get(d.device) ?? [] })) };
  }
  return r.metadata ? withDeviceMetadata(record, r.podClaimName === undefined ? {} : { podClaimName: r.podClaimName }, () => undefined, dirs()) : record;
}

describe('restoreClaimCdi', () => {
  it('writes back exactly what Prepare wrote, and nothing when it is all there', () => {
    fc.assert(fc.property(recordArb, (r) => {
      rmSync(join(root, 'run'), { recursive: true, force: true });
      const record = prepared(r);
      const before = files();
      expect(restoreClaimCdi(record, cdiDir())).toEqual([]);
      rmSync(join(root, 'run'), { recursive: true, force: true });
      const written = restoreClaimCdi(record, cdiDir());
      expect(files()).toEqual(before);
      expect(written.length).toBe(before.size);
    }), { numRuns: 60 });
  });

  it('a record whose ids its plan does not give writes nothing (CDI_WRITE_FAILED)', () => {
    fc.assert(fc.property(recordArb, fc.nat(), (r, pick) => {
      rmSync(join(root, 'run'), { recursive: true, force: true });
      const record = prepared(r);
      const i = pick % record.devices.length;
      const bad: ClaimRecord = {
        ...record,
        devices: record.devices.map((d, j) => (j === i ? { ...d, cdiDeviceIds: [...d.cdiDeviceIds, 'netclaim.dev/net=other'] } : d)),
      };
      rmSync(join(root, 'run'), { recursive: true, force: true });
      let err: unknown;
      try {
        restoreClaimCdi(bad, cdiDir());
      } catch (e) {
        err = e;
      }
      expect(isDriverError(err) && err.code === 'CDI_WRITE_FAILED').toBe(true);
      expect(files().size).toBe(0);
    }), { numRuns: 40 });
  });

  it('after a power loss (each unsynced file whole, gone, empty or cut short; metadata at its second generation, whole or torn), writes back what Prepare wrote and keeps a whole second generation', () => {
    const fate = fc.oneof(
      fc.constant({ kind: 'whole' as const }), fc.constant({ kind: 'gone' as const }), fc.constant({ kind: 'empty' as const }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
    );
    fc.assert(fc.property(recordArb.filter((r) => r.metadata), fc.array(fate, { minLength: 8, maxLength: 8 }), fc.boolean(), (r, fates, attachedBefore) => {
      rmSync(join(root, 'run'), { recursive: true, force: true });
      const record = prepared(r);
      const firstGen = files();
      const metaPaths = new Set(record.metadata!.files.map((f) => f.hostPath));
      // The attach's update (generation 2) of the metadata files, before the power loss.
      if (attachedBefore) {
        expect(updateClaimMetadataNetwork(dirs().dir, UID, record.devices.map((d, i) => ({ device: d.device, ifIndex: 10 + i, name: `net${i}`, mac: '02:00:00:00:00:01', ips: ['10.0.0.2/24'] }))).length).toBe(metaPaths.size);
      }
      const second = new Map(attachedBefore ? [...metaPaths].map((p) => [p, readFileSync(p, 'utf8')]) : []);
      const inodes = new Map([...metaPaths].map((p) => [p, statSync(p).ino]));
      // The power loss.
      const paths = [...firstGen.keys()].map((rel) => join(root, rel));
      const fateOf = (path: string): (typeof fates)[number] => fates[paths.indexOf(path) % fates.length]!;
      for (const path of paths) {
        const f = fateOf(path);
        if (f.kind === 'gone') rmSync(path);
        else if (f.kind === 'empty') truncateSync(path, 0);
        else if (f.kind === 'cut') truncateSync(path, Math.floor(f.at * readFileSync(path).length));
      }
      const kept = new Map([...second].filter(([p, text]) => existsSync(p) && readFileSync(p, 'utf8') === text));
      restoreClaimCdi(record, cdiDir());
      for (const rel of firstGen.keys()) {
        const path = join(root, rel);
        const want = kept.get(path) ?? firstGen.get(rel);
        expect(readFileSync(path, 'utf8'), rel).toBe(want);
        if (metaPaths.has(path)) {
          expect(isWholeMetadataStream(readFileSync(path, 'utf8')), rel).toBe(true);
          // Repaired in place, unless it was gone.
          if (fateOf(path).kind !== 'gone') expect(statSync(path).ino, rel).toBe(inodes.get(path));
        }
      }
      // Nothing left to write.
      expect(restoreClaimCdi(record, cdiDir())).toEqual([]);
    }), { numRuns: 80 });
  });

  it('isWholeMetadataStream: what Prepare writes is whole; no proper prefix of it is, nor a line of another API version', () => {
    fc.assert(fc.property(recordArb.filter((r) => r.metadata), fc.nat(), (r, pick) => {
      rmSync(join(root, 'run'), { recursive: true, force: true });
      const record = prepared(r);
      for (const f of record.metadata!.files) {
        expect(isWholeMetadataStream(f.content)).toBe(true);
        const cut = pick % f.content.length;
        expect(isWholeMetadataStream(f.content.slice(0, cut)), `cut at ${cut}`).toBe(false);
        const [a, b] = f.content.split('\n');
        expect(isWholeMetadataStream(`${b}\n${a}\n`)).toBe(false);
      }
    }), { numRuns: 40 });
  });
});
