/**
 * Issue 16 item 5, "CLI edges", one test per problem found by trying the CLI
 * as a new user. In process: each command takes argv, an output and an error
 * function, and returns its exit code.
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNetworkConfigJson } from '../../src/config/claim-config/index.ts';
import { runOptions } from '../../src/daemon/run-command.ts';
import { runCommand } from '../../src/surfaces/cli/command.ts';
import { MAX_INPUT_BYTES } from '../../src/surfaces/cli/input-limits.ts';
import { parseInventoryArgs, runInventory } from '../../src/surfaces/cli/inventory.ts';
import { runLinks } from '../../src/surfaces/cli/links.ts';
import { readInput } from '../../src/surfaces/cli/manifest-input.ts';
import { runValidate } from '../../src/surfaces/cli/validate.ts';
import { capture } from './capture.ts';

const dir = mkdtempSync(join(tmpdir(), 'netclaim-edges-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const OK = '{"interface": {"mtu": 9000}}';
const INTERNAL = /regular expression|stack|Maximum call|Excessive alias|at .*:\d+:\d+/i;

/** "Billion laughs": each line holds nine aliases to the line above. */
function aliasBomb(levels: number): string {
  const names = 'abcdefghijklmnop'.slice(0, levels);
  return [`a: &a [${Array(9).fill('"lol"').join(',')}]`, ...[...names].slice(1).map((n, i) => `${n}: &${n} [${Array(9).fill(`*${names[i]}`).join(',')}]`)].join('\n');
}

describe('netclaim validate: inputs that used to stop it or slip through', () => {
  it('refuses a YAML alias bomb as one problem of its file, naming the field, and checks the later files', async () => {
    const bomb = file('bomb.yaml', aliasBomb(9));
    const ok = file('ok.json', OK);
    const r = await capture(runValidate, [bomb, ok]);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([
      expect.stringMatching(new RegExp(`^${bomb}: [a-i](\\[\\d\\])+: YAML aliases stand for more than 100000 values in this document$`)),
      `${ok}: ok (NetworkConfig)`,
    ]);
    expect(r.stderr).toEqual([]);
  });

  it('refuses an alias inside what it refers to', async () => {
    const f = file('cycle.yaml', 'interface: &i\n  name: eth1\n  self: *i\n');
    expect((await capture(runValidate, [f])).lines).toEqual([`${f}: interface.self: YAML alias *i refers to a value that contains it`]);
  });

  it('refuses deep nesting naming the file and the field, never with an internal error', async () => {
    const flow = file('deep-flow.yaml', `interface: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    const block = file('deep-block.yaml', `${Array.from({ length: 1200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`);
    const json = file('deep.json', `{"interface": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
    const viaAlias = file('deep-alias.yaml', `a: &a ${'['.repeat(60)}${']'.repeat(60)}\ninterface: ${'['.repeat(50)}*a${']'.repeat(50)}\n`);
    const r = await capture(runValidate, [flow, block, json, viaAlias]);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([
      `${flow}: interface${'[0]'.repeat(11)}…: nested more than 100 levels deep`,
      `${block}: ${Array(12).fill('k').join('.')}…: nested more than 100 levels deep`,
      `${json}: interface${'[0]'.repeat(11)}…: nested more than 100 levels deep`,
      `${viaAlias}: interface${'[0]'.repeat(11)}…: nested more than 100 levels deep`,
    ]);
    expect(r.lines.join('\n')).not.toMatch(INTERNAL);
  });

  it('refuses deep parameters where the driver decodes them too: 10 KiB nest 5,000 deep, past JSON.stringify', () => {
    const r = parseNetworkConfigJson(`{"interface": {"x": ${'['.repeat(5000)}${']'.repeat(5000)}}}`);
    expect(r).toEqual({ ok: false, issues: [{ path: `interface.x${'[0]'.repeat(30)}`, message: 'nested more than 32 levels deep' }] });
  });

  it('says so when a file holds no document', async () => {
    const empty = file('empty.yaml', '');
    const comments = file('comments.yaml', '# nothing here\n---\n');
    const r = await capture(runValidate, [empty, comments]);
    expect(r).toEqual({
      status: 1,
      lines: [`${empty}: no documents (the file is empty, or holds only comments)`, `${comments}: no documents (the file is empty, or holds only comments)`],
      stderr: [],
    });
  });

  it('refuses duplicate JSON keys with their path, as YAML ones are refused', async () => {
    const f = file('dup.json', '{"spec": {"config": [{"opaque": {"driver": "a", "driver": "b"}}]}, "interface": {"mtu": 9000, "mtu": 1500}}');
    const y = file('dup.yaml', 'interface:\n  mtu: 9000\n  mtu: 1500\n');
    const r = await capture(runValidate, [f, y]);
    expect(r.lines).toEqual([
      `${f}: spec.config[0].opaque.driver: duplicate key "driver" (JSON.parse would keep the last silently)`,
      `${f}: interface.mtu: duplicate key "mtu" (JSON.parse would keep the last silently)`,
      `${y}: malformed YAML: Map keys must be unique at line 3, column 3`,
    ]);
  });

  it('refuses a file over the size limit by its name, without reading it, and checks the next', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, 50 * 1024 * 1024); // sparse: 50 MB that cost nothing to make
    const ok = file('ok2.json', OK);
    const r = await capture(runValidate, [big, ok]);
    expect(r.lines).toEqual([
      `${big}: too large (52428800 bytes): validate reads at most 1 MiB from one file (docs/cli.md#limits)`,
      `${ok}: ok (NetworkConfig)`,
    ]);
  });

  it('stops reading stdin (or a pipe) one byte past the limit', async () => {
    let given = 0;
    const endless = Readable.from((function* () { for (;;) { given += 65536; yield Buffer.alloc(65536, 0x20); } })());
    expect(await readInput('-', MAX_INPUT_BYTES, endless)).toEqual({ problem: `too large (more than ${MAX_INPUT_BYTES} bytes): validate reads at most 1 MiB from one file (docs/cli.md#limits)` });
    expect(given).toBeLessThanOrEqual(MAX_INPUT_BYTES + 65536);
    expect(await readInput('-', 10, Readable.from([Buffer.from('interface:')]))).toEqual({ text: 'interface:' });
  });
});

describe('exit codes: 2 for usage, 1 for failures, 0 for --help', () => {
  it('exits 2 on an unknown option, a missing value or a bad value, naming it on one line', async () => {
    for (const [argv, message] of [
      [['--bogus'], "netclaim inventory: Unknown option '--bogus'"],
      [['--netns'], "netclaim inventory: Option '--netns <value>' argument missing"],
      [['--naming', 'x'], 'netclaim inventory: --naming must be "netclaim" or "dranet", got "x" [CONFIG_INVALID]'],
      [['--node-ip', 'nope'], 'netclaim inventory: --node-ip: "nope" is not an IP address [CONFIG_INVALID]'],
    ] as const) {
      expect(await capture(runInventory, argv)).toEqual({ status: 2, lines: [], stderr: [message, '(netclaim inventory --help for usage)'] });
    }
    expect((await capture(runValidate, ['--no-such', 'x.yaml'])).status).toBe(2);
  });

  it('exits 1 when the work fails', async () => {
    const r = await capture(runLinks, ['--netns', join(dir, 'no-such-netns')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toEqual([expect.stringMatching(/^netclaim links: open\(.*no-such-netns\) failed: ENOENT.*\[KERNEL_SYSCALL_FAILED\]$/)]);
  });

  it('answers --help for every command, exit 0, even among other flags', async () => {
    for (const run of [runInventory, runValidate, runLinks]) {
      const r = await capture(run, ['--bogus', '--help']);
      expect(r.status).toBe(0);
      expect(r.lines[0]).toMatch(/^Usage:\n {2}netclaim (inventory|validate|links) /);
    }
    const { runCommand: run } = await import('../../src/daemon/run-command.ts');
    const lines: string[] = [];
    expect(await runCommand(run, ['-h'], { out: (l) => lines.push(l), err: () => {} })).toBe(0);
    expect(lines[0]).toMatch(/^Usage:\n {2}netclaim run /);
    // `--` ends the flags: after it, --help is a file name.
    expect((await capture(runValidate, ['--', '--help'])).lines).toEqual([expect.stringMatching(/^--help: cannot read: ENOENT/)]);
  });
});

describe('flag values checked before any work', () => {
  it('--sysfs-root must look like sysfs (bus/ and class/), for inventory and run', async () => {
    expect(await capture(runInventory, ['--sysfs-root', '/etc'])).toMatchObject({
      status: 2, stderr: ['netclaim inventory: --sysfs-root: "/etc" does not look like sysfs: it has no bus/ and no class/ [CONFIG_INVALID]', expect.any(String)],
    });
    expect((await capture(runInventory, ['--sysfs-root', join(dir, 'none')])).stderr[0]).toMatch(/--sysfs-root: ".*none" cannot be read: ENOENT/);
    expect(() => runOptions(['--node-name', 'n', '--sysfs-root', '/etc'], {})).toThrow(/--sysfs-root: "\/etc" does not look like sysfs/);
    const fake = join(dir, 'sys');
    mkdirSync(join(fake, 'bus'), { recursive: true });
    mkdirSync(join(fake, 'class'));
    expect((await parseInventoryArgs(['--sysfs-root', fake])).collect).toEqual({ sysfsRoot: fake });
  });

  it('--device-return-timeout takes seconds above 0 and at most an hour, else names the flag', () => {
    const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(runOptions(['--node-name', 'n', '--device-return-timeout', '90'], inPod).deviceReturnTimeoutMs).toBe(90_000);
    expect(runOptions(['--node-name', 'n', '--device-return-timeout', '0.5'], inPod).deviceReturnTimeoutMs).toBe(500);
    expect(runOptions(['--node-name', 'n'], inPod).deviceReturnTimeoutMs).toBeUndefined();
    for (const bad of ['0', '-1', '30s', '', '1e3', '3601', 'NaN']) {
      expect(() => runOptions(['--node-name', 'n', `--device-return-timeout=${bad}`], {}), bad)
        .toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^--device-return-timeout must be a number of seconds/) }));
    }
  });

  it('--filter must be a CEL expression whose type is bool (or an attribute, dyn until evaluated)', async () => {
    for (const [expression, why] of [
      ['1', 'its type is int, a filter must be a bool'],
      ['device.driver', 'its type is string, a filter must be a bool'],
      ['device.atributes["netclaim.dev"].mtu > 1', 'No such key: atributes'],
      ['mtu > 1500', 'Unknown variable: mtu'],
      ['device.attributes[', 'Unexpected token: EOF'],
    ]) {
      const r = await capture(runInventory, ['--filter', expression]);
      expect(r.status, expression).toBe(2);
      expect(r.stderr[0]).toBe(`netclaim inventory: --filter: invalid CEL expression: ${why} [CONFIG_INVALID]`);
    }
    for (const expression of ['device.attributes["netclaim.dev"].virtual', 'device.attributes["netclaim.dev"].mtu > 1500']) {
      const { options } = await parseInventoryArgs(['--filter', expression]);
      expect(options.filter?.expression).toBe(expression);
    }
    expect(options(await parseInventoryArgs(['--filter', 'device.attributes["netclaim.dev"].mtu > 1500']))).toBe(true);
  });
});

function options(a: Awaited<ReturnType<typeof parseInventoryArgs>>): boolean | string | undefined {
  return a.options.filter?.evaluate({ 'netclaim.dev/mtu': { int: 9000 } });
}
