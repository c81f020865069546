import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDriverError, type DriverError } from '../../common/errors.ts';
import { listClaimCdiSpecs, removeClaimCdiSpec, removeStaleCdiTempFiles, serializeCdiSpec, writeClaimCdiSpec } from './cdi-files.ts';
import { buildClaimCdiSpec, type ClaimCdiSpec } from './cdi-spec.ts';

const UID = '8d3c1f0e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';
const UID2 = 'ab3c1f0e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';
const FILE = `netclaim.dev-net_${UID}.json`;

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nc-cdi-'));
  dir = join(root, 'run', 'cdi');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function claimSpec(uid = UID, minor = 192): ClaimCdiSpec {
  return buildClaimCdiSpec(uid, [{ device: 'rdma0', charDevices: [{ path: '/dev/infiniband/uverbs0', type: 'c', major: 231, minor }], env: ['A=1'] }])!;
}

function cdiError(f: () => unknown): DriverError {
  try {
    f();
  } catch (err) {
    if (isDriverError(err) && err.code === 'CDI_WRITE_FAILED') return err;
    throw err;
  }
  throw new Error('expected CDI_WRITE_FAILED');
}

describe('CDI spec files', () => {
  it('writes the spec 0644 into a directory it creates, replaces it, and removes it', () => {
    const s = claimSpec();
    const path = writeClaimCdiSpec(dir, s);
    expect(path).toBe(join(dir, FILE));
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readFileSync(path, 'utf8')).toBe(serializeCdiSpec(s.spec));
    const s2 = claimSpec(UID, 193);
    writeClaimCdiSpec(dir, s2);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(s2.spec);
    expect(readdirSync(dir)).toEqual([FILE]);
    expect(removeClaimCdiSpec(dir, UID)).toBe(true);
    expect(removeClaimCdiSpec(dir, UID)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removing from a directory that does not exist is fine', () => {
    expect(removeClaimCdiSpec(join(root, 'nowhere'), UID)).toBe(false);
    expect(listClaimCdiSpecs(join(root, 'nowhere'))).toEqual([]);
    expect(removeStaleCdiTempFiles(join(root, 'nowhere'))).toEqual([]);
  });

  it('fails with CDI_WRITE_FAILED and the path when the directory cannot be made (a file is in the way)', () => {
    writeFileSync(join(root, 'run'), '');
    const e = cdiError(() => writeClaimCdiSpec(dir, claimSpec()));
    expect(e.context).toMatchObject({ path: join(dir, FILE), claimUid: UID, errno: 'ENOTDIR' });
  });

  it('fails with CDI_WRITE_FAILED when the spec file cannot be replaced or removed (a directory is in the way)', () => {
    mkdirSync(join(dir, FILE, 'x'), { recursive: true });
    expect(cdiError(() => writeClaimCdiSpec(dir, claimSpec())).context.errno).toBe('EISDIR');
    expect(cdiError(() => removeClaimCdiSpec(dir, UID)).context.path).toBe(join(dir, FILE));
    expect(readdirSync(dir)).toEqual([FILE]);
  });

  it('refuses to write a spec the runtime would refuse', () => {
    const s = claimSpec();
    const bad: ClaimCdiSpec = { ...s, spec: { ...s.spec, cdiVersion: '0.3.0', devices: [{ name: '0-x', containerEdits: {} }] } };
    const e = cdiError(() => writeClaimCdiSpec(dir, bad));
    expect(e.context.problems).toEqual(expect.arrayContaining([expect.stringMatching(/below 0\.5\.0/), expect.stringMatching(/at least one edit/)]));
    expect(cdiError(() => removeClaimCdiSpec(dir, '../x')).message).toMatch(/cannot name/);
  });

  it('lists the claims that have specs, and cleans only its own temp files', () => {
    writeClaimCdiSpec(dir, claimSpec(UID2));
    writeClaimCdiSpec(dir, claimSpec(UID));
    for (const n of [`.${FILE}.tmp-99-1`, '.vendor-x_1.json.tmp-99-1', 'vendor-x_1.json']) writeFileSync(join(dir, n), '');
    expect(listClaimCdiSpecs(dir)).toEqual([UID, UID2].sort());
    expect(removeStaleCdiTempFiles(dir)).toEqual([`.${FILE}.tmp-99-1`]);
    expect(readdirSync(dir).sort()).toEqual(['.vendor-x_1.json.tmp-99-1', FILE, `netclaim.dev-net_${UID2}.json`, 'vendor-x_1.json'].sort());
  });
});
