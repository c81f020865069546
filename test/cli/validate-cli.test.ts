/**
 * `netclaim validate`, in process: runValidate takes argv and an output
 * function, so each case costs no process start. cli.test.ts keeps the few
 * checks that need a real process (stdin, exit status, stderr).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../src/surfaces/cli/validate.ts';
import { capture } from './capture.ts';

const fixtures = new URL('../fixtures/claim-config/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'netclaim-validate-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function validate(...args: string[]): Promise<{ status: number; lines: string[]; stderr: string }> {
  const r = await capture(runValidate, args);
  return { ...r, stderr: r.stderr.map((l) => `${l}\n`).join('') };
}

const CLAIM = `apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata:
  name: data-nic
spec:
  devices:
    requests:
    - name: nic
      exactly:
        deviceClassName: netclaim
    config:
    - requests: [nic]
      opaque:
        driver: netclaim.dev
        parameters:
          interface:
            name: net1
            addresses: ["10.8.0.11/16"]
            mtu: 9000
          routes:
          - destination: 10.0.0.0/8
            gateway: 10.8.0.1
`;

const TEMPLATE_TWO_ERRORS = `apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata:
  name: two-errors
spec:
  spec:
    devices:
      requests:
      - name: nic
        exactly:
          deviceClassName: netclaim
      config:
      - opaque:
          driver: netclaim.dev
          parameters:
            interface:
              mtuu: 9000
            routes:
            - destination: 10.0.0.0/8
              gateway: 2001:db8::1
`;

describe('netclaim validate', () => {
  it('passes a valid claim in YAML with an ok line and exit code 0', async () => {
    const f = file('claim.yaml', CLAIM);
    expect(await validate(f)).toEqual({ status: 0, lines: [`${f}: ok (ResourceClaim/data-nic: 1 netclaim.dev config)`], stderr: '' });
  });

  it('reports both errors of an invalid template with their paths, and exits 1', async () => {
    const f = file('template.yaml', TEMPLATE_TWO_ERRORS);
    expect(await validate(f)).toEqual({
      status: 1,
      lines: [
        `${f}: spec.spec.devices.config[0].opaque.parameters.interface.mtuu: unknown field (did you mean "mtu"?)`,
        `${f}: spec.spec.devices.config[0].opaque.parameters.routes[0].gateway: is IPv6 but destination is IPv4`,
      ],
      stderr: '',
    });
  });

  it('checks a DeviceClass in JSON', async () => {
    const cls = {
      apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name: 'netclaim-rdma' },
      spec: { config: [{ opaque: { driver: 'netclaim.dev', parameters: { interface: { mtu: 9000 }, rdma: { charDevices: ['uverbs', 'uverbs'] } } } }] },
    };
    const f = file('class.json', JSON.stringify(cls, null, 2));
    expect(await validate(f)).toEqual({ status: 1, lines: [`${f}: spec.config[0].opaque.parameters.rdma.charDevices[1]: duplicate of item 0`], stderr: '' });
    cls.spec.config[0]!.opaque.parameters.rdma.charDevices = ['uverbs'];
    const g = file('class-ok.json', JSON.stringify(cls));
    expect((await validate(g)).lines).toEqual([`${g}: ok (DeviceClass/netclaim-rdma: 1 netclaim.dev config)`]);
  });

  it('checks bare configs in JSON and YAML, and reads YAML booleans as kubectl does', async () => {
    const json = file('bare.json', '{"interface": {"name": "eth1", "dhcp": true}}');
    const yaml = file('bare.yaml', 'interface:\n  dhcp: yes\n  forwarding: on\n');
    expect(await validate(json, yaml)).toEqual({ status: 0, lines: [`${json}: ok (NetworkConfig)`, `${yaml}: ok (NetworkConfig)`], stderr: '' });
  });

  it('numbers the documents of a multi-document file and skips other objects', async () => {
    const f = file('multi.yaml', `${CLAIM}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n---\n${TEMPLATE_TWO_ERRORS.replace('mtuu', 'mtu')}`);
    expect(await validate(f)).toEqual({
      status: 1,
      lines: [
        `${f}#1: ok (ResourceClaim/data-nic: 1 netclaim.dev config)`,
        `${f}#2: skipped (Pod/p: not a netclaim config, ResourceClaim, ResourceClaimTemplate or DeviceClass)`,
        `${f}#3: spec.spec.devices.config[0].opaque.parameters.routes[0].gateway: is IPv6 but destination is IPv4`,
      ],
      stderr: '',
    });
  });

  it('reports malformed files and missing ones, and goes on with the others', async () => {
    const badYaml = file('bad.yaml', 'interface:\n  name: a\n  name: b\n');
    const badJson = file('bad.json', '{"interface": {"mtu": 9000,}}');
    const ok = file('ok.yaml', CLAIM);
    const r = await validate(badYaml, badJson, join(dir, 'missing.yaml'), ok);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([
      `${badYaml}: malformed YAML: Map keys must be unique at line 3, column 3`,
      expect.stringMatching(new RegExp(`^${badJson}: malformed JSON: Expected double-quoted property name`)),
      expect.stringMatching(new RegExp(`^${join(dir, 'missing.yaml')}: cannot read: ENOENT`)),
      `${ok}: ok (ResourceClaim/data-nic: 1 netclaim.dev config)`,
    ]);
  });

  it('reads dra.net configs unless told not to', async () => {
    const dranet = CLAIM.replace('driver: netclaim.dev', 'driver: dra.net').replace('mtu: 9000', 'mtu: 9');
    const f = file('dranet.yaml', dranet);
    expect((await validate(f)).lines).toEqual([`${f}: spec.devices.config[0].opaque.parameters.interface.mtu: must be at least 68, got 9`]);
    expect(await validate('--no-dranet', f)).toMatchObject({ status: 0, lines: [`${f}: ok (ResourceClaim/data-nic: no netclaim configs)`] });
  });

  it('passes the valid fixtures, DraNet\'s included', async () => {
    const r = await validate(`${fixtures}dranet/addresses.yaml`, `${fixtures}dranet/pbr.yaml`, `${fixtures}dranet/deviceclass.json`,
      `${fixtures}netclaim/claim-full.yaml`, `${fixtures}netclaim/template-prioritized.yaml`, `${fixtures}netclaim/deviceclass.yaml`, `${fixtures}netclaim/bare-config.json`);
    expect(r.status).toBe(0);
    expect(r.lines.every((l) => / (ok|skipped) \(/.test(l))).toBe(true);
  });

  it('checks a claim and a template against the DeviceClass their requests name, one line per problem naming file and field', async () => {
    const cls = file('policy-class.yaml', `apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata:
  name: netclaim
spec:
  config:
  - opaque:
      driver: netclaim.dev
      parameters:
        interface: {disableEbpfPrograms: true}
        policy:
          hardwareAddrRanges: ["02:42:ac:00:00:00/24"]
`);
    const claim = file('policy-claim.yaml', CLAIM.replace('mtu: 9000', 'mtu: 9000\n            hardwareAddr: "00:11:22:33:44:55"\n            disableEbpfPrograms: false'));
    const template = file('policy-template.yaml', TEMPLATE_TWO_ERRORS.replace('mtuu: 9000', 'hardwareAddr: "02:42:ac:00:00:09"')
      .replace('gateway: 2001:db8::1', 'gateway: 10.0.0.1\n            ethtool:\n              privateFlags: {x: true}'));
    const r = await validate(cls, claim, template);
    const at = 'spec.devices.config[0].opaque.parameters';
    expect(r).toEqual({
      status: 1,
      lines: [
        `${cls}: ok (DeviceClass/netclaim: 1 netclaim.dev config)`,
        `${claim}: ${at}.interface.hardwareAddr: claims of DeviceClass "netclaim" may not set this MAC: 00:11:22:33:44:55 is outside the class's ranges (02:42:ac:00:00:00/24)`,
        `${claim}: ${at}.interface.disableEbpfPrograms: claims of DeviceClass "netclaim" may not set this field: only a DeviceClass config may, `
          + 'unless the class allows interface.disableEbpfPrograms (policy.allowFields)',
        `${template}: spec.${at}.ethtool.privateFlags: claims of DeviceClass "netclaim" may not set this field: only a DeviceClass config may, `
          + 'unless the class allows ethtool.privateFlags (policy.allowFields)',
      ],
      stderr: '',
    });
    // alone, the claim is not checked against a class it does not have
    expect((await validate(claim)).status).toBe(0);
  });

  it('refuses a policy in a claim\'s config, with or without its class', async () => {
    const f = file('claim-policy.yaml', CLAIM.replace('          routes:', '          policy:\n            allowFields: [interface.disableEbpfPrograms]\n          routes:'));
    expect(await validate(f)).toEqual({
      status: 1,
      lines: [`${f}: spec.devices.config[0].opaque.parameters.policy: a policy can only be set in a DeviceClass config (source FromClass), not in a claim`],
      stderr: '',
    });
  });

  it('reports a map key that is an alias without an anchor as a problem of the file, not an internal error', async () => {
    const f = file('alias-key.yaml', 'interface:\n  ? *a\n  : 1\n');
    expect(await validate(f)).toEqual({ status: 1, lines: [`${f}: interface: YAML alias *a (a map key) has no anchor &a before it`], stderr: '' });
  });

  it('wants at least one file (exit code 2)', async () => {
    const r = await validate();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no FILE given');
  });
});
