/**
 * One AdmissionReview (admission.k8s.io/v1) in, one out: the decision of
 * netclaim's validating webhook on a ResourceClaim, ResourceClaimTemplate or
 * DeviceClass (resource.k8s.io, any version the API server sends), taken by
 * the same code as `netclaim validate` (config/claim-config: checkDocument,
 * then the class policy of each request's DeviceClass), so the refusal names
 * the same field paths with the same messages. docs/webhook.md.
 *
 * Total: any input gives a response. A body that is not an AdmissionReview
 * with a request uid has nothing a response could be matched to: it is a
 * BadReview (HTTP 400). A review of an object this webhook does not check, a
 * DELETE, or an UPDATE that leaves the netclaim configs as they were, is
 * allowed: an object admitted before (or before the webhook existed) must
 * never get stuck, e.g. when a controller adds a finalizer.
 */
import { checkDocument, claimAgainstClasses, classPolicies, type ConfigIssue } from '../../config/claim-config/index.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
/** Issues listed in one refusal; the rest are counted. `netclaim validate` lists them all. */
export const MAX_LISTED_ISSUES = 20;

type Obj = Record<string, unknown>;

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: {
    readonly code: number;
    readonly reason: string;
    readonly message: string;
    readonly details?: { readonly causes: readonly { readonly reason: string; readonly field: string; readonly message: string }[] };
  };
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewOut {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** A body no response can be made for (HTTP 400): not an AdmissionReview v1, or no request uid. */
export class BadReview extends Error {}

/** A DeviceClass by name: the object, undefined when it does not exist; throws when it cannot be read. */
export type DeviceClassLookup = (name: string) => Promise<unknown>;

export interface AdmissionOptions {
  /** The opaque-config drivers checked (netclaim.dev; others are another driver's business). */
  readonly drivers: ReadonlySet<string>;
  /** Reads the classes a claim's requests name, to hold its configs to their policy; none: not checked. */
  readonly deviceClass?: DeviceClassLookup;
}

const KINDS = new Set(['ResourceClaim', 'ResourceClaimTemplate', 'DeviceClass']);

/** The decision on one AdmissionReview; throws only BadReview. */
export async function reviewAdmission(body: unknown, o: AdmissionOptions): Promise<AdmissionReviewOut> {
  const request = requestOf(body);
  const uid = request['uid'] as string;
  const respond = (r: Omit<AdmissionResponse, 'uid'>): AdmissionReviewOut => ({ apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, ...r } });
  const kind = isObj(request['kind']) ? request['kind'] : {};
  if (kind['group'] !== 'resource.k8s.io' || typeof kind['kind'] !== 'string' || !KINDS.has(kind['kind'])) return respond({ allowed: true });
  if (request['operation'] !== 'CREATE' && request['operation'] !== 'UPDATE') return respond({ allowed: true });
  if (!isObj(request['object'])) {
    return respond({ allowed: false, status: { code: 400, reason: 'BadRequest', message: `malformed AdmissionReview: request.object of a ${request['operation']} is not an object` } });
  }
  // The object as the API server sent it, in request.kind's version; its own apiVersion/kind may be absent.
  const object = { apiVersion: `resource.k8s.io/${String(kind['version'])}`, kind: kind['kind'], ...request['object'] };
  if (request['operation'] === 'UPDATE' && isObj(request['oldObject']) && sameConfigs(object, request['oldObject'], o.drivers)) return respond({ allowed: true });

  const issues: ConfigIssue[] = [...checkDocument(object, o.drivers).issues];
  const warnings: string[] = [];
  if (kind['kind'] !== 'DeviceClass' && o.deviceClass !== undefined && hasOurConfig(object, o.drivers)) {
    const { classes, unread } = await readClasses(classNames(object), o.deviceClass);
    issues.push(...claimAgainstClasses(object, classPolicies(classes, o.drivers), o.drivers));
    for (const [name, why] of unread) warnings.push(`DeviceClass ${name} could not be read (${why}): its policy is checked at Prepare instead`);
  }
  if (issues.length === 0) return respond({ allowed: true, ...(warnings.length ? { warnings } : {}) });
  return respond({ allowed: false, status: refusal(issues), ...(warnings.length ? { warnings } : {}) });
}

function requestOf(body: unknown): Obj {
  if (!isObj(body)) throw new BadReview('the body is not a JSON object');
  if (body['kind'] !== 'AdmissionReview') throw new BadReview(`kind is ${JSON.stringify(body['kind'])}, expected "AdmissionReview"`);
  if (body['apiVersion'] !== ADMISSION_API_VERSION) throw new BadReview(`apiVersion is ${JSON.stringify(body['apiVersion'])}, expected "${ADMISSION_API_VERSION}" (admissionReviewVersions: ["v1"])`);
  const request = body['request'];
  if (!isObj(request)) throw new BadReview('request is missing or not an object');
  if (typeof request['uid'] !== 'string' || request['uid'] === '') throw new BadReview('request.uid is missing or not a string');
  return request;
}

/** The status of a refusal: each problem as `PATH: MESSAGE`, as `netclaim validate` prints it, and as a cause with its field. */
function refusal(issues: readonly ConfigIssue[]): NonNullable<AdmissionResponse['status']> {
  const lines = issues.map((x) => (x.path === '' ? x.message : `${x.path}: ${x.message}`));
  const listed = lines.slice(0, MAX_LISTED_ISSUES);
  const more = lines.length - listed.length;
  const message = `invalid netclaim config: ${listed.join('; ')}${more > 0 ? `; (and ${more} more: netclaim validate lists them all)` : ''}`;
  return {
    code: 422,
    reason: 'Invalid',
    message,
    details: { causes: issues.slice(0, MAX_LISTED_ISSUES).map((x) => ({ reason: 'FieldValueInvalid', field: x.path, message: x.message })) },
  };
}

/** The DeviceClass names the requests of a claim or template name (`exactly`, firstAvailable, v1beta1's top level). */
function classNames(object: Obj): string[] {
  const devices = object['kind'] === 'ResourceClaim' ? dig(object, 'spec', 'devices') : dig(object, 'spec', 'spec', 'devices');
  const names = new Set<string>();
  for (const r of list(isObj(devices) ? devices['requests'] : undefined)) {
    if (!isObj(r)) continue;
    const exactly = isObj(r['exactly']) ? r['exactly']['deviceClassName'] : r['deviceClassName'];
    if (typeof exactly === 'string') names.add(exactly);
    for (const sub of list(r['firstAvailable'])) if (isObj(sub) && typeof sub['deviceClassName'] === 'string') names.add(sub['deviceClassName']);
  }
  return [...names];
}

async function readClasses(names: readonly string[], lookup: DeviceClassLookup): Promise<{ classes: unknown[]; unread: [string, string][] }> {
  const classes: unknown[] = [];
  const unread: [string, string][] = [];
  await Promise.all(names.map(async (name) => {
    try {
      const c = await lookup(name);
      // Matched by name: the object's own apiVersion/kind (a client model may drop them) do not matter.
      if (isObj(c)) classes.push({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name }, spec: c['spec'] });
    } catch (err) {
      unread.push([name, err instanceof Error ? err.message : String(err)]);
    }
  }));
  return { classes, unread };
}

/** The configs of our drivers, wherever the kind keeps them (spec.config, spec.devices.config, spec.spec.devices.config). */
function ourConfigs(object: Obj, drivers: ReadonlySet<string>): unknown[] {
  const at = object['kind'] === 'DeviceClass' ? dig(object, 'spec', 'config')
    : object['kind'] === 'ResourceClaim' ? dig(object, 'spec', 'devices', 'config') : dig(object, 'spec', 'spec', 'devices', 'config');
  return list(at).filter((e) => isObj(e) && isObj(e['opaque']) && typeof e['opaque']['driver'] === 'string' && drivers.has(e['opaque']['driver']));
}

function hasOurConfig(object: Obj, drivers: ReadonlySet<string>): boolean {
  return ourConfigs(object, drivers).length > 0;
}

/** An UPDATE that changes neither our configs nor the requests they apply to has nothing new to check. */
function sameConfigs(object: Obj, old: Obj, drivers: ReadonlySet<string>): boolean {
  const oldObj = { ...old, kind: object['kind'] };
  const requests = (o: Obj): unknown => (o['kind'] === 'ResourceClaim' ? dig(o, 'spec', 'devices', 'requests') : dig(o, 'spec', 'spec', 'devices', 'requests'));
  return JSON.stringify(ourConfigs(object, drivers)) === JSON.stringify(ourConfigs(oldObj, drivers))
    && JSON.stringify(requests(object) ?? null) === JSON.stringify(requests(oldObj) ?? null);
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const dig = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (isObj(v) ? v[k] : undefined), o);
