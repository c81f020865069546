/**
 * The command line as a real process: what only a process shows (exit
 * status, which stream gets what, stdin). Everything else about the commands
 * is tested in process (validate-cli, cli-edges, cli-fuzz).
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/netclaim.js', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const netclaim = (args: readonly string[], input = ''): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input });

describe('netclaim CLI', () => {
  it('prints its version', () => {
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
  });

  it('rejects an unknown command with usage and exit code 2', () => {
    const r = netclaim(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stderr).toContain('Usage:');
  });

  it('answers --help for every command on stdout, exit code 0', () => {
    for (const command of ['inventory', 'validate']) {
      const r = netclaim([command, '--help']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^Usage:\\n  netclaim ${command} `));
    }
  });

  it('exits 2 on an unknown option, with one line naming it and a pointer to --help', () => {
    const r = netclaim(['inventory', '--bogus']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toBe("netclaim inventory: Unknown option '--bogus'\n(netclaim inventory --help for usage)\n");
  });

  it('reports a kernel error with its code and exit code 1', () => {
    const r = netclaim(['links', '--netns', '/run/netns/nc-no-such-ns']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^netclaim links: open\(\/run\/netns\/nc-no-such-ns\) failed: ENOENT.*\[KERNEL_SYSCALL_FAILED\]\n$/);
  });

  it('validates stdin as -, problems on stdout, exit code 1', () => {
    const r = netclaim(['validate', '-'], '{"interface": {"mtuu": 1}}');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 1, stdout: '-: interface.mtuu: unknown field (did you mean "mtu"?)\n', stderr: '' });
  });
});
