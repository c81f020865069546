/**
 * The checks a runtime's CDI library makes when it loads a spec
 * (api/producer/validator-default.go, specs-go/version.go), run before
 * netclaim writes one: a spec the runtime would refuse makes every container
 * of the pod fail to start with an error far from its cause, so it is better
 * to fail Prepare. Annotation key rules are not checked: netclaim writes no
 * annotations.
 */
import { cdiDeviceNameProblem, cdiKindProblem } from './cdi-names.ts';
import type { CdiContainerEdits, CdiSpec } from './cdi-types.ts';
import { compareCdiVersions, isCdiVersion, minimumCdiVersion } from './cdi-version.ts';

const NODE_TYPES = new Set(['c', 'b', 'u', 'p']);
const HOOK_NAMES = new Set(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);

/** Every reason the runtime would refuse `spec`; empty when it is valid. */
export function cdiSpecProblems(spec: CdiSpec): string[] {
  const problems: string[] = [];
  if (!isCdiVersion(spec.cdiVersion)) {
    problems.push(`cdiVersion ${JSON.stringify(spec.cdiVersion)} is not a released CDI version`);
  } else {
    const min = minimumCdiVersion(spec);
    if (compareCdiVersions(min, spec.cdiVersion) > 0) problems.push(`cdiVersion ${spec.cdiVersion} is below ${min}, which the content needs`);
  }
  const kind = cdiKindProblem(spec.kind);
  if (kind !== undefined) problems.push(kind);
  if (spec.containerEdits !== undefined) editsProblems(spec.containerEdits, 'containerEdits', problems);
  if (spec.devices.length === 0) problems.push('devices: a spec needs at least one device');
  const seen = new Set<string>();
  for (const [i, d] of spec.devices.entries()) {
    const at = `devices[${i}]`;
    const name = cdiDeviceNameProblem(d.name);
    if (name !== undefined) problems.push(`${at}.name: ${name}`);
    if (seen.has(d.name)) problems.push(`${at}.name: duplicate device ${JSON.stringify(d.name)}`);
    seen.add(d.name);
    if (isEmpty(d.containerEdits)) problems.push(`${at}.containerEdits: a device needs at least one edit`);
    editsProblems(d.containerEdits, `${at}.containerEdits`, problems);
  }
  return problems;
}

function editsProblems(e: CdiContainerEdits, at: string, out: string[]): void {
  for (const [i, v] of (e.env ?? []).entries()) {
    if (v.indexOf('=') <= 0) out.push(`${at}.env[${i}]: ${JSON.stringify(v)} is not KEY=VALUE`);
  }
  for (const [i, n] of (e.deviceNodes ?? []).entries()) {
    const p = `${at}.deviceNodes[${i}]`;
    if (n.path === '') out.push(`${p}.path: empty`);
    if (n.type !== undefined && !NODE_TYPES.has(n.type)) out.push(`${p}.type: ${JSON.stringify(n.type)} is not one of c, b, u, p`);
    for (const k of ['major', 'minor'] as const) {
      const v = n[k];
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) out.push(`${p}.${k}: ${v} is not a non-negative integer`);
    }
    if (n.permissions !== undefined && !/^[rwm]*$/.test(n.permissions)) out.push(`${p}.permissions: ${JSON.stringify(n.permissions)} is not letters of rwm`);
  }
  for (const [i, m] of (e.mounts ?? []).entries()) {
    if (m.hostPath === '' || m.containerPath === '') out.push(`${at}.mounts[${i}]: empty host or container path`);
  }
  for (const [i, h] of (e.hooks ?? []).entries()) {
    if (!HOOK_NAMES.has(h.hookName)) out.push(`${at}.hooks[${i}].hookName: ${JSON.stringify(h.hookName)} is not an OCI hook`);
    if (h.path === '') out.push(`${at}.hooks[${i}].path: empty`);
  }
  for (const [i, n] of (e.netDevices ?? []).entries()) {
    if (n.hostInterfaceName === '' || n.name === '') out.push(`${at}.netDevices[${i}]: empty interface name`);
  }
}

function isEmpty(e: CdiContainerEdits): boolean {
  return !e.env?.length && !e.deviceNodes?.length && !e.mounts?.length && !e.hooks?.length
    && !e.additionalGids?.length && !e.netDevices?.length && e.intelRdt === undefined;
}
