/**
 * Finding and checking the netclaim configs in a Kubernetes object, for
 * `netclaim validate`: a bare config (the opaque parameters themselves), a
 * ResourceClaim (`spec.devices.config`, and `status.allocation.devices.config`
 * when present), a ResourceClaimTemplate (`spec.spec.devices.config`), a
 * DeviceClass (`spec.config`) or a List of them. Each opaque entry for
 * netclaim.dev (or dra.net, in compatibility) is parsed strictly; in claims
 * and templates, `requests` must name requests of the claim, and the entries
 * that apply to the same request must still agree once merged.
 */
import { adminDeniedIssues } from './admin-access.ts';
import { API_VERSION, KIND } from './fields.ts';
import type { ConfigIssue } from './issues.ts';
import { mergeNetworkConfigs } from './merge.ts';
import { formatPath, type PathSegment } from './nodes.ts';
import { isPlainObject, parseNetworkConfig, recheckNetworkConfig } from './parse.ts';
import { POLICY_IN_CLAIM } from './policy.ts';
import { applicableConfigs } from './requests.ts';
import { NETCLAIM_DRIVER, type AllocationConfig, type NetworkConfig } from './types.ts';

export type DocumentKind = 'NetworkConfig' | 'ResourceClaim' | 'ResourceClaimTemplate' | 'DeviceClass' | 'List' | 'other';

export interface DocumentReport {
  readonly kind: DocumentKind;
  /** `Kind/name` when the object has a name, else the kind. */
  readonly title: string;
  /** Configs checked, by driver. */
  readonly checked: Readonly<Record<string, number>>;
  readonly issues: readonly ConfigIssue[];
}

const RESOURCE_GROUP = 'resource.k8s.io/';

/** What a decoded document is, by apiVersion and kind. */
export function documentKind(doc: unknown): DocumentKind {
  if (!isPlainObject(doc)) return 'NetworkConfig';
  const { apiVersion, kind } = doc;
  if (apiVersion === 'v1' && kind === 'List') return 'List';
  if (typeof apiVersion === 'string' && apiVersion.startsWith(RESOURCE_GROUP)) {
    if (kind === 'ResourceClaim' || kind === 'ResourceClaimTemplate' || kind === 'DeviceClass') return kind;
    return 'other';
  }
  if (apiVersion === undefined || apiVersion === API_VERSION || (kind === KIND && typeof apiVersion !== 'string')) return 'NetworkConfig';
  return 'other';
}

/** Checks every netclaim config in `doc`; `drivers` are the opaque drivers read. */
export function checkDocument(doc: unknown, drivers: ReadonlySet<string>): DocumentReport {
  const kind = documentKind(doc);
  const title = titleOf(doc, kind);
  const issues: ConfigIssue[] = [];
  const checked: Record<string, number> = {};
  switch (kind) {
    case 'NetworkConfig': {
      const r = parseNetworkConfig(doc);
      if (!r.ok) issues.push(...r.issues);
      checked[NETCLAIM_DRIVER] = 1;
      break;
    }
    case 'List':
      asList((doc as Record<string, unknown>).items).forEach((item, i) => {
        const sub = checkDocument(item, drivers);
        issues.push(...sub.issues.map((x) => ({ ...x, path: formatPath(['items', i]) + (x.path ? `.${x.path}` : '') })));
        for (const [d, n] of Object.entries(sub.checked)) checked[d] = (checked[d] ?? 0) + n;
      });
      break;
    case 'ResourceClaim':
    case 'ResourceClaimTemplate':
    case 'DeviceClass':
      for (const at of configLists(doc as Record<string, unknown>, kind)) checkConfigList(at, drivers, issues, checked);
      break;
    case 'other':
      break;
  }
  return { kind, title, checked, issues };
}

interface ConfigListAt {
  readonly path: readonly PathSegment[];
  readonly entries: readonly unknown[];
  /** Request names of the claim (`main` and `main/sub`), when the list belongs to one. */
  readonly requests?: ReadonlySet<string>;
  /** Those of them with `adminAccess: true`: a claim entry for one may set only `rdma` (admin-access.ts). */
  readonly adminRequests?: ReadonlySet<string>;
  /** Whose entries these are: a claim's may not carry a policy; `by-source`: as each entry's `source` says. */
  readonly owner: 'class' | 'claim' | 'by-source';
}

function configLists(doc: Record<string, unknown>, kind: DocumentKind): ConfigListAt[] {
  const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (isPlainObject(v) ? v[k] : undefined), o);
  if (kind === 'DeviceClass') return [{ path: ['spec', 'config'], entries: asList(get(doc, 'spec', 'config')), owner: 'class' }];
  const devices = kind === 'ResourceClaim' ? ['spec', 'devices'] : ['spec', 'spec', 'devices'];
  const lists: ConfigListAt[] = [{
    path: [...devices, 'config'],
    entries: asList(get(doc, ...devices, 'config')),
    requests: requestNames(get(doc, ...devices, 'requests')),
    adminRequests: adminRequestNames(get(doc, ...devices, 'requests')),
    owner: 'claim',
  }];
  if (kind === 'ResourceClaim') {
    lists.push({ path: ['status', 'allocation', 'devices', 'config'], entries: asList(get(doc, 'status', 'allocation', 'devices', 'config')), owner: 'by-source' });
  }
  return lists;
}

/** Requests (`main`, `main/sub`) that ask for admin access (KEP-5018: `exactly.adminAccess`, or a subrequest's `adminAccess`). */
function adminRequestNames(requests: unknown): ReadonlySet<string> {
  const names = new Set<string>();
  for (const r of asList(requests)) {
    if (!isPlainObject(r) || typeof r.name !== 'string') continue;
    if (isPlainObject(r.exactly) && r.exactly.adminAccess === true) names.add(r.name);
    for (const sub of asList(r.firstAvailable)) {
      if (isPlainObject(sub) && typeof sub.name === 'string' && sub.adminAccess === true) names.add(`${r.name}/${sub.name}`);
    }
  }
  return names;
}

function requestNames(requests: unknown): ReadonlySet<string> {
  const names = new Set<string>();
  for (const r of asList(requests)) {
    if (!isPlainObject(r) || typeof r.name !== 'string') continue;
    names.add(r.name);
    for (const sub of asList(r.firstAvailable)) if (isPlainObject(sub) && typeof sub.name === 'string') names.add(`${r.name}/${sub.name}`);
  }
  return names;
}

function checkConfigList(at: ConfigListAt, drivers: ReadonlySet<string>, issues: ConfigIssue[], checked: Record<string, number>): void {
  const valid: { index: number; entry: AllocationConfig; config: NetworkConfig }[] = [];
  at.entries.forEach((entry, i) => {
    const opaque = isPlainObject(entry) ? entry.opaque : undefined;
    if (!isPlainObject(opaque) || typeof opaque.driver !== 'string' || !drivers.has(opaque.driver)) return;
    checked[opaque.driver] = (checked[opaque.driver] ?? 0) + 1;
    const base = [...at.path, i];
    const requests = asList((entry as Record<string, unknown>).requests);
    requests.forEach((r, j) => {
      if (at.requests !== undefined && at.requests.size > 0 && (typeof r !== 'string' || !at.requests.has(r))) {
        issues.push({ path: formatPath([...base, 'requests', j]), message: `${JSON.stringify(r)} is not a request of this claim (requests: ${[...at.requests].join(', ')})` });
      }
    });
    if (opaque.parameters === undefined) {
      issues.push({ path: formatPath([...base, 'opaque', 'parameters']), message: 'required' });
      return;
    }
    const r = parseNetworkConfig(opaque.parameters, [...base, 'opaque', 'parameters']);
    if (!r.ok) { issues.push(...r.issues); return; }
    const fromClass = at.owner === 'class' || (at.owner === 'by-source' && (entry as Record<string, unknown>).source === 'FromClass');
    if (!fromClass && r.config.policy !== undefined) {
      issues.push({ path: formatPath([...base, 'opaque', 'parameters', 'policy']), message: POLICY_IN_CLAIM });
    }
    const reqs = requests.filter((x): x is string => typeof x === 'string');
    if (!fromClass && forAdmin(at.adminRequests, reqs)) issues.push(...adminDeniedIssues(opaque.parameters, formatPath([...base, 'opaque', 'parameters'])));
    valid.push({ index: i, entry: { source: 'FromClaim', requests: reqs, opaque: { driver: opaque.driver } }, config: r.config });
  });
  if (valid.length > 1) checkMerges(at, valid, drivers, issues);
}

/** Whether a claim entry for `requests` (none: every request) applies to an adminAccess request. */
function forAdmin(admin: ReadonlySet<string> | undefined, requests: readonly string[]): boolean {
  if (admin === undefined || admin.size === 0) return false;
  if (requests.length === 0) return true;
  return requests.some((r) => admin.has(r) || [...admin].some((a) => a.startsWith(`${r}/`)));
}

/** The entries that apply to the same request, merged in order, must still pass the cross-field checks. */
function checkMerges(at: ConfigListAt, valid: readonly { index: number; entry: AllocationConfig; config: NetworkConfig }[], drivers: ReadonlySet<string>, issues: ConfigIssue[]): void {
  const names = new Set([...(at.requests ?? []), ...valid.flatMap((v) => v.entry.requests ?? [])]);
  if (names.size === 0) names.add('');
  const reported = new Set<string>();
  for (const request of names) {
    const picked = applicableConfigs(valid.map((v) => v.entry), request, drivers);
    if (picked.length < 2) continue;
    const indices = picked.map((p) => valid[p]!.index);
    const key = indices.join(',');
    if (reported.has(key)) continue;
    reported.add(key);
    const again = recheckNetworkConfig(mergeNetworkConfigs(picked.map((p) => valid[p]!.config)));
    if (again.ok) continue;
    const from = indices.map((i) => `[${i}]`).join(' and ');
    const forRequest = request === '' ? '' : ` for request "${request}"`;
    for (const x of again.issues) {
      issues.push({ path: formatPath(at.path), message: `${x.path}: ${x.message} (after merging ${from}${forRequest})` });
    }
  }
}

function asList(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

function titleOf(doc: unknown, kind: DocumentKind): string {
  const name = isPlainObject(doc) && isPlainObject(doc.metadata) && typeof doc.metadata.name === 'string' ? doc.metadata.name : undefined;
  const k = kind === 'other' && isPlainObject(doc) && typeof doc.kind === 'string' ? doc.kind : kind;
  return name === undefined ? k : `${k}/${name}`;
}
