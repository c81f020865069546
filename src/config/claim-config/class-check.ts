/**
 * Checking a claim (or claim template) against the DeviceClasses its
 * requests name, for `netclaim validate class.yaml claim.yaml`: each netclaim
 * config of the claim that applies to a request is held to the policy of
 * that request's class (policy.ts), as Prepare will hold it. Classes are
 * matched by `metadata.name` = `deviceClassName`; a request whose class was
 * not given is not checked. Configs that do not parse are left to
 * checkDocument, which reports them.
 */
import type { ConfigIssue } from './issues.ts';
import { formatPath, type PathSegment } from './nodes.ts';
import { isPlainObject, parseNetworkConfig } from './parse.ts';
import { claimPolicyIssues, combinePolicies, type ClassPolicy } from './policy.ts';
import { requestMatches } from './requests.ts';
import type { NetworkConfig } from './types.ts';

/** The policy of each DeviceClass in `docs` (Lists included), by class name. */
export function classPolicies(docs: readonly unknown[], drivers: ReadonlySet<string>): Map<string, ClassPolicy> {
  const out = new Map<string, ClassPolicy>();
  const visit = (doc: unknown): void => {
    if (!isPlainObject(doc)) return;
    if (doc.kind === 'List') { asList(doc.items).forEach(visit); return; }
    if (doc.kind !== 'DeviceClass' || !isPlainObject(doc.metadata) || typeof doc.metadata.name !== 'string') return;
    const spec = isPlainObject(doc.spec) ? doc.spec : {};
    out.set(doc.metadata.name, combinePolicies(ourConfigs(spec.config, drivers).map((c) => c.policy)));
  };
  docs.forEach(visit);
  return out;
}

/** The problems of a ResourceClaim or ResourceClaimTemplate (or a List of them) against `classes`. */
export function claimAgainstClasses(doc: unknown, classes: ReadonlyMap<string, ClassPolicy>, drivers: ReadonlySet<string>): ConfigIssue[] {
  if (!isPlainObject(doc)) return [];
  if (doc.kind === 'List') {
    return asList(doc.items).flatMap((item, i) => claimAgainstClasses(item, classes, drivers)
      .map((x) => ({ ...x, path: `${formatPath(['items', i])}.${x.path}` })));
  }
  const devicesPath = doc.kind === 'ResourceClaim' ? ['spec', 'devices'] : doc.kind === 'ResourceClaimTemplate' ? ['spec', 'spec', 'devices'] : undefined;
  if (devicesPath === undefined) return [];
  const devices = devicesPath.reduce<unknown>((v, k) => (isPlainObject(v) ? v[k] : undefined), doc);
  if (!isPlainObject(devices)) return [];
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const { request, className } of requestClasses(devices.requests)) {
    const policy = classes.get(className);
    if (policy === undefined) continue;
    asList(devices.config).forEach((entry, i) => {
      if (!isPlainObject(entry) || !isPlainObject(entry.opaque) || typeof entry.opaque.driver !== 'string' || !drivers.has(entry.opaque.driver)) return;
      const requests = asList(entry.requests).filter((r): r is string => typeof r === 'string');
      if (!requestMatches(requests, request)) return;
      const r = parseNetworkConfig(entry.opaque.parameters ?? {});
      if (!r.ok) return;
      const base: PathSegment[] = [...devicesPath, 'config', i, 'opaque', 'parameters'];
      // a policy in the claim is checkDocument's to report
      const { policy: _inClaim, ...config } = r.config;
      for (const x of claimPolicyIssues(config, policy, base, className)) {
        const key = `${x.path}\n${x.message}`;
        if (!seen.has(key)) { seen.add(key); issues.push(x); }
      }
    });
  }
  return issues;
}

/** `main` → its class, and `main/sub` → each firstAvailable subrequest's class. */
function requestClasses(requests: unknown): { request: string; className: string }[] {
  const out: { request: string; className: string }[] = [];
  for (const r of asList(requests)) {
    if (!isPlainObject(r) || typeof r.name !== 'string') continue;
    const exactly = isPlainObject(r.exactly) ? r.exactly.deviceClassName : r.deviceClassName;
    if (typeof exactly === 'string') out.push({ request: r.name, className: exactly });
    for (const sub of asList(r.firstAvailable)) {
      if (isPlainObject(sub) && typeof sub.name === 'string' && typeof sub.deviceClassName === 'string') {
        out.push({ request: `${r.name}/${sub.name}`, className: sub.deviceClassName });
      }
    }
  }
  return out;
}

function ourConfigs(entries: unknown, drivers: ReadonlySet<string>): NetworkConfig[] {
  return asList(entries).map((e) => parseOk(e, drivers)).filter((c) => c !== undefined);
}

function parseOk(entry: unknown, drivers: ReadonlySet<string>): NetworkConfig | undefined {
  if (!isPlainObject(entry) || !isPlainObject(entry.opaque) || typeof entry.opaque.driver !== 'string' || !drivers.has(entry.opaque.driver)) return undefined;
  const r = parseNetworkConfig(entry.opaque.parameters ?? {});
  return r.ok ? r.config : undefined;
}

const asList = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
