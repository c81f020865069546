/**
 * Invariant: whatever Prepare wrote for a claim (its CDI spec, its device
 * metadata), restoring from the stored record alone writes the same bytes
 * where they are gone, writes nothing where they are there, and writes
 * nothing at all when the record's ids are not those its plan gives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDriverError } from '../common/errors.ts';
import { writeClaimCdiSpec } from './cdi/cdi-files.ts';
import { restoreClaimCdi, storedClaimCdiSpec } from './claim-cdi-restore.ts';
import { withDeviceMetadata } from './claim-metadata.ts';
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
});
