/**
 * The CDI spec of one prepared claim (pure): kind `netclaim.dev/net`, one CDI
 * device `<claimUid>-<device>` per allocated device that needs container
 * edits, the workload environment once at spec level, and the lowest
 * `cdiVersion` that content needs.
 *
 * - A device with char devices (RDMA: /dev/infiniband/uverbsN, rdma_cm...)
 *   gets them as `deviceNodes`. A node shared by several devices (rdma_cm)
 *   is listed in each, since a container may request only one of them; the
 *   runtime replaces a node by path, so a repeat is harmless.
 * - The env (`K=V`, the union of the devices' env) goes in the spec-level
 *   `containerEdits`, applied once whenever any device of the claim is
 *   injected. A device with no char devices still needs an id to carry it
 *   there, and a CDI device may not have empty edits, so such a device
 *   repeats the env as its own edits (same values; the runtime replaces a
 *   variable by key).
 * - No device needs anything (plain netdevs, no env): no spec, no file.
 */
import { DriverError } from '../../common/errors.ts';
import type { CharDevice } from '../plan/plan-types.ts';
import { isValidClaimUid } from '../state/claim-record.ts';
import { CDI_KIND, cdiDeviceId, cdiDeviceName, cdiDeviceNameProblem } from './cdi-names.ts';
import type { CdiContainerEdits, CdiDevice, CdiDeviceNode, CdiSpec } from './cdi-types.ts';
import { minimumCdiVersion } from './cdi-version.ts';

/**
 * Device cgroup access for the char devices: read and write, as device plugins
 * grant RDMA and GPU nodes. The runtime creates the node itself, so the
 * container needs no `m` (mknod), which is what the CDI default `rwm` adds.
 */
export const CHAR_DEVICE_PERMISSIONS = 'rw';

export interface CdiDeviceInput {
  /** The allocated device's name (DRA device name, a DNS label). */
  readonly device: string;
  readonly charDevices: readonly CharDevice[];
  /** `K=V` for the workload (workload-env.ts). */
  readonly env: readonly string[];
}

export interface ClaimCdiSpec {
  readonly claimUid: string;
  readonly spec: CdiSpec;
  /** Per input device, its fully qualified CDI ids (empty when it has none). */
  readonly deviceIds: ReadonlyMap<string, readonly string[]>;
}

/** Build the claim's spec; undefined when nothing needs injecting (write no file). Throws CDI_WRITE_FAILED on bad names or conflicting env. */
export function buildClaimCdiSpec(claimUid: string, devices: readonly CdiDeviceInput[]): ClaimCdiSpec | undefined {
  if (!isValidClaimUid(claimUid)) fail(`claim UID ${JSON.stringify(claimUid)} cannot name a CDI spec`, { claimUid });
  const env = mergeEnv(claimUid, devices);
  const cdiDevices: CdiDevice[] = [];
  const deviceIds = new Map<string, string[]>();
  for (const d of devices) {
    if (deviceIds.has(d.device)) fail(`device ${d.device} is listed twice`, { claimUid, device: d.device });
    const edits = deviceEdits(d, env);
    if (edits === undefined) {
      deviceIds.set(d.device, []);
      continue;
    }
    const name = cdiDeviceName(claimUid, d.device);
    const problem = cdiDeviceNameProblem(name);
    if (problem !== undefined) fail(problem, { claimUid, device: d.device });
    cdiDevices.push({ name, containerEdits: edits });
    deviceIds.set(d.device, [cdiDeviceId(claimUid, d.device)]);
  }
  if (cdiDevices.length === 0) return undefined;
  const body = { kind: CDI_KIND, devices: cdiDevices, ...(env.length > 0 ? { containerEdits: { env } } : {}) };
  // cdiVersion first in the file, as every CDI example has it.
  const spec: CdiSpec = { cdiVersion: minimumCdiVersion({ cdiVersion: '', ...body }), ...body };
  return { claimUid, spec, deviceIds };
}

function deviceEdits(d: CdiDeviceInput, env: readonly string[]): CdiContainerEdits | undefined {
  if (d.charDevices.length > 0) return { deviceNodes: deviceNodes(d.charDevices) };
  if (env.length > 0) return { env };
  return undefined;
}

function deviceNodes(chars: readonly CharDevice[]): CdiDeviceNode[] {
  const byPath = new Map<string, CdiDeviceNode>();
  for (const c of chars) {
    byPath.set(c.path, { path: c.path, type: c.type, major: c.major, minor: c.minor, permissions: CHAR_DEVICE_PERMISSIONS });
  }
  return [...byPath.values()];
}

/** The union of the devices' env, sorted by key; one key with two values is a planning bug. */
function mergeEnv(claimUid: string, devices: readonly CdiDeviceInput[]): string[] {
  const byKey = new Map<string, string>();
  for (const d of devices) {
    for (const kv of d.env) {
      const eq = kv.indexOf('=');
      if (eq <= 0) fail(`env entry ${JSON.stringify(kv)} of device ${d.device} is not K=V`, { claimUid, device: d.device });
      const key = kv.slice(0, eq);
      const seen = byKey.get(key);
      if (seen !== undefined && seen !== kv) fail(`env ${key} has two values: ${JSON.stringify(seen)} and ${JSON.stringify(kv)}`, { claimUid, key });
      byKey.set(key, kv);
    }
  }
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

function fail(message: string, context: Record<string, unknown>): never {
  throw new DriverError('CDI_WRITE_FAILED', message, { context });
}
