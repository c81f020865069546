import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const bin = new URL('../../bin/netclaim.js', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('netclaim CLI', () => {
  it('prints its version', () => {
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
  });

  it('rejects an unknown command with usage and exit code 2', () => {
    const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stderr).toContain('Usage:');
  });

  it('reports a kernel error with its code and exit code 1', () => {
    const r = spawnSync(process.execPath, [bin, 'links', '--netns', '/run/netns/nc-no-such-ns'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/open\(\/run\/netns\/nc-no-such-ns\) failed: ENOENT.*\[KERNEL_SYSCALL_FAILED\]/);
  });
});
