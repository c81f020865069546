import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import type { CharDevice } from '../plan/plan-types.ts';
import { serializeCdiSpec } from './cdi-files.ts';
import { buildClaimCdiSpec, type CdiDeviceInput } from './cdi-spec.ts';
import { cdiSpecProblems } from './cdi-validate.ts';
import { workloadEnv } from './workload-env.ts';

const UID_DIGIT = '8d3c1f0e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';
const UID_LETTER = 'ab3c1f0e-2b4a-4c6d-9e8f-0a1b2c3d4e5f';

const uverbs = (n: number): CharDevice => ({ path: `/dev/infiniband/uverbs${n}`, type: 'c', major: 231, minor: 192 + n });
const rdmaCm: CharDevice = { path: '/dev/infiniband/rdma_cm', type: 'c', major: 10, minor: 58 };

/** A claim with two RoCE NICs (RDMA char devices) and one plain netdev. */
function rdmaClaim(): CdiDeviceInput[] {
  const env = workloadEnv([
    { podIfName: 'net0', rdmaDevice: 'mlx5_2' },
    { podIfName: 'net1', rdmaDevice: 'mlx5_3' },
    { podIfName: 'net2' },
  ]);
  return [
    { device: 'pci-0000-3b-00-2', charDevices: [uverbs(2), rdmaCm], env },
    { device: 'pci-0000-3b-00-3', charDevices: [uverbs(3), rdmaCm, uverbs(3)], env },
    { device: 'veth-a', charDevices: [], env },
  ];
}

function golden(name: string): string {
  return readFileSync(new URL(`../../../test/fixtures/cdi/${name}.json`, import.meta.url), 'utf8');
}

/**
 * The CDI spec shape (SPEC.md), written for this test, closed with
 * additionalProperties: false so a misspelt field name fails here rather than
 * being ignored by the runtime.
 */
const uint = { type: 'integer', minimum: 0 };
const edits = {
  type: 'object',
  additionalProperties: false,
  properties: {
    env: { type: 'array', items: { type: 'string', pattern: '^[^=]+=' } },
    deviceNodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { type: 'string', minLength: 1 }, hostPath: { type: 'string' }, type: { enum: ['c', 'b', 'u', 'p'] },
          major: uint, minor: uint, fileMode: uint, permissions: { type: 'string', pattern: '^[rwm]*$' }, uid: uint, gid: uint,
        },
      },
    },
    mounts: { type: 'array' },
    hooks: { type: 'array' },
    intelRdt: { type: 'object' },
    additionalGids: { type: 'array', items: uint },
    netDevices: { type: 'array' },
  },
};
const validateShape = new Ajv({ strict: true, allErrors: true }).compile({
  type: 'object',
  additionalProperties: false,
  required: ['cdiVersion', 'kind', 'devices'],
  properties: {
    cdiVersion: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$' },
    kind: { type: 'string' },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    containerEdits: edits,
    devices: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'containerEdits'],
        properties: { name: { type: 'string' }, annotations: { type: 'object' }, containerEdits: edits },
      },
    },
  },
});

function expectValid(json: string): void {
  const parsed: unknown = JSON.parse(json);
  expect(validateShape(parsed), JSON.stringify(validateShape.errors)).toBe(true);
}

describe('buildClaimCdiSpec', () => {
  it('matches the golden spec for an RDMA claim (nodes per device, env once at spec level, 0.5.0 for a digit-led UID)', () => {
    const built = buildClaimCdiSpec(UID_DIGIT, rdmaClaim())!;
    const json = serializeCdiSpec(built.spec);
    expect(json).toBe(golden('rdma-claim'));
    expect(cdiSpecProblems(built.spec)).toEqual([]);
    expectValid(json);
    expect(built.claimUid).toBe(UID_DIGIT);
    expect(Object.fromEntries(built.deviceIds)).toEqual({
      'pci-0000-3b-00-2': [`netclaim.dev/net=${UID_DIGIT}-pci-0000-3b-00-2`],
      'pci-0000-3b-00-3': [`netclaim.dev/net=${UID_DIGIT}-pci-0000-3b-00-3`],
      'veth-a': [`netclaim.dev/net=${UID_DIGIT}-veth-a`],
    });
  });

  it('matches the golden spec for an env-only claim, stamped 0.3.0 when the UID starts with a letter', () => {
    const env = workloadEnv([{ podIfName: 'net0' }]);
    const built = buildClaimCdiSpec(UID_LETTER, [{ device: 'eth1', charDevices: [], env }])!;
    expect(built.spec.cdiVersion).toBe('0.3.0');
    const json = serializeCdiSpec(built.spec);
    expect(json).toBe(golden('env-only-claim'));
    expectValid(json);
    expect(cdiSpecProblems(built.spec)).toEqual([]);
  });

  it('checks shape with a closed schema: a misspelt field fails', () => {
    const built = buildClaimCdiSpec(UID_LETTER, rdmaClaim())!;
    expect(validateShape({ ...built.spec, containerEdit: {} })).toBe(false);
    expect(validateShape({ ...built.spec, devices: [{ name: 'x', containerEdits: { deviceNode: [] } }] })).toBe(false);
  });

  it('writes no spec when no device needs an edit', () => {
    expect(buildClaimCdiSpec(UID_DIGIT, [{ device: 'eth1', charDevices: [], env: [] }])).toBeUndefined();
    expect(buildClaimCdiSpec(UID_DIGIT, [])).toBeUndefined();
  });

  it('gives ids only to devices with edits when there is no env', () => {
    const built = buildClaimCdiSpec(UID_LETTER, [
      { device: 'rdma0', charDevices: [uverbs(0)], env: [] },
      { device: 'eth1', charDevices: [], env: [] },
    ])!;
    expect(built.spec.devices.map((d) => d.name)).toEqual([`${UID_LETTER}-rdma0`]);
    expect(built.spec.containerEdits).toBeUndefined();
    expect(built.deviceIds.get('eth1')).toEqual([]);
    expect(built.spec.cdiVersion).toBe('0.3.0');
  });

  it('merges the devices’ env: the same entry once, sorted by key', () => {
    const built = buildClaimCdiSpec(UID_LETTER, [
      { device: 'a', charDevices: [uverbs(0)], env: ['Z=1', 'A=x=y'] },
      { device: 'b', charDevices: [uverbs(1)], env: ['A=x=y'] },
    ])!;
    expect(built.spec.containerEdits).toEqual({ env: ['A=x=y', 'Z=1'] });
  });

  it.each([
    ['a bad claim UID', 'Not/A-Uid', [{ device: 'a', charDevices: [uverbs(0)], env: [] }]],
    ['a device listed twice', UID_LETTER, [{ device: 'a', charDevices: [uverbs(0)], env: [] }, { device: 'a', charDevices: [], env: [] }]],
    ['a device name CDI refuses', UID_LETTER, [{ device: 'a b', charDevices: [uverbs(0)], env: [] }]],
    ['a device name ending in a dash', UID_LETTER, [{ device: 'a-', charDevices: [uverbs(0)], env: [] }]],
    ['env that is not K=V', UID_LETTER, [{ device: 'a', charDevices: [], env: ['=x'] }]],
    ['one key with two values', UID_LETTER, [
      { device: 'a', charDevices: [], env: ['K=1'] }, { device: 'b', charDevices: [], env: ['K=2'] },
    ]],
  ] as const)('refuses %s with CDI_WRITE_FAILED', (_what, uid, devices) => {
    let err: unknown;
    try {
      buildClaimCdiSpec(uid, devices);
    } catch (e) {
      err = e;
    }
    expect(isDriverError(err) && err.code).toBe('CDI_WRITE_FAILED');
  });
});
