/**
 * The daemon bench measures the daemon as the image runs it (bench/daemon.ts):
 * the same Node flags and environment as the Dockerfile's ENTRYPOINT and ENV,
 * and as the e2e tier's image (test/e2e/images/build-netclaim-image.sh). The
 * footprint table in docs/benchmarks.md ("daemon") holds only while the three
 * agree, and while this Node accepts every flag (Node exits 9 on one it does
 * not know, which a future release may do to a V8 flag).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IMAGE_NODE_ENV, IMAGE_NODE_FLAGS } from './daemon.ts';

const root = new URL('../', import.meta.url).pathname;
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
const flags = IMAGE_NODE_FLAGS.split(' ');

/** The JSON array of a Dockerfile instruction's exec form (`ENTRYPOINT [...]`, `RUN [...]`). */
function execForm(instruction: string): string[][] {
  return [...dockerfile.matchAll(new RegExp(`^${instruction} (\\[.*\\])$`, 'gm'))].map((m) => JSON.parse(m[1]!) as string[]);
}

describe('the daemon bench runs Node as the image does', () => {
  it('the Dockerfile: ENTRYPOINT and the compile-cache RUN have the bench\'s flags, ENV its environment', () => {
    expect(execForm('ENTRYPOINT')).toEqual([['/nodejs/bin/node', ...flags, '/netclaim/netclaim.mjs']]);
    // Node keys the compile cache by V8's flags: the RUN that bakes it must use the ENTRYPOINT's.
    expect(execForm('RUN')).toContainEqual(['/nodejs/bin/node', ...flags, '/netclaim/netclaim.mjs', '--version']);
    for (const kv of IMAGE_NODE_ENV.split(' ')) expect(dockerfile).toMatch(new RegExp(`^ENV ${kv}$`, 'm'));
  });

  it('the e2e tier\'s image: the same flags and environment', () => {
    const script = readFileSync(`${root}test/e2e/images/build-netclaim-image.sh`, 'utf8');
    expect(/^node_flags=\((.*)\)$/m.exec(script)?.[1]).toBe(IMAGE_NODE_FLAGS);
    for (const kv of IMAGE_NODE_ENV.split(' ')) expect(script).toContain(`\\"${kv}\\"`);
  });

  it('this Node accepts the flags', () => {
    const r = spawnSync(process.execPath, [...flags, '-e', 'process.stdout.write(new Date(0).toISOString())'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ status: 0, stdout: '1970-01-01T00:00:00.000Z' });
  });
});
