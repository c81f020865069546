/**
 * Fuzzing the command line in process: random bytes, random YAML and random
 * JSON through `netclaim validate`, and random flags through every command's
 * argument parser. Whatever the input: the exit code is 0, 1 or 2; nothing
 * escapes as an exception; no stack trace is printed; every output line is
 * one line that starts with its file (`FILE: [PATH: ]MESSAGE`), and every
 * error line with `netclaim COMMAND: `.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { arbConfig } from '../fixtures/claim-config/fields.ts';
import { runCommand as runDaemonCommand } from '../../src/daemon/run-command.ts';
import { runCommand, type Command } from '../../src/surfaces/cli/command.ts';
import { inventoryCommand } from '../../src/surfaces/cli/inventory.ts';
import { linksCommand } from '../../src/surfaces/cli/links.ts';
import { runValidate, validateCommand } from '../../src/surfaces/cli/validate.ts';
import { webhookCommand } from '../../src/surfaces/webhook/webhook-command.ts';
import { capture, type Captured } from './capture.ts';

const RUNS = { numRuns: 200 };
const TIMEOUT = 120_000; // bounded runs; room for a loaded machine, nothing timed
const STACK = /\n|^\s*at |\bat .+:\d+:\d+\)?$|node:internal|node_modules\//m;

const dir = mkdtempSync(join(tmpdir(), 'netclaim-fuzz-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });
let seq = 0;
function file(ext: string, content: string | Uint8Array): string {
  const path = join(dir, `f${seq++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

// Nothing may reach stderr behind the command's back (a library's process warning).
let warnings: ReturnType<typeof vi.spyOn>;
beforeEach(() => { warnings = vi.spyOn(process, 'emitWarning'); });
afterEach(() => { expect(warnings).not.toHaveBeenCalled(); warnings.mockRestore(); });

/** The invariants of any `validate` run over `files`. */
function expectWellFormed(r: Captured, files: readonly string[]): void {
  expect([0, 1, 2]).toContain(r.status);
  expect(r.stderr).toEqual([]);
  expect(r.lines.length).toBeGreaterThanOrEqual(files.length);
  for (const line of r.lines) {
    expect(line).not.toMatch(STACK);
    expect(line).not.toContain('cannot be checked'); // the safety net for bugs: never reached
    expect(files.some((f) => line.startsWith(`${f}: `) || new RegExp(`^${f}#\\d+: `).test(line)), line).toBe(true);
  }
  if (r.status === 0) expect(r.lines.every((l) => / (ok|skipped) \(/.test(l))).toBe(true);
}

async function validateFiles(files: readonly string[]): Promise<void> {
  expectWellFormed(await capture(runValidate, files), files);
}

const CLAIM = readFileSync(new URL('../fixtures/claim-config/netclaim/claim-full.yaml', import.meta.url), 'utf8');

/** YAML-ish text from pieces that exercise anchors, aliases, merges, flow and block collections, documents and tags. */
const yamlPieces = fc.constantFrom(
  'interface:', 'mtu: 9000', 'name: eth1', 'routes:', '- ', '-', '  ', '    ', '\n', ': ', '? ', '&a ', '&b ', '*a', '*b', '<<: *a',
  '[', ']', '{', '}', ', ', '"', "'", '#c', '---\n', '...\n', '!!str ', '!!map ', '%YAML 1.1\n', '|\n', '>-\n', '\t', 'null', '~',
  'apiVersion: resource.k8s.io/v1\n', 'kind: ResourceClaim\n', 'kind: List\n', 'items:', 'spec:', 'devices:', 'config:', 'opaque:',
  'driver: netclaim.dev', 'parameters:', 'requests: [nic]', 'yes', '0x1F', '1e400', '\u00ff', '\ufeff',
);
const randomYaml = fc.array(yamlPieces, { maxLength: 80 }).map((p) => p.join(''));

/** The valid fixture with a few characters replaced, inserted or cut. */
const mutatedClaim = fc.array(fc.tuple(fc.nat(CLAIM.length), fc.nat(8), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 6 })
  .map((edits) => edits.reduce((t, [at, cut, put]) => t.slice(0, at) + put + t.slice(at + cut), CLAIM));

/** A JSON object written by hand, so that keys can repeat. */
const jsonWithDuplicates: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.json(),
    fc.array(fc.tuple(fc.constantFrom('interface', 'mtu', 'name', 'a', 'a.b', '', '__proto__', 'x\ny'), tie('value')), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
  ),
})).value;

/** A claim around random parameters, as YAML or JSON. */
const claimWith = (parameters: unknown): object => ({
  apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name: 'c' },
  spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'netclaim' } }], config: [{ requests: ['nic'], opaque: { driver: 'netclaim.dev', parameters } }] } },
});

describe('netclaim validate, fuzzed (in process)', () => {
  it('random bytes, as YAML and as JSON', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
      await validateFiles([file('yaml', bytes), file('json', bytes)]);
    }), RUNS);
  }, TIMEOUT);

  it('random YAML: pieces of manifests, anchors and aliases, and mutations of a valid claim', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(randomYaml, mutatedClaim), async (text) => {
      await validateFiles([file('yaml', text)]);
    }), RUNS);
  }, TIMEOUT);

  it('random JSON: any value, repeated keys, and random configs inside claims', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.json(), jsonWithDuplicates, arbConfig().map((c) => JSON.stringify(claimWith(c)))), async (text) => {
      await validateFiles([file('json', text), file('yaml', text)]);
    }), RUNS);
  }, TIMEOUT);
});

/** The command with its work replaced: only the parser runs. */
const parserOnly = <O>(c: Command<O>): Command<O> => ({ ...c, execute: () => 0 });

const COMMANDS: readonly (readonly [Command<never>, readonly string[]])[] = [
  [inventoryCommand, ['--json', '--watch', '--netns', '--sysfs-root', '--naming', '--include-kind', '--include-veth', '--node-ip', '--exclude', '--filter']],
  [linksCommand, ['--netns', '--json']],
  [validateCommand, ['--no-dranet']],
  [webhookCommand, ['--tls-cert-file', '--tls-private-key-file', '--listen-address', '--driver-name', '--kubeconfig', '--no-class-policy', '--log-level']],
  [runDaemonCommand, ['--node-name', '--kubeconfig', '--driver-name', '--sysfs-root', '--compat', '--rolling-update', '--metrics-address', '--metrics-tls-cert-file', '--metrics-tls-private-key-file', '--metrics-auth', '--log-level', '--nri-plugin-index', '--no-nri', '--device-return-timeout', '--slice-write-rate', '--slice-write-burst', '--no-cloud-config', '--filter', '--include-kind', '--node-ip']],
] as const as never;

const VALUES = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', '/sys', '/etc', '/nonexistent', 'dranet', 'netclaim', 'macvlan,veth', '*', '10.0.0.1', '::1', 'nope', '00', '1', 'true', 'info', ':9090',
    'device.attributes["netclaim.dev"].mtu > 1', 'device.driver', '((((', '-', '--', '-x'),
);

describe('every command\'s argument parser, fuzzed', () => {
  for (const [command, flags] of COMMANDS) {
    it(`netclaim ${command.name}: exit 0 or 2, one line per error, no stack`, async () => {
      const arg = fc.oneof(
        fc.constantFrom(...flags),
        fc.tuple(fc.constantFrom(...flags), VALUES).map(([f, v]) => `${f}=${v}`),
        VALUES,
        fc.constantFrom('--bogus', '-z', '--', '---', '--=x', '-'),
      );
      await fc.assert(fc.asyncProperty(fc.array(arg, { maxLength: 8 }), async (argv) => {
        const out: string[] = [];
        const err: string[] = [];
        const status = await runCommand(parserOnly(command), argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
        expect([0, 2]).toContain(status);
        if (status === 2) {
          expect(err).toHaveLength(2);
          expect(err[0]).toMatch(new RegExp(`^netclaim ${command.name}: \\S`));
          expect(err[0]).not.toMatch(STACK);
        } else {
          expect(err).toEqual([]);
        }
      }), { numRuns: 150 });
    }, TIMEOUT);
  }
});
