import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runValidate } from '../cli/validate.ts';
import { BadReview, MAX_LISTED_ISSUES, reviewAdmission, type AdmissionOptions, type DeviceClassLookup } from './admission.ts';

const DRIVERS: ReadonlySet<string> = new Set(['netclaim.dev']);
const dir = mkdtempSync(join(tmpdir(), 'nc-admission-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Obj = Record<string, unknown>;

function claim(parameters: unknown, o: { version?: string; className?: string; driver?: string } = {}): Obj {
  return {
    apiVersion: `resource.k8s.io/${o.version ?? 'v1'}`, kind: 'ResourceClaim', metadata: { name: 'nic', namespace: 'team-a' },
    spec: { devices: {
      requests: [{ name: 'nic', exactly: { deviceClassName: o.className ?? 'netclaim' } }],
      config: [{ requests: ['nic'], opaque: { driver: o.driver ?? 'netclaim.dev', parameters } }],
    } },
  };
}

const template = (parameters: unknown): Obj => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaimTemplate', metadata: { name: 'nic-t', namespace: 'team-a' },
  spec: { spec: (claim(parameters)['spec']) },
});

const deviceClass = (parameters: unknown): Obj => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'netclaim' },
  spec: { selectors: [{ cel: { expression: 'device.driver == "netclaim.dev"' } }], config: [{ opaque: { driver: 'netclaim.dev', parameters } }] },
});

const RESOURCES: Record<string, string> = { ResourceClaim: 'resourceclaims', ResourceClaimTemplate: 'resourceclaimtemplates', DeviceClass: 'deviceclasses' };

function review(object: Obj, operation = 'CREATE', oldObject?: Obj): Obj {
  const [, version] = String(object['apiVersion']).split('/');
  const kind = String(object['kind']);
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: 'd2b1c0de-0000-4000-8000-000000000001', operation,
      kind: { group: 'resource.k8s.io', version, kind }, resource: { group: 'resource.k8s.io', version, resource: RESOURCES[kind] ?? 'other' },
      namespace: (object['metadata'] as { namespace?: string }).namespace, name: (object['metadata'] as { name: string }).name,
      userInfo: { username: 'alice' }, object, ...(oldObject ? { oldObject } : {}),
    },
  };
}

const opts = (deviceClass?: DeviceClassLookup): AdmissionOptions => ({ drivers: DRIVERS, ...(deviceClass ? { deviceClass } : {}) });

/** What `netclaim validate FILE...` prints for the objects, each line without its `FILE: ` label. */
async function validateLines(...objects: Obj[]): Promise<string[]> {
  const files = objects.map((o, i) => {
    const f = join(dir, `o-${Math.random().toString(36).slice(2)}-${i}.json`);
    writeFileSync(f, JSON.stringify(o));
    return f;
  });
  const out: string[] = [];
  await runValidate(files, (l) => out.push(l), () => {});
  return out.filter((l) => !/: ok \(|: skipped \(/.test(l)).map((l) => l.slice(l.indexOf(': ') + 2));
}

describe('reviewAdmission', () => {
  it('allows a valid claim, template and class: the response carries the request uid', async () => {
    for (const o of [claim({ interface: { mtu: 9000 } }), template({ interface: { name: 'net1' } }), deviceClass({ interface: { mtu: 9000 } })]) {
      const out = await reviewAdmission(review(o), opts());
      expect(out).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'd2b1c0de-0000-4000-8000-000000000001', allowed: true } });
    }
  });

  it('refuses an invalid claim, template and class with the field paths and messages netclaim validate prints', async () => {
    const bad = { interface: { mtu: 'jumbo', name: 'a/b' }, routes: [{ destination: 'nope' }] };
    for (const o of [claim(bad), template(bad), deviceClass(bad)]) {
      const { response } = await reviewAdmission(review(o), opts());
      expect(response.allowed).toBe(false);
      const lines = await validateLines(o);
      expect(lines.length).toBeGreaterThan(1);
      expect(response.status).toMatchObject({ code: 422, reason: 'Invalid', message: `invalid netclaim config: ${lines.join('; ')}` });
      expect(response.status!.details!.causes.map((c) => `${c.field}: ${c.message}`)).toEqual(lines);
      expect(lines.some((l) => /^spec\.(spec\.)?(devices\.)?config\[0\]\.opaque\.parameters\.interface\.mtu: /.test(l))).toBe(true);
    }
  });

  it('checks resource.k8s.io/v1beta2 and v1beta1 objects the same way (v1beta1: deviceClassName on the request)', async () => {
    const v1b2 = await reviewAdmission(review(claim({ interface: { mtu: -1 } }, { version: 'v1beta2' })), opts());
    expect(v1b2.response.allowed).toBe(false);
    const v1b1 = claim({ interface: { disableEbpfPrograms: true } }, { version: 'v1beta1' });
    ((v1b1['spec'] as Obj)['devices'] as { requests: Obj[] }).requests = [{ name: 'nic', deviceClassName: 'netclaim' }];
    const out = await reviewAdmission(review(v1b1), opts(async () => deviceClass({})));
    expect(out.response.status?.message).toContain('interface.disableEbpfPrograms');
  });

  it('holds a claim to its class policy, as validate does with the class given: the class read through the lookup', async () => {
    const cls = deviceClass({ interface: { mtu: 1500 } });
    const asked: string[] = [];
    const lookup: DeviceClassLookup = async (name) => { asked.push(name); return name === 'netclaim' ? cls : undefined; };
    const c = claim({ interface: { disableEbpfPrograms: true, mtu: 9000 } });
    const { response } = await reviewAdmission(review(c), opts(lookup));
    expect(asked).toEqual(['netclaim']);
    expect(response.allowed).toBe(false);
    const lines = await validateLines(cls, c);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DeviceClass "netclaim"');
    expect(response.status?.message).toBe(`invalid netclaim config: ${lines.join('; ')}`);
    // Without a lookup (--no-class-policy) the same claim is only parsed: it is valid.
    expect((await reviewAdmission(review(c), opts())).response.allowed).toBe(true);
  });

  it('a class that cannot be read: admitted with a warning (Prepare still holds the policy); one that does not exist: not checked', async () => {
    const c = claim({ interface: { disableEbpfPrograms: true } });
    const failed = await reviewAdmission(review(c), opts(() => Promise.reject(new Error('get deviceclass netclaim: 403 Forbidden'))));
    expect(failed.response).toMatchObject({ allowed: true, warnings: ['DeviceClass netclaim could not be read (get deviceclass netclaim: 403 Forbidden): its policy is checked at Prepare instead'] });
    expect((await reviewAdmission(review(c), opts(async () => undefined))).response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('does not read classes for a claim without netclaim configs', async () => {
    let asked = 0;
    const other = claim({ anything: true }, { driver: 'gpu.example.com' });
    expect((await reviewAdmission(review(other), opts(async () => { asked++; return undefined; }))).response.allowed).toBe(true);
    expect(asked).toBe(0);
  });

  it('allows DELETE, other kinds, and an UPDATE that leaves the netclaim configs as they were (a finalizer added to an old claim)', async () => {
    const bad = claim({ interface: { mtu: 'x' } });
    expect((await reviewAdmission(review(bad, 'DELETE'), opts())).response.allowed).toBe(true);
    const withFinalizer = { ...bad, metadata: { ...(bad['metadata'] as Obj), finalizers: ['resource.kubernetes.io/delete-protection'] } };
    expect((await reviewAdmission(review(withFinalizer, 'UPDATE', bad), opts())).response.allowed).toBe(true);
    // A DeviceClass's config changed by an UPDATE is checked.
    expect((await reviewAdmission(review(deviceClass({ interface: { mtu: 'x' } }), 'UPDATE', deviceClass({})), opts())).response.allowed).toBe(false);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
    const r = review(pod);
    (r['request'] as Obj)['kind'] = { group: '', version: 'v1', kind: 'Pod' };
    expect((await reviewAdmission(r, opts())).response.allowed).toBe(true);
  });

  it('a claim whose object lacks apiVersion and kind is checked by request.kind', async () => {
    const c = claim({ interface: { mtu: 'x' } });
    const { apiVersion: _a, kind: _k, ...bare } = c;
    const r = review(c);
    (r['request'] as Obj)['object'] = bare;
    expect((await reviewAdmission(r, opts())).response.allowed).toBe(false);
  });

  it('lists at most MAX_LISTED_ISSUES problems and counts the rest', async () => {
    const routes = Array.from({ length: MAX_LISTED_ISSUES + 5 }, () => ({ destination: 'nope' }));
    const c = claim({ routes });
    const { response } = await reviewAdmission(review(c), opts());
    const all = await validateLines(c);
    expect(all.length).toBeGreaterThan(MAX_LISTED_ISSUES);
    expect(response.status!.details!.causes).toHaveLength(MAX_LISTED_ISSUES);
    expect(response.status!.message).toBe(`invalid netclaim config: ${all.slice(0, MAX_LISTED_ISSUES).join('; ')}; (and ${all.length - MAX_LISTED_ISSUES} more: netclaim validate lists them all)`);
  });

  it.each([
    ['a string', 'hello', /not a JSON object/],
    ['another kind', { apiVersion: 'admission.k8s.io/v1', kind: 'Status' }, /kind is "Status"/],
    ['AdmissionReview v1beta1', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, /admissionReviewVersions/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is missing/],
    ['no uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }, /request.uid/],
  ])('%s is a BadReview naming what is wrong', async (_what, body, message) => {
    await expect(reviewAdmission(body, opts())).rejects.toThrow(BadReview);
    await expect(reviewAdmission(body, opts())).rejects.toThrow(message);
  });

  it('a CREATE without an object is refused (400), not a crash', async () => {
    const r = review(claim({}));
    delete (r['request'] as Obj)['object'];
    expect((await reviewAdmission(r, opts())).response).toMatchObject({ allowed: false, status: { code: 400 } });
  });

  it('any JSON value, anywhere in a review, gives a response or a BadReview — never another error', async () => {
    const anyObject = fc.oneof(fc.jsonValue(), fc.constant(claim({ interface: { mtu: 1 } })), fc.constant(deviceClass({})));
    const body = fc.record({
      apiVersion: fc.oneof(fc.constant('admission.k8s.io/v1'), fc.jsonValue()),
      kind: fc.oneof(fc.constant('AdmissionReview'), fc.jsonValue()),
      request: fc.oneof(fc.jsonValue(), fc.record({
        uid: fc.oneof(fc.constant('u'), fc.jsonValue()),
        operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT', 7),
        kind: fc.oneof(fc.jsonValue(), fc.record({ group: fc.constantFrom('resource.k8s.io', ''), version: fc.constantFrom('v1', 'v1beta2'), kind: fc.constantFrom('ResourceClaim', 'ResourceClaimTemplate', 'DeviceClass', 'Pod') })),
        object: anyObject, oldObject: anyObject,
      }, { requiredKeys: [] })),
    }, { requiredKeys: [] });
    await fc.assert(fc.asyncProperty(body, async (b) => {
      try {
        const out = await reviewAdmission(b, opts(async () => deviceClass({})));
        expect(out.response.uid).toBe((b as { request: { uid: string } }).request.uid);
        expect(typeof out.response.allowed).toBe('boolean');
      } catch (err) {
        expect(err).toBeInstanceOf(BadReview);
      }
    }), { numRuns: 300 });
  });
});
